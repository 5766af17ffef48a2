"""A dead MLflow tracking server, seen from real stage scripts in the tiny repository.

``tracking.fail_on_unavailable: true`` (the default): the stage stops within seconds, exit code
2, one error line naming the (password-free) URI, nothing written. ``false``: a warning naming
the URI, and the run is logged to the repository's mlflow.db instead.
(tests/code/test_tracking.py covers papercls.tracking itself.)
"""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest
from reliability_support import Repo, mlflow_runs

pytestmark = pytest.mark.slow


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again when the socket is: nobody listens there


def _snapshot(root: Path) -> dict[str, int]:
    watched = [root / "metrics", root / "plots", root / "models", root / "predictions"]
    return {str(p): p.stat().st_mtime_ns for d in watched for p in d.rglob("*") if p.is_file()}


@pytest.mark.parametrize(
    "cmd,credentials",
    [(["stages/evaluate.py"], False), (["stages/train.py", "baseline"], True)],
    ids=["evaluate", "train-baseline"],
)
def test_dead_server_stops_the_stage_fast(built_repo: Repo, cmd, credentials) -> None:
    root = built_repo.root
    port = _closed_port()
    shown = f"http://127.0.0.1:{port}"
    uri = f"http://alice:s3cr3t-pw@127.0.0.1:{port}" if credentials else shown
    runs_before = len(mlflow_runs(root))
    files_before = _snapshot(root)

    t0 = time.monotonic()
    proc = built_repo.sh("python", *cmd, check=False, timeout=120, MLFLOW_TRACKING_URI=uri)
    elapsed = time.monotonic() - t0

    assert proc.returncode == 2, proc.stderr
    assert elapsed < 20, f"took {elapsed:.1f} s to notice the dead server"
    err = proc.stderr
    assert f"error: MLflow tracking server {shown} is unreachable" in err, err
    assert "fail_on_unavailable" in err and "Traceback" not in err, err
    assert "s3cr3t-pw" not in proc.stdout + err
    assert len(mlflow_runs(root)) == runs_before
    assert _snapshot(root) == files_before, "a stage that cannot track must write nothing"


def test_dead_server_with_fallback_logs_locally(built_repo: Repo) -> None:
    root = built_repo.root
    params = built_repo.params()
    params["tracking"]["fail_on_unavailable"] = False
    built_repo.write_params(params)
    uri = f"http://127.0.0.1:{_closed_port()}"
    before = {r.info.run_id for r in mlflow_runs(root)}
    try:
        t0 = time.monotonic()
        proc = built_repo.sh("python", "stages/evaluate.py", timeout=120, MLFLOW_TRACKING_URI=uri)
        elapsed = time.monotonic() - t0
    finally:
        built_repo.sh("git", "checkout", "--", "params.yaml")
    assert elapsed < 60
    assert f"MLflow tracking server {uri} is unreachable" in proc.stderr, proc.stderr
    assert f"logging to sqlite:///{root.resolve()}/mlflow.db instead" in proc.stderr, proc.stderr
    new = [r for r in mlflow_runs(root) if r.info.run_id not in before]
    assert [(r.data.tags["dvc.stage"], r.info.status) for r in new] == [("evaluate", "FINISHED")]
    assert set(new[0].data.metrics) >= {"baseline.f1", "topline.f1", "tfidf.f1"}
    assert built_repo.sh("dvc", "status", "--json").stdout.strip() == "{}"
