"""Loading a saved classifier and computing P(label == 1) for texts."""

from __future__ import annotations

import copy
import inspect
import json
import sys
import warnings
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from papercls.data.template import SEP

SAFETENSORS_FILE = "model.safetensors"
SAFETENSORS_INDEX = "model.safetensors.index.json"
TOKENIZER_FILE = "tokenizer.json"
_PICKLED_SUFFIXES = {".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt"}
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


def check_model_files(model_dir: str | Path) -> None:
    """Refuse, naming the file, a model directory whose ``config.json`` is missing
    (FileNotFoundError) or not a JSON object (ValueError), without ``tokenizer.json``
    (FileNotFoundError), or whose weights are missing or only
    pickled (FileNotFoundError: ``pytorch_model.bin`` is never loaded, unpickling can run code)
    or not a readable safetensors file, e.g. truncated (ValueError)."""
    from safetensors import SafetensorError, safe_open

    model_dir = Path(model_dir)
    config = model_dir / "config.json"
    if not config.is_file():
        raise FileNotFoundError(f"{model_dir} is not a saved model directory (no config.json)")
    try:
        cfg = json.loads(config.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:  # UnicodeDecodeError and JSONDecodeError included
        raise ValueError(f"{config}: not a valid JSON model config ({exc})") from None
    if not isinstance(cfg, dict):
        raise ValueError(f"{config}: expected a JSON object, found {type(cfg).__name__}")
    if not (model_dir / TOKENIZER_FILE).is_file():  # transformers would fall back to a
        # bare vocabulary that reads every word as [UNK]: predictions silently wrong
        raise FileNotFoundError(
            f"{model_dir}: no {TOKENIZER_FILE} (the tokenizer saved with the model); "
            "without it the texts cannot be read as in training"
        )
    weights = model_dir / SAFETENSORS_FILE
    if (model_dir / SAFETENSORS_INDEX).is_file() and not weights.exists():
        return  # sharded weights: transformers checks the shards it reads
    if not weights.is_file():
        pickled = sorted(p.name for p in model_dir.iterdir() if p.suffix in _PICKLED_SUFFIXES)
        if pickled:
            raise FileNotFoundError(
                f"{model_dir}: no {SAFETENSORS_FILE}, only pickled weights ({', '.join(pickled)}),"
                " which are never loaded (unpickling can run code)"
            )
        raise FileNotFoundError(f"{model_dir}: no weights ({SAFETENSORS_FILE} not found)")
    try:
        with safe_open(weights, framework="pt") as fh:
            fh.keys()
    except (SafetensorError, OSError) as exc:
        raise ValueError(f"{weights}: not a readable safetensors file ({exc})") from None


def load_classifier(model_dir: str | Path, device: str | torch.device | None = None):
    """(model, tokenizer) saved by the train stage; the model is in eval mode on ``device``
    (default: CUDA when available, else CPU). Never runs remote code; weights are read from
    safetensors only (:func:`check_model_files` first: a bad directory raises ValueError or
    FileNotFoundError naming the file)."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    import papercls.models.fused_head  # noqa: F401  registers the fused_head model type

    model_dir = Path(model_dir)
    check_model_files(model_dir)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    # safetensors only: a directory holding just a pickled pytorch_model.bin is refused
    # fp32 whatever the files store: the engines' precisions (bf16, int8) start from fp32
    model = AutoModelForSequenceClassification.from_pretrained(
        model_dir, use_safetensors=True, dtype=torch.float32
    )
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
# tfidf.json (papercls.models.tfidf.CONFIG_FILE).
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
    if sep and sep != SEP:
        texts = [t.replace(SEP, sep) for t in texts]
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


def length_sorted_batches(
    tokenizer,
    enc: dict[str, list[list[int]]],
    keys: Sequence[str],
    batch_size: int,
    return_tensors: str = "pt",
    progress: bool | None = None,
) -> Iterator[tuple[np.ndarray, dict[str, Any]]]:
    """``(row indices, padded batch)`` over the rows of ``enc`` (from :func:`encode`), longest
    first, ``batch_size`` rows at a time, each padded to its own longest row; the batch holds
    ``keys`` only, as ``return_tensors`` ("pt" or "np") arrays. ``progress``: a tqdm bar."""
    lengths = np.array([len(ids) for ids in enc["input_ids"]])
    order = np.argsort(-lengths, kind="stable")
    bar = tqdm(
        range(0, len(order), batch_size),
        desc="predict",
        disable=not show_progress(progress),
        leave=False,
    )
    for start in bar:
        idx = order[start : start + batch_size]
        feats = [{k: enc[k][i] for k in keys} for i in idx]
        yield idx, tokenizer.pad(feats, padding=True, return_tensors=return_tensors)


def positive_proba(logits: torch.Tensor | np.ndarray) -> np.ndarray:
    """P(label == 1) from a batch of 2-class logits: softmax in float32, returned as float64."""
    logits = torch.as_tensor(logits).float()
    return torch.softmax(logits, dim=-1)[:, 1].double().cpu().numpy()


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
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    probs = np.empty(n, dtype=np.float64)
    try:
        for idx, batch in length_sorted_batches(tokenizer, enc, keys, batch_size, "pt", progress):
            batch = {k: v.to(device) for k, v in batch.items()}
            probs[idx] = positive_proba(model(**batch).logits)
    finally:
        if was_training:
            model.train()
    return probs


def mean_proba(
    classifiers: Iterable[tuple[Any, Any]],
    texts: Sequence[str],
    max_length: int | None,
    batch_size: int = 64,
    progress: bool | None = None,
) -> np.ndarray:
    """The mean of :func:`predict_proba` over ``(model, tokenizer)`` pairs: the k-fold
    ensemble. ``classifiers`` may be a generator, so that only one model is held at a time."""
    total, n = None, 0
    for model, tokenizer in classifiers:
        p = predict_proba(model, tokenizer, texts, max_length, batch_size, progress)
        total = p if total is None else total + p
        n += 1
        del model, tokenizer
    if total is None:
        raise ValueError("no classifier to predict with")
    return total / n


def iter_classifiers(
    model_dir: str | Path, device: str | torch.device | None = None, int8: bool = False
) -> Iterator[tuple[Any, Any]]:
    """``(model, tokenizer)`` of each model under ``model_dir`` (:func:`model_dirs`), loaded
    one at a time. ``int8``: a dynamically quantised CPU copy (:func:`quantize_int8`)."""
    for d in model_dirs(model_dir):
        model, tokenizer = load_classifier(d, device="cpu" if int8 else device)
        if int8:
            model = quantize_int8(model)
        yield model, tokenizer
        del model, tokenizer


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
    if any(is_tfidf_model(d) for d in dirs):
        if int8:
            raise ValueError(f"int8 applies to encoder models; {model_dir} is a TF-IDF model")
        from papercls.models.tfidf import TfidfClassifier

        folds = (TfidfClassifier.load(d).predict_proba(_as_texts(texts)) for d in dirs)
        return sum(folds) / len(dirs)
    classifiers = iter_classifiers(model_dir, device=device, int8=int8)
    return mean_proba(classifiers, texts, max_length, batch_size, progress)
