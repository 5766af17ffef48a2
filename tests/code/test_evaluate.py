"""evaluate / tune_thresholds: every file written, clear errors, no partial output."""

from __future__ import annotations

import json
import runpy
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from papercls.data.io import write_json
from papercls.evaluation.evaluate import run_evaluate, run_tune_thresholds
from papercls.evaluation.metrics import classification_metrics

MODELS = ["tfidf", "baseline", "topline"]
ROOT = Path(__file__).resolve().parents[2]
PLOTS = {
    "roc.csv": ["fpr", "tpr"],
    "pr.csv": ["recall", "precision"],
    "threshold.csv": ["threshold", "f1", "precision", "recall"],
    "confusion.csv": ["actual", "predicted"],
}


def write_predictions(root: Path, models=MODELS, n_held=400, n_test=250, seed=0) -> None:
    """Synthetic predictions/<name>/{heldout,test}.parquet as the training stages write them."""
    rng = np.random.default_rng(seed)
    for k, name in enumerate(models):
        y = rng.integers(0, 2, n_held)
        prob = np.clip((0.15 + 0.15 * k) * y + rng.random(n_held) * 0.6, 0, 1)
        d = root / "predictions" / name
        d.mkdir(parents=True, exist_ok=True)
        held = pd.DataFrame({"uuid": [f"h{i}" for i in range(n_held)], "label": y, "prob": prob})
        held.to_parquet(d / "heldout.parquet", index=False)
        test = pd.DataFrame({"uuid": [str(i) for i in range(n_test)], "prob": rng.random(n_test)})
        test.to_parquet(d / "test.parquet", index=False)


def _no_temp_files(root: Path) -> bool:
    return not [p for p in root.rglob("*") if p.name.endswith(".tmp")]


def test_evaluate_writes_every_file(tmp_path):
    write_predictions(tmp_path)
    results = run_evaluate(
        MODELS, tmp_path / "predictions", tmp_path / "metrics", tmp_path / "plots"
    )
    for name in MODELS:
        ev = json.loads((tmp_path / "metrics" / name / "eval.json").read_text())
        held = pd.read_parquet(tmp_path / "predictions" / name / "heldout.parquet")
        assert ev == pytest.approx(classification_metrics(held["label"], held["prob"], 0.5))
        assert ev == pytest.approx(results[name]) and ev["threshold"] == 0.5
        for fname, cols in PLOTS.items():
            df = pd.read_csv(tmp_path / "plots" / name / fname)
            assert list(df.columns) == cols
            if fname == "confusion.csv":
                assert len(df) == 400
            else:
                assert 2 <= len(df) <= 200
    summary = (tmp_path / "metrics" / "summary.md").read_text()
    lines = summary.splitlines()
    header = next(line for line in lines if line.startswith("| model"))
    for col in ("F1", "precision", "recall", "accuracy", "ROC-AUC", "PR-AUC"):
        assert col in header
    rows = [line for line in lines if line.startswith("| ") and not line.startswith("| model")]
    assert [r.split("|")[1].strip() for r in rows] == MODELS
    assert f"{results['topline']['f1']:.4f}" in rows[2]
    assert _no_temp_files(tmp_path)


def test_missing_prediction_file_names_it_and_writes_nothing(tmp_path):
    write_predictions(tmp_path, models=["tfidf", "topline"])
    with pytest.raises(FileNotFoundError, match=r"predictions[/\\]baseline[/\\]heldout\.parquet"):
        run_evaluate(MODELS, tmp_path / "predictions", tmp_path / "metrics", tmp_path / "plots")
    assert not (tmp_path / "metrics").exists() and not (tmp_path / "plots").exists()
    with pytest.raises(FileNotFoundError, match="baseline"):
        run_tune_thresholds(MODELS, {"method": "f1"}, 0.3, tmp_path / "predictions", tmp_path)


def test_bad_prediction_file_is_named(tmp_path):
    write_predictions(tmp_path, models=["tfidf"])
    path = tmp_path / "predictions" / "tfidf" / "heldout.parquet"
    pd.DataFrame({"uuid": ["a", "b"], "label": [0, 1], "prob": [0.2, 1.7]}).to_parquet(path)
    with pytest.raises(ValueError, match="heldout.parquet.*prob"):
        run_evaluate(["tfidf"], tmp_path / "predictions", tmp_path / "metrics", tmp_path / "plots")
    pd.DataFrame({"uuid": ["a", "b"], "prob": [0.2, 0.7]}).to_parquet(path)
    with pytest.raises(ValueError, match=r"heldout.parquet: missing column\(s\) \['label'\]"):
        run_evaluate(["tfidf"], tmp_path / "predictions", tmp_path / "metrics", tmp_path / "plots")


def test_failure_mid_write_leaves_previous_file(tmp_path, monkeypatch):
    write_predictions(tmp_path, models=["tfidf"])
    roc = tmp_path / "plots" / "tfidf" / "roc.csv"
    roc.parent.mkdir(parents=True)
    roc.write_text("old\n")
    real_to_csv = pd.DataFrame.to_csv

    def broken_to_csv(self, path, *args, **kwargs):
        real_to_csv(self.head(3), path, *args, **kwargs)  # part of the file is on disk...
        raise OSError("disk full")  # ...when the write fails

    monkeypatch.setattr(pd.DataFrame, "to_csv", broken_to_csv)
    with pytest.raises(OSError, match="disk full"):
        run_evaluate(["tfidf"], tmp_path / "predictions", tmp_path / "metrics", tmp_path / "plots")
    assert roc.read_text() == "old\n"
    assert _no_temp_files(tmp_path)
    assert sorted(p.name for p in roc.parent.iterdir()) == ["roc.csv"]


def test_tune_thresholds_writes_table_and_tuned(tmp_path):
    write_predictions(tmp_path)
    params = {
        "method": "f1",
        "expected_rate": None,
        "expected_count": None,
        "bootstrap": 200,
        "seed": 3,
    }
    table = run_tune_thresholds(MODELS, params, 0.3, tmp_path / "predictions", tmp_path / "m")
    on_disk = json.loads((tmp_path / "m" / "thresholds.json").read_text())
    assert list(on_disk) == MODELS and on_disk == table
    for name in MODELS:
        entry = on_disk[name]
        assert entry["method"] == "f1" and entry["threshold"] == entry["best_f1"]["threshold"]
        for key in ("threshold", "f1", "ci_low", "ci_high", "f1_ci_low", "f1_ci_high"):
            assert isinstance(entry["best_f1"][key], float)
        assert entry["prior"]["expected_count"] == 75 and entry["prior"]["rate"] == 0.3
        tuned = json.loads((tmp_path / "m" / name / "tuned.json").read_text())
        assert tuned["threshold"] == entry["threshold"] and 0 <= tuned["f1"] <= 1
        assert all(not isinstance(v, dict | list) for v in tuned.values())  # flat

    prior = run_tune_thresholds(
        MODELS,
        {**params, "method": "prior", "expected_count": 40},
        0.3,
        tmp_path / "predictions",
        tmp_path / "m",
    )
    for name in MODELS:
        tuned = json.loads((tmp_path / "m" / name / "tuned.json").read_text())
        assert tuned["test_predicted_positives"] == 40
        assert prior[name]["prior"]["achieved_count"] == 40


def _run_stage(root: Path, script: str, monkeypatch, capsys) -> tuple[int, str]:
    """Run a stage script's main() in-process, as DVC would from the repository root."""
    monkeypatch.setenv("DVC_ROOT", str(root))
    monkeypatch.chdir(root)
    rc = runpy.run_path(str(ROOT / "stages" / script))["main"]()
    return rc, capsys.readouterr().err


def test_stage_scripts_end_to_end(tmp_path, monkeypatch, capsys):
    write_predictions(tmp_path)
    params = {
        "evaluate": {"models": MODELS},
        "thresholds": {
            "method": "prior",
            "expected_rate": None,
            "expected_count": None,
            "bootstrap": 100,
            "seed": 1,
            "fixed": 0.5,
        },
        "predict": {"model": "baseline", "output": "submission.csv"},
    }
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    prepared = tmp_path / "data" / "prepared"
    prepared.mkdir(parents=True)
    (prepared / "meta.json").write_text(
        json.dumps({"prior": 0.2, "n_test": 250, "template": "{title} {sep} {abstract}"})
    )
    pd.DataFrame({"uuid": [str(i) for i in range(250)], "text": ["t"] * 250}).to_parquet(
        prepared / "test.parquet"
    )
    for script in ("evaluate.py", "tune_thresholds.py", "predict.py"):
        rc, err = _run_stage(tmp_path, script, monkeypatch, capsys)
        assert rc == 0, err
    assert (tmp_path / "metrics" / "summary.md").exists()
    sub = pd.read_csv(tmp_path / "submission.csv", dtype={"uuid": str})
    assert list(sub.columns) == ["uuid", "label"] and len(sub) == 250
    assert sub["label"].sum() == 50  # prior method: 0.2 of 250 test rows
    assert (tmp_path / "predictions" / "submission_probs.csv").exists()

    (tmp_path / "predictions" / "topline" / "heldout.parquet").unlink()
    rc, err = _run_stage(tmp_path, "evaluate.py", monkeypatch, capsys)
    assert rc == 2 and "topline" in err and "heldout.parquet" in err


def test_outputs_of_models_left_out_are_removed(tmp_path):
    """dvc.yaml keeps these outputs in place (persist: true): a model dropped from
    evaluate.models must not keep its last figures as if they were current."""
    from papercls.evaluation.evaluate import remove_unlisted

    for name in ("tfidf", "baseline", "topline", "ensemble"):
        write_json({"f1": 0.5}, tmp_path / "metrics" / name / "eval.json")
        write_json({"f1": 0.5}, tmp_path / "plots" / name / "roc.csv")
    patterns = ["metrics/{}/eval.json", "plots/{}"]
    removed = remove_unlisted(["tfidf", "baseline"], tmp_path, patterns)
    assert sorted(p.relative_to(tmp_path).as_posix() for p in removed) == [
        "metrics/ensemble/eval.json",
        "metrics/topline/eval.json",
        "plots/ensemble",
        "plots/topline",
    ]
    for name in ("tfidf", "baseline"):
        assert (tmp_path / "metrics" / name / "eval.json").exists()
        assert (tmp_path / "plots" / name / "roc.csv").exists()
    assert remove_unlisted(["tfidf", "baseline"], tmp_path, patterns) == []
