"""Stated precision of written figures: 6 significant digits, thresholds that select the same
rows as unrounded, and metrics files that hold no more digits than that."""

from __future__ import annotations

import json
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
from test_evaluate import MODELS, write_predictions

from papercls.evaluation.evaluate import run_evaluate, run_tune_thresholds
from papercls.evaluation.rounding import (
    SIG_DIGITS,
    round_floats,
    round_frame,
    round_sig,
    round_threshold,
)
from papercls.evaluation.thresholds import best_f1_threshold, choose_threshold


def sig_digits(x: float) -> int:
    """Significant digits of the shortest text that reads back as ``x`` (what JSON holds)."""
    return len(Decimal(repr(x)).normalize().as_tuple().digits)


def floats_in(obj) -> list[float]:
    if isinstance(obj, dict):
        return [f for v in obj.values() for f in floats_in(v)]
    if isinstance(obj, list):
        return [f for v in obj for f in floats_in(v)]
    return [obj] if isinstance(obj, float) else []


def test_round_sig_values():
    # the float noise between two CPUs from the bug report disappears
    assert round_sig(0.9568348541778494) == round_sig(0.9568348541778493) == 0.956835
    assert round_sig(0.46580856320961345) == round_sig(0.46580856320961406) == 0.465809
    assert round_sig(1.23456789e-9) == 1.23457e-9 and round_sig(-2 / 3) == -0.666667
    assert round_sig(12345678.9) == 12345700.0 and round_sig(0.5) == 0.5
    assert round_sig(0.123456789, 3) == 0.123
    for kept in (3, True, None, "0.123456789", 0.0):
        assert round_sig(kept) is kept
    assert np.isnan(round_sig(float("nan"))) and round_sig(float("inf")) == float("inf")
    v = round_sig(np.float32(0.1))
    assert type(v) is float and v == 0.1
    assert type(round_sig(np.int64(7))) is int


def test_round_sig_keeps_at_most_six_digits_and_is_idempotent():
    rng = np.random.default_rng(0)
    values = np.concatenate([rng.random(500), rng.random(500) * 10.0 ** rng.integers(-8, 8, 500)])
    for x in values.tolist():
        r = round_sig(x)
        assert sig_digits(r) <= SIG_DIGITS and round_sig(r) == r
        assert abs(r - x) <= 5e-6 * abs(x)


def test_round_floats_and_frame():
    obj = {"a": 0.123456789, "n": 300, "t": 0.123456789, "inner": [{"t": 1 / 3, "b": 2 / 3}]}
    out = round_floats(obj, keep={"t"})
    assert out == {
        "a": 0.123457,
        "n": 300,
        "t": 0.123456789,
        "inner": [{"t": 1 / 3, "b": 0.666667}],
    }
    assert obj["a"] == 0.123456789  # the input is not modified
    df = pd.DataFrame({"epoch": [1, 2], "loss": [1 / 3, 2 / 3], "name": ["a", "b"]})
    got = round_frame(df)
    assert got["loss"].tolist() == [0.333333, 0.666667] and got["epoch"].dtype == np.int64
    assert got["name"].tolist() == ["a", "b"] and df["loss"][0] == 1 / 3
    assert got.to_csv(index=False) == "epoch,loss,name\n1,0.333333,a\n2,0.666667,b\n"


def _selected(p: np.ndarray, t: float) -> np.ndarray:
    return p >= t


def test_rounded_threshold_selects_the_same_rows_on_random_data():
    rng = np.random.default_rng(1)
    needed_more = 0
    for trial in range(300):
        n = int(rng.integers(2, 400))
        p = rng.random(n)
        if trial % 3 == 0:  # neighbours closer than 6 significant digits can tell apart
            p = 0.4 + rng.integers(0, 5, n) * 1e-9 + rng.random(n) * 1e-12
        if trial % 5 == 0:
            p = np.round(p, 2)  # many ties
        y = (rng.random(n) < p).astype(int)
        t, _ = best_f1_threshold(y, p)
        r = round_threshold(t, p)
        assert np.array_equal(_selected(p, r), _selected(p, t)), (trial, t, r)
        assert abs(r - t) <= 5e-6 * abs(t)  # at least 6 significant digits of t
        needed_more += sig_digits(r) > SIG_DIGITS
        # every distinct cut, not only the best one
        s = np.unique(p)
        for mid in (s[1:] / 2 + s[:-1] / 2)[:20]:
            assert np.array_equal(_selected(p, round_threshold(mid, p)), _selected(p, mid))
    assert needed_more > 0  # the close-neighbour cases did need more than 6 digits


def test_six_digits_alone_would_select_other_rows():
    p = np.array([0.30000011, 0.30000012, 0.9])
    t = p[0] / 2 + p[1] / 2
    assert not np.array_equal(_selected(p, round_sig(t)), _selected(p, t))
    r = round_threshold(t, p)
    assert np.array_equal(_selected(p, r), _selected(p, t)) and sig_digits(r) == 8
    # several arrays (held-out and test): the same rows in each
    test = np.array([0.3000001149, 0.3000001151])
    r2 = round_threshold(t, p, test)
    assert np.array_equal(_selected(test, r2), _selected(test, t))
    assert round_threshold(t) == round_sig(t)


def test_metrics_files_hold_six_significant_digits_and_thresholds_select_the_same_rows(
    tmp_path,
):
    write_predictions(tmp_path)
    preds, metrics = tmp_path / "predictions", tmp_path / "metrics"
    run_evaluate(MODELS, preds, metrics, tmp_path / "plots")
    params = {"method": "f1", "bootstrap": 100, "seed": 2}
    run_tune_thresholds(MODELS, params, 0.3, preds, metrics)
    table = json.loads((metrics / "thresholds.json").read_text())
    for name in MODELS:
        for fname in ("eval.json", "tuned.json"):
            values = floats_in(json.loads((metrics / name / fname).read_text()))
            assert values and all(sig_digits(v) <= SIG_DIGITS for v in values), (name, fname)
        for fname in ("roc.csv", "pr.csv", "threshold.csv"):
            df = pd.read_csv(tmp_path / "plots" / name / fname)
            assert all(sig_digits(v) <= SIG_DIGITS for v in df.to_numpy().ravel().tolist())
        held = pd.read_parquet(preds / name / "heldout.parquet")
        test = pd.read_parquet(preds / name / "test.parquet")["prob"].to_numpy()
        raw = choose_threshold("f1", held, test, params, 0.3)
        for part in ("best_f1", "prior"):
            t, r = raw[part]["threshold"], table[name][part]["threshold"]
            assert r == pytest.approx(t, rel=1e-5)
            for p in (held["prob"].to_numpy(), test):
                assert np.array_equal(_selected(p, r), _selected(p, t)), (name, part)
        written = floats_in({k: v for k, v in table[name]["best_f1"].items() if k != "threshold"})
        assert all(sig_digits(v) <= SIG_DIGITS for v in written)


def test_fixed_threshold_is_written_as_given(tmp_path):
    write_predictions(tmp_path, models=["tfidf"])
    params = {"method": "fixed", "fixed": 0.123456789, "bootstrap": 0}
    table = run_tune_thresholds(["tfidf"], params, 0.3, tmp_path / "predictions", tmp_path / "m")
    assert table["tfidf"]["threshold"] == 0.123456789 == table["tfidf"]["fixed"]
    tuned = json.loads((tmp_path / "m" / "tfidf" / "tuned.json").read_text())
    assert tuned["threshold"] == 0.123456789
