"""The training parameters of an encoder model: :class:`TrainConfig`, the params schema's
model of a ``baseline``/``topline`` section less its model keys (backbone, kfold, head), with the
fields that determine the trained weights told apart from the runtime ones. Every allowed value
lives in the schema (:mod:`papercls.config.schema`)."""

from __future__ import annotations

from papercls.config.schema import CLASS_WEIGHTS, MIXED_PRECISION, MODEL_KEYS, TrainConfig

# the precision resolver's values; "no", the older params spelling, is read as fp32 there
MIXED_PRECISIONS = tuple(v for v in MIXED_PRECISION if v != "no")

__all__ = ["CLASS_WEIGHTS", "MIXED_PRECISIONS", "MODEL_KEYS", "TrainConfig"]
