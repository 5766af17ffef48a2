"""Determinism on CPU. ``dvc repro -f evaluate`` reruns preprocess, the three trainings, the
ensemble and evaluate with unchanged params and seeds; every model, prediction and metrics file
must come out byte for byte the same (tolerance: none). The first run's baseline was killed and
resumed (conftest.py), the forced one trains without a break, so this also checks that a resumed
training ends with exactly the weights of an uninterrupted one. Another ``baseline.seed``
changes the baseline's predictions and figures and nothing else."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml
from reliability_support import Repo, stages_run

pytestmark = pytest.mark.slow

MODELS = ("tfidf", "baseline", "topline")
# `-f` forces the upstream stages too, the params check included
TRAINING = {
    "check_params",
    "preprocess",
    "train_tfidf",
    "train@baseline",
    "train@topline",
    "ensemble",
    "evaluate",
}


def _metric_files(root: Path) -> dict[str, str]:
    """metrics/<model>/{eval.json,history.csv}, metrics/summary.md and the plot CSVs."""
    files = [root / "metrics" / m / "eval.json" for m in MODELS]
    files += [root / "metrics" / m / "history.csv" for m in ("baseline", "topline")]
    files += [root / "metrics" / "summary.md", *sorted((root / "plots").rglob("*.csv"))]
    return {str(p.relative_to(root)): p.read_text() for p in files}


def _predictions(root: Path) -> dict[str, pd.DataFrame]:
    return {
        f"{m}/{split}": pd.read_parquet(root / "predictions" / m / f"{split}.parquet")
        for m in MODELS
        for split in ("heldout", "test")
    }


def _evals(root: Path) -> dict[str, dict]:
    return {m: json.loads((root / "metrics" / m / "eval.json").read_text()) for m in MODELS}


def _outs_md5(root: Path) -> dict[str, str]:
    """md5 of every DVC-cached output (models, predictions, data/prepared) from dvc.lock."""
    lock = yaml.safe_load((root / "dvc.lock").read_text())
    return {
        f"{stage}:{o['path']}": o["md5"]
        for stage, entry in lock["stages"].items()
        for o in entry.get("outs") or []
        if "md5" in o
    }


def test_forced_rerun_with_same_seeds_is_bit_identical(built_repo: Repo) -> None:
    root = built_repo.root
    metrics, preds, md5 = _metric_files(root), _predictions(root), _outs_md5(root)
    assert len(metrics) >= 15 and len(md5) >= 7

    proc = built_repo.sh("dvc", "repro", "-f", "evaluate")
    assert stages_run(proc.stdout) == TRAINING

    again = _metric_files(root)
    for path, text in metrics.items():
        assert again[path] == text, f"{path} changed on a forced rerun with the same seeds"
    for key, df in _predictions(root).items():
        pd.testing.assert_frame_equal(df, preds[key], check_exact=True, obj=key)
    # models (weights, config, tokenizer), predictions and data/prepared hash as before
    assert _outs_md5(root) == md5
    assert built_repo.sh("git", "status", "--porcelain").stdout.strip() == ""


def test_other_training_seed_changes_the_encoder_results(built_repo: Repo) -> None:
    root = built_repo.root
    preds, evals = _predictions(root), _evals(root)

    params = built_repo.params()
    params["baseline"]["seed"] = int(params["baseline"]["seed"]) + 1
    built_repo.write_params(params)
    try:
        proc = built_repo.sh("dvc", "repro", "evaluate")
        # the params check reruns on any params change, its output the same as before
        assert stages_run(proc.stdout) == {"check_params", "train@baseline", "ensemble", "evaluate"}
        new_preds, new_evals = _predictions(root), _evals(root)
    finally:  # back to the committed state (outputs restored from the DVC cache)
        built_repo.sh("git", "checkout", "--", ".")
        built_repo.sh("dvc", "checkout", "--force")

    for split in ("heldout", "test"):
        old, new = preds[f"baseline/{split}"], new_preds[f"baseline/{split}"]
        assert old["uuid"].tolist() == new["uuid"].tolist()
        assert (old["prob"] - new["prob"]).abs().max() > 1e-4, f"baseline/{split} unchanged"
    assert new_evals["baseline"] != evals["baseline"], "eval.json unchanged by another seed"
    for m in ("tfidf", "topline"):  # other models do not depend on the baseline's seed
        assert new_evals[m] == evals[m]
        pd.testing.assert_frame_equal(new_preds[f"{m}/heldout"], preds[f"{m}/heldout"])
    assert built_repo.sh("dvc", "status", "--json").stdout.strip() == "{}"
