"""papercls.report on a temporary git + DVC repository."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from papercls import report

BIN_DIR = str(Path(sys.executable).parent)


@pytest.fixture()
def dvc_repo(tmp_path, monkeypatch) -> Path:
    """git + dvc repository with params.yaml and metrics/m.json committed."""
    monkeypatch.setenv("PATH", BIN_DIR + os.pathsep + os.environ.get("PATH", ""))
    monkeypatch.setenv("DVC_NO_ANALYTICS", "true")
    repo = tmp_path / "repo"
    repo.mkdir()

    def run(*cmd: str) -> None:
        subprocess.run(cmd, cwd=repo, check=True, capture_output=True, text=True)

    run("git", "init", "-q")
    run("git", "config", "user.email", "ci@example.com")
    run("git", "config", "user.name", "CI")
    run("dvc", "init", "-q")
    (repo / "params.yaml").write_text("train:\n  lr: 0.001\n  epochs: 3\n")
    (repo / "metrics").mkdir()
    (repo / "metrics" / "m.json").write_text(json.dumps({"f1": 0.8125, "accuracy": 0.9}))
    (repo / "dvc.yaml").write_text("metrics:\n  - metrics/m.json\n")
    run("git", "add", "-A")
    run("git", "commit", "-qm", "base commit")
    return repo


def test_report_shows_changed_params_and_metrics(dvc_repo):
    (dvc_repo / "params.yaml").write_text("train:\n  lr: 0.0005\n  epochs: 3\n")
    (dvc_repo / "metrics" / "m.json").write_text(json.dumps({"f1": 0.875, "accuracy": 0.9}))
    md = report.build_report("HEAD", dvc_repo)
    head = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=dvc_repo, capture_output=True, text=True
    ).stdout.strip()
    assert md.startswith(report.TITLE)
    assert head in md and "base commit" in md
    params, metrics = md.split("## Params", 1)[1].split("## Metrics", 1)
    assert "train.lr" in params and "0.001" in params and "0.0005" in params
    assert "epochs" not in params  # unchanged params are not listed
    assert "f1" in metrics and "0.8125" in metrics and "0.875" in metrics
    assert "accuracy" not in metrics
    assert "no changes" not in md


def test_report_without_differences_says_no_changes(dvc_repo):
    md = report.build_report("HEAD", dvc_repo)
    params, metrics = md.split("## Params", 1)[1].split("## Metrics", 1)
    assert params.strip() == "no changes"
    assert metrics.strip() == "no changes"


def test_unknown_base_is_reported_not_raised(dvc_repo):
    md = report.build_report("no-such-rev", dvc_repo)
    assert md.count("could not compute") == 2
    assert "no-such-rev" in md


def test_main_prints_and_appends_to_step_summary(dvc_repo, tmp_path, monkeypatch, capsys):
    (dvc_repo / "params.yaml").write_text("train:\n  lr: 0.002\n  epochs: 3\n")
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    out_file = tmp_path / "report.md"
    assert report.main(["--base", "HEAD", "--repo", str(dvc_repo), "--output", str(out_file)]) == 0
    printed = capsys.readouterr().out
    assert "0.002" in printed
    text = summary.read_text()
    assert text.startswith("earlier step\n") and report.TITLE in text and "0.002" in text
    assert out_file.read_text().strip() == printed.strip()


def test_module_is_runnable(dvc_repo):
    p = subprocess.run(
        [sys.executable, "-m", "papercls.report", "--base", "HEAD"],
        cwd=dvc_repo,
        capture_output=True,
        text=True,
        env={k: v for k, v in os.environ.items() if k != "GITHUB_STEP_SUMMARY"},
    )
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith(report.TITLE)
