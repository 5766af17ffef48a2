"""The file names of an ONNX export and the graph metadata keys, shared by the export, the int8
step, the runtime and the kept export (so that none of them imports another for a name)."""

MODEL_FILE = "model.onnx"
INT8_FILE = "model.int8.onnx"  # papercls.inference.onnx.quantize.quantize_int8's output beside it
# written into the graph's metadata: what quantize_int8's attention fusion needs to know
META_HEADS = "papercls.num_attention_heads"
META_HIDDEN = "papercls.hidden_size"
