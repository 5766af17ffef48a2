"""Model input text from a field template, and the seeded stratified split."""

from __future__ import annotations

import re
import string

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedKFold, train_test_split

SEP = "[SEP]"
FIELDS = ("title", "author", "abstract", "Keywords")
# A field longer than this is cut before rendering: no tokenizer window comes near it, and a
# pathological 10 MB abstract would otherwise cost memory and time in every later stage.
MAX_FIELD_CHARS = 20_000
_WS = re.compile(r"\s+")
_REPEATED_SEP = re.compile(r"(?:\s*\[SEP\])+")


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


def template_fields(template: str) -> list[str]:
    """The field names a template uses; raises ValueError for unknown ones."""
    names = [f for _, f, _, _ in string.Formatter().parse(template) if f is not None]
    unknown = sorted(set(names) - set(FIELDS) - {"sep"})
    if unknown:
        raise ValueError(
            f"text_template uses unknown field(s) {unknown}; allowed: {list(FIELDS)} and 'sep'"
        )
    if not set(names) & set(FIELDS):
        raise ValueError("text_template must use at least one of " + ", ".join(FIELDS))
    return names


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
