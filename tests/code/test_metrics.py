"""metrics.py agrees with scikit-learn and produces small, well-formed curve tables."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    confusion_matrix,
    f1_score,
    precision_score,
    recall_score,
    roc_auc_score,
    roc_curve,
)

from papercls.evaluation.metrics import (
    classification_metrics,
    confusion_rows,
    pr_points,
    roc_points,
    threshold_sweep,
)


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    y = rng.integers(0, 2, 500)
    prob = np.clip(0.35 * y + 0.65 * rng.random(500), 0, 1)
    return y, prob


@pytest.mark.parametrize("threshold", [0.2, 0.5, 0.71])
def test_metrics_agree_with_sklearn(data, threshold):
    y, prob = data
    pred = (prob >= threshold).astype(int)
    m = classification_metrics(y, prob, threshold)
    assert m["f1"] == pytest.approx(f1_score(y, pred))
    assert m["precision"] == pytest.approx(precision_score(y, pred))
    assert m["recall"] == pytest.approx(recall_score(y, pred))
    assert m["accuracy"] == pytest.approx(accuracy_score(y, pred))
    assert m["roc_auc"] == pytest.approx(roc_auc_score(y, prob))
    assert m["pr_auc"] == pytest.approx(average_precision_score(y, prob))
    tn, fp, fn, tp = confusion_matrix(y, pred).ravel()
    assert (m["tn"], m["fp"], m["fn"], m["tp"]) == (tn, fp, fn, tp)
    assert m["n"] == 500 and m["threshold"] == threshold
    assert m["positive_rate"] == pytest.approx(y.mean())
    json.dumps(m)  # plain Python numbers only
    assert all(isinstance(v, int | float) for v in m.values())


def test_single_class_does_not_crash():
    m = classification_metrics([0, 0, 0], [0.1, 0.6, 0.4])
    assert m["roc_auc"] is None and m["pr_auc"] is None
    assert (m["tn"], m["fp"], m["fn"], m["tp"]) == (2, 1, 0, 0)
    assert m["f1"] == 0.0 and m["precision"] == 0.0
    assert json.loads(json.dumps(m))["roc_auc"] is None
    m1 = classification_metrics([1, 1], [0.9, 0.2])
    assert m1["roc_auc"] is None and m1["recall"] == 0.5
    assert roc_points([1, 1], [0.9, 0.2]).empty
    assert pr_points([0, 0], [0.9, 0.2]).empty


@pytest.mark.parametrize(
    "y, prob, match",
    [
        ([0, 1], [0.5], "2 values"),
        ([0, 2], [0.1, 0.2], "labels"),
        ([0, 1], [0.1, np.nan], "non-finite"),
        ([0, 1], [0.1, 1.5], r"\[0, 1\]"),
        ([], [], "no rows"),
    ],
)
def test_bad_inputs_raise(y, prob, match):
    with pytest.raises(ValueError, match=match):
        classification_metrics(y, prob)


def test_threshold_sweep_matches_sklearn(data):
    y, prob = data
    sweep = threshold_sweep(y, prob)
    assert list(sweep.columns) == ["threshold", "f1", "precision", "recall"]
    assert len(sweep) == 101 and sweep["threshold"].iloc[0] == 0.0
    for row in sweep.iloc[::4].itertuples():
        pred = (prob >= row.threshold).astype(int)
        assert row.f1 == pytest.approx(f1_score(y, pred, zero_division=0))
        assert row.precision == pytest.approx(precision_score(y, pred, zero_division=0))
        assert row.recall == pytest.approx(recall_score(y, pred, zero_division=0))
    exact = threshold_sweep(y, prob, thresholds=prob[:10])  # thresholds equal to data values
    for row in exact.itertuples():
        pred = (prob >= row.threshold).astype(int)
        assert row.f1 == pytest.approx(f1_score(y, pred, zero_division=0))


def test_curves_are_downsampled_and_well_formed():
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 5000)
    prob = np.clip(0.2 * y + 0.8 * rng.random(5000), 0, 1)
    roc = roc_points(y, prob)
    pr = pr_points(y, prob)
    assert list(roc.columns) == ["fpr", "tpr"] and list(pr.columns) == ["recall", "precision"]
    assert 10 < len(roc) <= 200 and 10 < len(pr) <= 200
    assert (roc.iloc[0].tolist(), roc.iloc[-1].tolist()) == ([0.0, 0.0], [1.0, 1.0])
    assert roc["fpr"].is_monotonic_increasing and roc["tpr"].is_monotonic_increasing
    assert pr["recall"].is_monotonic_increasing and pr["recall"].iloc[-1] == 1.0
    assert len(roc_points(y, prob, max_points=50)) <= 50


def test_small_roc_is_sklearn_curve(data):
    y, prob = data
    y, prob = y[:40], prob[:40]
    fpr, tpr, _ = roc_curve(y, prob)
    roc = roc_points(y, prob)
    np.testing.assert_allclose(roc["fpr"], fpr)
    np.testing.assert_allclose(roc["tpr"], tpr)


def test_confusion_rows(data):
    y, prob = data
    rows = confusion_rows(y, prob, 0.5)
    assert list(rows.columns) == ["actual", "predicted"] and len(rows) == len(y)
    np.testing.assert_array_equal(
        confusion_matrix(rows["actual"], rows["predicted"]),
        confusion_matrix(y, (prob >= 0.5).astype(int)),
    )
    named = confusion_rows([0, 1], [0.7, 0.9], label_names={0: "other", 1: "medical"})
    assert named.to_dict("list") == {"actual": ["other", "medical"],
                                     "predicted": ["medical", "medical"]}
