"""k-fold over every labelled row: the folds preprocess writes, the shared helpers, and the
TF-IDF stage's k-fold mode (out-of-fold held-out predictions, fold-mean test predictions, a
``fold_<k>/`` model folder that inference and ``papercls predict`` read)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from papercls.data.preprocess import run_preprocess
from papercls.data.text import split_train_valid
from papercls.training.kfold import clear_other_layouts, fold_ids, labelled_rows

TFIDF = {"max_features": 1000, "ngram_max": 2, "C": 4.0, "seed": 42}


def _labelled_csv(tmp: Path, n: int = 60) -> Path:
    rows = [
        f"u{i:03d},Title {i} {'clinical' if i % 3 == 0 else 'graph'},A B,Abstract {i}.,kw,"
        f"{int(i % 3 == 0)}\n"
        for i in range(n)
    ]
    p = tmp / "train.csv"
    p.write_text("uuid,title,author,abstract,Keywords,label\n" + "".join(rows), encoding="utf-8")
    return p


def test_preprocess_folds_cover_every_labelled_row_and_keep_the_split(tmp_path):
    train_csv = _labelled_csv(tmp_path)
    test_csv = tmp_path / "test.csv"
    test_csv.write_text("uuid,title,abstract\nt1,a,b\n", encoding="utf-8")
    cfg = {"text_template": "{title} {sep} {abstract}", "valid_size": 0.2, "folds": 4, "seed": 3}
    run_preprocess(train_csv, test_csv, tmp_path / "prepared", cfg)
    tr = pd.read_parquet(tmp_path / "prepared" / "train.parquet")
    va = pd.read_parquet(tmp_path / "prepared" / "valid.parquet")
    assert list(tr.columns) == list(va.columns) == ["uuid", "text", "label", "fold"]
    # the single split is unchanged: the seeded stratified split of all rows
    labels = (np.arange(60) % 3 == 0).astype(int)
    tr_idx, va_idx = split_train_valid(labels, 0.2, 3)
    assert tr["uuid"].tolist() == [f"u{i:03d}" for i in tr_idx]
    assert va["uuid"].tolist() == [f"u{i:03d}" for i in va_idx]
    # folds: stratified over train + valid together (20 positives, 40 negatives, 4 folds)
    both = pd.concat([tr, va])
    counts = both.groupby("fold")["label"].agg(["sum", "count"])
    assert counts.index.tolist() == [0, 1, 2, 3]
    assert counts["sum"].tolist() == [5, 5, 5, 5] and counts["count"].tolist() == [15] * 4
    assert va["fold"].nunique() > 1


def test_labelled_rows_and_fold_checks(tiny_corpus, tmp_path):
    train, valid = tiny_corpus["train"], tiny_corpus["valid"]
    pooled = labelled_rows(train, valid)
    assert pooled["uuid"].tolist() == train["uuid"].tolist() + valid["uuid"].tolist()
    assert fold_ids(pooled) == [0, 1, 2, 3]
    with pytest.raises(ValueError, match=r"fold column in valid\.parquet.*preprocess"):
        labelled_rows(train, valid.drop(columns=["fold"]))
    with pytest.raises(ValueError, match="at least 2 folds"):
        fold_ids(pooled.assign(fold=0))
    one_class = pooled.assign(fold=np.where(pooled["label"] == 1, 0, 1))
    with pytest.raises(ValueError, match="fold 0 holds only label"):
        fold_ids(one_class)
    root = tmp_path / "models" / "m"
    for name in ("fold_0", "fold_1", "fold_7", ".fold_0.x.tmp"):
        (root / name).mkdir(parents=True)
    (root / "config.json").write_text("{}")
    clear_other_layouts(root, [0, 1])
    assert sorted(p.name for p in root.iterdir()) == ["fold_0", "fold_1"]


def _run_tfidf(prepared, tmp_path, kfold):
    from papercls.training.tfidf_stage import run_tfidf

    return run_tfidf(
        {**TFIDF, "kfold": kfold}, prepared, tmp_path / "models", tmp_path / "predictions"
    )


def test_tfidf_kfold_oof_heldout_and_test_mean(tiny_prepared_dir, tmp_path):
    from papercls.inference.encoder import model_dirs, predict_dir_proba
    from papercls.inference.predict import predict_probs
    from papercls.models.tfidf import TfidfClassifier

    summary = _run_tfidf(tiny_prepared_dir, tmp_path, kfold=True)
    pooled = labelled_rows(
        pd.read_parquet(tiny_prepared_dir / "train.parquet"),
        pd.read_parquet(tiny_prepared_dir / "valid.parquet"),
    )
    test = pd.read_parquet(tiny_prepared_dir / "test.parquet")
    root = tmp_path / "models" / "tfidf"
    assert summary.kfold and sorted(summary.fold_features) == [0, 1, 2, 3]
    assert sorted(p.name for p in root.iterdir()) == ["fold_0", "fold_1", "fold_2", "fold_3"]
    assert [p.name for p in model_dirs(root)] == ["fold_0", "fold_1", "fold_2", "fold_3"]
    heldout = pd.read_parquet(summary.heldout)
    assert heldout["uuid"].tolist() == pooled["uuid"].tolist()  # every labelled row once
    assert heldout["label"].tolist() == pooled["label"].tolist()
    models = [TfidfClassifier.load(root / f"fold_{k}") for k in range(4)]
    for k, model in enumerate(models):
        in_fold = pooled["fold"].to_numpy() == k
        # fold k's rows are scored by the model that was fitted on the other folds only
        refit = TfidfClassifier.from_params(TFIDF).fit(
            pooled.loc[~in_fold, "text"].tolist(), pooled.loc[~in_fold, "label"].to_numpy()
        )
        np.testing.assert_array_equal(refit.coef, model.coef)
        np.testing.assert_array_equal(
            heldout["prob"].to_numpy()[in_fold],
            model.predict_proba(pooled.loc[in_fold, "text"].tolist()),
        )
    mean = np.mean([m.predict_proba(test["text"].tolist()) for m in models], axis=0)
    pred = pd.read_parquet(summary.test)
    assert pred["uuid"].tolist() == test["uuid"].tolist()
    np.testing.assert_allclose(pred["prob"].to_numpy(), mean, rtol=0, atol=1e-12)
    # what `papercls predict --model-dir models/tfidf` computes: the same fold mean
    np.testing.assert_array_equal(predict_probs(root, test["text"].tolist()), pred["prob"])
    np.testing.assert_array_equal(predict_dir_proba(root, test["text"].tolist()), pred["prob"])
    with pytest.raises(ValueError, match="int8 applies to encoder models"):
        predict_dir_proba(root, ["x"], int8=True)
    assert summary.metrics()["fold_2/n_features"] == len(models[2].vocabulary)


def test_tfidf_switches_between_layouts(tiny_prepared_dir, tmp_path):
    root = tmp_path / "models" / "tfidf"
    _run_tfidf(tiny_prepared_dir, tmp_path, kfold=False)
    assert sorted(p.name for p in root.iterdir()) == ["tfidf.json", "tfidf.safetensors"]
    _run_tfidf(tiny_prepared_dir, tmp_path, kfold=True)
    assert sorted(p.name for p in root.iterdir()) == ["fold_0", "fold_1", "fold_2", "fold_3"]
    summary = _run_tfidf(tiny_prepared_dir, tmp_path, kfold=False)
    assert sorted(p.name for p in root.iterdir()) == ["tfidf.json", "tfidf.safetensors"]
    valid = pd.read_parquet(tiny_prepared_dir / "valid.parquet")
    assert pd.read_parquet(summary.heldout)["uuid"].tolist() == valid["uuid"].tolist()
    with pytest.raises(ValueError, match="unknown tfidf param"):
        _run_tfidf_params(tiny_prepared_dir, tmp_path, {**TFIDF, "kfold": True, "Cc": 1})
    assert (root / "tfidf.json").exists()  # a bad param fails before anything is replaced


def _run_tfidf_params(prepared, tmp_path, params):
    from papercls.training.tfidf_stage import run_tfidf

    return run_tfidf(params, prepared, tmp_path / "models", tmp_path / "predictions")
