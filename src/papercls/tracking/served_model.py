"""The served model, logged as code (MLflow "models from code").

:func:`papercls.tracking.serving.log_pyfunc` logs this file as the model's ``python_model``:
MLflow copies it into the model and, to load the model, runs it, and it hands MLflow a fresh
:class:`PaperClassifier` with :func:`mlflow.models.set_model`. Nothing is pickled. The weights
are the model directory's safetensors files (artifact ``model_dir``); the decision threshold,
the text template and the batch settings are the model's ``model_config``. ``papercls`` itself
travels with the model (``code_paths``), so this file imports it wherever the model is loaded.
"""

from __future__ import annotations

from typing import Any

import mlflow.pyfunc
from mlflow.models import set_model


class PaperClassifier(mlflow.pyfunc.PythonModel):
    """Rows of papers in, ``prob`` (P(label == 1)) and ``label`` (1 = medical, at the logged
    threshold) out, as a DataFrame in input order. Input: the CSV's own columns or a ``text``
    column (:func:`papercls.tracking.request.request_texts`). A k-fold model directory
    (``fold_<k>/``) gives the mean over its fold models
    (``papercls.inference.encoder.mean_proba``). A request holds at most the config's
    ``max_rows`` rows (:func:`papercls.tracking.request.check_size`)."""

    # Logged with an explicit signature: no type-hint validation wrapper (it would also warn
    # "Add type hints" at class creation). MLflow's own PythonModel classes use this flag.
    _skip_type_hint_validation = True

    def __init__(self) -> None:
        self.config: dict[str, Any] = {}
        self._models: list[tuple[Any, Any]] = []

    def load_context(self, context) -> None:
        from papercls.data.text import template_fields
        from papercls.inference import encoder as inference
        from papercls.tracking.serving import checked_config

        self.config = checked_config(context.model_config)
        if self.config["template"] is not None:
            template_fields(self.config["template"])  # ValueError naming the unknown field
        self._models = list(inference.iter_classifiers(context.artifacts["model_dir"]))

    def predict(self, context, model_input, params=None):
        import pandas as pd
        from mlflow.exceptions import MlflowException
        from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE

        from papercls.errors import InputError
        from papercls.evaluation.metrics import predict_labels
        from papercls.inference import encoder as inference
        from papercls.tracking.request import as_frame, request_texts

        cfg = self.config
        try:
            texts = request_texts(as_frame(model_input), cfg["template"], cfg["max_rows"])
        except InputError as exc:  # the scoring server answers 400 with this message
            raise MlflowException(str(exc), error_code=INVALID_PARAMETER_VALUE) from None
        probs = inference.mean_proba(
            self._models, texts, cfg["max_length"], cfg["batch_size"], progress=False
        )
        return pd.DataFrame({"prob": probs, "label": predict_labels(probs, cfg["threshold"])})


set_model(PaperClassifier())
