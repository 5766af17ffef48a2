"""The MLflow Model Registry: a logged model becomes a version with alias ``candidate`` and its
F1 as tag ``f1``; alias ``champion`` moves to it only when that F1 is strictly higher than the
current champion's, or when the champion predates the current format (no tag ``format``)."""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from papercls.tracking.runs import StageRun, shielded

if TYPE_CHECKING:
    from mlflow import MlflowClient

logger = logging.getLogger(__name__)

DEFAULT_REGISTER_NAME = "paper-classifier"
CANDIDATE_ALIAS = "candidate"
CHAMPION_ALIAS = "champion"
F1_TAG = "f1"
THRESHOLD_TAG = "threshold"
FORMAT_TAG = "format"  # papercls.tracking.serving.FORMAT of the logged model


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
    *,
    threshold: float = 0.5,
    template: str | None = None,
) -> str:
    """Log ``model_dir`` in ``run`` as a model that labels paper rows at ``threshold`` with
    ``template`` (:func:`papercls.tracking.serving.log_servable`) and register it as a new
    version of ``name`` with alias ``candidate`` and tags ``f1``, ``threshold``, ``format``;
    returns the version.

    Call inside ``stage_run``; follow with :func:`promote_if_better`."""
    import mlflow

    from papercls.tracking.serving import FORMAT, log_servable

    f1 = _f1(f1)
    info = log_servable(run, model_dir, kind, template=template, threshold=threshold)
    version_tags = {
        F1_TAG: repr(f1),
        THRESHOLD_TAG: repr(float(threshold)),
        FORMAT_TAG: FORMAT,
        "run_id": run.run_id,
    }
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
    from mlflow.exceptions import MlflowException

    try:
        return client.get_model_version_by_alias(name, CHAMPION_ALIAS)
    except MlflowException:
        return None


def promote_if_better(client: MlflowClient, name: str, version: str | int, f1: float) -> bool:
    """Move alias ``champion`` to ``version`` when ``f1`` is strictly higher than the current
    champion's ``f1`` tag (no champion, or one without a readable tag: promote), or when
    ``version`` has a ``format`` tag and the champion none (a pickled model logged before
    models from code, taking only ``text``: replaced whatever its F1). Returns
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
        mine = client.get_model_version(name, version).tags.get(FORMAT_TAG)
        if mine is not None and FORMAT_TAG not in current.tags:
            logger.info(
                "champion %s was logged in an older format; candidate %s (%s) replaces it",
                current.version,
                version,
                mine,
            )
            client.set_registered_model_alias(name, CHAMPION_ALIAS, version)
            return True
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


def register_tuned(
    run: StageRun,
    model_dir: str | Path,
    name: str,
    f1: float,
    *,
    threshold: float,
    template: str,
) -> str:
    """The tune_thresholds stage's registration: ``model_dir``, labelling at its tuned
    ``threshold`` the rows rendered with ``template``, becomes the ``candidate`` of ``name``
    with its tuned F1, and ``champion`` when better (:func:`promote_if_better`). Returns the
    line the stage prints; a missing ``model_dir`` registers nothing."""
    model_dir = Path(model_dir)
    if not model_dir.exists():
        return f"registry: {model_dir} not found; nothing registered"
    f1 = float(f1)
    version = register_candidate(run, model_dir, name, f1, threshold=threshold, template=template)
    promoted = promote_if_better(run.client, name, version, f1)
    return (
        f"registry: {name} v{version} candidate (F1 {f1:.4f} at threshold {threshold:.4g}), "
        f"champion: {promoted}"
    )
