"""Error types for bad input: ``InputError`` names the file, the row and the column of bad data;
``ParamsError`` the params file and the key of each bad param."""

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


class ParamsError(ValueError):
    """Bad params: ``problems`` holds one ``(key, message)`` per bad value, the key dotted
    (``thresholds.method``; ``""`` for the file as a whole). ``lines()`` gives one message per
    problem, each naming the file and the key."""

    def __init__(self, path: str | Path, problems: list[tuple[str, str]]) -> None:
        self.path = str(path)
        self.problems = list(problems)
        super().__init__("\n".join(self.lines()))

    def lines(self) -> list[str]:
        return [f"{self.path}: {key + ': ' if key else ''}{msg}" for key, msg in self.problems]
