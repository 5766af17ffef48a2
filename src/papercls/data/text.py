"""Model input text from a field template, and the seeded stratified split (with its size
checks: :func:`plan_split`)."""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedKFold, train_test_split

from papercls.data.template import FIELDS, SEP, template_fields

__all__ = [
    "FIELDS",
    "MAX_FIELD_CHARS",
    "SEP",
    "SplitTooSmall",
    "assign_folds",
    "build_texts",
    "dedupe_authors",
    "normalize_whitespace",
    "plan_split",
    "split_train_valid",
    "template_fields",
]

# A field longer than this is cut before rendering: no tokenizer window comes near it, and a
# pathological 10 MB abstract would otherwise cost memory and time in every later stage.
MAX_FIELD_CHARS = 20_000
_WS = re.compile(r"\s+")
_REPEATED_SEP = re.compile(rf"(?:\s*{re.escape(SEP)})+")


def normalize_whitespace(text: str) -> str:
    """Collapse every run of whitespace (Unicode-aware) to one space and strip the ends."""
    return _WS.sub(" ", text).strip()


def dedupe_authors(authors: str) -> str:
    """'A, B, A, B' -> 'A, B': the real files often repeat the whole author list twice."""
    names = [a.strip() for a in authors.split(",") if a.strip()]
    n = len(names)
    if n >= 2 and n % 2 == 0 and names[: n // 2] == names[n // 2 :]:
        names = names[: n // 2]
    return ", ".join(names)


def build_texts(df: pd.DataFrame, template: str) -> list[str]:
    """Render ``template`` for every row. Empty fields drop out together with their separator."""
    names = template_fields(template)
    columns = {}
    for f in set(names) - {"sep"}:
        values = df[f].fillna("").astype(str).tolist() if f in df.columns else [""] * len(df)
        if f == "author":
            values = [dedupe_authors(v) for v in values]
        columns[f] = [
            normalize_whitespace(v[: 2 * MAX_FIELD_CHARS])[:MAX_FIELD_CHARS] for v in values
        ]
    out = []
    for i in range(len(df)):
        row = {f: columns[f][i] for f in columns}
        text = template.format(sep=f" {SEP} ", **row)
        text = _REPEATED_SEP.sub(f" {SEP}", normalize_whitespace(text))
        text = normalize_whitespace(text)
        if text.startswith(SEP):
            text = text[len(SEP) :]
        if text.endswith(SEP):
            text = text[: -len(SEP)]
        out.append(text.strip())
    return out


def split_train_valid(
    labels: np.ndarray, valid_size: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Seeded stratified split; returns sorted positional indices (train, valid)."""
    idx = np.arange(len(labels))
    if not 0 < valid_size < 1:
        raise ValueError(f"valid_size must be in (0, 1), got {valid_size}")
    tr, va = train_test_split(idx, test_size=valid_size, random_state=seed, stratify=labels)
    return np.sort(tr), np.sort(va)


def assign_folds(labels: np.ndarray, folds: int, seed: int) -> np.ndarray:
    """Stratified fold id (0..folds-1) per row, seeded."""
    if folds < 2:
        return np.zeros(len(labels), dtype=np.int64)
    fold = np.full(len(labels), -1, dtype=np.int64)
    skf = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    for k, (_, held) in enumerate(skf.split(np.zeros(len(labels)), labels)):
        fold[held] = k
    return fold


class SplitTooSmall(ValueError):
    """The labelled rows are too few for the stratified validation split or the folds. The
    message says what is too small; the caller adds the file (``InputError``)."""


def _check_split_sizes(labels: np.ndarray, valid_size: float) -> None:
    """What ``train_test_split(..., stratify=labels)`` needs, said before scikit-learn fails."""
    classes, counts = np.unique(labels, return_counts=True)
    where = f"the stratified validation split (preprocess.valid_size={valid_size:g})"
    for c, k in zip(classes.tolist(), counts.tolist(), strict=True):
        if k < 2:
            raise SplitTooSmall(f"class {c} has {k} row(s); {where} needs at least 2 per class")
    n = len(labels)
    n_valid = math.ceil(valid_size * n)  # as scikit-learn rounds a fractional test_size
    n_train = n - n_valid
    for part, size in (("validation", n_valid), ("training", n_train)):
        if size < len(classes):
            raise SplitTooSmall(
                f"{n} labelled rows leave {size} {part} row(s) after {where}; it needs at least "
                f"{len(classes)} (one per class): add rows or change preprocess.valid_size"
            )


def _check_fold_sizes(labels: np.ndarray, train_labels: np.ndarray, folds: int) -> None:
    """Every class needs ``folds`` rows in the training part for stratified folds."""
    if folds < 2:
        return
    in_file = dict(zip(*np.unique(labels, return_counts=True), strict=True))
    classes, counts = np.unique(train_labels, return_counts=True)
    for c, k in zip(classes.tolist(), counts.tolist(), strict=True):
        if k < folds:
            raise SplitTooSmall(
                f"class {c} has {k} row(s) in the training part ({in_file[c]} in the file, less "
                f"the validation split); preprocess.folds={folds} needs at least {folds} per "
                "class: add rows or lower preprocess.folds (below 2: no folds)"
            )


def plan_split(
    labels: np.ndarray, valid_size: float, folds: int, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The split preprocess writes: sorted train and valid positions, and the stratified fold id
    of each train row (in train order). Raises :class:`SplitTooSmall` when a class or a part
    is too small, instead of scikit-learn's error."""
    labels = np.asarray(labels)
    if not 0 < valid_size < 1:
        raise ValueError(f"valid_size must be in (0, 1), got {valid_size}")
    _check_split_sizes(labels, valid_size)
    try:
        tr, va = split_train_valid(labels, valid_size, seed)
    except ValueError as exc:  # a case the checks above do not foresee
        raise SplitTooSmall(f"cannot split the labelled rows: {exc}") from None
    _check_fold_sizes(labels, labels[tr], folds)
    return tr, va, assign_folds(labels[tr], folds, seed)
