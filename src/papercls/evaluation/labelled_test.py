"""Figures on a labelled test set: when the test CSV has a ``label`` column, preprocess keeps it
in data/prepared/test.parquet, and each model's test predictions are scored against it at 0.5
and at the model's tuned threshold (tune_thresholds writes them to metrics/<model>/test.json).

Without labels the file says so and holds no figures: ``{"labelled": false}`` (DVC outputs must
exist, so the file is always written, never with invented figures).

tune_thresholds writes them, not evaluate: the tuned threshold is only known there, evaluate
stays threshold-free, and a threshold-only change reruns tune_thresholds (and predict) alone,
the test figures included.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from papercls.evaluation.metrics import check_inputs, classification_metrics

DEFAULT_THRESHOLD = 0.5
UNLABELLED: dict[str, Any] = {"labelled": False}
AT_DEFAULT, AT_TUNED = "at_0.5", "tuned"


def load_test_labels(prepared_test: str | Path) -> pd.DataFrame | None:
    """(uuid, label) of data/prepared/test.parquet, or None when it has no ``label`` column."""
    path = Path(prepared_test)
    if not path.exists():
        raise FileNotFoundError(f"prepared test file {path} not found: run the preprocess stage")
    try:
        df = pd.read_parquet(path)
    except Exception as exc:  # corrupt or non-parquet file
        raise ValueError(f"{path}: cannot read parquet file ({exc})") from None
    if "uuid" not in df.columns:
        raise ValueError(f"{path}: missing column 'uuid'; found {list(df.columns)}")
    if "label" not in df.columns:
        return None
    out = pd.DataFrame({"uuid": [str(u) for u in df["uuid"].tolist()]})
    try:
        out["label"], _ = check_inputs(df["label"].to_numpy(), [0.0] * len(df))
    except ValueError as exc:
        raise ValueError(f"{path}: column 'label': {exc}") from None
    return out


def _labels_for(labels: pd.DataFrame, test: pd.DataFrame, source: str, ref: str) -> pd.Series:
    """The labels in ``test``'s row order; ValueError unless both hold the same uuids."""
    have, want = set(test["uuid"]), set(labels["uuid"])
    if have != want:
        missing = [u for u in labels["uuid"] if u not in have]
        extra = [u for u in test["uuid"] if u not in want]
        raise ValueError(
            f"{source} ({len(test)} rows) and the labelled test set {ref} ({len(labels)} rows) "
            f"are not the same rows: {len(missing)} labelled uuid(s) without a prediction "
            f"{missing[:3]}, {len(extra)} predicted uuid(s) without a label {extra[:3]}; "
            "rerun the model's training stage on the current data"
        )
    return labels.set_index("uuid")["label"].loc[test["uuid"]]


def labelled_test_figures(
    labels: pd.DataFrame | None,
    test: pd.DataFrame,
    threshold: float,
    source: str = "test predictions",
    ref: str = "data/prepared/test.parquet",
) -> dict[str, Any]:
    """``{"labelled": false}`` when ``labels`` is None; else ``{"labelled": true, "at_0.5":
    figures at 0.5, "tuned": figures at ``threshold``}`` (classification_metrics of ``test``'s
    probabilities against the labels; unrounded)."""
    if labels is None:
        return dict(UNLABELLED)
    y = _labels_for(labels, test, source, ref).to_numpy()
    p = test["prob"].to_numpy()
    return {
        "labelled": True,
        AT_DEFAULT: classification_metrics(y, p, DEFAULT_THRESHOLD),
        AT_TUNED: classification_metrics(y, p, threshold),
    }
