"""A stage that fails ends its MLflow run FAILED, also when it returns an error code (exit 2,
an ``error:`` line) instead of raising: never FINISHED without its metrics."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from reliability_support import Repo, mlflow_runs

from papercls.tracking import stage_run


def test_fail_ends_the_run_failed(tmp_path: Path, monkeypatch, capsys) -> None:
    from mlflow import MlflowClient

    (tmp_path / "dvc.yaml").write_text("stages: {}\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DVC_ROOT", raising=False)
    db = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", db)
    with stage_run("demo", {"tracking": {"experiment": "fail"}}) as run:
        code = run.fail(ValueError("models: unknown model 'bogus'"))
        run_id = run.run_id
    assert code == 2
    assert "error: models: unknown model 'bogus'\n" in capsys.readouterr().err
    assert MlflowClient(tracking_uri=db).get_run(run_id).info.status == "FAILED"


@pytest.mark.slow
@pytest.mark.parametrize("stage", ["evaluate", "tune_thresholds"])
def test_stage_returning_2_ends_its_run_failed(built_repo: Repo, stage: str) -> None:
    """A missing predictions file (not a params problem: no params check can catch it) makes
    the stage print an error and return 2 inside its run."""
    root = built_repo.root
    held = root / "predictions" / "tfidf" / "heldout.parquet"
    aside = root.parent / "heldout.parquet.aside"
    before = {r.info.run_id for r in mlflow_runs(root)}
    shutil.move(held, aside)
    try:
        proc = built_repo.sh("python", f"stages/{stage}.py", check=False, timeout=180)
    finally:
        shutil.move(aside, held)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "error: " in proc.stderr and "heldout.parquet" in proc.stderr, proc.stderr
    new = [r for r in mlflow_runs(root) if r.info.run_id not in before]
    assert [(r.data.tags["dvc.stage"], r.info.status) for r in new] == [(stage, "FAILED")]
