"""The ensemble model: its math per method, checked params, mismatched members named, and
evaluate / tune_thresholds / predict taking it like any model."""

from __future__ import annotations

import json
import runpy
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from papercls.evaluation.ensemble import (
    EnsembleConfig,
    build_ensemble,
    combine,
    ensemble_config,
    held_out_cdf,
    run_ensemble,
)
from papercls.evaluation.evaluate import run_evaluate, run_tune_thresholds
from papercls.evaluation.metrics import classification_metrics
from papercls.inference.predict import write_submission

ROOT = Path(__file__).resolve().parents[2]


def _write_member(root: Path, name: str, held: dict, test: dict) -> None:
    d = root / "predictions" / name
    d.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(held).to_parquet(d / "heldout.parquet", index=False)
    pd.DataFrame(test).to_parquet(d / "test.parquet", index=False)


def _members(root: Path, n_held: int = 300, n_test: int = 120, seed: int = 0) -> None:
    """baseline and topline predicting the same rows, each stored in its own row order."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n_held)
    held_ids = [f"h{i}" for i in range(n_held)]
    test_ids = [f"t{i}" for i in range(n_test)]
    for k, name in enumerate(("baseline", "topline")):
        prob = np.clip(0.3 * y + rng.random(n_held) * 0.7, 0, 1)
        order = np.arange(n_held) if k == 0 else rng.permutation(n_held)
        held = {
            "uuid": [held_ids[i] for i in order],
            "label": y[order],
            "prob": prob[order],
        }
        _write_member(root, name, held, {"uuid": test_ids, "prob": rng.random(n_test)})


# --- math ------------------------------------------------------------------------------------


def test_mean_is_the_row_mean():
    held, test = combine([[0.2, 0.8, 1.0], [0.4, 0.6, 0.0]], [[0.1], [0.3]], "mean")
    np.testing.assert_allclose(held, [0.3, 0.7, 0.5])
    np.testing.assert_allclose(test, [0.2])


def test_logit_is_the_geometric_mean_of_the_odds():
    held, test = combine([[0.2, 0.9, 0.5], [0.8, 0.9, 0.99]], [[0.25], [0.75]], "logit")
    odds = np.sqrt(1.0 * 99.0)  # members' odds at 0.5 and 0.99
    np.testing.assert_allclose(held, [0.5, 0.9, odds / (1 + odds)])
    np.testing.assert_allclose(test, [0.5])
    # a saturated member (prob 0 or 1) does not make the result infinite or NaN
    held, _ = combine([[1.0, 0.0], [0.0, 0.0]], [[0.5], [0.5]], "logit")
    assert np.isfinite(held).all() and held[0] == pytest.approx(0.5) and held[1] < 1e-6


def test_rank_averages_held_out_cdf_values():
    held = [[0.1, 0.4, 0.3, 0.2], [0.05, 0.5, 0.9, 0.7]]
    test = [[0.35, 0.0, 0.4], [0.6, 0.95, 0.5]]
    h, t = combine(held, test, "rank")
    # member 1 CDF: 0.25 0.5 0.75 1.0 at 0.1 0.2 0.3 0.4; member 2 at 0.05 0.5 0.7 0.9
    np.testing.assert_allclose(h, [(0.25 + 0.25) / 2, (1.0 + 0.5) / 2, (0.75 + 1.0) / 2, 0.625])
    np.testing.assert_allclose(t, [(0.75 + 0.5) / 2, (0.0 + 1.0) / 2, (1.0 + 0.5) / 2])


def test_rank_test_scores_use_the_held_out_scale():
    rng = np.random.default_rng(1)
    held = rng.random((2, 50))
    # test rows that repeat held-out rows score exactly as those rows
    h, t = combine(held, held[:, [3, 17, 40]], "rank")
    np.testing.assert_array_equal(t, h[[3, 17, 40]])
    # a member on another scale (a monotone transform) ranks the same
    squashed = held.copy()
    squashed[1] = squashed[1] ** 4
    h2, _ = combine(squashed, held[:, :3], "rank")
    np.testing.assert_array_equal(h2, h)
    np.testing.assert_allclose(held_out_cdf([0.2, 0.2, 0.5], [0.1, 0.2, 0.9]), [0, 2 / 3, 1])


def test_combine_rejects_unknown_method_and_bad_shapes():
    with pytest.raises(ValueError, match="median"):
        combine([[0.1]], [[0.2]], "median")
    with pytest.raises(ValueError, match="one row per member"):
        combine([[0.1], [0.2]], [[0.3]], "mean")


# --- params ----------------------------------------------------------------------------------


def test_config_defaults_and_checks():
    assert ensemble_config(None) == EnsembleConfig(members=("baseline", "topline"), method="mean")
    cfg = ensemble_config({"members": ["tfidf", "topline"], "method": "Rank"})
    assert cfg == EnsembleConfig(members=("tfidf", "topline"), method="rank")
    bad = [
        ({"method": "vote"}, r"ensemble\.method: got 'vote'"),
        ({"members": ["topline"]}, r"ensemble\.members: expected a list of at least 2 distinct"),
        ({"members": "topline"}, r"ensemble\.members: expected a list"),
        ({"members": ["topline", "topline"]}, r"ensemble\.members: names \['topline'\] appear"),
        ({"members": ["ensemble", "topline"]}, r"ensemble\.members: got 'ensemble'.*allowed"),
        ({"member": ["a", "b"]}, r"ensemble\.member: unknown key; known keys of ensemble"),
    ]
    for section, message in bad:
        with pytest.raises(ValueError, match=message):
            ensemble_config(section)


# --- files -----------------------------------------------------------------------------------


def test_run_ensemble_writes_the_prediction_format(tmp_path):
    _members(tmp_path)
    files = run_ensemble(
        EnsembleConfig(members=("baseline", "topline"), method="mean"), tmp_path / "predictions"
    )
    held, test = pd.read_parquet(files.heldout), pd.read_parquet(files.test)
    assert list(held.columns) == ["uuid", "label", "prob"] and held["label"].dtype == np.int64
    assert list(test.columns) == ["uuid", "prob"]
    base = pd.read_parquet(tmp_path / "predictions" / "baseline" / "heldout.parquet")
    top = pd.read_parquet(tmp_path / "predictions" / "topline" / "heldout.parquet")
    top = top.set_index("uuid").loc[base["uuid"]]
    assert held["uuid"].tolist() == base["uuid"].tolist()  # the first member's order
    np.testing.assert_allclose(held["prob"], (base["prob"].to_numpy() + top["prob"]) / 2)
    assert held["label"].tolist() == base["label"].tolist()
    base_test = pd.read_parquet(tmp_path / "predictions" / "baseline" / "test.parquet")
    assert test["uuid"].tolist() == base_test["uuid"].tolist()


def test_members_on_different_rows_are_an_error_naming_both(tmp_path):
    _members(tmp_path)
    held = pd.read_parquet(tmp_path / "predictions" / "topline" / "heldout.parquet")
    held.loc[0, "uuid"] = "k-fold-row"
    held.to_parquet(tmp_path / "predictions" / "topline" / "heldout.parquet", index=False)
    cfg = EnsembleConfig(members=("baseline", "topline"), method="mean")
    with pytest.raises(ValueError) as info:
        build_ensemble(cfg, tmp_path / "predictions")
    msg = str(info.value)
    assert "held-out predictions of 'baseline'" in msg and "'topline'" in msg
    assert "1 uuid(s) only in 'topline' ('k-fold-row')" in msg
    assert "heldout.parquet" in msg

    _members(tmp_path)
    held = pd.read_parquet(tmp_path / "predictions" / "topline" / "heldout.parquet")
    held.loc[5, "label"] = 1 - held.loc[5, "label"]
    held.to_parquet(tmp_path / "predictions" / "topline" / "heldout.parquet", index=False)
    with pytest.raises(ValueError, match=r"held-out labels of 'baseline'.*'topline'.*1 uuid"):
        build_ensemble(cfg, tmp_path / "predictions")

    _members(tmp_path)
    test = pd.read_parquet(tmp_path / "predictions" / "baseline" / "test.parquet")
    test.iloc[:-1].to_parquet(tmp_path / "predictions" / "baseline" / "test.parquet", index=False)
    with pytest.raises(ValueError, match=r"test predictions of 'baseline'.*119 rows.*120 rows"):
        build_ensemble(cfg, tmp_path / "predictions")
    assert not (tmp_path / "predictions" / "ensemble").exists()


def test_missing_member_names_its_file(tmp_path):
    _members(tmp_path)
    with pytest.raises(FileNotFoundError, match=r"tfidf[/\\]heldout\.parquet"):
        build_ensemble(
            EnsembleConfig(members=("baseline", "tfidf"), method="mean"), tmp_path / "predictions"
        )


# --- downstream stages -----------------------------------------------------------------------


@pytest.mark.parametrize("method", ["mean", "logit", "rank"])
def test_evaluate_tune_and_predict_take_the_ensemble(tmp_path, method):
    _members(tmp_path)
    run_ensemble(
        EnsembleConfig(members=("baseline", "topline"), method=method), tmp_path / "predictions"
    )
    models = ["baseline", "topline", "ensemble"]
    results = run_evaluate(
        models, tmp_path / "predictions", tmp_path / "metrics", tmp_path / "plots"
    )
    held = pd.read_parquet(tmp_path / "predictions" / "ensemble" / "heldout.parquet")
    assert results["ensemble"] == pytest.approx(classification_metrics(held["label"], held["prob"]))
    assert (tmp_path / "plots" / "ensemble" / "roc.csv").exists()
    params = {"method": "f1", "bootstrap": 50, "seed": 0}
    table = run_tune_thresholds(models, params, 0.3, tmp_path / "predictions", tmp_path / "metrics")
    assert set(table) == set(models)
    tuned = json.loads((tmp_path / "metrics" / "ensemble" / "tuned.json").read_text())
    assert tuned["threshold"] == table["ensemble"]["threshold"]
    test = pd.read_parquet(tmp_path / "predictions" / "ensemble" / "test.parquet")
    pd.DataFrame({"uuid": test["uuid"], "text": "t"}).to_parquet(tmp_path / "test.parquet")
    info = write_submission(
        "ensemble",
        tmp_path / "predictions",
        tmp_path / "metrics" / "thresholds.json",
        tmp_path / "test.parquet",
        tmp_path / "submission.csv",
        tmp_path / "probs.csv",
    )
    expected = int((test["prob"] >= table["ensemble"]["threshold"]).sum())
    assert info["positives"] == expected and info["n"] == len(test)


def test_stage_script_writes_files_or_exits_2(tmp_path, monkeypatch, capsys):
    _members(tmp_path)
    params = {"ensemble": {"members": ["baseline", "topline"], "method": "rank"}}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    (tmp_path / "dvc.yaml").write_text("stages: {}\n")
    monkeypatch.chdir(tmp_path)
    main = runpy.run_path(str(ROOT / "stages" / "ensemble.py"))["main"]
    assert main() == 0
    assert (tmp_path / "predictions" / "ensemble" / "test.parquet").exists()
    params["ensemble"]["method"] = "vote"
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    assert main() == 2
    assert "ensemble.method" in capsys.readouterr().err
