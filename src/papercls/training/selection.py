"""Model selection on the validation rows: the figures an epoch is judged by, and which of two
epochs is better under the configured criterion (``select_metric``).

Every epoch's validation predictions give the same figures (columns of ``history.csv``):
``valid_loss`` (mean cross-entropy, i.e. log loss), ``valid_f1`` (F1 at 0.5), ``valid_pr_auc``
(average precision), ``valid_roc_auc`` and ``valid_best_f1`` (F1 at the best threshold on these
rows). ``select_metric`` names the one that early stopping and the best-epoch choice use:

* ``pr_auc`` (default): threshold-free and focused on the positive class, so it keeps moving
  while every probability is still under 0.5 (F1 at 0.5 is then 0 for every epoch), and it is
  what matters when the threshold is tuned afterwards; on imbalanced data it is more
  sensitive to the minority class than ROC-AUC.
* ``roc_auc``, ``best_f1`` (optimistic and coarse on a few dozen positives), ``log_loss``
  (lower is better; also penalises over-confidence), ``f1`` (F1 at 0.5: the old behaviour).

A tie on the criterion goes to the epoch with the lower validation loss, a tie on both to the
earlier epoch. A figure that is undefined (one class only in the validation rows) is NaN and
never counts as an improvement, except that the first epoch is always the best so far.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from papercls.evaluation.metrics import classification_metrics
from papercls.evaluation.thresholds import best_f1_threshold


class Criterion(NamedTuple):
    column: str  # the history.csv column holding it
    higher_is_better: bool


SELECT_METRICS: dict[str, Criterion] = {
    "pr_auc": Criterion("valid_pr_auc", True),
    "roc_auc": Criterion("valid_roc_auc", True),
    "log_loss": Criterion("valid_loss", False),
    "best_f1": Criterion("valid_best_f1", True),
    "f1": Criterion("valid_f1", True),
}
# history.csv columns, in order (the first four are the original ones)
VALID_COLUMNS = ["valid_loss", "valid_f1", "valid_pr_auc", "valid_roc_auc", "valid_best_f1"]


def check_select_metric(name: str) -> str:
    if name not in SELECT_METRICS:
        raise ValueError(f"select_metric must be one of {sorted(SELECT_METRICS)}, got {name!r}")
    return name


def criterion(name: str) -> Criterion:
    return SELECT_METRICS[check_select_metric(name)]


def _nan_if_none(value: float | None) -> float:
    return math.nan if value is None else float(value)


def validation_scores(labels: np.ndarray, probs: np.ndarray, loss: float) -> dict[str, float]:
    """The figures of one epoch's validation predictions (module docstring), in
    :data:`VALID_COLUMNS` order; undefined ones are NaN."""
    m = classification_metrics(labels, probs, 0.5)
    _, best_f1 = best_f1_threshold(labels, probs)
    return {
        "valid_loss": float(loss),
        "valid_f1": float(m["f1"]),
        "valid_pr_auc": _nan_if_none(m["pr_auc"]),
        "valid_roc_auc": _nan_if_none(m["roc_auc"]),
        "valid_best_f1": float(best_f1),
    }


def is_improvement(name: str, row: dict[str, float], best: dict[str, float] | None) -> bool:
    """Whether the epoch whose figures are ``row`` beats the best epoch so far (its figures
    ``best``; None: no epoch yet) under criterion ``name``.

    A tie on the criterion goes to the lower validation loss (a ranking figure such as PR-AUC
    can stay equal, even at 1.0, while the model is still far from trained); a tie on both
    keeps the earlier epoch. A NaN score never improves; a NaN best is beaten by any number."""
    if best is None:
        return True
    column, higher = criterion(name)
    score, best_score = row[column], best[column]
    if math.isnan(score):
        return False
    if math.isnan(best_score):
        return True
    if score == best_score:
        return row["valid_loss"] < best["valid_loss"]
    return score > best_score if higher else score < best_score
