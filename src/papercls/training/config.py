"""The training parameters of an encoder model: :class:`TrainConfig`, the params schema's
model of a ``baseline``/``topline`` section less its model keys (backbone, kfold, head), with the
fields that determine the trained weights told apart from the runtime ones. Every allowed value
lives in the schema (:mod:`papercls.config.schema`)."""

from __future__ import annotations

from papercls.config.schema import CLASS_WEIGHTS, MODEL_KEYS, TrainConfig

__all__ = ["CLASS_WEIGHTS", "MODEL_KEYS", "TrainConfig"]
