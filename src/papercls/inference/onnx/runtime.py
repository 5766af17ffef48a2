"""P(label == 1) with ONNX Runtime from graphs written by :mod:`papercls.inference.onnx.export`.

Same encoding, length-sorted batching and softmax as
:func:`papercls.inference.encoder.predict_proba` (the functions are shared, not copied); k-fold
exports are averaged as the torch path does.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from papercls.inference import encoder as inference
from papercls.inference.onnx.layout import INT8_FILE, MODEL_FILE

VARIANTS = {"fp32": MODEL_FILE, "int8": INT8_FILE}


def make_session(onnx_path: str | Path, threads: int | None = None):
    """An ``onnxruntime.InferenceSession`` on the CPU for ``onnx_path``; ``threads``: intra-op
    threads (None or 0: ONNX Runtime's default, one per physical core)."""
    import onnxruntime as ort

    onnx_path = Path(onnx_path)
    if not onnx_path.is_file():
        raise FileNotFoundError(f"no ONNX model at {onnx_path}")
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if threads:
        options.intra_op_num_threads = int(threads)
    return ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])


def session_proba(
    session,
    tokenizer,
    texts: Sequence[str],
    max_length: int | None,
    batch_size: int = 64,
    progress: bool | None = None,
) -> np.ndarray:
    """P(label == 1) for each text, in input order (float64), from one ONNX Runtime session."""
    enc = inference.encode(tokenizer, texts, max_length)
    n = len(enc.get("input_ids", []))
    if n == 0:
        return np.empty(0, dtype=np.float64)
    names = [i.name for i in session.get_inputs()]
    missing = [k for k in names if k not in enc]
    if missing:
        raise ValueError(f"the ONNX graph needs input(s) {missing} the tokenizer does not produce")
    probs = np.empty(n, dtype=np.float64)
    for idx, batch in inference.length_sorted_batches(
        tokenizer, enc, names, batch_size, "np", progress
    ):
        feed = {k: np.asarray(batch[k], dtype=np.int64) for k in names}
        (logits,) = session.run(None, feed)
        probs[idx] = inference.positive_proba(logits)
    return probs


def predict_proba_onnx(
    onnx_paths: str | Path | Sequence[str | Path],
    tokenizer,
    texts: Sequence[str],
    max_length: int | None,
    batch_size: int = 64,
    progress: bool | None = None,
    threads: int | None = None,
) -> np.ndarray:
    """P(label == 1) for each text: one ONNX graph, or the mean over several (k-fold), all
    with the one ``tokenizer``. ``max_length`` None: the tokenizer's limit (the training
    length for a saved model)."""
    paths = [onnx_paths] if isinstance(onnx_paths, (str, Path)) else list(onnx_paths)
    if not paths:
        raise ValueError("no ONNX model paths given")
    total = None
    for path in paths:
        session = make_session(path, threads)
        p = session_proba(session, tokenizer, texts, max_length, batch_size, progress)
        total = p if total is None else total + p
        del session
    return total / len(paths)


def onnx_model_paths(onnx_dir: str | Path, variant: str = "fp32") -> list[Path]:
    """The graphs of one export (``fp32``: model.onnx, ``int8``: model.int8.onnx) in fold
    order: ``onnx_dir`` itself or its ``fold_<k>/`` sub-directories."""
    if variant not in VARIANTS:
        raise ValueError(f"ONNX variant must be one of {sorted(VARIANTS)}, got {variant!r}")
    onnx_dir = Path(onnx_dir)
    name = VARIANTS[variant]
    if (onnx_dir / name).is_file():
        return [onnx_dir / name]
    folds = sorted(
        (
            p / name
            for p in onnx_dir.glob("fold_*")
            if p.name[len("fold_") :].isdigit() and (p / name).is_file()
        ),
        key=lambda p: int(p.parent.name.split("_", 1)[1]),
    )
    if not folds:
        raise FileNotFoundError(f"no {name} (or fold_*/{name}) in {onnx_dir}")
    return folds


def predict_dir_proba_onnx(
    onnx_dir: str | Path,
    texts: Sequence[str],
    max_length: int | None = None,
    batch_size: int = 64,
    variant: str = "fp32",
    progress: bool | None = None,
    threads: int | None = None,
) -> np.ndarray:
    """P(label == 1) from an export directory (:func:`papercls.inference.onnx.export.export_onnx`);
    k-fold: the mean over the folds, each with the tokenizer saved beside its graph."""
    from transformers import AutoTokenizer

    paths = onnx_model_paths(onnx_dir, variant)
    total = None
    for path in paths:
        tokenizer = AutoTokenizer.from_pretrained(path.parent)
        p = predict_proba_onnx(path, tokenizer, texts, max_length, batch_size, progress, threads)
        total = p if total is None else total + p
    return total / len(paths)
