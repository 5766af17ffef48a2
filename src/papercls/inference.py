"""Loading a saved classifier and computing P(label == 1) for texts."""

from __future__ import annotations

import copy
import inspect
import sys
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

TEMPLATE_SEP = "[SEP]"
_UNBOUNDED = 1_000_000  # tokenizers without a limit report a huge model_max_length


def _as_texts(texts: Iterable[Any]) -> list[str]:
    if hasattr(texts, "tolist"):
        texts = texts.tolist()
    out = []
    for t in texts:
        if t is None or (isinstance(t, float) and t != t):  # None / NaN
            out.append("")
        else:
            out.append(str(t))
    return out


def default_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def load_classifier(model_dir: str | Path, device: str | torch.device | None = None):
    """(model, tokenizer) saved by the train stage; the model is in eval mode on ``device``
    (default: CUDA when available, else CPU). Never runs remote code; weights are read from
    safetensors only."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    import papercls.models  # noqa: F401  registers the fused_head model type

    model_dir = Path(model_dir)
    if not (model_dir / "config.json").is_file():
        raise FileNotFoundError(f"{model_dir} is not a saved model directory (no config.json)")
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    # safetensors only: a directory holding just a pickled pytorch_model.bin is refused
    model = AutoModelForSequenceClassification.from_pretrained(model_dir, use_safetensors=True)
    model.to(torch.device(device) if device is not None else default_device())
    model.eval()
    return model, tokenizer


def quantize_int8(model):
    """A CPU copy of ``model`` with every ``nn.Linear`` quantised dynamically to int8: weights
    int8 per output channel, activations quantised per batch at run time. Faster on CPU (about
    1.4x for MiniLM on AVX2) but approximate: probabilities move, and some labels flip (the
    benchmark reports the agreement with the float model)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.ao.quantization is deprecated for torchao
        from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

        return quantize_dynamic(
            copy.deepcopy(model).cpu().eval(),
            {torch.nn.Linear: per_channel_dynamic_qconfig},
            dtype=torch.qint8,
        )


# The file that marks a saved model directory: an encoder's config.json, a TF-IDF model's
# tfidf.json (papercls.tfidf.CONFIG_FILE).
_MODEL_MARKERS = ("config.json", "tfidf.json")


def _is_model(d: Path) -> bool:
    return any((d / marker).is_file() for marker in _MODEL_MARKERS)


def is_tfidf_model(d: str | Path) -> bool:
    return (Path(d) / "tfidf.json").is_file()


def model_dirs(model_dir: str | Path) -> list[Path]:
    """The model directories under ``model_dir``: itself, or its ``fold_<k>`` subdirectories
    (k-fold training, encoder or TF-IDF), sorted by fold number."""
    model_dir = Path(model_dir)
    if _is_model(model_dir):
        return [model_dir]
    folds = sorted(
        (p for p in model_dir.glob("fold_*") if p.name[5:].isdigit() and _is_model(p)),
        key=lambda p: int(p.name[5:]),
    )
    if not folds:
        raise FileNotFoundError(
            f"no saved model (config.json, tfidf.json or fold_<k>/ holding one) in {model_dir}"
        )
    return folds


def resolve_max_length(tokenizer, max_length: int | None) -> int:
    """``max_length`` capped by the tokenizer's limit; None -> the tokenizer's limit (the train
    stage saves the training max_length there) or 512."""
    limit = getattr(tokenizer, "model_max_length", None)
    limit = int(limit) if limit and limit < _UNBOUNDED else None
    if max_length is None:
        return limit or 512
    return min(int(max_length), limit) if limit else int(max_length)


def encode(tokenizer, texts: Sequence[str], max_length: int | None) -> dict[str, list[list[int]]]:
    """Tokenise without padding (truncating to ``max_length``). The template's literal
    ``[SEP]`` becomes ``tokenizer.sep_token`` (e.g. ``</s>`` for RoBERTa) when that differs."""
    texts = _as_texts(texts)
    sep = getattr(tokenizer, "sep_token", None)
    if sep and sep != TEMPLATE_SEP:
        texts = [t.replace(TEMPLATE_SEP, sep) for t in texts]
    if not texts:
        return {name: [] for name in tokenizer.model_input_names}
    enc = tokenizer(
        texts,
        truncation=True,
        max_length=resolve_max_length(tokenizer, max_length),
        padding=False,
    )
    return {k: list(v) for k, v in enc.items()}


def model_input_names(model) -> set[str]:
    """Named keyword arguments of the model's forward (inputs it does not name are dropped, e.g.
    ``token_type_ids`` for DistilBERT)."""
    params = inspect.signature(model.forward).parameters
    return {
        name
        for name, p in params.items()
        if p.kind not in (inspect.Parameter.VAR_KEYWORD, inspect.Parameter.VAR_POSITIONAL)
    }


def show_progress(progress: bool | None) -> bool:
    """tqdm on/off: explicit value, else only when stderr is a terminal."""
    return sys.stderr.isatty() if progress is None else bool(progress)


@torch.inference_mode()
def predict_proba(
    model,
    tokenizer,
    texts: Sequence[str],
    max_length: int | None,
    batch_size: int = 64,
    progress: bool | None = None,
) -> np.ndarray:
    """P(label == 1) for each text, in input order (float64 array).

    Texts are tokenised once, sorted by length, batched with dynamic padding and run under
    ``torch.inference_mode()`` on the model's device. ``progress``: show a tqdm bar
    (default: only on a terminal).
    """
    enc = encode(tokenizer, texts, max_length)
    n = len(enc.get("input_ids", []))
    if n == 0:
        return np.empty(0, dtype=np.float64)
    accepted = model_input_names(model)
    keys = [k for k in enc if k in accepted]
    lengths = np.array([len(ids) for ids in enc["input_ids"]])
    order = np.argsort(-lengths, kind="stable")
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    probs = np.empty(n, dtype=np.float64)
    try:
        bar = tqdm(
            range(0, n, batch_size),
            desc="predict",
            disable=not show_progress(progress),
            leave=False,
        )
        for start in bar:
            idx = order[start : start + batch_size]
            feats = [{k: enc[k][i] for k in keys} for i in idx]
            batch = tokenizer.pad(feats, padding=True, return_tensors="pt")
            batch = {k: v.to(device) for k, v in batch.items()}
            logits = model(**batch).logits.float()
            p = torch.softmax(logits, dim=-1)[:, 1]
            probs[idx] = p.double().cpu().numpy()
    finally:
        if was_training:
            model.train()
    return probs


def predict_dir_proba(
    model_dir: str | Path,
    texts: Sequence[str],
    max_length: int | None = None,
    batch_size: int = 64,
    device: str | torch.device | None = None,
    progress: bool | None = None,
    int8: bool = False,
) -> np.ndarray:
    """P(label == 1) from a saved model directory; for a k-fold directory (``fold_<k>/``) the
    mean over the fold models. Encoder or TF-IDF folds (a TF-IDF fold ignores ``max_length``,
    ``batch_size``, ``device`` and ``progress``). ``max_length`` None: the length the model
    was trained with. ``int8``: run a dynamically quantised CPU copy (:func:`quantize_int8`)."""
    dirs = model_dirs(model_dir)
    total = None
    for d in dirs:
        if is_tfidf_model(d):
            if int8:
                raise ValueError(f"int8 applies to encoder models; {d} is a TF-IDF model")
            from papercls.tfidf import TfidfClassifier

            p = TfidfClassifier.load(d).predict_proba(_as_texts(texts))
        else:
            model, tokenizer = load_classifier(d, device="cpu" if int8 else device)
            if int8:
                model = quantize_int8(model)
            p = predict_proba(model, tokenizer, texts, max_length, batch_size, progress)
            del model
        total = p if total is None else total + p
    return total / len(dirs)
