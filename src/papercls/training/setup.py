"""What one ``train()`` call works with, built before its first epoch: the seeded Accelerator,
the tokenised train/valid loaders, the number of epochs (raised to reach ``min_steps``
optimizer updates), the class weights of the loss, AdamW (no weight decay on biases and
normalisation weights) with a linear warm-up/decay schedule over those epochs, the model and
optimizer prepared by Accelerate, and the fingerprint that a checkpoint must match to be
resumed from.

The loaders are not handed to Accelerate: each process loads its part of every global batch
(:class:`papercls.training.batching.ShardedBatchSampler`), so that the batches, the number of
steps and the schedule are those of one process. Accelerate's own split_batches pads the last
partial batch with rows of the first one (which would train on them twice) and needs
``batch_size`` to be a multiple of the number of processes."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import pandas as pd
import torch

from papercls.distributed import force_cpu
from papercls.inference.encoder import model_input_names, resolve_max_length, show_progress
from papercls.training.batching import LengthGroupedBatchSampler, build_loaders, tokenize_frame
from papercls.training.checkpoint import fingerprint
from papercls.training.config import MIXED_PRECISIONS, TrainConfig


@dataclass
class LoopParts:
    """The loop's objects, as prepared by Accelerate."""

    accelerator: Any
    model: Any  # as prepared (possibly wrapped for distributed training)
    unwrapped: Any
    optimizer: Any
    scheduler: Any
    scaler: Any
    train_loader: Any
    valid_loader: Any
    sampler: LengthGroupedBatchSampler  # the training sampler (its epoch is set by the loop)
    batches_per_epoch: int  # global batches (every process loads its part of each)
    epochs: int  # cfg.epochs, raised to reach cfg.min_steps optimizer updates
    class_weights: torch.Tensor | None  # cross-entropy weights per class (None: unweighted)
    max_length: int
    n_train: int
    n_valid: int
    fingerprint: str
    progress: bool  # tqdm bars (main process only)

    @property
    def main(self) -> bool:
        return self.accelerator.is_main_process


def resolve_mixed_precision(value: str, caps=None) -> str:
    """Accelerate's ``mixed_precision`` for a ``mixed_precision`` param: ``auto`` as
    :func:`papercls.hardware.auto_precision` decides it (CUDA: bf16, fp16 where the GPU lacks
    bf16; CPU: bf16 only where native; ``caps``: a CpuCapabilities, default this CPU), else
    fp32. "fp32" (the params' spelling; legacy "no" accepted) becomes Accelerate's "no"."""
    from papercls.hardware import resolve_precision

    resolved = resolve_precision(value, caps, device=None, allowed=MIXED_PRECISIONS)
    return "no" if resolved == "fp32" else resolved


def make_accelerator(mixed_precision: str):
    """An Accelerator with ``mixed_precision``. Accelerate keeps one precision per process and
    refuses another; a later call in the same process (a second training with another
    precision) resets that per-precision state first (not the distributed one). Launched
    processes without a GPU run on CPU with gloo (:func:`papercls.distributed.force_cpu`)."""
    from accelerate import Accelerator
    from accelerate.state import AcceleratorState

    shared = AcceleratorState._shared_state
    if shared and shared.get("_mixed_precision") not in (None, mixed_precision):
        AcceleratorState._reset_state(reset_partial_state=False)
    return Accelerator(mixed_precision=mixed_precision, cpu=force_cpu())


def planned_epochs(epochs: int, min_steps: int, updates_per_epoch: int) -> int:
    """``epochs``, raised so that training makes at least ``min_steps`` optimizer updates."""
    if updates_per_epoch < 1:
        return epochs
    return max(epochs, math.ceil(min_steps / updates_per_epoch))


def balanced_class_weights(labels: pd.Series) -> torch.Tensor:
    """Weights ``n / (2 * n_c)`` of classes 0 and 1 (scikit-learn's "balanced"): each class
    contributes half of the loss."""
    y = labels.astype("int64").to_numpy()
    counts = [int((y == c).sum()) for c in (0, 1)]
    if min(counts) == 0:
        raise ValueError(
            f"class_weight balanced needs both classes in the training rows, found {counts}"
        )
    return torch.tensor([len(y) / (2.0 * c) for c in counts], dtype=torch.float32)


def parameter_groups(model: torch.nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """AdamW groups: no weight decay on biases and normalisation weights."""
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        lname = name.lower()
        if p.ndim < 2 or "bias" in lname or "layernorm" in lname or "layer_norm" in lname:
            no_decay.append(p)
        else:
            decay.append(p)
    return [
        {"params": decay, "weight_decay": float(weight_decay)},
        {"params": no_decay, "weight_decay": 0.0},
    ]


def prepare_loop(
    model, tokenizer, train_df: pd.DataFrame, valid_df: pd.DataFrame, cfg: TrainConfig
) -> LoopParts:
    """Seed, tokenise once, build the loaders, the optimizer and the schedule, and hand them to
    Accelerate."""
    from transformers import get_linear_schedule_with_warmup, set_seed

    weights = balanced_class_weights(train_df["label"]) if cfg.class_weight == "balanced" else None
    set_seed(cfg.seed)
    accelerator = make_accelerator(resolve_mixed_precision(cfg.mixed_precision))
    max_length = resolve_max_length(tokenizer, cfg.max_length)
    keys = model_input_names(model)
    train_rows = tokenize_frame(tokenizer, train_df, max_length, keys)
    valid_rows = tokenize_frame(tokenizer, valid_df, max_length, keys)
    loaders = build_loaders(
        tokenizer,
        train_rows,
        valid_rows,
        cfg.batch_size,
        cfg.eval_batch_size,
        cfg.seed,
        pad_to_multiple_of=8 if accelerator.device.type == "cuda" else None,
        rank=accelerator.process_index,
        world=accelerator.num_processes,
    )
    optimizer = torch.optim.AdamW(parameter_groups(model, cfg.weight_decay), lr=cfg.lr)
    model, optimizer = accelerator.prepare(model, optimizer)
    batches_per_epoch = len(loaders.train)
    updates_per_epoch = math.ceil(batches_per_epoch / cfg.grad_accum)
    epochs = planned_epochs(cfg.epochs, cfg.min_steps, updates_per_epoch)
    total_updates = updates_per_epoch * epochs
    scheduler = get_linear_schedule_with_warmup(
        getattr(optimizer, "optimizer", optimizer),
        math.ceil(cfg.warmup_ratio * total_updates),
        total_updates,
    )
    unwrapped = accelerator.unwrap_model(model)
    extra = {
        "processes": accelerator.num_processes,
        "mixed_precision": accelerator.mixed_precision,
        "max_length": max_length,
    }
    return LoopParts(
        accelerator=accelerator,
        model=model,
        unwrapped=unwrapped,
        optimizer=optimizer,
        scheduler=scheduler,
        scaler=getattr(accelerator, "scaler", None),
        train_loader=loaders.train,
        valid_loader=loaders.valid,
        sampler=loaders.sampler,
        batches_per_epoch=batches_per_epoch,
        epochs=epochs,
        class_weights=None if weights is None else weights.to(accelerator.device),
        max_length=max_length,
        n_train=len(train_rows),
        n_valid=len(valid_rows),
        fingerprint=fingerprint(cfg.fingerprint_fields(), unwrapped, train_rows, valid_rows, extra),
        progress=show_progress(cfg.progress) and accelerator.is_main_process,
    )
