"""Preprocessing over the challenge's real test files keeps every row and every character."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import pandas as pd
import pytest

from papercls.data.preprocess import run_preprocess
from papercls.data.schema import load_test

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "competition"
TEMPLATE = "{title} {sep} {author} {sep} {Keywords} {sep} {abstract}"


def _shared(name: str) -> Path:
    path = SHARED / name
    if not path.exists():
        pytest.skip(f"{path} not present (real challenge files live outside the project)")
    return path


def _non_ascii_chars(values: list[str]) -> set[str]:
    return {c for v in values for c in v if ord(c) > 127 and unicodedata.category(c)[0] not in "ZC"}


@pytest.mark.parametrize("name,rows", [("testB.csv", 2000), ("test.csv", 2358)])
def test_real_test_file_keeps_rows_and_characters(tmp_path: Path, name: str, rows: int) -> None:
    src = _shared(name)
    train = tmp_path / "train.csv"
    train.write_text(
        "uuid,title,author,abstract,Keywords,label\n"
        + "".join(f"u{i},t{i},a,b{i},k,{i % 2}\n" for i in range(10)),
        encoding="utf-8",
    )
    cfg = {"text_template": TEMPLATE, "valid_size": 0.2, "folds": 2, "seed": 0}
    meta = run_preprocess(train, src, tmp_path / "prepared", cfg)
    test = pd.read_parquet(tmp_path / "prepared" / "test.parquet")
    raw = pd.read_csv(src, dtype=str, keep_default_na=False)
    assert meta["n_test"] == rows == len(test)
    assert test["uuid"].tolist() == raw["uuid"].tolist()
    fields = [c for c in ("title", "author", "abstract", "Keywords") if c in raw.columns]
    for i in range(len(raw)):
        expected = _non_ascii_chars([raw[c].iloc[i] for c in fields])
        got = _non_ascii_chars([test["text"].iloc[i]])
        assert expected <= got, f"row {i + 1} lost {sorted(expected - got)[:5]}"
    n_non_ascii = sum(any(ord(c) > 127 for c in t) for t in test["text"].tolist())
    assert n_non_ascii > 0


def test_real_file_loads_with_empty_abstract() -> None:
    df = load_test(_shared("test.csv"))
    assert (df["abstract"].str.strip() == "").sum() == 1
