"""Reading a test-format CSV or Parquet file in checked chunks of rows, in bounded memory
(``papercls predict``).

Each chunk is checked as :func:`papercls.data.io.read_csv_checked` and
:func:`papercls.data.schema.validate_test` check a whole file, errors naming the file's own row
numbers (the header is row 0); uuids repeated across chunks are found at the end from an 8-byte
hash per row. Standard input (``-``) and other non-regular files (a FIFO, ``/dev/stdin``) are
read once, into a temporary file.
"""

from __future__ import annotations

import contextlib
import csv
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from papercls.data.io import _SNIFF_BYTES, check_header, header_names
from papercls.data.schema import TEST_OPTIONAL, TEST_REQUIRED, validate_test
from papercls.errors import InputError

STDIN = "-"
PARQUET_SUFFIX = ".parquet"


@contextlib.contextmanager
def regular_input(path: str) -> Iterator[Path]:
    """A regular file holding the input ``path``: the file itself, or for ``-`` (standard input)
    and non-regular files (FIFO, character device) a temporary copy, read once and removed."""
    p = Path(path)
    if path != STDIN and (not p.exists() or p.is_file() or p.is_dir()):
        yield p
        return
    fd, tmp = tempfile.mkstemp(prefix="papercls-input.", suffix=".tmp")
    try:
        with open(fd, "wb") as out:
            if path == STDIN:
                shutil.copyfileobj(sys.stdin.buffer, out, 1 << 20)
            else:
                with open(p, "rb") as src:
                    shutil.copyfileobj(src, out, 1 << 20)
        yield Path(tmp)
    finally:
        Path(tmp).unlink(missing_ok=True)


def _check_start(path: Path, name: str) -> None:
    if not path.exists():
        raise InputError(name, "file not found")
    if path.is_dir():
        raise InputError(name, "is a directory, expected a CSV file")
    with open(path, "rb") as fh:
        head = fh.read(_SNIFF_BYTES)
    if not head.strip() and len(head) < _SNIFF_BYTES:
        raise InputError(name, "file is empty")
    if b"\x00" in head:
        raise InputError(name, "looks like a binary file (NUL bytes), expected a UTF-8 CSV")


def _frame(records: list[list[str]], header: list[str], name: str, first_row: int):
    df = pd.DataFrame(records, columns=header, dtype=str)
    for col in header:
        has_nul = df[col].str.contains("\x00", regex=False)
        if has_nul.any():
            row = first_row + int(has_nul.to_numpy().argmax())
            raise InputError(name, "holds a NUL byte (binary data?)", row=row, column=col)
    return df


def _csv_records(path: Path, name: str) -> Iterator[tuple[list[str], list[str]]]:
    """(header, record) for each non-blank record of the CSV, checked for its field count."""
    row = 0
    try:
        with open(path, encoding="utf-8-sig", newline="") as fh:
            line = fh.readline().rstrip("\r\n")
            header = check_header(name, header_names(line), TEST_REQUIRED, TEST_OPTIONAL, line)
            for rec in csv.reader(fh, strict=True):
                if not rec:
                    continue
                row += 1
                if len(rec) != len(header):
                    raise InputError(
                        name,
                        f"expected {len(header)} fields, found {len(rec)} "
                        "(truncated or malformed row)",
                        row=row,
                    )
                yield header, rec
    except UnicodeDecodeError:  # text is decoded ahead in blocks: the row is a lower bound
        where = f" (after data row {row})" if row else ""
        raise InputError(name, f"bytes are not UTF-8{where}, expected a UTF-8 CSV") from None
    except csv.Error as exc:
        raise InputError(
            name, f"malformed CSV ({exc}); the file may be truncated", row=row + 1
        ) from None


def _csv_chunks(path: Path, name: str, chunk_size: int) -> Iterator[tuple[int, pd.DataFrame]]:
    records: list[list[str]] = []
    header: list[str] = []
    first = 1
    for header, rec in _csv_records(path, name):
        records.append(rec)
        if len(records) == chunk_size:
            yield first, _frame(records, header, name, first)
            first, records = first + len(records), []
    if records:
        yield first, _frame(records, header, name, first)


def _parquet_chunks(path: Path, name: str, chunk_size: int) -> Iterator[tuple[int, pd.DataFrame]]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path)
    except (pa.ArrowException, OSError) as exc:
        raise InputError(name, f"not a readable Parquet file ({exc})") from None
    header = check_header(name, list(pf.schema_arrow.names), TEST_REQUIRED, TEST_OPTIONAL)
    columns = [c for c in [*TEST_REQUIRED, *TEST_OPTIONAL] if c in header]
    first = 1
    for batch in pf.iter_batches(batch_size=chunk_size, columns=columns):
        data = {
            c: ["" if v is None else str(v) for v in batch.column(c).to_pylist()] for c in columns
        }
        df = _frame(list(zip(*data.values(), strict=True)), columns, name, first)
        yield first, df
        first += len(df)


def _uuids_at(path: Path, name: str, rows: set[int], chunk_size: int) -> dict[int, str]:
    found: dict[int, str] = {}
    for first, df in _raw_chunks(path, name, chunk_size):
        for row in rows:
            if first <= row < first + len(df):
                found[row] = df["uuid"].iloc[row - first]
    return found


def _raw_chunks(path: Path, name: str, chunk_size: int):
    if path.suffix.lower() == PARQUET_SUFFIX:
        return _parquet_chunks(path, name, chunk_size)
    _check_start(path, name)
    return _csv_chunks(path, name, chunk_size)


def _exact_repeat(path: Path, name: str, chunk_size: int) -> tuple[int, int, str] | None:
    """(first row, repeating row, uuid) of the first repeated uuid, comparing the uuids."""
    seen: dict[str, int] = {}
    for start, df in _raw_chunks(path, name, chunk_size):
        for i, u in enumerate(df["uuid"].tolist()):
            if u in seen:
                return seen[u], start + i, u
            seen[u] = start + i
    return None


def _check_repeats(path: Path, name: str, hashes: list[np.ndarray], chunk_size: int) -> None:
    """InputError for the first row whose uuid repeats an earlier row's (across chunks)."""
    h = np.concatenate(hashes)
    order = np.argsort(h, kind="stable")  # equal hashes stay in row order
    sorted_h = h[order]
    later = order[np.flatnonzero(sorted_h[1:] == sorted_h[:-1]) + 1]
    if not len(later):
        return
    row = int(later.min()) + 1
    first = int(order[np.searchsorted(sorted_h, h[row - 1])]) + 1
    uuids = _uuids_at(path, name, {first, row}, chunk_size)
    found = (first, row, uuids[row]) if uuids[first] == uuids[row] else None
    if found is None:  # a 64-bit hash collision: compare the uuids themselves
        found = _exact_repeat(path, name, chunk_size)
    if found is not None:
        first, row, uuid = found
        raise InputError(
            name, f"duplicate uuid {uuid!r} (first seen at row {first})", row=row, column="uuid"
        )


def iter_test_chunks(
    path: Path, chunk_size: int, name: str | None = None
) -> Iterator[pd.DataFrame]:
    """The rows of a test-format CSV or Parquet file (by suffix), ``chunk_size`` at a time,
    each checked as a whole file would be (``validate_test``; optional columns added empty).
    ``name``: what errors call the file (default: ``path``)."""
    name = str(name or path)
    hashes: list[np.ndarray] = []
    n = 0
    for first, df in _raw_chunks(path, name, chunk_size):
        for col in TEST_OPTIONAL:
            if col not in df.columns:
                df[col] = ""
        df = validate_test(df, name, first_row=first)
        hashes.append(pd.util.hash_pandas_object(df["uuid"], index=False).to_numpy())
        n += len(df)
        yield df
    if n == 0:
        raise InputError(name, "has a header but no data rows")
    _check_repeats(path, name, hashes, chunk_size)


def count_rows(path: Path) -> int | None:
    """Data rows of a CSV (one quick pass) or Parquet file (its metadata); None if unreadable."""
    try:
        if path.suffix.lower() == PARQUET_SUFFIX:
            import pyarrow.parquet as pq

            return int(pq.ParquetFile(path).metadata.num_rows)
        with open(path, encoding="utf-8-sig", newline="") as fh:
            return sum(1 for rec in csv.reader(fh) if rec) - 1
    except Exception:  # noqa: BLE001  only a progress bar's total depends on it
        return None
