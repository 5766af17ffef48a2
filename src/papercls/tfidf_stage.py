"""Logic of the ``train_tfidf`` stage: fit the TF-IDF reference model on train, save
``models/<name>/``, reload it and write its valid (heldout) and test predictions
(:mod:`papercls.stage_io`). Predictions come from the RELOADED model, so they are exactly what a
later stage loading ``models/<name>`` sees."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from papercls.params import section
from papercls.stage_io import heldout_frame, read_prepared, test_set_frame, write_predictions
from papercls.tfidf import TfidfClassifier


@dataclass
class TfidfSummary:
    name: str
    model_dir: Path
    n_features: int
    fit_seconds: float
    heldout: Path  # predictions/<name>/heldout.parquet
    test: Path  # predictions/<name>/test.parquet

    def metrics(self) -> dict[str, float]:
        """The numbers a tracking run logs."""
        return {"n_features": self.n_features, "fit_seconds": self.fit_seconds}


def run_tfidf(
    params: dict[str, Any],
    prepared_dir: str | Path = "data/prepared",
    models_dir: str | Path = "models",
    predictions_dir: str | Path = "predictions",
    name: str = "tfidf",
) -> TfidfSummary:
    """Fit, save, reload and predict (module docstring). ``params``: the ``tfidf`` section (or
    the whole params.yaml)."""
    train_df, valid_df, test_df = read_prepared(prepared_dir)
    t0 = time.perf_counter()
    clf = TfidfClassifier.from_params(section(params, name)).fit(
        train_df["text"].tolist(), train_df["label"].to_numpy()
    )
    fit_s = time.perf_counter() - t0
    model_dir = Path(models_dir) / name
    clf.save(model_dir)
    clf = TfidfClassifier.load(model_dir)
    files = write_predictions(
        predictions_dir,
        name,
        heldout_frame(valid_df, clf.predict_proba(valid_df["text"].tolist())),
        test_set_frame(test_df, clf.predict_proba(test_df["text"].tolist())),
    )
    return TfidfSummary(name, model_dir, len(clf.vocabulary), fit_s, files.heldout, files.test)
