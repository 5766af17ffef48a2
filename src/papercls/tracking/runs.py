"""The run lifecycle: one MLflow run per DVC stage, its end status, and signal shielding.

SIGTERM and SIGINT during a :func:`stage_run` raise :class:`StageTerminated`; inside a
:func:`shielded` block (every MLflow write) the signal waits until the block ends, so that it
never lands inside a database transaction and leaves the run RUNNING.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import sys
import threading
import traceback
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from papercls.console import quiet_third_party
from papercls.tracking.provenance import loggable_params, path_prefixes, run_tags, scrub
from papercls.tracking.stale import close_stale_runs, process_tags
from papercls.tracking.uri import (
    TrackingUnavailable,
    configure_process,
    ensure_experiment,
    is_remote,
    redact_text,
    redact_uri,
    resolve_tracking_uri,
)

if TYPE_CHECKING:
    from mlflow import MlflowClient

logger = logging.getLogger(__name__)

DEFAULT_EXPERIMENT = "paper-classification"


class StageTerminated(KeyboardInterrupt):
    """Raised in the main thread when the stage process receives SIGTERM during a run.

    A ``KeyboardInterrupt`` subclass so that ``except Exception`` in stage code cannot swallow
    it; ``stage_run`` marks the run KILLED and re-raises; ``stage_main`` makes it one line and
    the exit status 128 + ``signum``."""

    def __init__(self, signum: int) -> None:
        self.signum = int(signum)
        super().__init__(f"received {signal.Signals(self.signum).name}")


def _metric_dict(metrics: Mapping[str, Any]) -> dict[str, float]:
    out = {}
    for k, v in metrics.items():
        if v is None:
            continue
        try:
            out[str(k)] = float(v)
        except (TypeError, ValueError) as e:
            raise TypeError(f"metric {k!r}: {v!r} is not a number") from e
    return out


@dataclass
class StageRun:
    """Handle yielded by :func:`stage_run`."""

    run_id: str
    stage: str
    tracking_uri: str
    experiment_id: str
    client: MlflowClient
    tags: dict[str, str] = field(default_factory=dict)
    # resolved model_dir -> ModelInfo (papercls.tracking.serving.log_servable)
    models: dict[str, Any] = field(default_factory=dict)
    failed: bool = False  # set by fail(): the run ends FAILED although no exception escapes

    def fail(self, error: object, code: int = 2) -> int:
        """The stage failed without raising: print ``error: <error>`` (secrets removed) to
        stderr, have the run end FAILED, and return ``code`` for the stage to exit with."""
        print(f"error: {redact_text(error)}", file=sys.stderr)
        self.failed = True
        return code

    def _best_effort(self, what: str, fn, *args, **kwargs):
        """Remote servers: a failed metric/artifact upload warns instead of killing a long
        training run (DVC's outputs are the record of truth). Local SQLite: errors raise.
        A SIGTERM/SIGINT during the call waits until it returns (:func:`shielded`)."""
        from mlflow.exceptions import MlflowException

        with shielded():
            if not is_remote(self.tracking_uri):
                return fn(*args, **kwargs)
            try:
                return fn(*args, **kwargs)
            except (MlflowException, OSError) as e:
                shown = redact_uri(self.tracking_uri)
                logger.warning("MLflow %s failed (%s): %s", what, shown, redact_text(e))
                return None

    def log_epoch(self, epoch: int, metrics: Mapping[str, Any]) -> None:
        """Metrics of one epoch, with ``step=epoch`` (the history MLflow plots)."""
        self.log_metrics(metrics, step=int(epoch))

    def log_metrics(self, metrics: Mapping[str, Any], step: int | None = None) -> None:
        from mlflow.entities import Metric
        from mlflow.utils.time import get_current_time_millis

        now = get_current_time_millis()
        batch = [Metric(k, v, now, step or 0) for k, v in _metric_dict(metrics).items()]
        if batch:
            self._best_effort("log_metrics", self.client.log_batch, self.run_id, metrics=batch)

    def log_artifact(self, path: str | Path, artifact_path: str | None = None) -> None:
        self._best_effort(
            "log_artifact", self.client.log_artifact, self.run_id, str(path), artifact_path
        )

    def log_artifacts(self, directory: str | Path, artifact_path: str | None = None) -> None:
        self._best_effort(
            "log_artifacts", self.client.log_artifacts, self.run_id, str(directory), artifact_path
        )

    def set_tags(self, tags: Mapping[str, Any]) -> None:
        prefixes = path_prefixes()
        with shielded():
            for k, v in tags.items():
                self.client.set_tag(self.run_id, k, scrub(str(v), prefixes))


class _SignalGuard:
    """SIGTERM and SIGINT raise :class:`StageTerminated` in the main thread, once; inside
    :meth:`shielded` blocks (MLflow writes) a signal waits until the block ends."""

    def __init__(self) -> None:
        self.depth = 0
        self.pending: int | None = None
        self.fired = False

    def handler(self, signum, frame) -> None:
        if self.depth > 0 or self.fired:
            self.pending = signum
            return
        self.fired = True
        raise StageTerminated(signum)

    @contextlib.contextmanager
    def shielded(self) -> Iterator[None]:
        self.depth += 1
        try:
            yield
        finally:
            self.depth -= 1
            if self.depth == 0 and self.pending is not None and not self.fired:
                signum, self.pending, self.fired = self.pending, None, True
                raise StageTerminated(signum)


_GUARD: _SignalGuard | None = None
_GUARDED_SIGNALS = (signal.SIGTERM, signal.SIGINT)


@contextlib.contextmanager
def _signal_guard() -> Iterator[_SignalGuard]:
    """Installs a :class:`_SignalGuard` for SIGTERM and SIGINT while active (main thread only;
    elsewhere the yielded guard is not installed and never raises)."""
    global _GUARD
    guard = _SignalGuard()
    if threading.current_thread() is not threading.main_thread() or _GUARD is not None:
        yield guard
        return
    previous = {s: signal.signal(s, guard.handler) for s in _GUARDED_SIGNALS}
    _GUARD = guard
    try:
        yield guard
    finally:
        _GUARD = None
        for s, h in previous.items():
            signal.signal(s, h)


def shielded() -> contextlib.AbstractContextManager[None]:
    """A block that a SIGTERM/SIGINT does not interrupt during a :func:`stage_run` (the
    signal is raised as :class:`StageTerminated` when the block ends); a no-op outside one."""
    return _GUARD.shielded() if _GUARD is not None else contextlib.nullcontext()


@contextlib.contextmanager
def stage_run(
    stage: str, params: Mapping[str, Any], run_name: str | None = None
) -> Iterator[StageRun]:
    """One MLflow run for a DVC stage.

    ``params``: the params.yaml sections this stage reads (logged flattened, e.g.
    ``baseline.lr``), plus optionally ``tracking`` (``experiment``, ``fail_on_unavailable``).
    The run ends FINISHED, FAILED on an exception or after :meth:`StageRun.fail` (a stage that
    returns an error code), KILLED on KeyboardInterrupt or SIGTERM (a
    SIGTERM handler is installed for the run's duration and raises :class:`StageTerminated`).
    Raises :class:`TrackingUnavailable` when an http(s) tracking server does not answer,
    unless ``tracking.fail_on_unavailable`` is false (then: the local SQLite database). Runs of
    the same stage left RUNNING by a process that is gone are ended KILLED first
    (:mod:`papercls.tracking.stale`).
    """
    configure_process()  # before mlflow is imported
    import mlflow
    from mlflow import MlflowClient
    from mlflow.entities import RunStatus

    tcfg = dict(params.get("tracking") or {})
    uri = resolve_tracking_uri(bool(tcfg.get("fail_on_unavailable", True)))
    mlflow.set_tracking_uri(uri)
    client = MlflowClient(tracking_uri=uri)
    exp_id = ensure_experiment(client, str(tcfg.get("experiment") or DEFAULT_EXPERIMENT), uri)
    active = mlflow.active_run()
    if active is not None:
        raise RuntimeError(f"MLflow run {active.info.run_id} is already active in this process")
    close_stale_runs(client, exp_id, stage)  # runs of this stage left RUNNING by a dead process
    tags = {**run_tags(stage), **process_tags()}
    run_params = loggable_params(params)

    with _signal_guard() as guard:
        run_id = None
        status = RunStatus.to_string(RunStatus.FAILED)
        try:
            with guard.shielded():  # a signal in here is raised once the run exists
                run = client.create_run(exp_id, run_name=run_name or stage, tags=tags)
                run_id = run.info.run_id
                mlflow.set_experiment(experiment_id=exp_id)
                mlflow.start_run(run_id=run_id)
                if run_params:
                    mlflow.log_params(run_params)
            handle = StageRun(run_id, stage, uri, exp_id, client, tags)
            yield handle
            if not handle.failed:
                status = RunStatus.to_string(RunStatus.FINISHED)
        except KeyboardInterrupt:
            status = RunStatus.to_string(RunStatus.KILLED)
            raise
        except SystemExit as e:
            if e.code in (None, 0):
                status = RunStatus.to_string(RunStatus.FINISHED)
            raise
        finally:
            if run_id is not None:
                with guard.shielded():  # a signal now is raised once the run is closed
                    _end_run(client, run_id, status)


def _end_run(client: MlflowClient, run_id: str, status: str) -> None:
    import mlflow

    try:
        active = mlflow.active_run()
        if active is not None and active.info.run_id == run_id:
            mlflow.end_run(status)
        else:
            client.set_terminated(run_id, status)
    except Exception as e:  # never mask the stage's own exception
        shown = redact_text(e)
        logger.warning("could not mark MLflow run %s %s: %s", run_id, status, shown)
        warnings.warn(f"MLflow run {run_id} could not be closed: {shown}", RuntimeWarning, 2)


def stage_main(main: Callable[..., int], *args: Any) -> int:
    """Exit code of a stage script's ``main(*args)``. An unreachable tracking server (with
    ``tracking.fail_on_unavailable: true``) becomes one ``error:`` line on stderr that names the
    URI, and exit code 2, instead of a traceback; nothing has been written at that point. Any
    other exception prints its traceback with URIs and secrets redacted
    (:func:`~papercls.tracking.uri.redact_text`; an MLflow HTTP error quotes the server's URL)
    and gives exit code 1, as an uncaught exception would. SIGTERM or SIGINT during the run
    (:class:`StageTerminated`; the run ended KILLED) prints one line and gives 128 + the
    signal's number, as the signal itself would. Third-party noise is silenced first
    (:func:`papercls.console.quiet_third_party`)."""
    quiet_third_party()
    try:
        return int(main(*args) or 0)
    except TrackingUnavailable as exc:
        print(f"error: {redact_text(exc)}", file=sys.stderr)
        return 2
    except StageTerminated as exc:
        print(f"stopped: {exc}; the MLflow run is marked KILLED", file=sys.stderr)
        return 128 + exc.signum
    except Exception:
        print(redact_text(traceback.format_exc()), end="", file=sys.stderr)
        return 1
