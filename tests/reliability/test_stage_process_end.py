"""How a stage process ends, as its MLflow run records it.

- SIGTERM during a stage: one ``stopped:`` line (no traceback), exit status 128 + 15, and the run
  ends KILLED.
- SIGKILL (``kill -9``, the OOM killer): nothing in the process can close its run, which stays
  RUNNING. The next run of the same stage closes it (KILLED, with the reason in a tag) once its
  process is gone; runs of other stages, of live processes and of other hosts are left alone.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import psutil
import pytest
from mlflow import MlflowClient

from papercls.tracking import stage_run
from papercls.tracking.stale import CLOSED_TAG, HOST_TAG, PID_TAG, STARTED_TAG

ROOT = Path(__file__).resolve().parents[2]
EXPERIMENT = "process-end"

SCRIPT = """
import os, signal, sys, time
from papercls.tracking import stage_main, stage_run

def main():
    with stage_run({stage!r}, {{"tracking": {{"experiment": {experiment!r}}}}}) as run:
        print(run.run_id, flush=True)
        os.kill(os.getpid(), signal.{signal})
        time.sleep(60)
    return 0

sys.exit(stage_main(main))
"""


@pytest.fixture()
def repo(tmp_path: Path, monkeypatch) -> tuple[Path, str]:
    (tmp_path / "dvc.yaml").write_text("stages: {}\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DVC_ROOT", raising=False)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    return tmp_path, uri


def _stage_process(root: Path, stage: str, sig: str) -> subprocess.CompletedProcess:
    code = textwrap.dedent(SCRIPT).format(stage=stage, experiment=EXPERIMENT, signal=sig)
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "PYTHONUNBUFFERED": "1"}
    return subprocess.run(
        [sys.executable, "-c", code], cwd=root, env=env, capture_output=True, text=True, timeout=180
    )


def _status(uri: str, run_id: str):
    return MlflowClient(tracking_uri=uri).get_run(run_id).info.status


def test_sigterm_ends_the_stage_with_one_line_and_the_run_killed(repo):
    root, uri = repo
    proc = _stage_process(root, "train@baseline", "SIGTERM")
    assert proc.returncode == 128 + signal.SIGTERM, proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.stderr.strip().splitlines() == [
        "stopped: received SIGTERM; the MLflow run is marked KILLED"
    ], proc.stderr
    assert _status(uri, proc.stdout.strip()) == "KILLED"


def _fake_run(uri: str, stage: str, **tags: str) -> str:
    client = MlflowClient(tracking_uri=uri)
    exp = client.get_experiment_by_name(EXPERIMENT).experiment_id
    return client.create_run(exp, tags={"dvc.stage": stage, **tags}).info.run_id


def test_a_run_left_running_by_sigkill_is_closed_by_the_next_run_of_its_stage(repo):
    root, uri = repo
    killed = _stage_process(root, "evaluate", "SIGKILL")
    assert killed.returncode == -signal.SIGKILL
    stale = killed.stdout.strip()
    assert _status(uri, stale) == "RUNNING"
    tags = MlflowClient(tracking_uri=uri).get_run(stale).data.tags
    assert tags[HOST_TAG] == socket.gethostname() and tags[PID_TAG].isdigit()

    other_stage = _stage_process(root, "tune_thresholds", "SIGKILL").stdout.strip()
    me = psutil.Process()
    here = {HOST_TAG: socket.gethostname(), PID_TAG: str(me.pid)}
    alive = _fake_run(uri, "evaluate", **here, **{STARTED_TAG: f"{me.create_time():.3f}"})
    elsewhere = _fake_run(
        uri, "evaluate", **{HOST_TAG: "another-host", PID_TAG: tags[PID_TAG], STARTED_TAG: "1"}
    )
    untagged = _fake_run(uri, "evaluate")  # logged before runs recorded their process

    with stage_run("evaluate", {"tracking": {"experiment": EXPERIMENT}}) as run:
        assert _status(uri, stale) == "KILLED"  # closed before the new run starts
        new = run.run_id
    assert _status(uri, new) == "FINISHED"
    closed = MlflowClient(tracking_uri=uri).get_run(stale).data.tags[CLOSED_TAG]
    assert f"process {tags[PID_TAG]} on {tags[HOST_TAG]}" in closed
    for run_id in (other_stage, alive, elsewhere, untagged):
        assert _status(uri, run_id) == "RUNNING", run_id


def test_a_reused_pid_does_not_keep_a_stale_run_open(repo):
    """The pid of the dead process now belongs to a process that started later."""
    root, uri = repo
    with stage_run("evaluate", {"tracking": {"experiment": EXPERIMENT}}):
        pass
    me = psutil.Process()
    earlier = f"{me.create_time() - 3600:.3f}"
    reused = _fake_run(
        uri,
        "evaluate",
        **{HOST_TAG: socket.gethostname(), PID_TAG: str(me.pid), STARTED_TAG: earlier},
    )
    with stage_run("evaluate", {"tracking": {"experiment": EXPERIMENT}}):
        pass
    assert _status(uri, reused) == "KILLED"
