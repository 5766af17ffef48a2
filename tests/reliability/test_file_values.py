"""Values hidden inside otherwise well-formed files: a NUL byte far into a CSV, and a threshold
that JSON spells as something other than a number in [0, 1].

Before: a NUL byte was looked for in the first 64 KiB only, so one further on passed
`papercls validate` and preprocess; ``{"threshold": true}`` was read as 1.0 (every row labelled
0). Now: the NUL is refused with its row and column wherever it is; the thresholds reader
(``papercls.evaluation.threshold_file.read_threshold``) refuses booleans, non-numbers, NaN,
infinities and values outside [0, 1], naming the file and the key.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from papercls.cli import main as cli_main
from papercls.data.schema import load_test, load_train
from papercls.errors import InputError
from papercls.evaluation.threshold_file import read_threshold

TRAIN_HEADER = "uuid,title,author,abstract,Keywords,label\n"
ABSTRACT = "Abstract words about cells and tissue. " * 5


def _rows(n: int) -> list[str]:
    return [f"u{i},Title {i},A B,{ABSTRACT}{i},kw,{i % 2}\n" for i in range(n)]


@pytest.mark.parametrize("column", ["abstract", "label", "uuid"])
def test_nul_byte_past_64_kib_is_refused_with_row_and_column(tmp_path: Path, capsys, column):
    rows = _rows(700)
    fields = rows[499].rstrip("\n").split(",")
    idx = TRAIN_HEADER.strip().split(",").index(column)
    fields[idx] = fields[idx][:2] + "\x00" + fields[idx][2:]
    rows[499] = ",".join(fields) + "\n"
    path = tmp_path / "train.csv"
    path.write_text(TRAIN_HEADER + "".join(rows), encoding="utf-8")
    assert path.read_bytes().index(b"\x00") > 64 * 1024
    assert cli_main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.strip() == (
        f"error: file {path}, row 500, column {column!r}: holds a NUL byte (binary data?)"
    )
    with pytest.raises(InputError, match="row 500"):
        load_train(path)


def test_nul_byte_in_a_quoted_multiline_test_field(tmp_path: Path) -> None:
    """Rows are records, not lines: a quoted abstract spanning lines does not shift the row."""
    rows = [f't{i},Title {i},"{ABSTRACT}\nsecond line {i}"\n' for i in range(600)]
    rows[450] = rows[450].replace("second line", "second\x00line")
    path = tmp_path / "test.csv"
    path.write_text("uuid,title,abstract\n" + "".join(rows), encoding="utf-8")
    with pytest.raises(InputError) as exc:
        load_test(path)
    assert (exc.value.row, exc.value.column) == (451, "abstract")


def test_nul_byte_early_still_means_a_binary_file(tmp_path: Path) -> None:
    path = tmp_path / "train.csv"
    path.write_bytes(TRAIN_HEADER.encode() + b"u0,T\x00,A,B,k,0\n")
    with pytest.raises(InputError, match="looks like a binary file"):
        load_train(path)


def _thresholds(path: Path, entry) -> Path:
    path.write_text(json.dumps({"topline": entry, "tfidf": {"threshold": 0.5}}), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    "entry,key,shown",
    [
        ({"threshold": True}, "topline.threshold", "true"),
        ({"threshold": False}, "topline.threshold", "false"),
        (True, "topline", "true"),
        ({"threshold": None}, "topline.threshold", "null"),
        ({"threshold": "high"}, "topline.threshold", '"high"'),
        ({"threshold": [0.5]}, "topline.threshold", "[0.5]"),
        ({"threshold": 1.5}, "topline.threshold", "1.5"),
        ({"threshold": -0.1}, "topline.threshold", "-0.1"),
        ({"threshold": float("nan")}, "topline.threshold", "NaN"),
        ({"threshold": float("inf")}, "topline.threshold", "Infinity"),
    ],
    ids=[
        "true",
        "false",
        "bare-true",
        "null",
        "string",
        "list",
        "above-1",
        "negative",
        "nan",
        "inf",
    ],
)
def test_threshold_must_be_a_number_in_0_1(tmp_path: Path, entry, key, shown) -> None:
    path = _thresholds(tmp_path / "thresholds.json", entry)
    with pytest.raises(ValueError) as exc:
        read_threshold(path, "topline")
    assert str(exc.value) == f"{path}: {key} must be a number in [0, 1], got {shown}"


def test_threshold_reader_accepts_what_tune_thresholds_writes(tmp_path: Path) -> None:
    path = _thresholds(tmp_path / "thresholds.json", {"threshold": 0.3125, "method": "f1"})
    assert read_threshold(path, "topline") == 0.3125
    assert read_threshold(_thresholds(path, 1), "topline") == 1.0  # a bare number
    assert read_threshold(_thresholds(path, {"threshold": "0.25"}), "topline") == 0.25
    assert read_threshold(path, "tfidf") == 0.5


@pytest.mark.parametrize("case", ["missing-key", "unknown-model", "directory", "bad-json"])
def test_threshold_file_errors_name_the_file(tmp_path: Path, case: str) -> None:
    path = tmp_path / "thresholds.json"
    if case == "missing-key":
        _thresholds(path, {"method": "f1"})
        words = ["topline.threshold is missing"]
    elif case == "unknown-model":
        path.write_text(json.dumps({"tfidf": {"threshold": 0.5}}))
        words = ["no threshold for model 'topline'", "['tfidf']"]
    elif case == "directory":
        path.mkdir()
        words = ["is a directory"]
    else:
        path.write_text('{"topline": ')
        words = ["not valid JSON"]
    with pytest.raises(ValueError) as exc:
        read_threshold(path, "topline")
    assert str(path) in str(exc.value) and all(w in str(exc.value) for w in words)
