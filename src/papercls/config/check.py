"""The params.yaml check: every section, key, type, range and allowed value the code reads.

The first DVC stage (``check_params``) runs it, so that bad params stop ``dvc repro`` before DVC
removes any other stage's outputs (DVC deletes a stage's outputs just before running it); it
writes ``data/params_ok.json``, whose content never depends on the params, so a rerun of the
check alone reruns nothing downstream. ``papercls check-params [params.yaml]`` runs the same
check by hand. Unknown sections and keys are refused (with the list of known ones) so that a
typo does not pass silently; null is accepted where the code gives it a meaning.

Only light imports here (yaml, the template's field names): the stage takes well under a second.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from papercls.config.rules import (
    Field,
    Group,
    Problem,
    boolean,
    check_group,
    choice,
    integer,
    names,
    number,
    shown,
    text,
)
from papercls.data.template import FIELDS, SEP, template_fields
from papercls.errors import ParamsError

TRAINED = ("tfidf", "baseline", "topline")  # what the train stages produce (dvc.yaml)
MODELS = (*TRAINED, "ensemble")  # every model with predictions (the ensemble stage adds one)
ENSEMBLE_METHODS = ("mean", "logit", "rank")  # papercls.evaluation.ensemble.METHODS
THRESHOLD_METHODS = ("f1", "prior", "fixed")  # papercls.evaluation.thresholds.METHODS
MIXED_PRECISION = ("fp32", "auto", "bf16", "fp16", "no")  # papercls.training.config; "no" = fp32 (old spelling)
SELECT_METRICS = ("pr_auc", "roc_auc", "log_loss", "best_f1", "f1")  # papercls.training.selection
CLASS_WEIGHTS = ("none", "balanced")  # papercls.training.config.CLASS_WEIGHTS
ENGINES = ("torch", "onnx")  # papercls.inference.engine.ENGINES
PRECISIONS = ("auto", "fp32", "bf16", "int8")  # papercls.inference.engine.PRECISIONS
ONNX_PRECISIONS = ("auto", "fp32", "int8")  # what engine onnx takes
SEED_MAX = 2**31 - 1
# Below 3 word pieces the tokenizer keeps only its two special tokens, or (0, 1) does not
# truncate at all and training fails later with a tensor-size error.
MIN_MAX_LENGTH = 3
NULL_LENGTH = " (null: the tokenizer's limit)"
FIXED_NUMBER = "or a number in [0, 1], a fixed threshold"
MARKER = {"params": "valid", "schema": 1}  # data/params_ok.json: the same for all valid params


def _template(value: Any) -> str | None:
    if not isinstance(value, str) or not value.strip():
        example = "'{title} {sep} {abstract}'"
        return f"expected a template string such as {example}, got {shown(value)}"
    try:
        template_fields(value)
        value.format(sep=f" {SEP} ", **{f: "x" for f in FIELDS})
    except (ValueError, IndexError, KeyError, AttributeError) as exc:
        return str(exc) if str(exc).startswith("text_template") else f"not a usable template: {exc}"
    return None


def _mixed_precision(value: Any) -> str | None:
    if isinstance(value, bool):  # an unquoted no / off / false in YAML
        return (
            f"got {shown(value)}, a YAML boolean (an unquoted no reads as false, and "
            "`dvc exp run -S` drops the quotes of \"no\"); write fp32 for full precision"
        )
    return choice(MIXED_PRECISION)(value)


SEED = Field(integer(0, SEED_MAX))
PROBABILITY = number(0, 1)

ENCODER = Group(
    {
        "backbone": Field(text()),
        "kfold": Field(boolean()),
        "head": Group(
            {
                "hidden": Field(integer(1)),
                "mean_weight": Field(number()),
                "cls_weight": Field(number()),
                "dropout": Field(number(0, 1, hi_open=True)),
            },
            nullable=True,
        ),
        "max_length": Field(integer(MIN_MAX_LENGTH, nullable=True, note=NULL_LENGTH)),
        "batch_size": Field(integer(1)),
        "grad_accum": Field(integer(1)),
        "epochs": Field(integer(1)),
        "lr": Field(number(0, lo_open=True)),
        "warmup_ratio": Field(number(0, 1, hi_open=True)),
        "weight_decay": Field(number(0)),
        "patience": Field(integer(0, note=" (0: no early stopping)")),
        "seed": SEED,
        "threads": Field(integer(0, note=" (0: all cores)")),
        "max_grad_norm": Field(number(0)),
        "eval_batch_size": Field(integer(1)),
        "mixed_precision": Field(_mixed_precision),
        "select_best": Field(boolean()),
        "select_metric": Field(choice(SELECT_METRICS)),
        "min_steps": Field(integer(0, note=" (0: off)")),
        "class_weight": Field(choice(CLASS_WEIGHTS)),
        "checkpoint_dir": Field(text(nullable=True)),
        "keep_checkpoint": Field(boolean()),
        "max_epochs_this_run": Field(integer(1, nullable=True)),
        "progress": Field(boolean(nullable=True)),
        "processes": Field(integer(1, note=" (1: one process; N > 1: torchrun starts N)")),
    },
    required=True,
)

SCHEMA = Group(
    {
        "data": Group(
            {"train": Field(text(), required=True), "test": Field(text(), required=True)},
            required=True,
        ),
        "preprocess": Group(
            {
                "text_template": Field(_template, required=True),
                "valid_size": Field(number(0, 1, lo_open=True, hi_open=True), required=True),
                "folds": Field(integer(0, note=" (below 2: no folds)")),
                "seed": Field(SEED.check, required=True),
            },
            required=True,
        ),
        "tfidf": Group(
            {
                "max_features": Field(integer(0, nullable=True, note=" (0 or null: no limit)")),
                "ngram_max": Field(integer(1)),
                "C": Field(number(0, lo_open=True)),
                "seed": SEED,
                "max_iter": Field(integer(1)),
                "kfold": Field(boolean()),
            },
            required=True,
        ),
        "baseline": ENCODER,
        "topline": ENCODER,
        "ensemble": Group(
            {
                "members": Field(names(TRAINED)),
                "method": Field(choice(ENSEMBLE_METHODS)),
            },
            nullable=True,
        ),
        "evaluate": Group(
            {
                "models": Field(names(MODELS), required=True),
                "threshold": Field(PROBABILITY),
                "max_points": Field(integer(2)),
            },
            required=True,
        ),
        "thresholds": Group(
            {
                "method": Field(choice(THRESHOLD_METHODS, PROBABILITY, FIXED_NUMBER)),
                "fixed": Field(PROBABILITY),
                "expected_rate": Field(number(0, 1, nullable=True)),
                "expected_count": Field(integer(0, nullable=True)),
                "bootstrap": Field(integer(0, nullable=True, note=" (0: no interval)")),
                "seed": SEED,
            },
            required=True,
            nullable=True,
        ),
        "inference": Group(
            {"engine": Field(choice(ENGINES)), "precision": Field(choice(PRECISIONS))},
            nullable=True,
        ),
        "predict": Group(
            {
                "model": Field(choice(MODELS), required=True),
                "output": Field(text(), required=True),
                "probs_output": Field(text(nullable=True)),
            },
            required=True,
        ),
        "tracking": Group(
            {
                "experiment": Field(text(), required=True),
                "register_name": Field(text(nullable=True)),
                "fail_on_unavailable": Field(boolean(), required=True),
            },
            required=True,
        ),
    }
)


def _cross_checks(params: dict[str, Any]) -> list[Problem]:
    """Rules between sections; each runs only when the values it compares are themselves fine."""
    problems: list[Problem] = []
    models = (params.get("evaluate") or {}).get("models")
    model = (params.get("predict") or {}).get("model")
    if isinstance(models, list) and model in MODELS and model not in models:
        allowed = ", ".join(models)
        problems.append(
            ("predict.model", f"got {model!r}; allowed values: evaluate.models ({allowed})")
        )
    inference = params.get("inference") or {}
    engine = str(inference.get("engine", "torch")).strip().lower()
    precision = str(inference.get("precision", "fp32")).strip().lower()
    if engine == "onnx" and precision not in ONNX_PRECISIONS:
        allowed = ", ".join(ONNX_PRECISIONS)
        problems.append(
            ("inference.precision", f"got {precision!r} with engine onnx; allowed: {allowed}")
        )
    folds = (params.get("preprocess") or {}).get("folds", 5)
    for name in ("baseline", "topline"):
        section = params.get(name)
        if isinstance(section, dict) and section.get("kfold") is True and isinstance(folds, int):
            if folds < 2:
                problems.append(
                    (f"{name}.kfold", f"true needs preprocess.folds >= 2, got folds={folds}")
                )
    return problems


def check_params(params: Any) -> list[Problem]:
    """Every problem of a params.yaml mapping: ``[(dotted key, message), ...]``; [] when fine."""
    if not isinstance(params, dict):
        return [("", f"expected a mapping of sections at the top level, got {shown(params)}")]
    problems: list[Problem] = []
    known = ", ".join(SCHEMA.fields)
    for name in params:
        if name not in SCHEMA.fields:
            problems.append((str(name), f"unknown section; known sections: {known}"))
    for name, spec in SCHEMA.fields.items():
        if name not in params:
            if spec.required:
                problems.append((name, "missing section; it is required"))
        else:
            problems += check_group(params[name], spec, name)
    return problems + (_cross_checks(params) if not problems else [])


def check_section(name: str, section: Any) -> list[Problem]:
    """The problems of one section alone (e.g. ``preprocess`` for ``papercls validate``)."""
    return check_group(section, SCHEMA.fields[name], name)


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


def check_params_file(path: str | Path) -> dict[str, Any]:
    """The params of ``path`` when every check passes; else ParamsError listing each problem."""
    params = read_params_file(path)
    problems = check_params(params)
    if problems:
        raise ParamsError(path, problems)
    return params


def write_marker(path: str | Path) -> Path:
    """Write :data:`MARKER` (the same bytes for all valid params) to ``path``, atomically."""
    from papercls.data.io import write_json

    write_json(MARKER, path)
    return Path(path)
