"""ONNX export of a saved classifier directory (baseline, fused-head topline, k-fold folds).

Layout written by :func:`export_onnx` (the whole directory at once, atomically)::

    <out_dir>/model.onnx             one model: graph + the tokenizer files beside it
    <out_dir>/model.int8.onnx        its int8 variant, when asked for
                                     (papercls.inference.onnx.quantize)
    <out_dir>/tokenizer.json ...
    <out_dir>/fold_<k>/model.onnx    k-fold: one sub-directory per fold, as in the model dir

Graph: inputs named as the tokenizer's inputs that the model takes (``input_ids``,
``attention_mask``, ``token_type_ids`` where used), int64, dynamic ``batch`` and ``sequence``
axes; one output ``logits`` (float32, ``batch`` x num_labels). The exporter is torch's
TorchScript one (``dynamo=False``): it needs no package beyond ``onnx`` and traces the eager
attention path, the graph ``onnxruntime.transformers.optimizer`` knows how to fuse.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import torch

from papercls.data.io import atomic_dir
from papercls.data.template import SEP
from papercls.inference import encoder as inference
from papercls.inference.onnx.layout import INT8_FILE, META_HEADS, META_HIDDEN, MODEL_FILE

OUTPUT_NAME = "logits"
OPSET = 17
_TRACE_TEXTS = (f"patient study {SEP} clinical trial {SEP} a longer abstract of words", "short")


class _LogitsOnly(torch.nn.Module):
    """The classifier as a function of positional int64 tensors, returning only the logits."""

    def __init__(self, model: torch.nn.Module, input_names: list[str]):
        super().__init__()
        self.model = model
        self.input_names = list(input_names)

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        return self.model(**dict(zip(self.input_names, inputs, strict=True))).logits


def graph_input_names(model, tokenizer) -> list[str]:
    """The tokenizer's inputs that the model's forward takes, in the tokenizer's order: the
    same keys :func:`papercls.inference.encoder.predict_proba` feeds."""
    accepted = inference.model_input_names(model)
    names = [n for n in tokenizer.model_input_names if n in accepted]
    if "input_ids" not in names:
        raise ValueError(
            f"model takes none of the tokenizer's inputs {tokenizer.model_input_names}"
        )
    return names


def _encoder_shape(model) -> tuple[int, int]:
    """(num_attention_heads, hidden_size) of the model's encoder (0, 0 when unknown)."""
    config = getattr(model.base_model, "config", model.config)
    return int(getattr(config, "num_attention_heads", 0) or 0), int(
        getattr(config, "hidden_size", 0) or 0
    )


def _trace_inputs(tokenizer, names: list[str]) -> tuple[torch.Tensor, ...]:
    """A padded batch of two rows of different lengths: the mask holds zeros, so nothing
    about padding is frozen into the trace."""
    enc = inference.encode(tokenizer, list(_TRACE_TEXTS), max_length=None)
    feats = [{k: enc[k][i] for k in names} for i in range(len(_TRACE_TEXTS))]
    batch = tokenizer.pad(feats, padding=True, return_tensors="pt")
    return tuple(batch[n].to(torch.int64) for n in names)


def export_model(model, tokenizer, out_path: str | Path) -> Path:
    """Write ``model`` (a loaded sequence classifier, CPU) as an ONNX graph to ``out_path``.
    The model is switched to eager attention (the graph the ORT optimizer fuses)."""
    import onnx

    out_path = Path(out_path)
    model = model.cpu().eval()
    if hasattr(model, "set_attn_implementation"):
        model.set_attn_implementation("eager")
    names = graph_input_names(model, tokenizer)
    axes = {n: {0: "batch", 1: "sequence"} for n in names}
    axes[OUTPUT_NAME] = {0: "batch"}
    with warnings.catch_warnings():
        # TracerWarnings about shape checks that hold for every input (no padding offset,
        # mask always given) and the legacy exporter's deprecation notice
        warnings.simplefilter("ignore")
        torch.onnx.export(
            _LogitsOnly(model, names),
            _trace_inputs(tokenizer, names),
            str(out_path),
            input_names=names,
            output_names=[OUTPUT_NAME],
            dynamic_axes=axes,
            opset_version=OPSET,
            do_constant_folding=True,
            dynamo=False,
        )
    graph = onnx.load(str(out_path))
    heads, hidden = _encoder_shape(model)
    onnx.helper.set_model_props(graph, {META_HEADS: str(heads), META_HIDDEN: str(hidden)})
    onnx.save(graph, str(out_path))
    return out_path


def export_dir(model_dir: Path, out_dir: Path) -> Path:
    """One saved model directory -> ``out_dir/model.onnx`` + its tokenizer files."""
    model, tokenizer = inference.load_classifier(model_dir, device="cpu")
    out_dir.mkdir(parents=True, exist_ok=True)
    # saved before use: tokenising records truncation settings in the tokenizer's config
    tokenizer.save_pretrained(out_dir)
    return export_model(model, tokenizer, out_dir / MODEL_FILE)


def export_onnx(model_dir: str | Path, out_dir: str | Path, int8: bool = False) -> list[Path]:
    """Export the model(s) saved in ``model_dir`` (a model directory, or a k-fold directory of
    ``fold_<k>/`` models) to ``out_dir`` (layout in the module docstring); ``int8``: also
    write each graph's int8 variant. An older ``out_dir`` is replaced only once every fold
    succeeded. Returns the final ``model.onnx`` paths in fold order."""
    model_dir, out_dir = Path(model_dir), Path(out_dir)
    dirs = inference.model_dirs(model_dir)
    rel = [d.relative_to(model_dir) for d in dirs]
    with atomic_dir(out_dir) as tmp:
        for src, sub in zip(dirs, rel, strict=True):
            path = export_dir(src, tmp / sub)
            if int8:
                from papercls.inference.onnx.quantize import quantize_int8

                quantize_int8(path, path.with_name(INT8_FILE))
    return [out_dir / sub / MODEL_FILE for sub in rel]
