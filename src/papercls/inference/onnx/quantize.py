"""int8 variant of an exported graph: ONNX Runtime dynamic quantisation on the fused graph.

Steps: ``onnxruntime.transformers.optimizer`` fuses the encoder (Attention, SkipLayerNorm,
BiasGelu, EmbedLayerNorm) -> symbolic shape inference (``quantize_dynamic`` fails on the fused
graph without it) -> ``quantize_dynamic`` of the encoder's MatMul and Attention nodes with int8
weights *per output channel* (per-tensor weights cost label agreement) and activations
quantised per batch at run time; the classification head stays float.

Approximate: probabilities move and a few labels flip; measure the label agreement with the
float model before serving it.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path

from papercls.data.io import atomic_path
from papercls.inference.onnx.layout import INT8_FILE, META_HEADS, META_HIDDEN

MS_DOMAIN = "com.microsoft"  # the fused operators' domain
# the encoder's matrix products; the classification head (Gemm on one vector per row) costs
# nothing and stays float: quantising it too moved probabilities 2-5x more on tiny models
QUANTIZED_OPS = ("MatMul", "Attention")


@contextlib.contextmanager
def _quiet_logs() -> Iterator[None]:
    """ONNX Runtime's tools log advice at WARNING through module-level loggers: hide it."""
    before = logging.root.manager.disable
    logging.disable(logging.WARNING)
    try:
        yield
    finally:
        logging.disable(before)


def _model_props(model) -> dict[str, str]:
    return {p.key: p.value for p in model.metadata_props}


def fuse_encoder(onnx_path: str | Path):
    """The graph at ``onnx_path`` with its BERT-style encoder fused by ONNX Runtime's
    transformer optimizer (an ``onnx.ModelProto``). Heads and hidden size come from the
    metadata :func:`papercls.inference.onnx.export.export_model` writes (the optimizer cannot detect
    them on these graphs)."""
    import onnx
    from onnxruntime.transformers import optimizer

    graph = onnx.load(str(onnx_path))
    props = _model_props(graph)
    heads = int(props.get(META_HEADS, 0) or 0)
    hidden = int(props.get(META_HIDDEN, 0) or 0)
    with _quiet_logs():  # notes about tiny vocabularies, or "consider pre-processing"
        fused = optimizer.optimize_model(
            graph, model_type="bert", num_heads=heads, hidden_size=hidden, opt_level=0
        )
    model = fused.model
    if not any(o.domain == MS_DOMAIN for o in model.opset_import):  # as OnnxModel.save adds
        model.opset_import.append(onnx.helper.make_opsetid(MS_DOMAIN, 1))
    onnx.helper.set_model_props(model, props)  # keep the export's metadata
    return model


def quantize_int8(
    onnx_path: str | Path, out_path: str | Path | None = None, reduce_range: bool = False
) -> Path:
    """Write the int8 variant of the fp32 graph ``onnx_path`` (default: ``model.int8.onnx``
    beside it) atomically and return its path. ``reduce_range``: 7-bit weights, which avoid
    the saturation of u8 x s8 products on CPUs without VNNI (AVX2 only), at some precision."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.tools.symbolic_shape_infer import SymbolicShapeInference

    onnx_path = Path(onnx_path)
    if not onnx_path.is_file():
        raise FileNotFoundError(f"no ONNX model at {onnx_path}")
    out_path = Path(out_path) if out_path is not None else onnx_path.with_name(INT8_FILE)
    fused = fuse_encoder(onnx_path)
    shaped = SymbolicShapeInference.infer_shapes(fused, auto_merge=True)
    with atomic_path(out_path) as tmp:
        with _quiet_logs():  # "consider pre-processing": shape inference is done above
            quantize_dynamic(
                shaped,
                tmp,
                op_types_to_quantize=list(QUANTIZED_OPS),
                per_channel=True,
                reduce_range=reduce_range,
                weight_type=QuantType.QInt8,
            )
        model = onnx.load(str(tmp))
        onnx.helper.set_model_props(model, _model_props(fused))
        onnx.save(model, str(tmp))
    return out_path
