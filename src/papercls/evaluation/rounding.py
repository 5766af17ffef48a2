"""Stated precision of written figures, so that metrics files diff cleanly between machines.

Probabilities computed on two CPUs (e.g. AVX2 and AVX-512) can differ in their last bits, and so
do the figures derived from them. Every float the pipeline writes to a metrics, thresholds, plot
or history file goes through :func:`round_sig` (``SIG_DIGITS`` significant digits); the noise
stays below that precision, so the files are byte-identical unless a value sits on a rounding
boundary. Decision thresholds are the exception: :func:`round_threshold` keeps as many digits as
needed for the rounded value to select exactly the same rows as the unrounded one.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence
from typing import Any

import numpy as np
import pandas as pd

SIG_DIGITS = 6
_MAX_DIGITS = 17  # 17 significant digits always reproduce a float64 exactly


def round_sig(x: Any, digits: int = SIG_DIGITS) -> Any:
    """``x`` rounded to ``digits`` significant digits (decimal, ties to even on the exact binary
    value) when it is a float; ints, bools, None, strings and non-finite floats unchanged.
    numpy scalars come back as plain Python numbers."""
    if isinstance(x, np.generic):
        x = x.item()
    if isinstance(x, bool) or not isinstance(x, float):
        return x
    if not math.isfinite(x) or x == 0.0:
        return x
    return float(f"{x:.{digits}g}")


def round_floats(obj: Any, digits: int = SIG_DIGITS, keep: Collection[str] = ()) -> Any:
    """Copy of a JSON-like structure (dicts, lists, tuples) with every float passed through
    :func:`round_sig`, except the values of dict keys named in ``keep`` (at any depth), which
    are copied as they are (e.g. thresholds already rounded by :func:`round_threshold`)."""
    if isinstance(obj, dict):
        return {k: v if k in keep else round_floats(v, digits, keep) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [round_floats(v, digits, keep) for v in obj]
    return round_sig(obj, digits)


def round_frame(df: pd.DataFrame, digits: int = SIG_DIGITS) -> pd.DataFrame:
    """Copy of ``df`` with every float column passed through :func:`round_sig`; other columns
    (ints, strings) untouched. Call it on a frame just before writing it as CSV."""
    out = df.copy()
    for col in out.columns:
        if pd.api.types.is_float_dtype(out[col].dtype):
            out[col] = np.array([round_sig(v, digits) for v in out[col].tolist()], dtype=float)
    return out


def _selects_same(t: float, r: float, probs: Sequence[np.ndarray]) -> bool:
    return all(np.array_equal(p >= t, p >= r) for p in probs)


def round_threshold(threshold: float, *probs: Any, digits: int = SIG_DIGITS) -> float:
    """``threshold`` rounded to ``digits`` significant digits, or to more when needed so that,
    in every array of ``probs``, ``prob >= rounded`` selects exactly the rows that
    ``prob >= threshold`` selects. Without ``probs`` it is plain :func:`round_sig`.

    The project's thresholds are midpoints between neighbouring distinct probabilities, so
    ``digits`` significant digits nearly always suffice; ties with a probability need more."""
    t = float(threshold)
    arrays = [np.asarray(p, dtype=np.float64) for p in probs if p is not None]
    for d in range(digits, _MAX_DIGITS + 1):
        r = round_sig(t, d)
        if _selects_same(t, r, arrays):
            return r
    return t
