"""Logic of the ``train_tfidf`` stage: fit the TF-IDF reference model, save ``models/<name>/``,
reload it and write its heldout and test predictions (:mod:`papercls.data.stage_io`). Predictions
come from the RELOADED model, so they are exactly what a later stage loading ``models/<name>``
sees.

Single split (default): one model fitted on train.parquet; heldout = valid.parquet.
k-fold (``kfold: true``, :mod:`papercls.training.kfold`): one model per fold over every labelled
row, saved as ``models/<name>/fold_<k>/``; heldout = the out-of-fold probabilities of train then
valid rows, test = the mean over the fold models
(:func:`papercls.inference.encoder.predict_dir_proba`, which ``papercls predict`` uses too).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from papercls.config.params import section
from papercls.data.stage_io import heldout_frame, read_prepared, test_set_frame, write_predictions
from papercls.inference.encoder import predict_dir_proba
from papercls.models.tfidf import TfidfClassifier
from papercls.training.kfold import (
    clear_other_layouts,
    fold_dir,
    fold_ids,
    fold_mask,
    labelled_rows,
)


@dataclass
class TfidfSummary:
    name: str
    model_dir: Path
    n_features: int  # k-fold: the mean over the fold models, rounded
    fit_seconds: float  # k-fold: all folds together
    heldout: Path  # predictions/<name>/heldout.parquet
    test: Path  # predictions/<name>/test.parquet
    kfold: bool = False
    fold_features: dict[int, int] = field(default_factory=dict)  # k-fold: features per fold

    def metrics(self) -> dict[str, float]:
        """The numbers a tracking run logs (k-fold: also ``fold_<k>/n_features``)."""
        out = {"n_features": self.n_features, "fit_seconds": self.fit_seconds}
        for k, n in self.fold_features.items():
            out[f"fold_{k}/n_features"] = n
        return out


def _fit(params: dict[str, Any], df: pd.DataFrame) -> TfidfClassifier:
    return TfidfClassifier.from_params(params).fit(df["text"].tolist(), df["label"].to_numpy())


def run_tfidf(
    params: dict[str, Any],
    prepared_dir: str | Path = "data/prepared",
    models_dir: str | Path = "models",
    predictions_dir: str | Path = "predictions",
    name: str = "tfidf",
) -> TfidfSummary:
    """Fit, save, reload and predict (module docstring). ``params``: the ``tfidf`` section (or
    the whole params.yaml)."""
    model_params = section(params, name)
    kfold = bool(model_params.pop("kfold", False))
    train_df, valid_df, test_df = read_prepared(prepared_dir)
    model_dir = Path(models_dir) / name
    if kfold:
        return _run_kfold(
            model_params, train_df, valid_df, test_df, model_dir, predictions_dir, name
        )
    t0 = time.perf_counter()
    clf = _fit(model_params, train_df)
    fit_s = time.perf_counter() - t0
    clf.save(model_dir)
    clf = TfidfClassifier.load(model_dir)
    files = write_predictions(
        predictions_dir,
        name,
        heldout_frame(valid_df, clf.predict_proba(valid_df["text"].tolist())),
        test_set_frame(test_df, clf.predict_proba(test_df["text"].tolist())),
    )
    return TfidfSummary(name, model_dir, len(clf.vocabulary), fit_s, files.heldout, files.test)


def _run_kfold(
    model_params: dict[str, Any],
    train_df: pd.DataFrame,
    valid_df: pd.DataFrame,
    test_df: pd.DataFrame,
    model_dir: Path,
    predictions_dir: str | Path,
    name: str,
) -> TfidfSummary:
    labelled = labelled_rows(train_df, valid_df)
    folds = fold_ids(labelled)
    TfidfClassifier.from_params(model_params)  # bad params fail before anything is written
    clear_other_layouts(model_dir, folds)
    oof = np.full(len(labelled), np.nan)
    features: dict[int, int] = {}
    fit_s = 0.0
    for k in folds:
        in_fold = fold_mask(labelled, k)
        t0 = time.perf_counter()
        clf = _fit(model_params, labelled[~in_fold])
        fit_s += time.perf_counter() - t0
        clf.save(fold_dir(model_dir, k))
        clf = TfidfClassifier.load(fold_dir(model_dir, k))
        oof[in_fold] = clf.predict_proba(labelled.loc[in_fold, "text"].tolist())
        features[k] = len(clf.vocabulary)
    test = predict_dir_proba(model_dir, test_df["text"].tolist())  # mean over fold_<k>/
    files = write_predictions(
        predictions_dir, name, heldout_frame(labelled, oof), test_set_frame(test_df, test)
    )
    n_features = round(float(np.mean(list(features.values()))))
    return TfidfSummary(
        name,
        model_dir,
        n_features,
        fit_s,
        files.heldout,
        files.test,
        kfold=True,
        fold_features=features,
    )
