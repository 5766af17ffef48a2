"""The ``train@<name>`` stage script end to end with ``kfold: true``: it trains every fold, writes
the out-of-fold heldout predictions and the fold-mean test predictions, and logs numbers (not a
list of best epochs) to a real MLflow run in a temporary SQLite database."""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

pytestmark = pytest.mark.usefixtures("restore_torch_threads")

REPO = Path(__file__).resolve().parents[2]


def _stage_main():
    spec = importlib.util.spec_from_file_location("stage_train", REPO / "stages" / "train.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.main


@pytest.fixture()
def kfold_workspace(tmp_path, tiny_bert_dir, tiny_prepared_dir, tiny_train_params):
    """A stage workspace (dvc.yaml, params.yaml, data/prepared) whose baseline trains k-fold."""
    root = tmp_path / "ws"
    shutil.copytree(tiny_prepared_dir, root / "data" / "prepared")
    (root / "dvc.yaml").write_text("stages: {}\n")
    baseline = {**tiny_train_params, "backbone": str(tiny_bert_dir), "kfold": True,
                "epochs": 2, "patience": 0, "threads": 1}  # fmt: skip
    params = {"baseline": baseline, "tracking": {"experiment": "kfold-stage"}}
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    return root


def test_train_stage_kfold_writes_oof_and_test_mean_and_logs_numbers(
    kfold_workspace, monkeypatch, capsys
):
    from mlflow.tracking import MlflowClient

    from papercls.inference.encoder import load_classifier, predict_dir_proba, predict_proba

    root = kfold_workspace
    uri = f"sqlite:///{root.parent / 'mlflow.db'}"
    monkeypatch.chdir(root)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.delenv("DVC_ROOT", raising=False)
    stale = root / "models" / "baseline" / "fold_9"  # an earlier run's fold that no longer exists
    stale.mkdir(parents=True)
    (stale / "config.json").write_text("{}")

    assert _stage_main()(["baseline"]) == 0

    prepared = root / "data" / "prepared"
    # k-fold pools train.parquet and valid.parquet: every labelled row is held out once
    train = pd.concat(
        [pd.read_parquet(prepared / f"{s}.parquet") for s in ("train", "valid")], ignore_index=True
    )
    test = pd.read_parquet(prepared / "test.parquet")
    models = root / "models" / "baseline"
    assert sorted(p.name for p in models.iterdir()) == ["fold_0", "fold_1", "fold_2", "fold_3"]
    assert not (root / "models" / "baseline.ckpt").exists()

    # heldout: every labelled row, scored by the fold model that did not train on it
    heldout = pd.read_parquet(root / "predictions" / "baseline" / "heldout.parquet")
    assert heldout["uuid"].tolist() == train["uuid"].tolist()
    assert heldout["label"].tolist() == train["label"].tolist()
    assert heldout["prob"].notna().all()
    for k in range(4):
        in_fold = train["fold"].to_numpy() == k
        m, t = load_classifier(models / f"fold_{k}")
        expected = predict_proba(m, t, train.loc[in_fold, "text"].tolist(), None)
        np.testing.assert_allclose(heldout["prob"].to_numpy()[in_fold], expected, atol=1e-7)

    # test: the mean over the fold models
    pred = pd.read_parquet(root / "predictions" / "baseline" / "test.parquet")
    assert pred["uuid"].tolist() == test["uuid"].tolist()
    per_fold = [
        predict_proba(*load_classifier(models / f"fold_{k}"), test["text"].tolist(), None)
        for k in range(4)
    ]
    np.testing.assert_allclose(pred["prob"].to_numpy(), np.mean(per_fold, axis=0), atol=1e-7)
    np.testing.assert_array_equal(
        pred["prob"].to_numpy(), predict_dir_proba(models, test["text"].tolist())
    )
    hist = pd.read_csv(root / "metrics" / "baseline" / "history.csv")
    assert hist["fold"].tolist() == [0, 0, 1, 1, 2, 2, 3, 3]

    # the MLflow run: finished, with per-fold and mean best epochs as numbers
    states = [json.loads((models / f"fold_{k}" / "trainer_state.json").read_text())
              for k in range(4)]  # fmt: skip
    client = MlflowClient(tracking_uri=uri)
    (run,) = client.search_runs([client.get_experiment_by_name("kfold-stage").experiment_id])
    assert run.info.status == "FINISHED"
    metrics = run.data.metrics
    for k, state in enumerate(states):
        assert state["select_metric"] == "pr_auc"  # the default criterion
        assert metrics[f"fold_{k}/best_epoch"] == state["best_epoch"]
        assert metrics[f"fold_{k}/best_valid_pr_auc"] == pytest.approx(state["best_score"])
        assert f"fold_{k}/valid_f1" in metrics  # the per-epoch history
        assert f"fold_{k}/valid_pr_auc" in metrics
        # best: highest PR-AUC, ties to the lower validation loss, then the earlier epoch
        fold_hist = hist[hist["fold"] == k].sort_values(
            ["valid_pr_auc", "valid_loss", "epoch"], ascending=[False, True, True]
        )
        assert state["best_score"] == pytest.approx(fold_hist["valid_pr_auc"].iloc[0])
        assert state["best_epoch"] == fold_hist["epoch"].iloc[0]
    assert metrics["best_epoch"] == pytest.approx(np.mean([s["best_epoch"] for s in states]))
    assert metrics["best_valid_pr_auc"] == pytest.approx(np.mean([s["best_score"] for s in states]))
    assert "best epoch [" in capsys.readouterr().out


def test_two_trainings_in_one_process_with_different_precisions(
    tmp_path, tiny_bert_dir, tiny_prepared_dir, tiny_train_params
):
    """Accelerate keeps one mixed precision per process; a library user (or a test session)
    training fp32 then bf16 then fp32 again must get each, not "already initialized"."""
    from accelerate.state import AcceleratorState

    from papercls.training.stage import run_training

    section = {**tiny_train_params, "backbone": str(tiny_bert_dir), "epochs": 1,
               "threads": 1, "max_length": 32}  # fmt: skip
    seen = []
    for i, precision in enumerate(("no", "bf16", "no")):
        out = tmp_path / f"run{i}"
        summary = run_training("baseline", {**section, "mixed_precision": precision},
                               tiny_prepared_dir, out / "models", out / "predictions",
                               out / "metrics", progress=False)  # fmt: skip
        assert summary.completed
        seen.append(AcceleratorState._shared_state.get("_mixed_precision"))
        probs = pd.read_parquet(summary.test)["prob"].to_numpy()
        assert np.isfinite(probs).all() and len(probs) == 20
    assert seen == ["no", "bf16", "no"]
