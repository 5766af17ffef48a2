"""The rows a served model takes, turned into model texts.

A row is a paper in the CSV's own columns (``title``, ``abstract``, optional ``Keywords`` and
``author``), rendered with the template logged with the model by
:func:`papercls.data.text.build_texts` after the checks that
:func:`papercls.data.schema.validate_test` makes on a CSV file; or a ready model text in a
``text`` column (as in ``data/prepared``). Bad rows raise :class:`papercls.errors.InputError`
naming the row (1-based) and the column: also a value that is not a string (a number, a list,
an object), as a CSV cell is always text. A request holds at most ``max_rows`` rows (the
model config's, default ``papercls.tracking.serving.DEFAULT_MAX_ROWS``): one huge request
would hold the whole batch in the server's memory at once; batch scoring is for large sets.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from papercls.data.io import check_column_case
from papercls.data.schema import TEST_REQUIRED, validate_test
from papercls.data.text import FIELDS, build_texts
from papercls.errors import InputError

SOURCE = "request"  # what error messages name instead of a file
TEXT_COLUMN = "text"
REQUIRED = [c for c in TEST_REQUIRED if c != "uuid"]  # title, abstract


def as_frame(model_input: Any) -> pd.DataFrame:
    """``model_input`` as a DataFrame: a DataFrame, a mapping of columns, or a list of row
    mappings. A string or a list of strings is read as the ``text`` column."""
    if isinstance(model_input, pd.DataFrame):
        return model_input
    if isinstance(model_input, str):
        return pd.DataFrame({TEXT_COLUMN: [model_input]})
    if isinstance(model_input, Mapping):
        return pd.DataFrame(dict(model_input))
    rows = list(model_input.tolist() if hasattr(model_input, "tolist") else model_input)
    if all(isinstance(r, Mapping) for r in rows):
        return pd.DataFrame([dict(r) for r in rows])
    if all(isinstance(r, str) for r in rows):
        return pd.DataFrame({TEXT_COLUMN: rows})
    raise InputError(SOURCE, "expected rows with columns (title, abstract, ...) or texts")


def _strings(frame: pd.DataFrame, column: str) -> list[str]:
    """Cells of ``column`` as strings, missing values (None, NaN) as "" (as an empty CSV cell
    reads); any other value that is not a string is refused with its row and column."""
    out = []
    for i, v in enumerate(frame[column].tolist()):
        if isinstance(v, str):
            out.append(v)
        elif v is None or (isinstance(v, float) and v != v) or v is pd.NA:
            out.append("")
        else:
            raise InputError(
                SOURCE,
                f"expected a string, got {type(v).__name__} {str(v)[:40]!r}",
                row=i + 1,
                column=column,
            )
    return out


def check_size(frame: pd.DataFrame, max_rows: int | None = None) -> None:
    """Refuse a request without rows, with rows without fields, or with over ``max_rows`` rows
    (None: no limit)."""
    if max_rows is not None and len(frame) > max_rows:
        raise InputError(
            SOURCE,
            f"{len(frame)} rows in one request; the limit is {max_rows} rows: send them in "
            "several requests, or score a large set in batch (papercls predict, or "
            "mlflow.pyfunc.load_model(...).predict in a job)",
        )
    if len(frame.columns) == 0:
        what = "no rows" if len(frame) == 0 else "rows without fields"
        raise InputError(
            SOURCE,
            f"the request holds {what}: send rows with {REQUIRED} (Keywords, author "
            f"optional) or with a {TEXT_COLUMN!r} column",
        )


def _texts_column(frame: pd.DataFrame) -> list[str]:
    texts = _strings(frame, TEXT_COLUMN)
    for i, t in enumerate(texts):
        if not t.strip():
            raise InputError(SOURCE, "empty text", row=i + 1, column=TEXT_COLUMN)
    return texts


def request_texts(
    frame: pd.DataFrame, template: str | None, max_rows: int | None = None
) -> list[str]:
    """The model text of every row of ``frame``, in order (:func:`check_size` first).

    Rows with ``title`` and ``abstract`` (``Keywords``, ``author`` optional; other columns such
    as ``uuid`` are ignored) are rendered with ``template``; rows with only a ``text`` column are
    taken as they are. Both kinds in one request is ambiguous and refused; so are CSV columns
    for a model logged without a template."""
    check_size(frame, max_rows)
    check_column_case(SOURCE, [str(c) for c in frame.columns], [*FIELDS, TEXT_COLUMN], row=None)
    csv_columns = [c for c in FIELDS if c in frame.columns]
    if TEXT_COLUMN in frame.columns:
        if csv_columns:
            raise InputError(
                SOURCE,
                f"send either the paper columns {csv_columns} or a {TEXT_COLUMN!r} column, "
                "not both",
                column=TEXT_COLUMN,
            )
        return _texts_column(frame)
    missing = [c for c in REQUIRED if c not in frame.columns]
    if missing:
        raise InputError(
            SOURCE,
            f"missing column(s) {missing}: send {REQUIRED} (Keywords, author optional) "
            f"or a {TEXT_COLUMN!r} column with the model text",
            column=missing[0],
        )
    if template is None:
        raise InputError(
            SOURCE,
            f"this model was logged without a text template: send a {TEXT_COLUMN!r} column",
            column=REQUIRED[0],
        )
    if frame.empty:
        return []
    rows = pd.DataFrame({c: _strings(frame, c) for c in csv_columns})
    rows.insert(0, "uuid", [str(i + 1) for i in range(len(rows))])
    return build_texts(validate_test(rows, SOURCE), template)
