"""The real DVC pipeline on a tiny config in a temporary git repository.

One module-scoped repo: the first `dvc repro` builds everything (tiny encoders, 1 epoch), later
tests check the no-op rerun, that a threshold-only change reruns only the threshold and predict
stages, and that `dvc metrics diff` shows the changed figures.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from papercls.sample import write_sample

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def run(cmd: list[str], cwd: Path, check: bool = True) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    env.pop("MLFLOW_TRACKING_URI", None)
    env.pop("DVC_ROOT", None)
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise AssertionError(
            f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
        )
    return proc


def tiny_params(backbone: Path) -> dict:
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    for name in ("baseline", "topline"):
        params[name].update(backbone=str(backbone), max_length=32, batch_size=16, epochs=1)
    params["tfidf"]["max_features"] = 2000
    params["thresholds"]["bootstrap"] = 50
    return params


def make_repo(dest: Path, backbone: Path) -> Path:
    dest.mkdir(parents=True)
    for name in ("dvc.yaml", ".gitignore", ".dvcignore"):
        shutil.copy2(ROOT / name, dest / name)
    for name in ("stages", "src"):
        shutil.copytree(
            ROOT / name, dest / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info")
        )
    (dest / "params.yaml").write_text(yaml.safe_dump(tiny_params(backbone), sort_keys=False))
    write_sample(dest / "data" / "sample", n_train=160, n_test=40, seed=7)
    run(["git", "init", "-q", "-b", "main"], dest)
    run(["git", "config", "user.email", "ci@example.com"], dest)
    run(["git", "config", "user.name", "ci"], dest)
    run(["dvc", "init", "-q"], dest)
    run(["git", "add", "-A"], dest)
    run(["git", "commit", "-qm", "init"], dest)
    return dest


def stages_run(output: str) -> set[str]:
    return set(re.findall(r"Running stage '([^']+)'", output))


@pytest.fixture(scope="module")
def repo(tmp_path_factory, tiny_bert_dir) -> Path:
    d = make_repo(tmp_path_factory.mktemp("pipeline") / "repo", tiny_bert_dir)
    proc = run(["dvc", "repro"], d)
    d.joinpath("first_repro.log").write_text(proc.stdout)
    run(["git", "add", "-A"], d)
    run(["git", "commit", "-qm", "first run"], d)
    return d


def test_repro_builds_every_stage(repo: Path) -> None:
    ran = stages_run(repo.joinpath("first_repro.log").read_text())
    assert ran == {
        "preprocess",
        "train_tfidf",
        "train@baseline",
        "train@topline",
        "evaluate",
        "tune_thresholds",
        "predict",
    }
    sub = pd.read_csv(repo / "submission.csv")
    test = pd.read_csv(repo / "data" / "sample" / "test.csv")
    assert list(sub.columns) == ["uuid", "label"]
    assert sub["uuid"].tolist() == test["uuid"].tolist()
    assert set(sub["label"].unique()) <= {0, 1}
    for name in ("tfidf", "baseline", "topline"):
        figures = json.loads((repo / "metrics" / name / "eval.json").read_text())
        assert 0.0 <= figures["f1"] <= 1.0
    assert (repo / "models" / "topline" / "model.safetensors").exists()
    shown = run(["dvc", "metrics", "show", "--json"], repo).stdout
    assert "metrics/topline/eval.json" in shown


def test_second_repro_is_a_noop(repo: Path) -> None:
    proc = run(["dvc", "repro"], repo)
    assert stages_run(proc.stdout) == set()
    assert json.loads(run(["dvc", "status", "--json"], repo).stdout) == {}


def test_threshold_change_reruns_only_tuning_and_predict(repo: Path) -> None:
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["thresholds"]["method"] = "fixed"
    params["thresholds"]["fixed"] = 0.05
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    proc = run(["dvc", "repro"], repo)
    assert stages_run(proc.stdout) == {"tune_thresholds", "predict"}
    diff = json.loads(run(["dvc", "metrics", "diff", "--json"], repo).stdout)
    changed = {path for path, figures in diff.items() if figures}
    assert any(path.endswith("tuned.json") for path in changed), diff
    assert not any(path.endswith("eval.json") for path in changed), diff
    tuned = json.loads((repo / "metrics" / "topline" / "tuned.json").read_text())
    assert tuned["threshold"] == pytest.approx(0.05)
