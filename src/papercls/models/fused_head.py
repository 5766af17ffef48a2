"""Topline model: a pretrained encoder with a fused two-branch classification head.

Branch (a): mean of the non-padding token states -> Linear(hidden, head_hidden).
Branch (b): the encoder's pooled [CLS] output (``pooler_output``) -> Linear(hidden, head_hidden);
encoders without a pooler use the [CLS] state -> own dense(hidden, hidden) -> tanh instead.
Fused: ``mean_weight * a + cls_weight * b`` -> dropout -> Linear(head_hidden, num_labels).

Importing this module registers the ``fused_head`` model type with ``AutoConfig`` and
``AutoModelForSequenceClassification``, so a saved model reloads with
``AutoModelForSequenceClassification.from_pretrained(dir)``.
"""

from __future__ import annotations

import inspect
from typing import Any

import torch
from torch import nn
from transformers import (
    AutoConfig,
    AutoModel,
    AutoModelForSequenceClassification,
    PretrainedConfig,
    PreTrainedModel,
)
from transformers.modeling_outputs import SequenceClassifierOutput

from papercls.console import emit, load_reports_held
from papercls.data.schema import ID2LABEL, LABEL2ID


class FusedHeadConfig(PretrainedConfig):
    """Config of :class:`FusedHeadForSequenceClassification`.

    ``encoder`` is the encoder's config as a plain dict (``encoder_config.to_dict()``, which
    carries its ``model_type``).
    """

    model_type = "fused_head"

    encoder: dict | None = None
    head_hidden: int = 128
    mean_weight: float | int = 1.0
    cls_weight: float | int = 1.0
    head_dropout: float | int = 0.1
    initializer_range: float = 0.02

    def __post_init__(self, **kwargs: Any) -> None:
        if self.id2label is None and kwargs.get("num_labels") in (None, 2):
            self.id2label = dict(ID2LABEL)
            if self.label2id is None:
                self.label2id = dict(LABEL2ID)
        super().__post_init__(**kwargs)
        if isinstance(self.encoder, PretrainedConfig):
            self.encoder = self.encoder.to_dict()
        if self.encoder is not None and "initializer_range" in self.encoder:
            self.initializer_range = float(self.encoder["initializer_range"])

    def encoder_config(self) -> PretrainedConfig:
        """The encoder's config object (``AutoConfig.for_model`` of the nested dict)."""
        if not self.encoder or "model_type" not in self.encoder:
            raise ValueError(
                "FusedHeadConfig.encoder must be an encoder config dict with model_type"
            )
        enc = dict(self.encoder)
        return AutoConfig.for_model(enc.pop("model_type"), **enc)


class FusedHeadForSequenceClassification(PreTrainedModel):
    config_class = FusedHeadConfig
    base_model_prefix = "encoder"
    supports_gradient_checkpointing = True
    _supports_sdpa = True

    def __init__(self, config: FusedHeadConfig):
        super().__init__(config)
        self.num_labels = config.num_labels
        self.encoder = AutoModel.from_config(config.encoder_config())
        hidden = self.encoder.config.hidden_size
        self.mean_proj = nn.Linear(hidden, config.head_hidden)
        self.cls_proj = nn.Linear(hidden, config.head_hidden)
        # Encoders without a pooler (DistilBERT, DeBERTa, ...): own dense + tanh on [CLS].
        self.has_pooler = getattr(self.encoder, "pooler", None) is not None
        self.cls_dense = None if self.has_pooler else nn.Linear(hidden, hidden)
        self.dropout = nn.Dropout(float(config.head_dropout))
        self.classifier = nn.Linear(config.head_hidden, config.num_labels)
        self._encoder_takes_token_types = (
            "token_type_ids" in inspect.signature(self.encoder.forward).parameters
        )
        self.post_init()

    @classmethod
    def from_encoder(
        cls, backbone_dir: str, **head_kwargs: Any
    ) -> FusedHeadForSequenceClassification:
        """Pretrained encoder weights from ``backbone_dir`` (dir or hub id) + a fresh head.

        ``head_kwargs``: head_hidden, mean_weight, cls_weight, head_dropout (FusedHeadConfig).
        """
        # fp32 master weights, whatever the checkpoint stores (transformers 5 keeps a saved
        # fp16/bf16 dtype by default; pure half-precision training diverges); mixed precision
        # is autocast's job (``mixed_precision``)
        encoder = AutoModel.from_pretrained(backbone_dir, dtype=torch.float32)
        encoder_dict = encoder.config.to_dict()
        # where the backbone was loaded from is no part of the model: an absolute path here
        # would leak the user's home into config.json and make the saved model's hash depend
        # on the checkout's location
        encoder_dict.pop("_name_or_path", None)
        config = FusedHeadConfig(encoder=encoder_dict, **head_kwargs)
        model = cls(config)
        model.encoder = encoder  # same class and config as the one built from the config
        model.has_pooler = getattr(encoder, "pooler", None) is not None
        if model.has_pooler != (model.cls_dense is None):  # pragma: no cover - defensive
            raise RuntimeError("encoder pooler mismatch between config and pretrained encoder")
        return model

    @staticmethod
    def mean_pool(hidden_states: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Mean of the token states where attention_mask == 1."""
        mask = attention_mask.unsqueeze(-1).to(hidden_states.dtype)
        summed = (hidden_states * mask).sum(dim=1)
        count = mask.sum(dim=1).clamp(min=1.0)
        return summed / count

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        **kwargs: Any,
    ) -> SequenceClassifierOutput:
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        enc_kwargs: dict[str, Any] = {"input_ids": input_ids, "attention_mask": attention_mask}
        if token_type_ids is not None and self._encoder_takes_token_types:
            enc_kwargs["token_type_ids"] = token_type_ids
        out = self.encoder(**enc_kwargs, return_dict=True)
        states = out.last_hidden_state
        mean_branch = self.mean_proj(self.mean_pool(states, attention_mask))
        pooled = getattr(out, "pooler_output", None)
        if pooled is None:
            if self.cls_dense is None:
                raise RuntimeError("encoder returned no pooler_output but has a pooler")
            pooled = torch.tanh(self.cls_dense(states[:, 0]))
        cls_branch = self.cls_proj(pooled)
        fused = self.config.mean_weight * mean_branch + self.config.cls_weight * cls_branch
        logits = self.classifier(self.dropout(fused))
        loss = None
        if labels is not None:
            loss = nn.functional.cross_entropy(logits.float(), labels.view(-1).long())
        return SequenceClassifierOutput(loss=loss, logits=logits)


AutoConfig.register("fused_head", FusedHeadConfig, exist_ok=True)
AutoModelForSequenceClassification.register(
    FusedHeadConfig, FusedHeadForSequenceClassification, exist_ok=True
)


def build_baseline(backbone_dir: str) -> PreTrainedModel:
    """``AutoModelForSequenceClassification`` with a fresh 2-label head (labels other/medical).

    transformers' load report is printed only when it says more than "the new head's weights
    are not in the checkpoint" (expected here): weights of the encoder itself missing, or of
    another shape."""
    with load_reports_held() as reports:
        model, info = AutoModelForSequenceClassification.from_pretrained(
            backbone_dir,
            num_labels=2,
            id2label=dict(ID2LABEL),
            label2id=dict(LABEL2ID),
            output_loading_info=True,
            dtype=torch.float32,  # fp32 master weights (see FusedHead...from_encoder)
        )
    if not only_new_head_missing(model, info):
        emit(reports)
    return model


def only_new_head_missing(model: PreTrainedModel, info: dict[str, Any]) -> bool:
    """Whether a ``from_pretrained(..., output_loading_info=True)`` load left only weights
    outside the encoder (``model.base_model_prefix``) uninitialised, and none of another shape.
    Unused checkpoint weights (e.g. a pretraining head) are fine."""
    encoder = f"{model.base_model_prefix}."
    missing_encoder = [k for k in info.get("missing_keys", ()) if k.startswith(encoder)]
    return not missing_encoder and not info.get("mismatched_keys")


def build_topline(backbone_dir: str, head: dict[str, Any] | None = None) -> PreTrainedModel:
    """Fused-head model from the ``topline.head`` params (hidden, mean_weight, cls_weight,
    dropout)."""
    head = dict(head or {})
    known = {"hidden", "mean_weight", "cls_weight", "dropout"}
    unknown = set(head) - known
    if unknown:
        raise ValueError(f"unknown head param(s) {sorted(unknown)}; expected {sorted(known)}")
    return FusedHeadForSequenceClassification.from_encoder(
        backbone_dir,
        head_hidden=int(head.get("hidden", 128)),
        mean_weight=float(head.get("mean_weight", 1.0)),
        cls_weight=float(head.get("cls_weight", 1.0)),
        head_dropout=float(head.get("dropout", 0.1)),
    )
