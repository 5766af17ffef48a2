"""Reading a decision threshold from a thresholds file (metrics/thresholds.json, or any file
given to ``papercls predict --thresholds-file``), with every value checked.

The file maps model names to either an entry ``{"threshold": t, ...}`` (as tune_thresholds
writes it) or a bare number. ``t`` must be a number in [0, 1] (a numeric string is read as
one): JSON ``true``/``false`` (which Python would take as 1 and 0), other strings, null, lists,
NaN, infinities and values outside [0, 1] are refused with the file and the key named; so is a
file nested too deeply for the JSON parser.
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
    except RecursionError:  # json recurses once per level of nesting
        raise ValueError(f"{path}: JSON nested too deeply for a thresholds file") from None


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
    return check_threshold(entry, f"{path}: {key}")


def check_threshold(value: Any, where: str) -> float:
    """``value`` as a threshold: a number in [0, 1] (a numeric string is read as one); a
    boolean, another string, None, NaN, an infinity or a number outside [0, 1] raises
    ValueError ``<where> must be a number in [0, 1], got <value>``. Also the check of a served
    model's configured threshold (``papercls.tracking.serving``)."""
    shown = json.dumps(value, default=repr)[:60]
    try:
        if isinstance(value, bool):  # float(True) would be 1.0
            raise TypeError
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{where} must be a number in [0, 1], got {shown}") from None
    if not math.isfinite(number) or not 0.0 <= number <= 1.0:
        raise ValueError(f"{where} must be a number in [0, 1], got {shown}")
    return number


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
