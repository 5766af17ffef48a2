"""Classification figures and curves at a threshold (scikit-learn underneath).

Conventions: ``y_true`` holds ints {0, 1}; ``prob`` is P(label == 1); a row is predicted positive
when ``prob >= threshold``. Every function returns plain Python numbers (JSON-ready) or small
DataFrames meant for DVC plot files; curves are downsampled to at most ``max_points`` rows.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    confusion_matrix,
    f1_score,
    precision_recall_curve,
    precision_score,
    recall_score,
    roc_auc_score,
    roc_curve,
)

MAX_POINTS = 200
# Grid of the threshold plot: 0.00, 0.01, ..., 1.00.
DEFAULT_SWEEP = np.round(np.linspace(0.0, 1.0, 101), 2)


def check_inputs(y_true: Any, prob: Any) -> tuple[np.ndarray, np.ndarray]:
    """Return (y int64, prob float64) after checking: same non-zero length, labels in {0, 1},
    probabilities finite and within [0, 1]. Raises ValueError otherwise."""
    y = np.asarray(y_true)
    p = np.asarray(prob, dtype=np.float64)
    if y.ndim != 1 or p.ndim != 1:
        raise ValueError(f"y_true and prob must be 1-D, got shapes {y.shape} and {p.shape}")
    if len(y) != len(p):
        raise ValueError(f"y_true has {len(y)} values but prob has {len(p)}")
    if len(y) == 0:
        raise ValueError("no rows to score (empty y_true)")
    try:
        yi = y.astype(np.int64)
    except (TypeError, ValueError):
        raise ValueError("labels must be 0 or 1") from None
    if not np.array_equal(yi, y) or not np.isin(yi, (0, 1)).all():
        raise ValueError(f"labels must be 0 or 1, found {sorted(set(np.unique(y).tolist()))[:5]}")
    if not np.isfinite(p).all():
        raise ValueError(f"prob has {int((~np.isfinite(p)).sum())} non-finite value(s)")
    if (p < 0).any() or (p > 1).any():
        raise ValueError(f"prob must lie in [0, 1], found range [{p.min()}, {p.max()}]")
    return yi, p


def _float_or_none(x: float) -> float | None:
    x = float(x)
    return None if math.isnan(x) else x


def predict_labels(prob: Any, threshold: float) -> np.ndarray:
    """Labels 0/1: 1 where ``prob >= threshold``."""
    return (np.asarray(prob, dtype=np.float64) >= float(threshold)).astype(np.int64)


def classification_metrics(y_true: Any, prob: Any, threshold: float = 0.5) -> dict[str, Any]:
    """Flat dict: f1, precision, recall, accuracy, roc_auc, pr_auc (average precision), tn, fp,
    fn, tp, n, positive_rate (share of label 1 in y_true), predicted_positive_rate, threshold.

    Precision/recall/F1 use ``zero_division=0``. With a single class in ``y_true`` the ranking
    figures (roc_auc, pr_auc) are undefined and returned as None.
    """
    y, p = check_inputs(y_true, prob)
    pred = predict_labels(p, threshold)
    tn, fp, fn, tp = (int(v) for v in confusion_matrix(y, pred, labels=[0, 1]).ravel())
    two_classes = len(np.unique(y)) == 2
    return {
        "f1": float(f1_score(y, pred, zero_division=0)),
        "precision": float(precision_score(y, pred, zero_division=0)),
        "recall": float(recall_score(y, pred, zero_division=0)),
        "accuracy": float(accuracy_score(y, pred)),
        "roc_auc": _float_or_none(roc_auc_score(y, p)) if two_classes else None,
        "pr_auc": _float_or_none(average_precision_score(y, p)) if two_classes else None,
        "tn": tn,
        "fp": fp,
        "fn": fn,
        "tp": tp,
        "n": int(len(y)),
        "positive_rate": float(y.mean()),
        "predicted_positive_rate": float(pred.mean()),
        "threshold": float(threshold),
    }


def downsample(df: pd.DataFrame, max_points: int = MAX_POINTS) -> pd.DataFrame:
    """At most ``max_points`` evenly spaced rows; the first and last rows are always kept."""
    if max_points < 2:
        raise ValueError("max_points must be >= 2")
    if len(df) <= max_points:
        return df.reset_index(drop=True)
    idx = np.unique(np.round(np.linspace(0, len(df) - 1, max_points)).astype(np.int64))
    return df.iloc[idx].reset_index(drop=True)


def roc_points(y_true: Any, prob: Any, max_points: int = MAX_POINTS) -> pd.DataFrame:
    """ROC curve as columns fpr, tpr (from (0, 0) to (1, 1)); empty when y_true has one class."""
    y, p = check_inputs(y_true, prob)
    if len(np.unique(y)) < 2:
        return pd.DataFrame({"fpr": pd.Series(dtype=float), "tpr": pd.Series(dtype=float)})
    fpr, tpr, _ = roc_curve(y, p, drop_intermediate=True)
    return downsample(pd.DataFrame({"fpr": fpr, "tpr": tpr}), max_points)


def pr_points(y_true: Any, prob: Any, max_points: int = MAX_POINTS) -> pd.DataFrame:
    """Precision-recall curve as columns recall, precision, by increasing recall; empty when
    y_true has no positive (recall is undefined)."""
    y, p = check_inputs(y_true, prob)
    if y.sum() == 0:
        return pd.DataFrame({"recall": pd.Series(dtype=float), "precision": pd.Series(dtype=float)})
    precision, recall, _ = precision_recall_curve(y, p, drop_intermediate=True)
    df = pd.DataFrame({"recall": recall[::-1], "precision": precision[::-1]})
    return downsample(df, max_points)


def counts_at(
    y_true: np.ndarray, prob: np.ndarray, thresholds: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(tp, fp, fn, tn) arrays, one entry per threshold, with positive = prob >= threshold.
    Vectorised: one sort, then a binary search per threshold."""
    p = np.asarray(prob, dtype=np.float64)
    order = np.argsort(p, kind="stable")
    p_sorted = p[order]
    y_sorted = np.asarray(y_true, dtype=np.int64)[order]
    # pos_below[i] = positives among the i smallest probabilities
    pos_below = np.concatenate([[0], np.cumsum(y_sorted)])
    n, n_pos = len(p_sorted), int(y_sorted.sum())
    below = np.searchsorted(p_sorted, np.asarray(thresholds, dtype=np.float64), side="left")
    predicted = n - below
    tp = n_pos - pos_below[below]
    fp = predicted - tp
    fn = n_pos - tp
    tn = (n - n_pos) - fp
    return tp, fp, fn, tn


def threshold_sweep(
    y_true: Any, prob: Any, thresholds: Sequence[float] | np.ndarray | None = None
) -> pd.DataFrame:
    """F1, precision and recall at each threshold (default 0.00, 0.01, ..., 1.00): columns
    threshold, f1, precision, recall. Same values as sklearn's scores with zero_division=0."""
    y, p = check_inputs(y_true, prob)
    t = DEFAULT_SWEEP if thresholds is None else np.asarray(thresholds, dtype=np.float64)
    tp, fp, fn, _ = counts_at(y, p, t)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(tp + fp > 0, tp / (tp + fp), 0.0)
        recall = np.where(tp + fn > 0, tp / (tp + fn), 0.0)
        f1 = np.where(2 * tp + fp + fn > 0, 2 * tp / (2 * tp + fp + fn), 0.0)
    return pd.DataFrame({"threshold": t, "f1": f1, "precision": precision, "recall": recall})


def confusion_rows(
    y_true: Any,
    prob: Any,
    threshold: float = 0.5,
    label_names: dict[int, str] | None = None,
) -> pd.DataFrame:
    """One row per sample with columns actual, predicted: the input DVC's ``confusion`` plot
    template counts (``x: actual, y: predicted``). Values are ints 0/1, or names when
    ``label_names`` (e.g. ``{0: "other", 1: "medical"}``) is given."""
    y, p = check_inputs(y_true, prob)
    df = pd.DataFrame({"actual": y, "predicted": predict_labels(p, threshold)})
    if label_names:
        df = df.apply(lambda col: col.map(label_names))
    return df
