"""Helpers of the reliability suite: the real DVC pipeline on the tiny config in a temporary git
repository (built with the helpers of tests/pipeline/test_dvc_pipeline.py).

The repository lives under a temporary ``$HOME`` (``<tmp>/home/repo``) and its backbone is a
copy of the tiny BERT at ``<tmp>/home/backbones/tiny-bert``, so that an absolute home path or
repository path leaking into metrics files, MLflow params or tags is caught. The stages run
with secrets in their environment; none may end up in any output. (A secret-looking key in
params.yaml is refused by the check_params stage, with its value unshown:
test_params_check.py; tests/code/test_tracking.py checks that such params are never logged.)

Imported by the test modules as ``reliability_support`` (pytest puts this folder on sys.path);
fixtures are in conftest.py.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
import yaml

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # `pytest` (not `python -m pytest`) does not put the root there
    sys.path.insert(0, str(ROOT))

from tests.pipeline.test_dvc_pipeline import make_repo, stages_run  # noqa: E402

BIN_DIR = str(Path(sys.executable).parent)
SECRET_ENV = {"HF_TOKEN": "hf_env_SECRET_77d1e0", "AWS_SECRET_ACCESS_KEY": "aws_SECRET_b41c93"}
SECRETS = tuple(SECRET_ENV.values())
BASELINE_EPOCHS = 10  # the shared repository's baseline: 10 short epochs, no early stopping
KILLED_STAGE = "train@baseline"  # interrupted once while the shared repository is built

__all__ = [
    "BASELINE_EPOCHS",
    "BIN_DIR",
    "KILLED_STAGE",
    "ROOT",
    "SECRETS",
    "Repo",
    "build_repo",
    "interrupt",
    "mlflow_runs",
    "sh",
    "stages_run",
]


@dataclass
class Repo:
    root: Path  # the git + DVC repository
    home: Path  # $HOME of every command run in it
    backbone: Path  # the tiny BERT copy under $HOME, outside the repository
    notes: dict[str, Any] = field(default_factory=dict)  # what the fixture observed

    def env(self, **extra: str) -> dict[str, str]:
        """Environment of commands in this repository (MLflow/DVC variables of the caller
        removed; secrets added; ``extra`` wins)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "DVC_"))}
        env.update(SECRET_ENV)
        env["HOME"] = str(self.home)
        env["PATH"] = BIN_DIR + os.pathsep + env.get("PATH", "")
        env["DVC_NO_ANALYTICS"] = "true"
        env["PYTHONUNBUFFERED"] = "1"  # stage log lines reach a watched log file at once
        env["HF_HUB_OFFLINE"] = "1"
        # one thread per process: tiny models gain nothing from more, and busy-waiting OpenMP
        # threads make a loaded 2-core machine several times slower
        env["OMP_NUM_THREADS"] = "1"
        env["TOKENIZERS_PARALLELISM"] = "false"
        env.update(extra)
        return env

    def sh(self, *cmd: str, check: bool = True, timeout: float = 480, **env: str):
        return sh(list(cmd), self.root, self.env(**env), check=check, timeout=timeout)

    def params(self) -> dict:
        return yaml.safe_load((self.root / "params.yaml").read_text())

    def write_params(self, params: dict) -> None:
        (self.root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


def sh(
    cmd: list[str], cwd: Path, env: dict[str, str], check: bool = True, timeout: float = 480
) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(
            f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n"
            f"{proc.stderr[-4000:]}"
        )
    return proc


def build_repo(parent: Path, tiny_bert_dir: Path, **sections: dict) -> Repo:
    """A committed repository with the tiny config; ``sections`` update params sections
    (e.g. ``baseline={"epochs": 8}``). Nothing is run yet."""
    home = parent / "home"
    backbone = home / "backbones" / "tiny-bert"
    shutil.copytree(tiny_bert_dir, backbone)
    repo = Repo(make_repo(home / "repo", backbone), home, backbone)
    params = repo.params()
    for name, values in sections.items():
        params[name].update(values)
    repo.write_params(params)
    repo.sh("git", "add", "-A")
    repo.sh("git", "commit", "-qm", "reliability config")
    return repo


def mlflow_runs(root: Path) -> list:
    """Every run (all experiments, any status) in ``<root>/mlflow.db``, oldest first."""
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{root / 'mlflow.db'}")
    exp_ids = [e.experiment_id for e in client.search_experiments()]
    runs = client.search_runs(exp_ids, max_results=1000) if exp_ids else []
    return sorted(runs, key=lambda r: r.info.start_time)


def interrupt(
    repo: Repo, target: str, sig: int, ready: Callable[[], bool], log_path: Path
) -> tuple[int, str]:
    """Start ``dvc repro <target>`` in its own process group; once ``ready()`` holds, send
    ``sig`` to the whole group (as a terminal's Ctrl-C or a CI runner's cancel does) and wait
    until every process of the group has exited. Returns dvc's exit status and its log."""
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            ["dvc", "repro", target],
            cwd=repo.root,
            env=repo.env(),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    group: list[psutil.Process] = []
    try:
        deadline = time.monotonic() + 300
        while not ready():
            if proc.poll() is not None:
                raise AssertionError(f"{target} ended before the signal:\n{log_path.read_text()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"{target} never got ready:\n{log_path.read_text()}")
            time.sleep(0.01)
        group = psutil.Process(proc.pid).children(recursive=True)
        os.killpg(proc.pid, sig)
        rc = proc.wait(timeout=120)
        _, alive = psutil.wait_procs(group, timeout=120)  # the stage may outlive dvc
        if alive:
            raise AssertionError(f"still running 120 s after the signal: {alive}")
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        for p in group:
            if p.is_running():
                p.kill()
    return rc, log_path.read_text(errors="replace")
