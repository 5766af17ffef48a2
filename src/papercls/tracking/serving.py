"""The MLflow pyfunc model that serves a saved ``models/<name>`` directory.

The directory is logged as-is (safetensors weights, config, tokenizer); only the tiny
:class:`ClassifierPyfunc` object is pickled, by reference. See docs/TRACKING.md for why this
flavour rather than ``mlflow.transformers``.
"""

from __future__ import annotations

from typing import Any

import mlflow.pyfunc


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
    float64 array. A k-fold directory (``fold_<k>/``) gives the mean over its fold models
    (``papercls.inference.mean_proba``)."""

    # Logged with an explicit signature: no type-hint validation wrapper (it would also warn
    # "Add type hints" at class creation). MLflow's own PythonModel classes use this flag.
    _skip_type_hint_validation = True

    def __init__(self, max_length: int | None = None, batch_size: int = 64):
        self.max_length = max_length
        self.batch_size = int(batch_size)
        self._models: list[tuple[Any, Any]] = []

    def load_context(self, context) -> None:
        from papercls import inference

        self._models = list(inference.iter_classifiers(context.artifacts["model_dir"]))

    def predict(self, context, model_input, params=None):
        from papercls import inference

        return inference.mean_proba(
            self._models, _texts(model_input), self.max_length, self.batch_size, progress=False
        )


def model_signature():
    import numpy as np
    import pandas as pd
    from mlflow.models import infer_signature

    return infer_signature(
        pd.DataFrame({"text": ["a medical abstract", "a physics abstract"]}),
        np.array([0.9, 0.1], dtype=np.float64),
    )


def pip_requirements() -> list[str]:
    from importlib.metadata import PackageNotFoundError, version

    reqs = []
    for pkg in ("mlflow", "torch", "transformers", "tokenizers", "safetensors", "numpy", "pandas"):
        try:
            reqs.append(f"{pkg}=={version(pkg).split('+', 1)[0]}")
        except PackageNotFoundError:
            reqs.append(pkg)
    return reqs


def log_pyfunc(model_dir: str, kind: str, stage: str, name: str, max_length, batch_size: int):
    """``mlflow.pyfunc.log_model`` of ``model_dir`` into the active run; its ``ModelInfo``."""
    return mlflow.pyfunc.log_model(
        name=name,
        python_model=ClassifierPyfunc(max_length=max_length, batch_size=batch_size),
        artifacts={"model_dir": model_dir},
        signature=model_signature(),
        pip_requirements=pip_requirements(),
        metadata={"papercls_kind": kind, "papercls_stage": stage},
    )
