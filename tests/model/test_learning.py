"""End to end on the tiny encoders: the train stages learn the separable tiny corpus and write
the stage outputs in the documented formats (docs/ARCHITECTURE.md)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import f1_score

from papercls.training.selection import VALID_COLUMNS

pytestmark = pytest.mark.usefixtures("restore_torch_threads")

TOPLINE_HEAD = {"hidden": 16, "mean_weight": 1.0, "cls_weight": 1.0, "dropout": 0.1}


def _run(name, params, prepared, tmp_path):
    from papercls.training.stage import run_training

    return run_training(
        name,
        params,
        prepared,
        tmp_path / "models",
        tmp_path / "predictions",
        tmp_path / "metrics",
        progress=False,
    )


def _check_outputs(name, prepared, tmp_path, min_f1):
    valid = pd.read_parquet(prepared / "valid.parquet")
    test = pd.read_parquet(prepared / "test.parquet")
    heldout = pd.read_parquet(tmp_path / "predictions" / name / "heldout.parquet")
    assert list(heldout.columns) == ["uuid", "label", "prob"]
    assert heldout["uuid"].tolist() == valid["uuid"].tolist()
    assert heldout["label"].dtype == np.int64 and heldout["prob"].dtype == np.float64
    assert heldout["prob"].between(0, 1).all()
    pred = pd.read_parquet(tmp_path / "predictions" / name / "test.parquet")
    assert list(pred.columns) == ["uuid", "prob"] and pred["uuid"].tolist() == test["uuid"].tolist()
    f1 = f1_score(heldout["label"], heldout["prob"] >= 0.5)
    assert f1 > min_f1, f1
    hist = pd.read_csv(tmp_path / "metrics" / name / "history.csv")
    assert list(hist.columns) == ["epoch", "train_loss", *VALID_COLUMNS]
    assert hist["train_loss"].iloc[-1] < hist["train_loss"].iloc[0]
    model_dir = tmp_path / "models" / name
    files = {p.name for p in model_dir.iterdir()}
    assert {"config.json", "model.safetensors", "tokenizer_config.json"} <= files
    assert not any(f.endswith((".bin", ".pt", ".pkl")) for f in files)
    assert not (tmp_path / "models" / f"{name}.ckpt").exists()
    assert not any(p.name.startswith(".") for p in (tmp_path / "models").iterdir())
    return heldout, pred


def _check_reload(name, prepared, tmp_path, pred):
    from papercls.inference.encoder import load_classifier, predict_proba

    test = pd.read_parquet(prepared / "test.parquet")
    model, tok = load_classifier(tmp_path / "models" / name)
    again = predict_proba(model, tok, test["text"].tolist(), max_length=None, batch_size=7)
    np.testing.assert_allclose(again, pred["prob"].to_numpy(), atol=1e-6)
    return model


def test_baseline_learns_tiny_corpus(tiny_bert_dir, tiny_prepared_dir, tiny_train_params, tmp_path):
    params = {**tiny_train_params, "backbone": str(tiny_bert_dir), "threads": 1}
    summary = _run("baseline", params, tiny_prepared_dir, tmp_path)
    assert summary.completed and summary.best_score > 0.8
    # selection on validation PR-AUC (default): the best score is the best epoch's PR-AUC
    hist = pd.read_csv(tmp_path / "metrics" / "baseline" / "history.csv")
    assert summary.select_metric == "pr_auc"
    assert summary.best_score == pytest.approx(hist["valid_pr_auc"].max())
    assert summary.metrics()["best_valid_pr_auc"] == summary.best_score
    _, pred = _check_outputs("baseline", tiny_prepared_dir, tmp_path, 0.8)
    model = _check_reload("baseline", tiny_prepared_dir, tmp_path, pred)
    assert type(model).__name__ == "BertForSequenceClassification"
    cfg = json.loads((tmp_path / "models" / "baseline" / "config.json").read_text())
    assert cfg["id2label"] == {"0": "other", "1": "medical"}


def test_topline_learns_tiny_corpus(tiny_bert_dir, tiny_prepared_dir, tiny_train_params, tmp_path):
    params = {**tiny_train_params, "backbone": str(tiny_bert_dir), "threads": 1,
              "head": TOPLINE_HEAD}  # fmt: skip
    summary = _run("topline", params, tiny_prepared_dir, tmp_path)
    assert summary.completed and summary.best_score > 0.8
    _, pred = _check_outputs("topline", tiny_prepared_dir, tmp_path, 0.8)
    model = _check_reload("topline", tiny_prepared_dir, tmp_path, pred)
    assert type(model).__name__ == "FusedHeadForSequenceClassification"
    cfg = json.loads((tmp_path / "models" / "topline" / "config.json").read_text())
    assert cfg["model_type"] == "fused_head" and cfg["head_hidden"] == 16


@pytest.mark.parametrize("name", ["baseline", "topline"])
def test_roberta_end_to_end(name, tiny_roberta_dir, tiny_prepared_dir, tiny_train_params, tmp_path):
    params = {**tiny_train_params, "backbone": str(tiny_roberta_dir), "threads": 1, "epochs": 2}
    if name == "topline":
        params["head"] = TOPLINE_HEAD
    summary = _run(name, params, tiny_prepared_dir, tmp_path)
    assert summary.completed and len(summary.history) == 2
    _, pred = _check_outputs(name, tiny_prepared_dir, tmp_path, -1.0)
    model = _check_reload(name, tiny_prepared_dir, tmp_path, pred)
    if name == "topline":
        assert model.config.encoder["model_type"] == "roberta"
    else:
        assert type(model).__name__ == "RobertaForSequenceClassification"
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tmp_path / "models" / name)
    assert tok.sep_token == "</s>" and tok.model_max_length == params["max_length"]


def test_tfidf_stage_outputs(tiny_prepared_dir, tmp_path):
    from papercls.models.tfidf import TfidfClassifier
    from papercls.training.tfidf_stage import run_tfidf

    summary = run_tfidf(
        {"max_features": 1000, "ngram_max": 2, "C": 4.0, "seed": 42},
        tiny_prepared_dir,
        tmp_path / "models",
        tmp_path / "predictions",
    )
    assert summary.n_features > 10
    valid = pd.read_parquet(tiny_prepared_dir / "valid.parquet")
    heldout = pd.read_parquet(tmp_path / "predictions" / "tfidf" / "heldout.parquet")
    assert list(heldout.columns) == ["uuid", "label", "prob"]
    assert heldout["uuid"].tolist() == valid["uuid"].tolist()
    assert f1_score(heldout["label"], heldout["prob"] >= 0.5) > 0.9
    pred = pd.read_parquet(tmp_path / "predictions" / "tfidf" / "test.parquet")
    assert list(pred.columns) == ["uuid", "prob"]
    test = pd.read_parquet(tiny_prepared_dir / "test.parquet")
    again = TfidfClassifier.load(tmp_path / "models" / "tfidf").predict_proba(test["text"])
    assert np.array_equal(again, pred["prob"].to_numpy())
