"""The data contract of the challenge's CSVs and its validation."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from papercls.data.io import read_csv_checked
from papercls.errors import InputError

TRAIN_REQUIRED = ["uuid", "title", "author", "abstract", "label"]
TRAIN_OPTIONAL = ["Keywords"]
TEST_REQUIRED = ["uuid", "title", "abstract"]
TEST_OPTIONAL = ["author", "Keywords"]
ID2LABEL = {0: "other", 1: "medical"}  # label ids of every model, file and figure
LABEL2ID = {v: k for k, v in ID2LABEL.items()}


def _row(idx: int, first_row: int = 1) -> int:
    """Data-row number (the header is row 0) of a 0-based frame position; ``first_row``: the
    row number of the frame's first row (> 1 for a later chunk of a file)."""
    return int(idx) + first_row


def _check_uuids(df: pd.DataFrame, path: Path, first_row: int = 1) -> None:
    """uuids are kept verbatim (spaces included: they must round-trip to the output); a blank
    one or a repeated one is refused."""
    uuids = df["uuid"]
    empty = uuids.str.strip() == ""
    if empty.any():
        row = _row(empty.to_numpy().argmax(), first_row)
        raise InputError(path, "empty uuid", row=row, column="uuid")
    dup = uuids.duplicated(keep="first")
    if dup.any():
        pos = int(dup.to_numpy().argmax())
        first = int((uuids == uuids.iloc[pos]).to_numpy().argmax())
        raise InputError(
            path,
            f"duplicate uuid {uuids.iloc[pos]!r} (first seen at row {_row(first, first_row)})",
            row=_row(pos, first_row),
            column="uuid",
        )


def _check_text(df: pd.DataFrame, path: Path, first_row: int = 1) -> None:
    # Titles and abstracts may be empty (filled with ""), but not both: the row would carry no text.
    no_text = (df["title"].str.strip() == "") & (df["abstract"].str.strip() == "")
    if no_text.any():
        raise InputError(
            path,
            "both title and abstract are empty",
            row=_row(no_text.to_numpy().argmax(), first_row),
            column="title",
        )


def _label_values(df: pd.DataFrame, path: Path, first_row: int = 1) -> pd.Series:
    """The ``label`` column as int64 0/1; InputError naming the row of a missing or bad one."""
    raw = df["label"].str.strip()
    ok = raw.isin(["0", "1", "0.0", "1.0"])
    if not ok.all():
        pos = int((~ok).to_numpy().argmax())
        value = raw.iloc[pos]
        what = "missing label" if value == "" else f"label {value!r} is not 0 or 1"
        raise InputError(path, what, row=_row(pos, first_row), column="label")
    return raw.map(lambda v: int(float(v))).astype("int64")


def _parse_labels(df: pd.DataFrame, path: Path) -> pd.Series:
    labels = _label_values(df, path)
    if labels.nunique() < 2:
        raise InputError(
            path,
            f"training data has one class only (every label is {int(labels.iloc[0])}); "
            "both 0 and 1 are needed",
            column="label",
        )
    return labels


def validate_train(df: pd.DataFrame, path: str | Path) -> pd.DataFrame:
    """Check a labelled frame (strings as read by ``read_csv_checked``); return a clean copy."""
    path = Path(path)
    df = df.copy()
    _check_uuids(df, path)
    _check_text(df, path)
    df["label"] = _parse_labels(df, path)
    return df


def validate_test(
    df: pd.DataFrame, path: str | Path, keep_label: bool = False, first_row: int = 1
) -> pd.DataFrame:
    """Check an unlabelled frame. A ``label`` column is dropped, unless ``keep_label``: then it
    is checked like the training labels (0 or 1 on every row; one class is allowed) and kept,
    except when every value is empty (an unlabelled file with a blank label column).
    ``first_row``: the file's row number of the frame's first row (for a chunk of a file)."""
    path = Path(path)
    df = df.copy()
    _check_uuids(df, path, first_row)
    _check_text(df, path, first_row)
    if keep_label and "label" in df.columns and (df["label"].str.strip() != "").any():
        df["label"] = _label_values(df, path, first_row)
        return df
    return df.drop(columns=["label"], errors="ignore")


def load_train(path: str | Path) -> pd.DataFrame:
    return validate_train(read_csv_checked(path, TRAIN_REQUIRED, TRAIN_OPTIONAL), path)


def load_test(path: str | Path, keep_label: bool = False) -> pd.DataFrame:
    """A test CSV, checked; ``keep_label``: see :func:`validate_test`."""
    return validate_test(read_csv_checked(path, TEST_REQUIRED, TEST_OPTIONAL), path, keep_label)
