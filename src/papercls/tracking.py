"""MLflow set-up for the pipeline: one run per DVC stage, tags, model logging, registry aliases.

Where runs go
-------------
``tracking_uri()`` is ``$MLFLOW_TRACKING_URI`` when set, else a SQLite database at the root of
the *main* repository: ``sqlite:///<root>/mlflow.db`` with artifacts in ``<root>/mlartifacts``
(MLflow 3 no longer accepts the old ``./mlruns`` file store).

``dvc exp run --temp`` and ``dvc exp run --queue`` run the stages in a throw-away copy of the
repository, ``<root>/.dvc/tmp/exps/[standalone/]tmpXXXXXXXX``, which is deleted afterwards.
DVC itself points ``DVC_ROOT`` at the *original* repository for those runs (see
``dvc/repo/experiments/queue/base.py``: "Override DVC_ROOT env var to point to the parent DVC
repo root (and not an executor tempdir root)") and sets ``DVC_EXP_NAME`` and
``DVC_EXP_BASELINE_REV``; the stage's working directory is the temporary copy. So the default
database is always the original repository's: ``main_repo_root()`` takes
``papercls.params.repo_root()`` (``DVC_ROOT``) and, should that ever be a temporary experiment
copy, maps ``<root>/.dvc/tmp/exps/...`` back to ``<root>``. A relative
``MLFLOW_TRACKING_URI=sqlite:///mlflow.db`` is resolved against that same root, not against the
temporary working directory. Git commit and ``dvc.lock`` are read from the copy that actually
runs (``workspace_root()``).

Models
------
``StageRun.log_model_dir`` logs a saved model directory as an ``mlflow.pyfunc`` model
(:class:`ClassifierPyfunc`) whose ``load_context`` calls ``papercls.inference.load_classifier``
and whose ``predict`` returns P(label == 1) from ``papercls.inference.predict_proba``. The
directory is stored as-is as the pyfunc artifact ``model_dir`` (safetensors weights, config,
tokenizer; k-fold ``fold_<k>/`` sub-directories are averaged), so the weights are never
pickled; only the tiny ``ClassifierPyfunc`` object is (cloudpickle, by reference to this
module). Chosen over ``mlflow.transformers.log_model`` because (1) that flavour does not work
offline with transformers 5 here: building/logging a ``text-classification`` pipeline fails with
``ModuleNotFoundError: torchvision`` after trying to fetch a model card from the hub, and (2) the
topline is a custom ``PreTrainedModel`` (``fused_head``) that the transformers flavour can only
reload with ``papercls.models`` imported anyway. One flavour serves both baseline and topline, and
pip requirements are given explicitly (no slow requirement inference subprocess).

Registry
--------
``register_candidate`` registers a logged model under ``tracking.register_name`` with alias
``candidate`` and its F1 as the model-version tag ``f1``; ``promote_if_better`` moves alias
``champion`` to it only when that F1 is strictly higher than the current champion's.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import math
import os
import re
import signal
import subprocess
import sys
import threading
import urllib.error
import urllib.parse
import urllib.request
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from papercls.params import flatten, repo_root

# Set before mlflow/transformers are used: small HTTP retry/timeout values so that a dead
# server fails fast, no telemetry (offline machines), and no Trainer MLflow callback creating
# duplicate runs (our training loop does not use Trainer, but stay safe).
_ENV_DEFAULTS = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "30",
    "MLFLOW_DISABLE_TELEMETRY": "true",
}
_ENV_FORCED = {"DISABLE_MLFLOW_INTEGRATION": "TRUE"}


def configure_process() -> None:
    """Environment defaults for this process (existing values of the MLflow HTTP settings are
    kept; ``DISABLE_MLFLOW_INTEGRATION`` is always ``TRUE``)."""
    for k, v in _ENV_DEFAULTS.items():
        os.environ.setdefault(k, v)
    os.environ.update(_ENV_FORCED)


configure_process()

import mlflow  # noqa: E402
import mlflow.pyfunc  # noqa: E402
from mlflow import MlflowClient  # noqa: E402
from mlflow.exceptions import MlflowException  # noqa: E402

logger = logging.getLogger(__name__)

DEFAULT_EXPERIMENT = "paper-classification"
DEFAULT_REGISTER_NAME = "paper-classifier"
DB_FILE = "mlflow.db"
ARTIFACT_DIR = "mlartifacts"
CANDIDATE_ALIAS = "candidate"
CHAMPION_ALIAS = "champion"
F1_TAG = "f1"
HEALTH_TIMEOUT_S = 3.0
UNKNOWN = "unknown"
_EXP_TMP_PARTS = (".dvc", "tmp", "exps")
_MAX_PARAM_LEN = 6000
_SECRET_KEY = re.compile(r"(?i)(passw|secret|token|api[_-]?key|credential|private[_-]?key)")


class TrackingUnavailable(RuntimeError):
    """The configured MLflow tracking server does not answer."""


class StageTerminated(KeyboardInterrupt):
    """Raised in the main thread when the stage process receives SIGTERM during a run.

    A ``KeyboardInterrupt`` subclass so that ``except Exception`` in stage code cannot swallow
    it; ``stage_run`` marks the run KILLED and re-raises."""


# --------------------------------------------------------------------------- locations


def _exp_temp_origin(path: Path) -> Path | None:
    """``<root>`` when ``path`` lies in a DVC temporary experiment copy under
    ``<root>/.dvc/tmp/exps/``; else None."""
    parts = Path(path).parts
    n = len(_EXP_TMP_PARTS)
    for i in range(len(parts) - n, 0, -1):
        if tuple(parts[i : i + n]) == _EXP_TMP_PARTS and len(parts) > i + n:
            return Path(*parts[:i])
    return None


def main_repo_root() -> Path:
    """The original repository's root, also for ``dvc exp run --temp/--queue`` runs."""
    root = repo_root()
    return _exp_temp_origin(root) or root


def workspace_root() -> Path:
    """The checkout this stage actually runs in: the temporary experiment copy (the working
    directory DVC gives the stage) for ``--temp/--queue`` runs, else ``repo_root()``."""
    cwd = Path.cwd().resolve()
    if _exp_temp_origin(cwd) is not None:
        for d in (cwd, *cwd.parents):
            if (d / "dvc.yaml").exists() or (d / ".git").exists():
                return d
            if d.parent.name in ("exps", "standalone"):
                return d
    return repo_root()


def local_tracking_uri(root: str | Path | None = None) -> str:
    """``sqlite:///<root>/mlflow.db`` (default root: ``main_repo_root()``)."""
    root = Path(root).resolve() if root is not None else main_repo_root()
    return f"sqlite:///{(root / DB_FILE).as_posix()}"


def tracking_uri() -> str:
    """``$MLFLOW_TRACKING_URI`` if set (a relative ``sqlite:///x.db`` is taken relative to
    ``main_repo_root()``), else the SQLite database at the main repository's root."""
    uri = os.environ.get("MLFLOW_TRACKING_URI", "").strip()
    if not uri:
        return local_tracking_uri()
    if uri.startswith("sqlite:///") and not uri.startswith("sqlite:////"):
        rel = uri[len("sqlite:///") :]
        if rel and rel != ":memory:" and not rel.startswith("/"):
            return f"sqlite:///{(main_repo_root() / rel).as_posix()}"
    return uri


def is_remote(uri: str) -> bool:
    return uri.startswith(("http://", "https://"))


def redact_uri(uri: str) -> str:
    """``uri`` without user:password."""
    try:
        p = urllib.parse.urlsplit(uri)
    except ValueError:
        return uri
    if p.username is None and p.password is None:
        return uri
    host = p.hostname or ""
    if p.port:
        host = f"{host}:{p.port}"
    return urllib.parse.urlunsplit((p.scheme, host, p.path, p.query, p.fragment))


def probe(uri: str, timeout: float = HEALTH_TIMEOUT_S) -> str | None:
    """None when ``<uri>/health`` answers; else why not. Any HTTP answer below 500 counts as up
    (the server is there, e.g. behind a proxy that does not route /health)."""
    url = uri.rstrip("/") + "/health"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 (http/https)
            resp.read(64)
        return None
    except urllib.error.HTTPError as e:
        return None if e.code < 500 else f"HTTP {e.code}"
    except (urllib.error.URLError, OSError, ValueError) as e:
        reason = getattr(e, "reason", e)
        return f"{type(reason).__name__}: {reason}"


def resolve_tracking_uri(fail_on_unavailable: bool = True) -> str:
    """``tracking_uri()``, checked: an http(s) server that does not answer ``/health`` within
    ~3 s raises :class:`TrackingUnavailable`, or (``fail_on_unavailable=False``) gives a warning
    and the local SQLite database instead."""
    uri = tracking_uri()
    if not is_remote(uri):
        return uri
    why = probe(uri)
    if why is None:
        return uri
    shown = redact_uri(uri)
    if fail_on_unavailable:
        raise TrackingUnavailable(
            f"MLflow tracking server {shown} is unreachable ({why}). Start it, unset "
            "MLFLOW_TRACKING_URI to log to the repository's SQLite database, or set "
            "tracking.fail_on_unavailable: false in params.yaml to fall back to it."
        )
    fallback = local_tracking_uri()
    msg = f"MLflow tracking server {shown} is unreachable ({why}); logging to {fallback} instead"
    logger.warning(msg)
    warnings.warn(msg, RuntimeWarning, stacklevel=3)
    return fallback


def _sqlite_artifact_location(uri: str) -> str | None:
    """``<folder of the .db file>/mlartifacts`` as a file URI for an absolute SQLite URI."""
    if not uri.startswith("sqlite:////"):
        return None
    db = Path(uri[len("sqlite:///") :].split("?", 1)[0])
    return (db.parent / ARTIFACT_DIR).as_uri()


def ensure_experiment(client: MlflowClient, name: str, uri: str) -> str:
    """The id of experiment ``name``, created (artifacts under the SQLite file's folder for a
    local database; the server's default otherwise) or restored when needed."""
    exp = client.get_experiment_by_name(name)
    if exp is None:
        try:
            return client.create_experiment(name, artifact_location=_sqlite_artifact_location(uri))
        except MlflowException:  # created meanwhile by a parallel stage
            exp = client.get_experiment_by_name(name)
            if exp is None:
                raise
    if exp.lifecycle_stage == "deleted":
        client.restore_experiment(exp.experiment_id)
    return exp.experiment_id


# --------------------------------------------------------------------------- tags and params


def _git(cwd: Path, *args: str) -> str | None:
    try:
        out = subprocess.run(
            ["git", *args],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip()


def git_commit(cwd: Path | None = None) -> str:
    return _git(cwd or workspace_root(), "rev-parse", "HEAD") or UNKNOWN


def git_dirty(cwd: Path | None = None) -> str:
    """Whether tracked files differ from HEAD: "true" / "false", or "unknown" outside git.
    ``dvc.lock``, rewritten by every stage of a ``dvc repro``, is left out."""
    out = _git(
        cwd or workspace_root(),
        "status",
        "--porcelain",
        "--untracked-files=no",
        "--",
        ".",
        ":(exclude)dvc.lock",
    )
    if out is None:
        return UNKNOWN
    return "true" if out else "false"


def data_hashes(root: Path | None = None) -> dict[str, str]:
    """From ``dvc.lock``'s ``preprocess`` stage: ``data.hash`` (md5 of the ``data/prepared``
    output) and ``data.raw_hash`` (md5 over the md5s of its non-code deps, i.e. the raw CSVs).
    "unknown" when the lock file or entry is missing."""
    out = {"data.hash": UNKNOWN, "data.raw_hash": UNKNOWN}
    lock = (root or workspace_root()) / "dvc.lock"
    try:
        stage = (yaml.safe_load(lock.read_text(encoding="utf-8")) or {})["stages"]["preprocess"]
    except (OSError, KeyError, TypeError, yaml.YAMLError):
        return out
    for o in stage.get("outs") or []:
        if isinstance(o, dict) and str(o.get("path", "")).rstrip("/") == "data/prepared":
            out["data.hash"] = str(o.get("md5") or UNKNOWN)
    raw = sorted(
        (str(d["path"]), str(d.get("md5", "")))
        for d in stage.get("deps") or []
        if isinstance(d, dict) and "path" in d and not str(d["path"]).endswith(".py")
    )
    if raw:
        out["data.raw_hash"] = hashlib.md5(
            "\n".join(f"{p} {m}" for p, m in raw).encode(), usedforsecurity=False
        ).hexdigest()
    return out


def _path_prefixes() -> list[tuple[str, str]]:
    """(absolute prefix, replacement), longest first: repository roots -> ".", home -> "~"."""
    pairs: dict[str, str] = {}
    for root in {repo_root(), main_repo_root(), workspace_root()}:
        pairs[str(root)] = "."
    home = os.path.expanduser("~")
    if home and home not in ("/", "~"):
        pairs[str(Path(home).resolve())] = "~"
        pairs[home] = "~"
    return sorted(pairs.items(), key=lambda kv: -len(kv[0]))


def scrub(text: str, prefixes: list[tuple[str, str]] | None = None) -> str:
    """Absolute repository paths become relative ("."), the home directory becomes "~"."""
    for prefix, repl in prefixes if prefixes is not None else _path_prefixes():
        if len(prefix) > 1 and prefix in text:
            # whole path components only: HOME=/root must not touch /rootfs
            text = re.sub(re.escape(prefix) + r"(?![\w.-])", repl.replace("\\", r"\\"), text)
    return text


def _param_value(v: Any) -> str:
    s = v if isinstance(v, str) else json.dumps(v, default=str)
    return s[:_MAX_PARAM_LEN]


def loggable_params(params: Mapping[str, Any]) -> dict[str, str]:
    """Flattened ``params`` as MLflow param strings; keys that look like secrets are dropped,
    paths are scrubbed."""
    prefixes = _path_prefixes()
    out: dict[str, str] = {}
    for k, v in flatten(dict(params)).items():
        if _SECRET_KEY.search(k):
            logger.warning("not logging param %r: looks like a secret", k)
            continue
        out[scrub(k, prefixes)] = scrub(_param_value(v), prefixes)
    return out


def run_tags(stage: str) -> dict[str, str]:
    """Tags of a stage run: git commit / dirty flag, DVC stage and experiment, data hashes."""
    ws = workspace_root()
    commit = git_commit(ws)
    tags = {
        "git.commit": commit,
        "mlflow.source.git.commit": commit,
        "git.dirty": git_dirty(ws),
        "dvc.stage": stage,
        "mlflow.source.name": f"dvc:{stage}",
        "mlflow.source.type": "LOCAL",
        **data_hashes(ws),
    }
    if os.environ.get("DVC_EXP_NAME"):
        tags["dvc.exp_name"] = os.environ["DVC_EXP_NAME"]
    if os.environ.get("DVC_EXP_BASELINE_REV"):
        tags["dvc.exp_baseline_rev"] = os.environ["DVC_EXP_BASELINE_REV"]
    prefixes = _path_prefixes()
    return {k: scrub(str(v), prefixes) for k, v in tags.items()}


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


# --------------------------------------------------------------------------- the pyfunc model


def _texts(model_input: Any) -> list[str]:
    import pandas as pd

    if isinstance(model_input, pd.DataFrame):
        col = "text" if "text" in model_input.columns else model_input.columns[0]
        values = model_input[col].tolist()
    elif isinstance(model_input, str):
        values = [model_input]
    elif hasattr(model_input, "tolist"):
        values = model_input.tolist()
    else:
        values = list(model_input)
    return ["" if v is None else str(v) for v in values]


class ClassifierPyfunc(mlflow.pyfunc.PythonModel):
    """P(label == 1) for texts from a saved ``models/<name>`` directory (artifact
    ``model_dir``): input a DataFrame with a ``text`` column (or a list of strings), output a
    float64 array. A k-fold directory (``fold_<k>/``) gives the mean over its fold models."""

    # Logged with an explicit signature: no type-hint validation wrapper (it would also warn
    # "Add type hints" at class creation). MLflow's own PythonModel classes use this flag.
    _skip_type_hint_validation = True

    def __init__(self, max_length: int | None = None, batch_size: int = 64):
        self.max_length = max_length
        self.batch_size = int(batch_size)
        self._models: list[tuple[Any, Any]] = []

    def load_context(self, context) -> None:
        from papercls import inference

        self._models = [
            inference.load_classifier(d)
            for d in inference.model_dirs(context.artifacts["model_dir"])
        ]

    def predict(self, context, model_input, params=None):
        import numpy as np

        from papercls import inference

        texts = _texts(model_input)
        total = np.zeros(len(texts), dtype=np.float64)
        for model, tokenizer in self._models:
            total += inference.predict_proba(
                model, tokenizer, texts, self.max_length, self.batch_size, progress=False
            )
        return total / max(len(self._models), 1)


def model_signature():
    import numpy as np
    import pandas as pd
    from mlflow.models import infer_signature

    return infer_signature(
        pd.DataFrame({"text": ["a medical abstract", "a physics abstract"]}),
        np.array([0.9, 0.1], dtype=np.float64),
    )


def _pip_requirements() -> list[str]:
    from importlib.metadata import PackageNotFoundError, version

    reqs = []
    for pkg in ("mlflow", "torch", "transformers", "tokenizers", "safetensors", "numpy", "pandas"):
        try:
            reqs.append(f"{pkg}=={version(pkg).split('+', 1)[0]}")
        except PackageNotFoundError:
            reqs.append(pkg)
    return reqs


# --------------------------------------------------------------------------- the stage run


@dataclass
class StageRun:
    """Handle yielded by :func:`stage_run`."""

    run_id: str
    stage: str
    tracking_uri: str
    experiment_id: str
    client: MlflowClient
    tags: dict[str, str] = field(default_factory=dict)
    models: dict[str, Any] = field(default_factory=dict)  # resolved model_dir -> ModelInfo

    def _best_effort(self, what: str, fn, *args, **kwargs):
        """Remote servers: a failed metric/artifact upload warns instead of killing a long
        training run (DVC's outputs are the record of truth). Local SQLite: errors raise.
        A SIGTERM/SIGINT during the call waits until it returns (:func:`shielded`)."""
        with shielded():
            if not is_remote(self.tracking_uri):
                return fn(*args, **kwargs)
            try:
                return fn(*args, **kwargs)
            except (MlflowException, OSError) as e:
                logger.warning("MLflow %s failed (%s): %s", what, redact_uri(self.tracking_uri), e)
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
        prefixes = _path_prefixes()
        with shielded():
            for k, v in tags.items():
                self.client.set_tag(self.run_id, k, scrub(str(v), prefixes))

    def log_model_dir(
        self,
        model_dir: str | Path,
        kind: str,
        name: str = "model",
        max_length: int | None = None,
        batch_size: int = 64,
    ):
        """Log a saved classifier directory as an MLflow pyfunc model (see the module
        docstring) and return its ``ModelInfo`` (``.model_uri`` for registration).

        ``kind``: "transformers" (stock ``save_pretrained`` model, e.g. the baseline) or
        "custom" (a ``papercls.models`` class, e.g. the topline); both load through
        ``papercls.inference.load_classifier``, the kind is recorded in the model metadata.
        ``max_length`` None: the length saved with the tokenizer by the train stage."""
        from papercls import inference

        model_dir = Path(model_dir).resolve()
        inference.model_dirs(model_dir)  # fail early on a directory that is not a model
        with shielded():
            info = mlflow.pyfunc.log_model(
                name=name,
                python_model=ClassifierPyfunc(max_length=max_length, batch_size=batch_size),
                artifacts={"model_dir": str(model_dir)},
                signature=model_signature(),
                pip_requirements=_pip_requirements(),
                metadata={"papercls_kind": kind, "papercls_stage": self.stage},
            )
        self.models[str(model_dir)] = info
        return info


class _SignalGuard:
    """SIGTERM and SIGINT raise :class:`StageTerminated` in the main thread, once; inside
    :meth:`shielded` blocks (MLflow writes) a signal waits until the block ends, so that it
    never lands inside a database transaction and leaves the run RUNNING."""

    def __init__(self) -> None:
        self.depth = 0
        self.pending: int | None = None
        self.fired = False

    def handler(self, signum, frame) -> None:
        if self.depth > 0 or self.fired:
            self.pending = signum
            return
        self.fired = True
        raise StageTerminated(f"received signal {signum}")

    @contextlib.contextmanager
    def shielded(self) -> Iterator[None]:
        self.depth += 1
        try:
            yield
        finally:
            self.depth -= 1
            if self.depth == 0 and self.pending is not None and not self.fired:
                signum, self.pending, self.fired = self.pending, None, True
                raise StageTerminated(f"received signal {signum}")


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
    The run ends FINISHED, FAILED on an exception, KILLED on KeyboardInterrupt or SIGTERM (a
    SIGTERM handler is installed for the run's duration and raises :class:`StageTerminated`).
    Raises :class:`TrackingUnavailable` when an http(s) tracking server does not answer,
    unless ``tracking.fail_on_unavailable`` is false (then: the local SQLite database).
    """
    from mlflow.entities import RunStatus

    configure_process()
    tcfg = dict(params.get("tracking") or {})
    uri = resolve_tracking_uri(bool(tcfg.get("fail_on_unavailable", True)))
    mlflow.set_tracking_uri(uri)
    client = MlflowClient(tracking_uri=uri)
    exp_id = ensure_experiment(client, str(tcfg.get("experiment") or DEFAULT_EXPERIMENT), uri)
    active = mlflow.active_run()
    if active is not None:
        raise RuntimeError(f"MLflow run {active.info.run_id} is already active in this process")
    tags = run_tags(stage)
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
            yield StageRun(run_id, stage, uri, exp_id, client, tags)
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
    try:
        active = mlflow.active_run()
        if active is not None and active.info.run_id == run_id:
            mlflow.end_run(status)
        else:
            client.set_terminated(run_id, status)
    except Exception as e:  # never mask the stage's own exception
        logger.warning("could not mark MLflow run %s %s: %s", run_id, status, e)
        warnings.warn(f"MLflow run {run_id} could not be closed: {e}", RuntimeWarning, 2)


def stage_main(main: Callable[..., int], *args: Any) -> int:
    """Exit code of a stage script's ``main(*args)``. An unreachable tracking server (with
    ``tracking.fail_on_unavailable: true``) becomes one ``error:`` line on stderr that names the
    URI, and exit code 2, instead of a traceback; nothing has been written at that point."""
    try:
        return int(main(*args) or 0)
    except TrackingUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


# --------------------------------------------------------------------------- registry


def _f1(value: Any) -> float:
    f1 = float(value)
    if not math.isfinite(f1):
        raise ValueError(f"F1 must be a finite number, got {value!r}")
    return f1


def register_candidate(
    run: StageRun,
    model_dir: str | Path,
    name: str,
    f1: float,
    kind: str = "custom",
) -> str:
    """Register ``model_dir`` (logged in ``run`` unless already logged there) as a new version
    of registered model ``name`` with alias ``candidate`` and tag ``f1``; returns the version.

    Call inside ``stage_run``; follow with :func:`promote_if_better`."""
    f1 = _f1(f1)
    key = str(Path(model_dir).resolve())
    info = run.models.get(key) or run.log_model_dir(model_dir, kind)
    version_tags = {F1_TAG: repr(f1), "run_id": run.run_id}
    for k in ("git.commit", "data.hash", "dvc.exp_name", "dvc.stage"):
        if k in run.tags:
            version_tags[k] = run.tags[k]
    with shielded():
        mv = mlflow.register_model(info.model_uri, name, tags=version_tags)
        version = str(mv.version)
        run.client.set_registered_model_alias(name, CANDIDATE_ALIAS, version)
        run.client.set_tag(run.run_id, "registry.version", f"{name}/{version}")
    return version


def champion(client: MlflowClient, name: str):
    """The model version with alias ``champion``, or None."""
    try:
        return client.get_model_version_by_alias(name, CHAMPION_ALIAS)
    except MlflowException:
        return None


def promote_if_better(client: MlflowClient, name: str, version: str | int, f1: float) -> bool:
    """Move alias ``champion`` to ``version`` when ``f1`` is strictly higher than the current
    champion's ``f1`` tag (no champion, or one without a readable tag: promote). Returns
    whether the alias moved. The version's ``f1`` tag is (re)written either way."""
    with shielded():
        return _promote(client, name, version, f1)


def _promote(client: MlflowClient, name: str, version: str | int, f1: float) -> bool:
    f1 = _f1(f1)
    version = str(version)
    client.set_model_version_tag(name, version, F1_TAG, repr(f1))
    current = champion(client, name)
    if current is not None:
        if str(current.version) == version:
            return False
        try:
            best = _f1(current.tags.get(F1_TAG))
        except (TypeError, ValueError):
            best = -math.inf
        if not f1 > best:
            logger.info(
                "candidate %s F1 %.4f does not beat champion %s F1 %.4f",
                version,
                f1,
                current.version,
                best,
            )
            return False
    client.set_registered_model_alias(name, CHAMPION_ALIAS, version)
    return True
