"""Logging a saved ``models/<name>`` directory as an MLflow pyfunc model that serves papers.

MLflow 3's "models from code": the model class is the source file ``served_model.py``, not a
pickled object; ``papercls`` travels with the model as code (``code_paths``); the weights are
the directory's safetensors files, logged as-is (artifact ``model_dir``); the decision
threshold and the text template are the model's ``model_config``. So a logged model loads from
its artifacts alone and unpickles nothing. See docs/TRACKING.md.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import mlflow.pyfunc

from papercls.data.template import SEP
from papercls.evaluation.threshold_file import check_threshold

if TYPE_CHECKING:
    from papercls.tracking.runs import StageRun

MODEL_FILE = Path(__file__).with_name("served_model.py")
PACKAGE_DIR = Path(__file__).resolve().parents[1]  # src/papercls, logged as the model's code
FORMAT = "code-1"  # models from code, paper rows in, prob and label out
DEFAULT_THRESHOLD = 0.5
DEFAULT_MAX_ROWS = 10_000  # rows per request (model config max_rows); batch scoring for more
INPUT_COLUMNS = ("title", "abstract", "Keywords", "author", "text")
EXAMPLE_ROWS = [
    {
        "title": "Low-dose aspirin after minor stroke in elderly patients",
        "abstract": "In a randomised trial of 1,204 patients aged over 70, daily aspirin "
        "lowered the rate of recurrent stroke at one year without more major bleeding.",
        "Keywords": "stroke, aspirin, randomised controlled trial",
        "author": "A. Rossi, B. Chen",
    },
    {
        "title": "Phonon transport in twisted bilayer graphene",
        "abstract": "We compute the thermal conductivity of twisted bilayer graphene with "
        "molecular dynamics and find a minimum near the magic angle.",
        "Keywords": "graphene, phonons, thermal conductivity",
        "author": "C. Okafor",
    },
]


def checked_config(config: dict[str, Any] | None) -> dict[str, Any]:
    """The served model's settings, checked: ``threshold`` in [0, 1] (label 1 where
    ``prob >= threshold``), ``template`` (None: rows must bring a ``text`` column),
    ``max_length`` (None: as trained), ``batch_size`` and ``max_rows`` (rows per request,
    default :data:`DEFAULT_MAX_ROWS`). Raises ValueError naming the key.
    The template's fields are checked where the template is used (``papercls.data.text``)."""
    cfg = dict(config or {})
    threshold = check_threshold(cfg.get("threshold", DEFAULT_THRESHOLD), "model config 'threshold'")
    template = cfg.get("template")
    if template is not None:
        if not isinstance(template, str):
            raise ValueError(f"model config 'template' must be a string, got {template!r}")
    out = {"threshold": threshold, "template": template}
    defaults = (("max_length", None), ("batch_size", 64), ("max_rows", DEFAULT_MAX_ROWS))
    for key, default in defaults:
        value = cfg.get(key, default)
        if value is None and key == "max_length":
            out[key] = value
            continue
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"model config {key!r} must be an integer, got {value!r}")
        if value < 1:
            raise ValueError(f"model config {key!r} must be positive, got {value}")
        out[key] = value
    return out


def prepared_template(prepared_dir: str | Path) -> str:
    """The text template the preprocess stage rendered (``template`` in ``meta.json``; the
    stage checked its fields)."""
    meta = Path(prepared_dir) / "meta.json"
    try:
        data = json.loads(meta.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FileNotFoundError(f"{meta} not found: run the preprocess stage first") from None
    except ValueError as exc:
        raise ValueError(f"{meta}: not valid JSON ({exc})") from None
    template = data.get("template") if isinstance(data, dict) else None
    if not isinstance(template, str) or not template:
        raise ValueError(f"{meta}: no 'template' string: rerun the preprocess stage")
    return template


def model_signature():
    """Input: optional string columns (the CSV's paper columns, or ``text``; which ones a row
    needs is checked by the model); output: ``prob`` (double) and ``label`` (long)."""
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, Schema

    inputs = Schema([ColSpec("string", c, required=False) for c in INPUT_COLUMNS])
    outputs = Schema([ColSpec("double", "prob"), ColSpec("long", "label")])
    return ModelSignature(inputs=inputs, outputs=outputs)


def input_example(template: str | None):
    """Two rows in the CSV's columns; a model without a template gets their texts instead."""
    import pandas as pd

    rows = pd.DataFrame(EXAMPLE_ROWS)
    if template is not None:
        return rows
    return pd.DataFrame({"text": (rows["title"] + f" {SEP} " + rows["abstract"]).tolist()})


def pip_requirements() -> list[str]:
    from importlib.metadata import PackageNotFoundError, version

    reqs = []
    for pkg in (
        "mlflow",
        "torch",
        "transformers",
        "tokenizers",
        "safetensors",
        "numpy",
        "pandas",
        "scikit-learn",
        "pyyaml",
    ):
        try:
            reqs.append(f"{pkg}=={version(pkg).split('+', 1)[0]}")
        except PackageNotFoundError:
            reqs.append(pkg)
    return reqs


def log_pyfunc(
    model_dir: str,
    kind: str,
    stage: str,
    name: str,
    max_length: int | None,
    batch_size: int,
    *,
    threshold: float = DEFAULT_THRESHOLD,
    template: str | None = None,
):
    """``mlflow.pyfunc.log_model`` of ``model_dir`` into the active run, as code
    (``served_model.py``) with its threshold and template; its ``ModelInfo``. MLflow loads the
    logged model once to check the input example.

    MLflow records where the code file came from: it is logged from a temporary copy, so that
    the model does not name the checkout's absolute path."""
    config = checked_config(
        {
            "threshold": threshold,
            "template": template,
            "max_length": max_length,
            "batch_size": batch_size,
        }
    )
    with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings():
        # MLflow's own DataFrame-example code trips a pandas deprecation; nothing to act on
        warnings.filterwarnings("ignore", "Operation with range is deprecated", module="mlflow")
        code_file = Path(tmp) / MODEL_FILE.name
        shutil.copyfile(MODEL_FILE, code_file)
        return mlflow.pyfunc.log_model(
            name=name,
            python_model=str(code_file),
            artifacts={"model_dir": model_dir},
            model_config=config,
            code_paths=[str(PACKAGE_DIR)],
            signature=model_signature(),
            input_example=input_example(config["template"]),
            pip_requirements=pip_requirements(),
            metadata={"papercls_kind": kind, "papercls_stage": stage, "papercls_format": FORMAT},
        )


def log_servable(
    run: StageRun,
    model_dir: str | Path,
    kind: str,
    *,
    template: str | None,
    threshold: float = DEFAULT_THRESHOLD,
    name: str = "model",
    max_length: int | None = None,
    batch_size: int = 64,
):
    """Log ``model_dir`` in ``run`` as a model that takes paper rows (:func:`log_pyfunc`) and
    return its ``ModelInfo``. ``kind``: "transformers" (a stock ``save_pretrained`` model) or
    "custom" (a ``papercls.models.fused_head`` class), recorded in the model metadata."""
    from papercls.inference import encoder as inference
    from papercls.tracking.runs import shielded

    model_dir = Path(model_dir).resolve()
    inference.model_dirs(model_dir)  # fail early on a directory that is not a model
    with shielded():
        info = log_pyfunc(
            str(model_dir),
            kind,
            run.stage,
            name,
            max_length,
            batch_size,
            threshold=threshold,
            template=template,
        )
    run.models[str(model_dir)] = info
    return info


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
    """Legacy: the pickled pyfunc of model versions logged before models from code (``text``
    in, probabilities out). Kept only so that those versions still load; nothing new is logged
    with it."""

    _skip_type_hint_validation = True

    def __init__(self, max_length: int | None = None, batch_size: int = 64):
        self.max_length = max_length
        self.batch_size = int(batch_size)
        self._models: list[tuple[Any, Any]] = []

    def load_context(self, context) -> None:
        from papercls.inference import encoder as inference

        self._models = list(inference.iter_classifiers(context.artifacts["model_dir"]))

    def predict(self, context, model_input, params=None):
        from papercls.inference import encoder as inference

        return inference.mean_proba(
            self._models, _texts(model_input), self.max_length, self.batch_size, progress=False
        )
