"""Decision thresholds: best F1 on held-out predictions (with a bootstrap interval), matching an
expected number of positives on the test probabilities, or a fixed value.

A row is predicted positive when ``prob >= threshold`` everywhere in the project.

Best-F1 search (exact): the candidate cuts are "predict positive every row whose probability is
>= p" for each distinct predicted probability p. The threshold reported for a cut is the
*midpoint* between p and the next lower distinct probability (the cut that includes every row
uses p itself, the smallest probability). Midpoints select exactly the same held-out rows as p,
but leave a margin on both sides for unseen data. When several cuts reach the same best F1 the
highest threshold (fewest positives) wins.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from papercls.evaluation.metrics import check_inputs

METHODS = ("f1", "prior", "fixed")
# Bootstrap rows processed at once: keeps the (resamples x rows) matrices to a few tens of MB.
_CELLS_PER_CHUNK = 2_000_000


def _midpoint(upper: np.ndarray, lower: np.ndarray) -> np.ndarray:
    """Midpoint of upper >= lower; falls back to ``upper`` when the two are equal or when the
    rounded midpoint does not lie strictly above ``lower`` (adjacent floats)."""
    upper = np.asarray(upper, dtype=np.float64)
    lower = np.asarray(lower, dtype=np.float64)
    mid = upper / 2 + lower / 2
    return np.where((mid > lower) & (mid <= upper), mid, upper)


def _distinct_desc(p: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(order, ends, values): ``order`` sorts p descending (stable); ``ends[k]`` is the last
    sorted position holding the k-th largest distinct value ``values[k]``."""
    order = np.argsort(-p, kind="stable")
    ps = p[order]
    ends = np.flatnonzero(np.r_[ps[1:] != ps[:-1], True])
    return order, ends, ps[ends]


def best_f1_threshold(y_true: Any, prob: Any) -> tuple[float, float]:
    """(threshold, f1) of the best cut; see the module docstring for the candidates and ties.
    With no positive label every cut scores F1 = 0 and the highest cut is returned."""
    y, p = check_inputs(y_true, prob)
    order, ends, values = _distinct_desc(p)
    tp = np.cumsum(y[order])[ends]
    n_pred = ends + 1
    f1 = 2.0 * tp / (n_pred + y.sum())  # 2TP / (2TP + FP + FN); n_pred >= 1
    k = int(np.argmax(f1))
    lower = values[k + 1] if k + 1 < len(values) else values[k]
    return float(_midpoint(values[k], lower)), float(f1[k])


def _replicates_from_indices(
    y: np.ndarray, p: np.ndarray, idx: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Best-F1 (threshold, f1) of each resample ``(y[idx[b]], p[idx[b]])``, vectorised.

    Each resample is a weight vector over the original rows; cuts are taken at the original
    distinct values, and a cut whose value was not drawn is dropped, so each replicate equals
    ``best_f1_threshold`` run on the resampled rows."""
    order, ends, values = _distinct_desc(p)
    n_rows, m = len(p), len(values)
    b = idx.shape[0]
    flat = (idx + (np.arange(b, dtype=np.int64) * n_rows)[:, None]).ravel()
    weights = np.bincount(flat, minlength=b * n_rows).reshape(b, n_rows)[:, order]
    n_cum = np.cumsum(weights, axis=1)[:, ends]
    tp_cum = np.cumsum(weights * y[order][None, :], axis=1)[:, ends]
    n_pos = tp_cum[:, -1:]
    present = np.diff(n_cum, axis=1, prepend=0) > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        f1 = np.where(present, 2.0 * tp_cum / (n_cum + n_pos), -1.0)
    best = np.argmax(f1, axis=1)
    rows = np.arange(b)
    after = present & (np.arange(m)[None, :] > best[:, None])
    nxt = np.where(after.any(axis=1), np.argmax(after, axis=1), best)
    thr = _midpoint(values[best], values[nxt])
    return thr, f1[rows, best]


def bootstrap_replicates(
    y_true: Any, prob: Any, n: int = 1000, seed: int = 42
) -> tuple[np.ndarray, np.ndarray]:
    """Best-F1 thresholds and F1 values of ``n`` seeded bootstrap resamples (rows drawn with
    replacement, same size as the input)."""
    y, p = check_inputs(y_true, prob)
    rng = np.random.default_rng(seed)
    chunk = max(1, _CELLS_PER_CHUNK // len(y))
    thr_parts, f1_parts = [], []
    done = 0
    while done < n:
        size = min(chunk, n - done)
        idx = rng.integers(0, len(y), size=(size, len(y)))
        t, f = _replicates_from_indices(y, p, idx)
        thr_parts.append(t)
        f1_parts.append(f)
        done += size
    if not thr_parts:
        return np.empty(0), np.empty(0)
    return np.concatenate(thr_parts), np.concatenate(f1_parts)


def bootstrap_best_f1(
    y_true: Any, prob: Any, n: int = 1000, seed: int = 42
) -> dict[str, Any]:
    """Best-F1 threshold on all rows plus percentile intervals over ``n`` bootstrap resamples:
    ci_low/ci_high are the 2.5/97.5 percentiles of the resampled best thresholds,
    f1_ci_low/f1_ci_high those of the resampled best F1 values. ``n = 0`` gives None intervals."""
    threshold, f1 = best_f1_threshold(y_true, prob)
    out: dict[str, Any] = {"threshold": threshold, "f1": f1}
    if n > 0:
        thr, f1s = bootstrap_replicates(y_true, prob, n=int(n), seed=int(seed))
        lo, hi = np.percentile(thr, [2.5, 97.5])
        flo, fhi = np.percentile(f1s, [2.5, 97.5])
        out.update(
            ci_low=float(lo),
            ci_high=float(hi),
            f1_ci_low=float(flo),
            f1_ci_high=float(fhi),
            threshold_std=float(thr.std(ddof=1)) if len(thr) > 1 else 0.0,
        )
    else:
        out.update(ci_low=None, ci_high=None, f1_ci_low=None, f1_ci_high=None, threshold_std=None)
    out.update(n_bootstrap=int(n), seed=int(seed))
    return out


def expected_positive_count(
    n: int, expected_rate: float | None = None, expected_count: int | None = None
) -> int:
    """``expected_count`` when given (it wins), else ``round(expected_rate * n)`` rounding halves
    up. Raises ValueError when neither is given or a value is out of range."""
    if expected_count is not None:
        count = int(expected_count)
        if count != expected_count or not 0 <= count <= n:
            raise ValueError(f"expected_count must be an integer in [0, {n}], got {expected_count}")
        return count
    if expected_rate is None:
        raise ValueError("prior threshold needs expected_count or expected_rate")
    rate = float(expected_rate)
    if not 0.0 <= rate <= 1.0:
        raise ValueError(f"expected_rate must be in [0, 1], got {expected_rate}")
    return int(np.floor(rate * n + 0.5))


def _count_threshold(s: np.ndarray, count: int) -> float:
    """Threshold that puts exactly the ``count`` largest values of descending ``s`` at or above
    it; requires s[count-1] > s[count] for 0 < count < len(s)."""
    n = len(s)
    if count == 0:
        return float(np.nextafter(s[0], np.inf))
    if count == n:
        return float(s[-1])
    return float(_midpoint(s[count - 1], s[count]))


def prior_threshold_details(
    test_prob: Any, expected_rate: float | None = None, expected_count: int | None = None
) -> dict[str, Any]:
    """Threshold such that ``expected_count`` (or round(rate * n)) test probabilities are >= it.

    Ties: when the requested count falls inside a run of equal probabilities no threshold can
    split the run; the whole run goes to whichever side gives the count closest to the request
    (equal distance: the higher threshold, i.e. fewer positives). ``achieved_count`` tells the
    count actually obtained. The threshold is the midpoint between the last included and the
    first excluded probability; count 0 gives a value just above the maximum (no positive),
    count n the minimum probability.
    """
    p = np.asarray(test_prob, dtype=np.float64)
    if p.ndim != 1 or len(p) == 0:
        raise ValueError("prior threshold needs a non-empty 1-D array of test probabilities")
    if not np.isfinite(p).all():
        raise ValueError("test probabilities contain non-finite values")
    n = len(p)
    want = expected_positive_count(n, expected_rate, expected_count)
    s = np.sort(p)[::-1]
    count = want
    if 0 < want < n and s[want - 1] == s[want]:
        v = s[want]
        first = int(np.searchsorted(-s, -v, side="left"))  # values strictly above v
        last = int(np.searchsorted(-s, -v, side="right"))  # values >= v
        count = first if want - first <= last - want else last
    return {
        "threshold": _count_threshold(s, count),
        "expected_count": int(want),
        "rate": float(want / n),
        "achieved_count": int(count),
        "n_test": int(n),
    }


def prior_threshold(
    test_prob: Any, expected_rate: float | None = None, expected_count: int | None = None
) -> float:
    """Threshold putting exactly ``expected_count`` (else round(expected_rate * n)) of
    ``test_prob`` at or above it; ties as in :func:`prior_threshold_details`.

    This is the label-count-feedback adjustment: once the number (or share) of positives in the
    test set is known, the cut is moved so the submission predicts that many positives."""
    return prior_threshold_details(test_prob, expected_rate, expected_count)["threshold"]


def choose_threshold(
    method: str | float,
    heldout_df: pd.DataFrame,
    test_probs: Any,
    params: dict[str, Any],
    prior: float | None,
) -> dict[str, Any]:
    """The decision threshold of one model, with what backs it.

    ``method``: "f1" (best F1 on held-out), "prior" (match the expected positive count on the
    TEST probabilities) or "fixed" (``params["fixed"]``, default 0.5); a number is taken as a
    fixed threshold. ``heldout_df`` has label and prob columns; ``params`` is the ``thresholds``
    section (expected_rate, expected_count, bootstrap, seed, fixed); ``prior`` is the training
    positive rate used when neither expected_count nor expected_rate is set.

    Returns {"method", "threshold", "best_f1": {threshold, f1, ci_low, ci_high, f1_ci_low,
    f1_ci_high, ...}, "prior": {threshold, expected_count, rate, achieved_count, n_test,
    source} or None when no count/rate is known}; "fixed" is added for the fixed method.
    """
    if isinstance(method, int | float) and not isinstance(method, bool):
        params = {**params, "fixed": float(method)}
        method = "fixed"
    method = str(method).strip().lower()
    if method not in METHODS:
        raise ValueError(f"unknown threshold method {method!r}; choose one of {list(METHODS)}")
    for col in ("label", "prob"):
        if col not in heldout_df.columns:
            raise ValueError(f"held-out predictions lack column {col!r}")
    best = bootstrap_best_f1(
        heldout_df["label"].to_numpy(),
        heldout_df["prob"].to_numpy(),
        n=int(params.get("bootstrap", 1000) or 0),
        seed=int(params.get("seed", 42)),
    )
    prior_info = _prior_details(params, test_probs, prior)
    out: dict[str, Any] = {"method": method}
    out.update(_chosen(method, best, prior_info, params))
    out["best_f1"] = best
    out["prior"] = prior_info
    return out


def _prior_details(params: dict[str, Any], test_probs: Any, prior: float | None) -> dict | None:
    """The prior-matching threshold on the test probabilities and where its count or rate
    came from (expected_count, then expected_rate, then the training prior); None when no
    count or rate is known or there are no test probabilities."""
    count, rate = params.get("expected_count"), params.get("expected_rate")
    if count is not None:
        source = "expected_count"
    elif rate is not None:
        source = "expected_rate"
    elif prior is not None:
        rate, source = float(prior), "training_prior"
    else:
        return None
    if test_probs is None or len(test_probs) == 0:
        return None
    details = prior_threshold_details(test_probs, expected_rate=rate, expected_count=count)
    return {**details, "source": source}


def _chosen(method: str, best: dict, prior_info: dict | None, params: dict) -> dict[str, Any]:
    """{"threshold"} (and "fixed" for the fixed method) that ``method`` picks."""
    if method == "f1":
        return {"threshold": best["threshold"]}
    if method == "prior":
        if prior_info is None:
            raise ValueError(
                "method 'prior' needs test probabilities and expected_count, expected_rate "
                "or the training prior"
            )
        return {"threshold": prior_info["threshold"]}
    fixed = float(params.get("fixed", 0.5))
    if not 0.0 <= fixed <= 1.0:
        raise ValueError(f"fixed threshold must be in [0, 1], got {fixed}")
    return {"threshold": fixed, "fixed": fixed}
