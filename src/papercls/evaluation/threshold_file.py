"""Reading a decision threshold from a thresholds file (metrics/thresholds.json, or any file
given to ``papercls predict --thresholds-file``), with every value checked.

The file maps model names to either an entry ``{"threshold": t, ...}`` (as tune_thresholds
writes it) or a bare number. ``t`` must be a number in [0, 1] (a numeric string is read as
one): JSON ``true``/``false`` (which Python would take as 1 and 0), other strings, null, lists,
NaN, infinities and values outside [0, 1] are refused with the file and the key named.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any


def _parse(path: Path) -> Any:
    if not path.exists():
        raise FileNotFoundError(f"thresholds file {path} not found: run tune_thresholds first")
    if path.is_dir():
        raise ValueError(f"thresholds file {path} is a directory, expected a JSON file")
    try:
        return json.loads(path.read_text(encoding="utf-8"))  # NaN/Infinity parse as floats
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path}: not UTF-8 text ({exc})") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON ({exc})") from None


def read_threshold(thresholds_file: str | Path, model: str) -> float:
    """The threshold of ``model`` in ``thresholds_file``, a float in [0, 1].

    Raises FileNotFoundError for a missing file; ValueError naming the file and the key
    (``<model>.threshold``, or ``<model>`` for a bare number) for anything else that is wrong.
    """
    path = Path(thresholds_file)
    table = _parse(path)
    if not isinstance(table, dict) or model not in table:
        known = sorted(table) if isinstance(table, dict) else []
        raise ValueError(f"{path}: no threshold for model {model!r} (models there: {known})")
    entry = table[model]
    key = model
    if isinstance(entry, dict):
        if "threshold" not in entry:
            raise ValueError(f"{path}: {model}.threshold is missing")
        entry, key = entry["threshold"], f"{model}.threshold"
    shown = json.dumps(entry)[:60]
    try:
        if isinstance(entry, bool):  # float(True) would be 1.0
            raise TypeError
        value = float(entry)
    except (TypeError, ValueError):
        raise ValueError(f"{path}: {key} must be a number in [0, 1], got {shown}") from None
    if not math.isfinite(value) or not 0.0 <= value <= 1.0:
        raise ValueError(f"{path}: {key} must be a number in [0, 1], got {shown}")
    return value


def recorded_threshold(thresholds_file: str | Path, model: str) -> float | None:
    """The threshold of ``model`` in ``thresholds_file`` when the file exists and has an entry
    for it (checked as :func:`read_threshold` checks it), else None."""
    path = Path(thresholds_file)
    if not path.is_file():
        return None
    table = _parse(path)
    if not isinstance(table, dict) or model not in table:
        return None
    return read_threshold(path, model)
