"""Where runs go: repository roots, the tracking URI, its health probe, the experiment.

See docs/TRACKING.md for why the default database is the *main* repository's, also for
``dvc exp run --temp/--queue`` runs.
"""

from __future__ import annotations

import logging
import os
import urllib.error
import urllib.parse
import urllib.request
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

from papercls.params import repo_root

if TYPE_CHECKING:
    from mlflow import MlflowClient

logger = logging.getLogger(__name__)

DB_FILE = "mlflow.db"
ARTIFACT_DIR = "mlartifacts"
HEALTH_TIMEOUT_S = 3.0
_EXP_TMP_PARTS = (".dvc", "tmp", "exps")

# Set before mlflow is imported or used: small HTTP retry/timeout values so that a dead server
# fails fast, no telemetry (offline machines), and no Trainer MLflow callback creating
# duplicate runs (our training loop does not use Trainer, but stay safe).
_ENV_DEFAULTS = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "30",
    "MLFLOW_DISABLE_TELEMETRY": "true",
}
_ENV_FORCED = {"DISABLE_MLFLOW_INTEGRATION": "TRUE"}


class TrackingUnavailable(RuntimeError):
    """The configured MLflow tracking server does not answer."""


def configure_process() -> None:
    """Environment defaults for this process (existing values of the MLflow HTTP settings are
    kept; ``DISABLE_MLFLOW_INTEGRATION`` is always ``TRUE``). Called when a stage run starts,
    before this package imports mlflow."""
    for k, v in _ENV_DEFAULTS.items():
        os.environ.setdefault(k, v)
    os.environ.update(_ENV_FORCED)


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
    from mlflow.exceptions import MlflowException

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
