"""MLflow tracking for the pipeline: one run per DVC stage (``runs``), where runs go
(``uri``), provenance tags (``provenance``), the model registry (``registry``) and the pyfunc
model that serves a model directory (``serving``). Design notes: docs/TRACKING.md.

Importing this package does not import mlflow; :func:`stage_run` sets the process defaults
(:func:`configure_process`) before it does. The registry and serving names are loaded on first
access, so that a stage which only records a run (evaluate) does not depend on the model code
behind them; project code imports them from their modules (``papercls.tracking.registry``),
so that the stages' dvc.yaml deps follow its imports. Access to ``ClassifierPyfunc`` is also
how models logged as ``papercls.tracking.ClassifierPyfunc`` unpickle.
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

_LAZY = {
    "papercls.tracking.registry": (
        "CANDIDATE_ALIAS",
        "CHAMPION_ALIAS",
        "DEFAULT_REGISTER_NAME",
        "F1_TAG",
        "champion",
        "promote_if_better",
        "register_candidate",
        "register_tuned",
    ),
    "papercls.tracking.serving": ("ClassifierPyfunc", "model_signature"),
}
_LAZY_MODULE = {name: module for module, names in _LAZY.items() for name in names}

__all__ = [
    "ARTIFACT_DIR",
    "DB_FILE",
    "DEFAULT_EXPERIMENT",
    "HEALTH_TIMEOUT_S",
    "UNKNOWN",
    "StageRun",
    "StageTerminated",
    "TrackingUnavailable",
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
    "redact_uri",
    "resolve_tracking_uri",
    "run_tags",
    "scrub",
    "shielded",
    "stage_main",
    "stage_run",
    "tracking_uri",
    "workspace_root",
    *_LAZY_MODULE,
]


def __getattr__(name: str) -> Any:
    """The registry and serving names (:data:`_LAZY`), imported only when asked for."""
    if name in _LAZY_MODULE:
        return getattr(importlib.import_module(_LAZY_MODULE[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
