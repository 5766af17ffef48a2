"""The params.yaml check: every section, key, type, range and allowed value the code reads
(the schema: :mod:`papercls.config.schema`), and the rules between sections.

The first DVC stage (``check_params``) runs it, so that bad params stop ``dvc repro`` before DVC
removes any other stage's outputs (DVC deletes a stage's outputs just before running it); it
writes ``data/params_ok.json``, whose content never depends on the params, so a rerun of the
check alone reruns nothing downstream. ``papercls check-params [params.yaml]`` runs the same
check by hand. Unknown sections and keys are refused (with the list of known ones) so that a
typo does not pass silently; null is accepted where the code gives it a meaning.

Only light imports here (yaml, pydantic, the template's field names): the stage takes well
under a second.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from papercls.config.messages import Problem, problems, shown
from papercls.config.schema import (
    CLASS_WEIGHTS,
    ENGINES,
    ENSEMBLE_METHODS,
    MIXED_PRECISION,
    MODELS,
    ONNX_PRECISIONS,
    PRECISIONS,
    SELECT_METRICS,
    THRESHOLD_METHODS,
    TRAINED,
    Params,
)
from papercls.errors import ParamsError

__all__ = [
    "CLASS_WEIGHTS",
    "ENGINES",
    "ENSEMBLE_METHODS",
    "MARKER",
    "MIXED_PRECISION",
    "MODELS",
    "ONNX_PRECISIONS",
    "PRECISIONS",
    "SELECT_METRICS",
    "THRESHOLD_METHODS",
    "TRAINED",
    "check_params",
    "check_params_file",
    "check_section",
    "read_params_file",
    "validated",
    "write_marker",
]

MARKER = {"params": "valid", "schema": 1}  # data/params_ok.json: the same for all valid params


def _cross_checks(params: Params) -> list[Problem]:
    """Rules between sections, on params that passed the schema."""
    out: list[Problem] = []
    models, model = params.evaluate.models, params.predict.model
    if model not in models:
        out.append(
            (
                "predict.model",
                f"got {model!r}; allowed values: evaluate.models ({', '.join(models)})",
            )
        )
    if params.inference is not None:
        engine, precision = params.inference.engine, params.inference.precision
        if engine == "onnx" and precision not in ONNX_PRECISIONS:
            allowed = ", ".join(ONNX_PRECISIONS)
            out.append(
                ("inference.precision", f"got {precision!r} with engine onnx; allowed: {allowed}")
            )
    folds = params.preprocess.folds
    for name in ("baseline", "topline"):
        if getattr(params, name).kfold and folds < 2:
            out.append((f"{name}.kfold", f"true needs preprocess.folds >= 2, got folds={folds}"))
    return out


def validated(params: Any) -> tuple[Params | None, list[Problem]]:
    """``(the validated model, [])`` for good params; ``(None, [(dotted key, message), ...])``
    otherwise."""
    if not isinstance(params, dict):
        return None, [("", f"expected a mapping of sections at the top level, got {shown(params)}")]
    try:
        model = Params.model_validate(params)
    except ValidationError as exc:
        return None, problems(Params, exc, params)
    found = _cross_checks(model)
    return (None, found) if found else (model, [])


def check_params(params: Any) -> list[Problem]:
    """Every problem of a params.yaml mapping: ``[(dotted key, message), ...]``; [] when fine."""
    return validated(params)[1]


def check_section(name: str, section: Any) -> list[Problem]:
    """The problems of one section alone (e.g. ``preprocess`` for ``papercls validate``)."""
    model: type[BaseModel] = Params.model_fields[name].annotation
    if not isinstance(model, type):  # a nullable section: Section | None
        model = next(a for a in model.__args__ if a is not type(None))
    try:
        model.model_validate(section)
    except ValidationError as exc:
        return problems(model, exc, section, name)
    return []


def read_params_file(path: str | Path) -> Any:
    """The parsed YAML of ``path``; ParamsError (exit code 2) when it is missing or not YAML."""
    path = Path(path)
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ParamsError(path, [("", "file not found")]) from None
    except (IsADirectoryError, UnicodeDecodeError) as exc:
        raise ParamsError(path, [("", f"cannot read it as UTF-8 text: {exc}")]) from None
    except yaml.YAMLError as exc:
        raise ParamsError(path, [("", f"not valid YAML: {exc}")]) from None


def check_params_file(path: str | Path, environment: bool = False) -> dict[str, Any]:
    """The params of ``path`` when every check passes; else ParamsError listing each problem.
    ``environment``: also what the params name must find on this machine (backbones, the test
    rows, the tracking server: :mod:`papercls.config.environment`; relative paths from the
    folder of ``path``), once the params themselves are valid."""
    params = read_params_file(path)
    model, found = validated(params)
    if model is not None and environment:
        from papercls.config.environment import check_environment

        found = check_environment(model, Path(path).parent)
    if found:
        raise ParamsError(path, found)
    return params


def write_marker(path: str | Path) -> Path:
    """Write :data:`MARKER` (the same bytes for all valid params) to ``path``, atomically."""
    from papercls.data.io import write_json

    write_json(MARKER, path)
    return Path(path)
