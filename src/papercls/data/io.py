"""Reading CSVs with clear errors, and writing every output atomically (temp file, then rename).

Outputs get the usual permissions: files 0666 and folders 0777, less the umask (the temporary
files and folders they start as are private, 0600/0700, until they are complete)."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import re
import shutil
import stat
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from papercls.errors import InputError

if TYPE_CHECKING:  # pandas is imported where it is used: the params check runs without it
    import pandas as pd

_SNIFF_BYTES = 64 * 1024
_LINE_END = re.compile(r"\r\n?|\n")
# Bounds on what one CSV may hold, so that a device (/dev/zero), a runaway file or a file
# without line ends fails with a clear error instead of growing the process without end.
MAX_FILE_BYTES = 2 * 1024**3
MAX_FIELD_CHARS = 64 * 1024**2  # one field; text.py caps what the model sees far lower
STDIN_NAMES = ("-", "/dev/stdin")


def _mb(n: int) -> str:
    return f"{n / 1024**2:g} MB"


def _open_source(path: Path) -> tuple[BinaryIO, bool]:
    """``path`` opened for reading (and whether to close it): a regular file, or standard input
    for ``-`` / ``/dev/stdin``. Devices, FIFOs and sockets are refused before they are opened
    (reading /dev/zero never ends; opening a FIFO waits for a writer)."""
    if str(path) in STDIN_NAMES:
        return sys.stdin.buffer, False
    if not path.exists():
        raise InputError(path, "file not found")
    if path.is_dir():
        raise InputError(path, "is a directory, expected a CSV file")
    if not stat.S_ISREG(path.stat().st_mode):
        raise InputError(
            path,
            "is not a regular file (a device, FIFO or socket); give a CSV file, or - "
            "for standard input",
        )
    if path.stat().st_size > MAX_FILE_BYTES:
        raise InputError(path, _too_big())
    return open(path, "rb"), True  # noqa: SIM115 (closed by the caller)


def _too_big() -> str:
    return f"larger than {_mb(MAX_FILE_BYTES)}, the most one CSV may hold: split the file"


def _read_capped(path: Path) -> bytes:
    """The bytes of ``path`` (at most MAX_FILE_BYTES); a NUL byte in the first 64 KiB is
    refused before the rest is read."""
    fh, close = _open_source(path)
    try:
        head = fh.read(_SNIFF_BYTES)
        if b"\x00" in head:
            raise InputError(path, "looks like a binary file (NUL bytes), expected a UTF-8 CSV")
        raw = head + fh.read(MAX_FILE_BYTES + 1 - len(head))
    finally:
        if close:
            fh.close()
    if len(raw) > MAX_FILE_BYTES:
        raise InputError(path, _too_big())
    return raw


def _check_bytes(path: Path) -> str:
    """Decoded text of ``path``; InputError for a missing, empty, binary, non-UTF-8, too large
    or non-regular file. A NUL byte in the first 64 KiB marks a binary file; one further on is
    refused by :func:`read_csv_checked` with its row and column."""
    raw = _read_capped(path)
    if not raw.strip():
        raise InputError(path, "file is empty")
    try:
        text = raw.decode("utf-8-sig")  # a UTF-8 byte-order mark is accepted and dropped
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise InputError(
            path, f"bytes are not UTF-8 (byte offset {exc.start}, line {line} of the file)"
        ) from None
    return text


def _check_records(path: Path, text: str, header: list[str]) -> None:
    """Every record has as many fields as the header, and no field holds a NUL character."""
    has_nul = "\x00" in text  # found at C speed; the records are searched only when it is there
    if has_nul and "\x00" in _LINE_END.split(text, maxsplit=1)[0]:
        raise InputError(path, "the header holds a NUL byte (binary data?)", row=0)
    previous_limit = csv.field_size_limit(MAX_FIELD_CHARS)  # process-wide: put back below
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    i = 0
    try:
        next(reader, None)
        for i, rec in enumerate(reader, start=1):
            if rec and len(rec) != len(header):
                raise InputError(
                    path,
                    f"expected {len(header)} fields, found {len(rec)} (truncated or malformed row)",
                    row=i,
                )
            if has_nul:
                for name, value in zip(header, rec, strict=False):
                    if "\x00" in value:
                        raise InputError(
                            path, "holds a NUL byte (binary data?)", row=i, column=name
                        )
    except csv.Error as exc:
        if "field larger than field limit" in str(exc):
            raise InputError(
                path,
                f"a field is longer than {_mb(MAX_FIELD_CHARS)} (the most one field may hold; "
                "an unclosed quote or a file without line ends?)",
                row=i + 1,
            ) from None
        raise InputError(
            path, f"malformed CSV ({exc}); the file may be truncated", row=i + 1
        ) from None
    finally:
        csv.field_size_limit(previous_limit)


def check_column_case(
    source: str | Path, columns: list[str], expected: list[str], row: int | None = 0
) -> None:
    """InputError naming the column when one of ``columns`` is an ``expected`` name in another
    case (``keywords`` for ``Keywords``, ``Title`` for ``title``): it would otherwise be read as
    an unknown column and drop silently out of the model text."""
    wanted = {e.lower(): e for e in expected}
    for col in columns:
        spelled = wanted.get(str(col).lower())
        if spelled is not None and col != spelled:
            raise InputError(
                source,
                f"column {col!r} differs from the expected {spelled!r} only in case; rename it "
                f"to {spelled!r} (column names are case-sensitive)",
                row=row,
                column=str(col),
            )


def header_names(header_line: str) -> list[str]:
    """The column names of a CSV header line, stripped."""
    return [h.strip() for h in next(csv.reader([header_line]), [])]


def check_header(
    path: str | Path,
    header: list[str],
    required: list[str],
    optional: list[str],
    header_line: str = "",
) -> list[str]:
    """``header`` checked; InputError (row 0) for a wrong delimiter (seen in ``header_line``), a
    column spelled in another case, a missing required or a duplicate column."""
    if len(header) == 1 and len(required) > 1:
        for delim in (";", "\t", "|"):
            if delim in header_line:
                raise InputError(
                    path,
                    f"header has one column; the file seems to use {delim!r} as delimiter, "
                    "expected commas",
                    row=0,
                )
    check_column_case(path, header, required + optional)
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
    return header


def read_csv_checked(
    path: str | Path, required: list[str], optional: list[str] | None = None
) -> pd.DataFrame:
    """Read a comma-separated UTF-8 CSV as strings and check its header.

    Raises InputError naming the file (and row/column) for: a missing file, an empty file, a binary
    or non-UTF-8 file, a NUL byte anywhere, a wrong delimiter, a missing required column, a
    malformed (truncated or ragged) row, or a header with no data rows; also for a device, FIFO
    or socket (``-`` or ``/dev/stdin`` reads standard input), a file over MAX_FILE_BYTES and a
    field over MAX_FIELD_CHARS. Optional columns that are absent are added empty.
    """
    import pandas as pd

    path = Path(path)
    optional = optional or []
    text = _check_bytes(path)
    # Records end only at \n, \r or \r\n, as for pandas: str.splitlines() would also break at
    # form feeds, U+2028 and other characters that PDF-extracted abstracts do contain.
    line = _LINE_END.split(text, maxsplit=1)[0]
    header = check_header(path, header_names(line), required, optional, line)
    _check_records(path, text, header)
    try:
        df = pd.read_csv(  # the text already read: the file is read once (stdin too)
            io.StringIO(text, newline=""),
            dtype=str,
            keep_default_na=False,
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


def _umask() -> int:
    """The process umask, read without changing it where Linux shows it (/proc/self/status);
    elsewhere set and restored at once."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def default_file_mode(executable: bool = False) -> int:
    """The mode ``open()`` gives a new file: 0666 (0777 for an executable) less the umask."""
    return (0o777 if executable else 0o666) & ~_umask()


def publish_modes(root: Path) -> None:
    """Give ``root`` and everything in it the usual modes (files 0666, executables and folders
    0777, less the umask): mkstemp/mkdtemp and some writers (safetensors) create them private."""
    mask = _umask()
    os.chmod(root, 0o777 & ~mask)
    if not root.is_dir():
        return
    for here, dirs, files in os.walk(root):  # links are left alone (and not followed)
        for d in dirs:
            if not os.path.islink(p := os.path.join(here, d)):
                os.chmod(p, 0o777 & ~mask)
        for f in files:
            if not os.path.islink(p := os.path.join(here, f)):
                executable = os.stat(p).st_mode & 0o111
                os.chmod(p, (0o777 if executable else 0o666) & ~mask)


@contextlib.contextmanager
def atomic_path(target: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; rename it over ``target`` only on success.
    The file gets the usual mode (0666 less the umask), not mkstemp's 0600."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        if tmp_path.is_file():  # a writer may have replaced the file: set the mode last
            os.chmod(tmp_path, default_file_mode())
        os.replace(tmp_path, target)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def replace_dir(src: Path, dst: Path) -> None:
    """Move the finished directory ``src`` to ``dst``, replacing an old ``dst``: the old one is
    renamed aside first and removed last, so ``dst`` is never a half-written mix. ``src`` and
    its contents get the usual modes first (:func:`publish_modes`)."""
    publish_modes(Path(src))
    old = None
    if dst.exists():
        old = dst.with_name(f".{dst.name}.old-{os.getpid()}")
        shutil.rmtree(old, ignore_errors=True)
        os.replace(dst, old)
    os.replace(src, dst)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


@contextlib.contextmanager
def atomic_dir(target: str | Path) -> Iterator[Path]:
    """Yield a temporary directory beside ``target``; it replaces ``target`` only on success,
    with the usual modes (see :func:`replace_dir`)."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
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


def _json_default(o: Any) -> Any:
    import numpy as np

    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(f"not JSON serialisable: {type(o)}")
