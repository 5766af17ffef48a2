"""A throwaway, fully reproduced DVC repo for the pipeline benchmark, and running dvc in it."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks.config import ROOT
from benchmarks.timing import log
from benchmarks.workload import load_project_params


def dvc_env() -> dict[str, str]:
    """This environment with this interpreter's scripts first on PATH and no MLflow/DVC
    overrides inherited."""
    env = dict(os.environ)
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    for key in ("MLFLOW_TRACKING_URI", "DVC_ROOT"):
        env.pop(key, None)
    return env


def run_cmd(cmd: list[str], cwd: Path, timeout: float = 1800) -> tuple[str, float]:
    """Run ``cmd``; return (stdout + stderr, seconds). Raises on a non-zero exit."""
    t0 = time.perf_counter()
    proc = subprocess.run(
        cmd, cwd=cwd, env=dvc_env(), capture_output=True, text=True, timeout=timeout
    )
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(
            f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
        )
    return proc.stdout + proc.stderr, seconds


def stages_run(output: str) -> list[str]:
    """Stages that ``dvc repro`` ran, from its log."""
    return sorted(set(re.findall(r"Running stage '([^']+)'", output)))


def _is_reproduced(repo: Path) -> bool:
    """Every stage of its dvc.yaml is in its dvc.lock and the final output exists."""
    import yaml

    try:
        stages = yaml.safe_load((repo / "dvc.yaml").read_text())["stages"]
        locked = yaml.safe_load((repo / "dvc.lock").read_text())["stages"]
    except (OSError, KeyError, TypeError, yaml.YAMLError):
        return False
    names = set()
    for name, spec in stages.items():
        items = spec.get("foreach") if isinstance(spec, dict) else None
        names |= {f"{name}@{i}" for i in items} if isinstance(items, list) else {name}
    return names <= set(locked) and (repo / "submission.csv").is_file()


_COPY_SKIP = {
    ROOT / ".venv",
    ROOT / ".dvc" / "cache",
    ROOT / ".dvc" / "tmp",
    ROOT / "mlflow.db",
    ROOT / "mlartifacts",
}


def _link(src: str, dst: str) -> None:
    try:
        os.link(src, dst)
    except OSError:  # another file system
        shutil.copy2(src, dst)


def _skip_in_copy(directory: str, names: list[str]) -> set[str]:
    return {n for n in names if Path(directory) / n in _COPY_SKIP or n == "__pycache__"}


def make_tiny_repo(dest: Path) -> Path:
    """A git+DVC repo of the project's tracked pipeline files with a tiny config (MiniLM at
    max_length 32, 160 generated rows), as tests/pipeline/test_dvc_pipeline.py builds."""
    import yaml

    from papercls.synthetic.sample import write_sample

    dest.mkdir(parents=True)
    for name in ("dvc.yaml", ".gitignore", ".dvcignore"):
        shutil.copy2(ROOT / name, dest / name)
    for name in ("stages", "src"):
        shutil.copytree(
            ROOT / name, dest / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info")
        )
    params = load_project_params()
    for name in ("baseline", "topline"):
        params[name].update(backbone="minilm", max_length=32, batch_size=16, epochs=1, min_steps=0)
    params["tfidf"]["max_features"] = 2000
    params["thresholds"]["bootstrap"] = 50
    (dest / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    write_sample(dest / "data" / "sample", n_train=160, n_test=40, seed=7)
    for cmd in (
        ["git", "init", "-q", "-b", "main"],
        ["git", "config", "user.email", "bench@example.com"],
        ["git", "config", "user.name", "bench"],
        ["dvc", "init", "-q"],
        ["git", "add", "-A"],
        ["git", "commit", "-qm", "init"],
    ):
        run_cmd(cmd, dest)
    return dest


def _copy_of_checkout(dest: Path, info: dict[str, Any]) -> bool:
    """Copy this checkout to ``dest`` (DVC cache hard-linked); True when ``dvc status`` there
    reports nothing to do."""
    t0 = time.perf_counter()
    shutil.copytree(ROOT, dest, symlinks=True, ignore=_skip_in_copy)
    cache = ROOT / ".dvc" / "cache"
    if cache.is_dir():
        shutil.copytree(cache, dest / ".dvc" / "cache", symlinks=True, copy_function=_link)
    info["copy_seconds"] = time.perf_counter() - t0
    out, info["status_after_copy_seconds"] = run_cmd(["dvc", "status", "--json"], dest)
    status = json.loads(out[out.index("{") :]) if "{" in out else None
    if status == {}:
        return True
    info["checkout_status"] = status
    return False


def pipeline_repo(tmp: Path) -> tuple[Path, str, dict[str, Any]]:
    """A throwaway, fully reproduced repo: a copy of this checkout when ``dvc repro`` has run
    here and nothing changed since (the full-size pipeline), else a tiny repo reproduced once
    here. The copy leaves out the virtual environment and the MLflow store; its DVC cache is
    hard-linked (cache files are read-only)."""
    info: dict[str, Any] = {}
    if _is_reproduced(ROOT):
        dest = tmp / "repo-copy"
        if _copy_of_checkout(dest, info):
            return dest, "copy of this checkout (full-size run)", info
        log("pipeline: this checkout is not up to date; building a tiny repo instead")
    dest = make_tiny_repo(tmp / "repo-tiny")
    log("pipeline: first dvc repro of the tiny repo ...")
    out, info["first_repro_seconds"] = run_cmd(["dvc", "repro"], dest)
    info["first_repro_stages"] = stages_run(out)
    run_cmd(["git", "add", "-A"], dest)
    run_cmd(["git", "commit", "-qm", "first run"], dest)
    return dest, "tiny repo (MiniLM, max_length 32, 160 rows) built here", info
