"""Reading CSVs with clear errors, and writing every output atomically (temp file, then rename)."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from papercls.errors import InputError

_SNIFF_BYTES = 64 * 1024
_LINE_END = re.compile(r"\r\n?|\n")
csv.field_size_limit(256 * 1024 * 1024)  # a field may be huge; text.py caps what the model sees


def _check_bytes(path: Path) -> str:
    """Decoded text of ``path``; InputError for a missing, empty, binary or non-UTF-8 file."""
    if not path.exists():
        raise InputError(path, "file not found")
    if path.is_dir():
        raise InputError(path, "is a directory, expected a CSV file")
    raw = path.read_bytes()
    if not raw.strip():
        raise InputError(path, "file is empty")
    if b"\x00" in raw[:_SNIFF_BYTES]:
        raise InputError(path, "looks like a binary file (NUL bytes), expected a UTF-8 CSV")
    try:
        text = raw.decode("utf-8-sig")  # a UTF-8 byte-order mark is accepted and dropped
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise InputError(
            path, f"bytes are not UTF-8 (byte offset {exc.start}, line {line} of the file)"
        ) from None
    return text


def read_csv_checked(
    path: str | Path, required: list[str], optional: list[str] | None = None
) -> pd.DataFrame:
    """Read a comma-separated UTF-8 CSV as strings and check its header.

    Raises InputError naming the file (and row/column) for: a missing file, an empty file, a binary
    or non-UTF-8 file, a wrong delimiter, a missing required column, a malformed (truncated or
    ragged) row, or a header with no data rows. Optional columns that are absent are added empty.
    """
    path = Path(path)
    optional = optional or []
    text = _check_bytes(path)
    # Records end only at \n, \r or \r\n, as for pandas: str.splitlines() would also break at
    # form feeds, U+2028 and other characters that PDF-extracted abstracts do contain.
    header_line = _LINE_END.split(text, maxsplit=1)[0]
    header = next(csv.reader([header_line]), [])
    header = [h.strip() for h in header]
    if len(header) == 1 and len(required) > 1:
        for delim in (";", "\t", "|"):
            if delim in header_line:
                raise InputError(
                    path,
                    f"header has one column; the file seems to use {delim!r} as delimiter, "
                    "expected commas",
                    row=0,
                )
    missing = [c for c in required if c not in header]
    if missing:
        raise InputError(
            path,
            f"missing required column(s) {missing}; header is {header}",
            row=0,
            column=missing[0],
        )
    dupes = sorted({h for h in header if header.count(h) > 1})
    if dupes:
        raise InputError(path, f"duplicate column name(s) {dupes}", row=0, column=dupes[0])
    # Row-level structure: every record must have as many fields as the header.
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    next(reader, None)
    i = 0
    try:
        for i, rec in enumerate(reader, start=1):
            if rec and len(rec) != len(header):
                raise InputError(
                    path,
                    f"expected {len(header)} fields, found {len(rec)} (truncated or malformed row)",
                    row=i,
                )
    except csv.Error as exc:
        raise InputError(
            path, f"malformed CSV ({exc}); the file may be truncated", row=i + 1
        ) from None
    try:
        df = pd.read_csv(
            path,
            dtype=str,
            keep_default_na=False,
            encoding="utf-8-sig",
            skipinitialspace=False,
        )
    except (pd.errors.ParserError, ValueError) as exc:
        raise InputError(path, f"cannot parse CSV: {exc}") from None
    df.columns = [str(c).strip() for c in df.columns]
    if len(df) == 0:
        raise InputError(path, "has a header but no data rows")
    for col in optional:
        if col not in df.columns:
            df[col] = ""
    return df


@contextlib.contextmanager
def atomic_path(target: str | Path, mode: int | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; rename it over ``target`` only on success.
    ``mode``: permission bits given to the file before the rename (default: mkstemp's 0o600)."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        if mode is not None:
            os.chmod(tmp_path, mode)
        os.replace(tmp_path, target)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def replace_dir(src: Path, dst: Path) -> None:
    """Move the finished directory ``src`` to ``dst``, replacing an old ``dst``: the old one is
    renamed aside first and removed last, so ``dst`` is never a half-written mix."""
    old = None
    if dst.exists():
        old = dst.with_name(f".{dst.name}.old-{os.getpid()}")
        shutil.rmtree(old, ignore_errors=True)
        os.replace(dst, old)
    os.replace(src, dst)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


@contextlib.contextmanager
def atomic_dir(target: str | Path, mode: int | None = None) -> Iterator[Path]:
    """Yield a temporary directory beside ``target``; it replaces ``target`` only on success.
    ``mode``: permission bits of the directory (default: mkdtemp's 0o700)."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    if mode is not None:
        os.chmod(tmp, mode)
    try:
        yield tmp
        replace_dir(tmp, target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def write_parquet(df: pd.DataFrame, path: str | Path) -> None:
    with atomic_path(path) as tmp:
        df.to_parquet(tmp, index=False)


def write_csv(df: pd.DataFrame, path: str | Path) -> None:
    with atomic_path(path) as tmp:
        df.to_csv(tmp, index=False, lineterminator="\n")


def write_json(obj: Any, path: str | Path) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=False, default=_json_default) + "\n")


def write_text(text: str, path: str | Path) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def read_json(path: str | Path) -> Any:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def _json_default(o: Any) -> Any:
    import numpy as np

    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(f"not JSON serialisable: {type(o)}")
