"""MLflow tracking for the pipeline: one run per DVC stage (``runs``), where runs go
(``uri``), provenance tags (``provenance``), the model registry (``registry``) and the pyfunc
model that serves a model directory (``serving``). Design notes: docs/TRACKING.md.

Importing this package does not import mlflow; :func:`stage_run` sets the process defaults
(:func:`configure_process`) before it does. ``ClassifierPyfunc`` is loaded on first access,
which is also how models logged as ``papercls.tracking.ClassifierPyfunc`` unpickle.
"""

from __future__ import annotations

import importlib
from typing import Any

from papercls.tracking.provenance import (
    UNKNOWN,
    data_hashes,
    git_commit,
    git_dirty,
    loggable_params,
    run_tags,
    scrub,
)
from papercls.tracking.registry import (
    CANDIDATE_ALIAS,
    CHAMPION_ALIAS,
    DEFAULT_REGISTER_NAME,
    F1_TAG,
    champion,
    promote_if_better,
    register_candidate,
    register_tuned,
)
from papercls.tracking.runs import (
    DEFAULT_EXPERIMENT,
    StageRun,
    StageTerminated,
    shielded,
    stage_main,
    stage_run,
)
from papercls.tracking.uri import (
    ARTIFACT_DIR,
    DB_FILE,
    HEALTH_TIMEOUT_S,
    TrackingUnavailable,
    configure_process,
    ensure_experiment,
    is_remote,
    local_tracking_uri,
    main_repo_root,
    probe,
    redact_uri,
    resolve_tracking_uri,
    tracking_uri,
    workspace_root,
)

_SERVING = ("ClassifierPyfunc", "model_signature")

__all__ = [
    "ARTIFACT_DIR",
    "CANDIDATE_ALIAS",
    "CHAMPION_ALIAS",
    "DB_FILE",
    "DEFAULT_EXPERIMENT",
    "DEFAULT_REGISTER_NAME",
    "F1_TAG",
    "HEALTH_TIMEOUT_S",
    "UNKNOWN",
    "StageRun",
    "StageTerminated",
    "TrackingUnavailable",
    "champion",
    "configure_process",
    "data_hashes",
    "ensure_experiment",
    "git_commit",
    "git_dirty",
    "is_remote",
    "local_tracking_uri",
    "loggable_params",
    "main_repo_root",
    "probe",
    "promote_if_better",
    "redact_uri",
    "register_candidate",
    "register_tuned",
    "resolve_tracking_uri",
    "run_tags",
    "scrub",
    "shielded",
    "stage_main",
    "stage_run",
    "tracking_uri",
    "workspace_root",
    *_SERVING,
]


def __getattr__(name: str) -> Any:
    """``ClassifierPyfunc`` / ``model_signature`` from :mod:`papercls.tracking.serving`, which
    imports mlflow: loaded only when asked for."""
    if name in _SERVING:
        return getattr(importlib.import_module("papercls.tracking.serving"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
