"""Runs left RUNNING by a stage process that is gone (killed with SIGKILL, out of memory, a
machine that lost power): nothing in the process could close them.

Every stage run records its process in tags (:func:`process_tags`: host, pid, the process's
start time). When a stage's run starts, :func:`close_stale_runs` looks for RUNNING runs of the
same stage (``dvc.stage`` tag) in the same experiment, recorded on this host, whose process no
longer exists (or whose pid now belongs to a process that started later), and ends them KILLED
with a ``papercls.closed_stale`` tag saying why. Runs of other hosts, runs without these tags
and runs whose process is alive (the same stage running in parallel, e.g. queued experiments)
are left alone.
"""

from __future__ import annotations

import logging
import os
import socket
from typing import TYPE_CHECKING

from papercls.tracking.uri import redact_text

if TYPE_CHECKING:
    from mlflow import MlflowClient

logger = logging.getLogger(__name__)

HOST_TAG = "papercls.host"
PID_TAG = "papercls.pid"
STARTED_TAG = "papercls.pid_started"  # the process's start time, seconds since the epoch
CLOSED_TAG = "papercls.closed_stale"
_START_TOLERANCE_S = 1.0


def _started(pid: int) -> float | None:
    """When process ``pid`` started, or None when there is no such process."""
    import psutil

    try:
        return psutil.Process(pid).create_time()
    except (psutil.NoSuchProcess, psutil.ZombieProcess):
        return None
    except psutil.Error:  # no access (another user's process): it exists
        return float("nan")


def process_tags() -> dict[str, str]:
    """The tags that tie a run to this process."""
    pid = os.getpid()
    return {
        HOST_TAG: socket.gethostname(),
        PID_TAG: str(pid),
        STARTED_TAG: f"{_started(pid) or 0.0:.3f}",
    }


def process_gone(tags: dict[str, str]) -> bool:
    """True when the run's tags name a process of this host that no longer runs: no process
    with that pid, or one that started after the recorded one (the pid was reused)."""
    if tags.get(HOST_TAG) != socket.gethostname():
        return False
    try:
        pid = int(tags[PID_TAG])
        recorded = float(tags.get(STARTED_TAG, "nan"))
    except (KeyError, ValueError):
        return False
    started = _started(pid)
    if started is None:
        return True
    return started - recorded > _START_TOLERANCE_S  # a later process under the same pid


def close_stale_runs(client: MlflowClient, experiment_id: str, stage: str) -> list[str]:
    """End KILLED the RUNNING runs of ``stage`` in ``experiment_id`` whose process is gone
    (module doc); their ids. Never fails the stage: an error is a warning."""
    from mlflow.entities import RunStatus

    quoted = stage.replace("'", "\\'")
    query = f"tags.\"dvc.stage\" = '{quoted}' and attributes.status = 'RUNNING'"
    closed = []
    try:
        for run in client.search_runs([experiment_id], query, max_results=1000):
            tags = run.data.tags
            if tags.get("dvc.stage") != stage or not process_gone(tags):
                continue
            why = f"process {tags[PID_TAG]} on {tags[HOST_TAG]} ended without closing the run"
            client.set_tag(run.info.run_id, CLOSED_TAG, why)
            client.set_terminated(run.info.run_id, RunStatus.to_string(RunStatus.KILLED))
            closed.append(run.info.run_id)
            logger.warning(
                "MLflow run %s of stage %s marked KILLED: %s", run.info.run_id, stage, why
            )
    except Exception as e:  # noqa: BLE001 (a stale run must never stop a new one)
        logger.warning("could not close stale MLflow runs of %s: %s", stage, redact_text(e))
    return closed
