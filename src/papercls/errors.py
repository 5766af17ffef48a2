"""The one error type for bad input: it names the file, the row and the column."""

from __future__ import annotations

from pathlib import Path


class InputError(ValueError):
    """Bad input data. ``row`` is the 1-based data row (header excluded), or None for file-level
    problems; ``column`` is the column name, or None."""

    def __init__(
        self,
        path: str | Path,
        message: str,
        row: int | None = None,
        column: str | None = None,
    ) -> None:
        self.path = str(path)
        self.row = row
        self.column = column
        self.message = message
        where = [f"file {self.path}"]
        if row is not None:
            where.append(f"row {row}")
        if column is not None:
            where.append(f"column {column!r}")
        super().__init__(f"{', '.join(where)}: {message}")
