"""The real DVC pipeline with ``kfold: true`` for tfidf, baseline and topline (3 folds, tiny
encoders, one epoch): every stage runs to the end, the held-out predictions that evaluate and
tune_thresholds read are the out-of-fold predictions of every labelled row (train and valid),
the test probabilities are the mean over the fold models, and ``papercls predict`` reads the
k-fold model folders."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from tests.pipeline.test_dvc_pipeline import make_repo, run, stages_run

pytestmark = pytest.mark.slow
MODELS = ("tfidf", "baseline", "topline")
FOLDS = 3


@pytest.fixture(scope="module")
def repo(tmp_path_factory, tiny_bert_dir) -> Path:
    d = make_repo(tmp_path_factory.mktemp("kfold") / "repo", tiny_bert_dir)
    params = yaml.safe_load((d / "params.yaml").read_text())
    params["preprocess"]["folds"] = FOLDS
    for name in MODELS:
        params[name]["kfold"] = True
    (d / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    run(["git", "commit", "-qam", "k-fold"], d)
    proc = run(["dvc", "repro"], d)
    d.joinpath("repro.log").write_text(proc.stdout)
    return d


def _labelled(repo: Path) -> pd.DataFrame:
    prepared = repo / "data" / "prepared"
    return pd.concat(
        [pd.read_parquet(prepared / f"{split}.parquet") for split in ("train", "valid")],
        ignore_index=True,
    )


def _fold_probs(model_dir: Path, texts: list[str]) -> list[np.ndarray]:
    from papercls.inference.encoder import load_classifier, predict_proba
    from papercls.models.tfidf import TfidfClassifier

    out = []
    for k in range(FOLDS):
        d = model_dir / f"fold_{k}"
        if (d / "tfidf.json").exists():
            out.append(TfidfClassifier.load(d).predict_proba(texts))
        else:
            out.append(predict_proba(*load_classifier(d, device="cpu"), texts, None))
    return out


def test_every_stage_runs_to_the_end(repo: Path) -> None:
    ran = stages_run(repo.joinpath("repro.log").read_text())
    assert ran == {"check_params", "preprocess", "train_tfidf", "train@baseline", "train@topline",
                   "ensemble", "evaluate", "tune_thresholds", "predict"}  # fmt: skip
    sub = pd.read_csv(repo / "submission.csv")
    test = pd.read_csv(repo / "data" / "sample" / "test.csv")
    assert sub["uuid"].tolist() == test["uuid"].tolist()
    assert json.loads(run(["dvc", "status", "--json"], repo).stdout) == {}


@pytest.mark.parametrize("name", MODELS)
def test_heldout_is_out_of_fold_over_every_labelled_row(repo: Path, name: str) -> None:
    labelled = _labelled(repo)
    assert len(labelled) == 160 and labelled["uuid"].is_unique
    models = repo / "models" / name
    assert sorted(p.name for p in models.iterdir()) == [f"fold_{k}" for k in range(FOLDS)]
    heldout = pd.read_parquet(repo / "predictions" / name / "heldout.parquet")
    assert heldout["uuid"].tolist() == labelled["uuid"].tolist()
    assert heldout["label"].tolist() == labelled["label"].tolist()
    per_fold = _fold_probs(models, labelled["text"].tolist())
    for k in range(FOLDS):
        in_fold = labelled["fold"].to_numpy() == k
        np.testing.assert_allclose(heldout["prob"][in_fold], per_fold[k][in_fold], atol=1e-6)
    # evaluate and tune_thresholds scored exactly these rows
    figures = json.loads((repo / "metrics" / name / "eval.json").read_text())
    assert figures["n"] == len(labelled)
    tuned = json.loads((repo / "metrics" / name / "tuned.json").read_text())
    assert 0.0 <= tuned["threshold"] <= 1.0


@pytest.mark.parametrize("name", MODELS)
def test_test_probabilities_are_the_fold_mean(repo: Path, name: str) -> None:
    test = pd.read_parquet(repo / "data" / "prepared" / "test.parquet")
    pred = pd.read_parquet(repo / "predictions" / name / "test.parquet")
    assert pred["uuid"].tolist() == test["uuid"].tolist()
    mean = np.mean(_fold_probs(repo / "models" / name, test["text"].tolist()), axis=0)
    np.testing.assert_allclose(pred["prob"].to_numpy(), mean, atol=1e-6)


def test_papercls_predict_reads_kfold_model_folders(repo: Path, tmp_path: Path) -> None:
    from papercls.inference.predict_cli import predict_main

    thresholds = json.loads((repo / "metrics" / "thresholds.json").read_text())
    for name in ("tfidf", "topline"):
        out = tmp_path / f"{name}.csv"
        rc = predict_main(["--model-dir", str(repo / "models" / name), "--input",
                           str(repo / "data" / "sample" / "test.csv"), "--output", str(out),
                           "--threshold", str(thresholds[name]["threshold"]), "--with-prob",
                           "--template", _template(repo),
                           "--precision", "fp32"])  # exact, as the pipeline; fmt: skip
        assert rc == 0
        got = pd.read_csv(out)
        pred = pd.read_parquet(repo / "predictions" / name / "test.parquet")
        assert got["uuid"].tolist() == pred["uuid"].tolist()
        np.testing.assert_allclose(got["prob"].to_numpy(), pred["prob"].to_numpy(), atol=1e-6)


def test_train_runs_log_fold_figures(repo: Path) -> None:
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{repo / 'mlflow.db'}")
    exp = client.get_experiment_by_name("paper-classification")
    runs = {r.data.tags.get("dvc.stage"): r for r in client.search_runs([exp.experiment_id])}
    assert runs["train@topline"].info.status == "FINISHED"
    metrics = runs["train@topline"].data.metrics
    for k in range(FOLDS):
        assert f"fold_{k}/best_valid_pr_auc" in metrics and f"fold_{k}/valid_pr_auc" in metrics
    assert runs["train_tfidf"].data.metrics["fold_2/n_features"] > 0


def _template(repo: Path) -> str:
    return yaml.safe_load((repo / "params.yaml").read_text())["preprocess"]["text_template"]
