"""Where runs go: repository roots, the tracking URI, its health probe, the experiment.

See docs/TRACKING.md for why the default database is the *main* repository's, also for
``dvc exp run --temp/--queue`` runs.
"""

from __future__ import annotations

import base64
import http.client
import logging
import os
import re
import urllib.error
import urllib.parse
import urllib.request
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

from papercls.config.params import repo_root

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
    """The configured MLflow tracking store cannot be used: a server that does not answer,
    refuses the credentials or is not MLflow, or a file store (which MLflow 3 refuses)."""


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


def is_file_store(uri: str) -> bool:
    """``file:`` URIs and plain paths (``./mlruns``): MLflow's file store, which MLflow 3
    refuses to open."""
    try:
        scheme = urllib.parse.urlsplit(uri).scheme.lower()
    except ValueError:  # does not parse (e.g. an unclosed IPv6 address): the health check names it
        return False
    return scheme == "file" or len(scheme) == 1 or (scheme == "" and uri != "databricks")


def _refuse_file_store(uri: str) -> None:
    if is_file_store(uri):
        raise TrackingUnavailable(
            f"MLFLOW_TRACKING_URI {redact_uri(uri)} is a file store, which this MLflow "
            "refuses: set it to a database such as sqlite:///path/to/mlflow.db (unset, runs "
            "go to the repository's sqlite:///.../mlflow.db) or to a tracking server's "
            "http(s):// address"
        )


# Userinfo (``user:password@``) after ``scheme://``, up to the last "@" of the authority; a
# regular expression and not urlsplit, so that URIs that do not parse are redacted too.
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)([^/?#\s]*)@")
_QUERY_PARAM = re.compile(r"([?&;#])([^=&;#\s]+)=([^&;#\s]*)")
_SECRET_NAME = re.compile(
    r"(?i)(token|key|sig|secret|passw|pwd|auth|credential|session|cookie|code)"
)
_SECRET_ENV = ("MLFLOW_TRACKING_PASSWORD", "MLFLOW_TRACKING_TOKEN")
_MIN_SECRET_LEN = 4  # shorter values are not searched for in free text (they would mask words)
REDACTED = "***"


def _mask_query(text: str) -> str:
    """Values of query-string (or fragment) parameters named like a secret become ``***``."""

    def sub(m: re.Match) -> str:
        if _SECRET_NAME.search(urllib.parse.unquote(m.group(2))):
            return f"{m.group(1)}{m.group(2)}={REDACTED}"
        return m.group(0)

    return _QUERY_PARAM.sub(sub, text)


def redact_uri(uri: str) -> str:
    """``uri`` without user:password and with the values of secret-looking query parameters
    (``token``, ``access_token``, ``key``, ``sig``, ``password``...) masked; also for a URI that
    does not parse."""
    return _mask_query(_USERINFO.sub(r"\1", uri))


def _known_secrets() -> list[str]:
    """Secret values this process may hold: MLflow's password / token variables and the
    password of ``$MLFLOW_TRACKING_URI``, longest first."""
    values = {os.environ.get(k, "") for k in _SECRET_ENV}
    for m in _USERINFO.finditer(os.environ.get("MLFLOW_TRACKING_URI", "")):
        password = m.group(2).partition(":")[2]
        values.update((password, urllib.parse.unquote(password)))
    return sorted((v for v in values if len(v) >= _MIN_SECRET_LEN), key=len, reverse=True)


def redact_text(text: object) -> str:
    """``str(text)`` with every URI in it redacted (:func:`redact_uri`) and the known secret
    values (:func:`_known_secrets`) replaced by ``***``: for messages, log lines and tags."""
    out = redact_uri(str(text))
    for secret in _known_secrets():
        out = out.replace(secret, REDACTED)
    return out


def split_credentials(uri: str) -> tuple[str, str | None, str | None]:
    """``(uri without userinfo, user, password)`` (percent-decoded; None when absent). A URI
    that does not parse comes back unchanged, without credentials."""
    try:
        parts = urllib.parse.urlsplit(uri)
        parts.port  # noqa: B018  (raises ValueError on a bad port)
    except ValueError:
        return uri, None, None
    if "@" not in parts.netloc:
        return uri, None, None
    userinfo, _, hostport = parts.netloc.rpartition("@")
    user, colon, password = userinfo.partition(":")
    clean = urllib.parse.urlunsplit(
        (parts.scheme, hostport, parts.path, parts.query, parts.fragment)
    )
    unquote = urllib.parse.unquote
    return clean, unquote(user) or None, unquote(password) if colon else None


def auth_header(user: str | None, password: str | None) -> str | None:
    """The ``Authorization`` header MLflow's HTTP client sends: basic auth from the URI's
    userinfo, else from ``MLFLOW_TRACKING_USERNAME`` / ``MLFLOW_TRACKING_PASSWORD``, else a
    bearer ``MLFLOW_TRACKING_TOKEN``; None without credentials."""
    if not (user or password):
        user = os.environ.get("MLFLOW_TRACKING_USERNAME") or None
        password = os.environ.get("MLFLOW_TRACKING_PASSWORD") or None
        if not (user and password):
            user = password = None
    if user or password:
        pair = f"{user or ''}:{password or ''}".encode()
        return "Basic " + base64.standard_b64encode(pair).decode("ascii")
    token = os.environ.get("MLFLOW_TRACKING_TOKEN")
    return f"Bearer {token}" if token else None


def use_credentials(uri: str) -> str:
    """``uri`` without its userinfo, whose user and password move to
    ``MLFLOW_TRACKING_USERNAME`` / ``MLFLOW_TRACKING_PASSWORD`` (as with requests, the URI's
    credentials win over those variables). MLflow sends them as basic auth, and no URL that
    MLflow builds, prints ("View run ... at") or puts in an error carries the password.
    Userinfo that MLflow's variables cannot express (a user without password, e.g. a token as
    the user) stays in the URI, for requests to send, and MLflow prints no run URL."""
    clean, user, password = split_credentials(uri)
    if user and password:
        os.environ["MLFLOW_TRACKING_USERNAME"] = user
        os.environ["MLFLOW_TRACKING_PASSWORD"] = password
        return clean
    if user or password:
        os.environ["MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT"] = "true"
    return uri


def _looks_like_html(body: bytes) -> bool:
    head = body.lstrip().lower()
    return head.startswith((b"<!doctype", b"<html", b"<?xml", b"<head", b"<body"))


def probe(uri: str, timeout: float = HEALTH_TIMEOUT_S) -> str | None:
    """None when ``<uri>/health`` answers; else why not. Any HTTP answer below 500 counts as up
    (the server is there, e.g. behind a proxy that does not route /health), unless it is a
    successful answer with an HTML page (a web server that is not MLflow). The request goes to
    the host without the URI's userinfo and carries the credentials MLflow would send
    (:func:`auth_header`)."""
    clean, user, password = split_credentials(uri)
    header = auth_header(user, password)
    try:
        request = urllib.request.Request(clean.rstrip("/") + "/health")
        if header:
            request.add_unredirected_header("Authorization", header)
        with urllib.request.urlopen(request, timeout=timeout) as resp:  # noqa: S310 (http/https)
            body = resp.read(512)
        if _looks_like_html(body):
            return "it answers /health with an HTML page: not an MLflow tracking server"
        return None
    except urllib.error.HTTPError as e:
        return None if e.code < 500 else f"HTTP {e.code}"
    except (urllib.error.URLError, OSError, ValueError, http.client.HTTPException) as e:
        reason = getattr(e, "reason", e)
        return redact_text(f"{type(reason).__name__}: {reason}")


def resolve_tracking_uri(fail_on_unavailable: bool = True) -> str:
    """``tracking_uri()``, checked: an http(s) server that does not answer ``/health`` within
    ~3 s raises :class:`TrackingUnavailable`, or (``fail_on_unavailable=False``) gives a warning
    and the local SQLite database instead. A server's URI comes back without its userinfo
    (:func:`use_credentials`). A file store (``file:`` or a plain path) raises
    :class:`TrackingUnavailable` saying to use SQLite."""
    uri = tracking_uri()
    _refuse_file_store(uri)
    if not is_remote(uri):
        return uri
    why = probe(uri)
    if why is None:
        return use_credentials(uri)
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

    try:
        exp = client.get_experiment_by_name(name)
    except MlflowException as e:
        code = e.get_http_status_code()
        if is_remote(uri) and "not in a valid JSON format" in str(e):
            raise TrackingUnavailable(
                f"{redact_uri(uri)} is not an MLflow tracking server: its API answers with "
                "something other than JSON (an HTML page?). Check MLFLOW_TRACKING_URI"
            ) from None
        if code not in (401, 403):
            raise
        raise TrackingUnavailable(
            f"MLflow tracking server {redact_uri(uri)} refused the credentials (HTTP {code}): "
            "give them in MLFLOW_TRACKING_URI (user:password@host), as MLFLOW_TRACKING_USERNAME "
            "and MLFLOW_TRACKING_PASSWORD, or as MLFLOW_TRACKING_TOKEN."
        ) from None
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
