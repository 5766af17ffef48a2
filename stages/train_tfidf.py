"""DVC stage ``train_tfidf``: TF-IDF + logistic-regression reference model.

Reads the params.yaml section ``tfidf`` and data/prepared/*.parquet; writes models/tfidf/ and
predictions/tfidf/{heldout,test}.parquet. One MLflow run.
"""

from __future__ import annotations

import sys

from papercls.config.params import load_params, repo_root
from papercls.tracking import stage_main, stage_run
from papercls.training.tfidf_stage import run_tfidf


def main(argv: list[str]) -> int:
    if argv:
        print("usage: python stages/train_tfidf.py", file=sys.stderr)
        return 2
    root = repo_root()
    params = load_params(root / "params.yaml")
    tracked = {"tfidf": params["tfidf"], "tracking": params.get("tracking")}
    with stage_run("train_tfidf", tracked) as run:
        summary = run_tfidf(
            params["tfidf"],
            prepared_dir=root / "data" / "prepared",
            models_dir=root / "models",
            predictions_dir=root / "predictions",
        )
        run.log_metrics(summary.metrics())
        run.log_artifacts(summary.model_dir, artifact_path="tfidf")
    print(f"tfidf: {summary.n_features} features, model in {summary.model_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(stage_main(main, sys.argv[1:]))
