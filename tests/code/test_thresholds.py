"""Threshold search, bootstrap interval, prior matching and method choice."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import f1_score

from papercls.evaluation.thresholds import (
    _replicates_from_indices,
    best_f1_threshold,
    bootstrap_best_f1,
    choose_threshold,
    prior_threshold,
    prior_threshold_details,
)


def _random(n: int, seed: int, decimals: int | None = None):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    p = np.clip(0.3 * y + 0.7 * rng.random(n), 0, 1)
    return y, (np.round(p, decimals) if decimals is not None else p)


def _brute_force(y, p):
    """Best F1 over every distinct probability used as the threshold (sklearn's f1_score)."""
    scores = {t: f1_score(y, (p >= t).astype(int), zero_division=0) for t in np.unique(p)}
    best = max(scores.values())
    return best, [t for t, s in scores.items() if s == best]


def test_known_optimum_is_midpoint():
    y = [0, 0, 0, 0, 1, 1, 1, 1]
    p = [0.1, 0.2, 0.3, 0.4, 0.6, 0.7, 0.8, 0.9]
    assert best_f1_threshold(y, p) == (pytest.approx(0.5), 1.0)
    # F1 = 2TP/(n_pred + P): >=0.9 .5, >=0.8 .8, >=0.4 .667, >=0.35 .857, >=0.1 .75
    t, f1 = best_f1_threshold([0, 1, 0, 1, 1], [0.1, 0.35, 0.4, 0.8, 0.9])
    assert t == pytest.approx((0.35 + 0.1) / 2) and f1 == pytest.approx(6 / 7)
    # everything positive is best: the threshold is the smallest probability
    t, f1 = best_f1_threshold([1, 1, 0, 1], [0.2, 0.5, 0.6, 0.9])
    assert t == 0.2 and f1 == pytest.approx(6 / 7)


@pytest.mark.parametrize("seed, decimals", [(0, None), (1, None), (2, 2), (3, 1)])
def test_agrees_with_brute_force(seed, decimals):
    y, p = _random(150, seed, decimals)
    t, f1 = best_f1_threshold(y, p)
    best, argbest = _brute_force(y, p)
    assert f1 == pytest.approx(best)
    pred = (p >= t).astype(int)
    assert f1_score(y, pred) == pytest.approx(f1)
    # the midpoint selects exactly the rows of the highest best cut
    np.testing.assert_array_equal(pred, (p >= max(argbest)).astype(int))
    lower = p[p < max(argbest)]
    assert t <= max(argbest) and (len(lower) == 0 or t > lower.max())


def test_bootstrap_interval_and_determinism():
    y, p = _random(600, 5)
    a = bootstrap_best_f1(y, p, n=500, seed=11)
    b = bootstrap_best_f1(y, p, n=500, seed=11)
    c = bootstrap_best_f1(y, p, n=500, seed=12)
    assert a == b and a != c
    assert (a["threshold"], a["f1"]) == best_f1_threshold(y, p)
    assert a["ci_low"] <= a["threshold"] <= a["ci_high"]
    assert a["f1_ci_low"] <= a["f1"] <= a["f1_ci_high"]
    assert a["ci_low"] < a["ci_high"] and a["n_bootstrap"] == 500
    none = bootstrap_best_f1(y, p, n=0)
    assert none["ci_low"] is None and none["threshold"] == a["threshold"]


def test_bootstrap_replicates_equal_search_on_resampled_rows():
    y, p = _random(300, 8, decimals=2)  # ties: some distinct values absent from a resample
    idx = np.random.default_rng(0).integers(0, len(y), size=(25, len(y)))
    thr, f1s = _replicates_from_indices(y, p, idx)
    for b in range(len(idx)):
        t, f = best_f1_threshold(y[idx[b]], p[idx[b]])
        assert thr[b] == pytest.approx(t) and f1s[b] == pytest.approx(f)


@pytest.mark.parametrize("count", [0, 1, 123, 499, 999, 1000])
def test_prior_threshold_exact_count(count):
    rng = np.random.default_rng(count)
    p = rng.random(1000)
    assert len(np.unique(p)) == 1000
    t = prior_threshold(p, expected_count=count)
    assert int((p >= t).sum()) == count


@pytest.mark.parametrize("rate", [0.0, 0.137, 0.3, 0.5, 1.0])
def test_prior_threshold_rate(rate):
    p = np.random.default_rng(1).random(777)
    t = prior_threshold(p, expected_rate=rate)
    assert int((p >= t).sum()) == int(np.floor(rate * 777 + 0.5))


def test_prior_count_wins_over_rate_and_ties_are_documented():
    p = np.random.default_rng(2).random(100)
    assert (p >= prior_threshold(p, expected_rate=0.9, expected_count=10)).sum() == 10
    tied = np.array([0.9, 0.8, 0.5, 0.5, 0.5, 0.5, 0.2, 0.1])
    d = prior_threshold_details(tied, expected_count=3)  # run of 0.5 spans counts 2..6
    assert d["achieved_count"] == 2 and (tied >= d["threshold"]).sum() == 2
    d = prior_threshold_details(tied, expected_count=5)
    assert d["achieved_count"] == 6 and (tied >= d["threshold"]).sum() == 6
    d = prior_threshold_details(tied, expected_count=4)  # equal distance: fewer positives
    assert d["achieved_count"] == 2 and d["expected_count"] == 4
    with pytest.raises(ValueError, match="expected_count or expected_rate"):
        prior_threshold(p)
    with pytest.raises(ValueError, match="expected_count"):
        prior_threshold(p, expected_count=101)


def _heldout(seed: int = 0) -> pd.DataFrame:
    y, p = _random(300, seed)
    return pd.DataFrame({"uuid": [f"u{i}" for i in range(300)], "label": y, "prob": p})


def test_choose_threshold_methods():
    held = _heldout()
    test = np.random.default_rng(4).random(200)
    params = {"expected_rate": None, "expected_count": None, "bootstrap": 200, "seed": 1}
    f1 = choose_threshold("f1", held, test, params, prior=0.3)
    assert f1["method"] == "f1"
    assert f1["threshold"] == best_f1_threshold(held["label"], held["prob"])[0]
    assert f1["best_f1"]["ci_low"] <= f1["threshold"] <= f1["best_f1"]["ci_high"]
    assert f1["prior"]["source"] == "training_prior" and f1["prior"]["expected_count"] == 60

    pr = choose_threshold("prior", held, test, params, prior=0.3)
    assert (test >= pr["threshold"]).sum() == 60 and pr["prior"]["rate"] == 0.3
    pr = choose_threshold("prior", held, test, {**params, "expected_count": 17}, prior=0.3)
    assert (test >= pr["threshold"]).sum() == 17 and pr["prior"]["source"] == "expected_count"
    pr = choose_threshold("prior", held, test, {**params, "expected_rate": 0.1}, prior=0.3)
    assert (test >= pr["threshold"]).sum() == 20

    fx = choose_threshold("fixed", held, test, {**params, "fixed": 0.42}, prior=0.3)
    assert fx["threshold"] == 0.42 and fx["method"] == "fixed"
    assert choose_threshold("fixed", held, test, params, prior=None)["threshold"] == 0.5
    assert choose_threshold(0.6, held, test, params, prior=None)["threshold"] == 0.6

    with pytest.raises(ValueError, match="unknown threshold method"):
        choose_threshold("magic", held, test, params, prior=0.3)
    with pytest.raises(ValueError, match="prior"):
        choose_threshold("prior", held, test, params, prior=None)
