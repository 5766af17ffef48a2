"""The one training loop of the encoder models (baseline, topline, their k-fold variants).

``train()`` runs unchanged on CPU, on one GPU (bf16/fp16 autocast) and with several processes
(GPUs, or CPUs with gloo) under ``torchrun`` / ``accelerate launch`` (Accelerate). Texts are
tokenised once and batched by length (:mod:`papercls.training.batching`); ``batch_size`` is the
global batch, of which each process trains on its part, with the loss normalised over the whole
batch, so that N processes make the updates of one (up to float rounding). Validation
predictions are gathered from all processes, so early stopping and the best epoch are decided
on the same figures everywhere; only the main process writes checkpoints and the model.
AdamW (no decay on biases/norms), linear warm-up and decay, gradient accumulation, clipping,
optionally class-weighted cross-entropy (``class_weight``).
Epochs are raised when needed to make at least ``min_steps`` optimizer updates, so that a small
data set is not starved, and early stopping does not fire before those updates are made. Early
stopping and the best epoch (whose weights are kept) follow ``select_metric`` on the validation
rows (:mod:`papercls.training.selection`; ties go to the lower validation loss, then to the earlier
epoch).

Every epoch ends with a checkpoint (:mod:`papercls.training.checkpoint`). Rerunning after an
interruption resumes from the last complete checkpoint and ends with exactly the weights of an
uninterrupted run on CPU: batch order depends only on (seed, epoch) and the global RNGs are
reseeded with ``seed + epoch`` at the start of every epoch.
"""

from __future__ import annotations

import json
import math
import shutil
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from papercls.console import progress_bar
from papercls.data.io import atomic_dir
from papercls.data.stage_io import write_history
from papercls.training.batching import PAD_LABEL, LengthGroupedBatchSampler
from papercls.training.checkpoint import (
    CheckpointDamaged,
    LoopState,
    cpu_state,
    latest_checkpoint,
    read_checkpoint,
    write_checkpoint,
)
from papercls.training.config import TrainConfig
from papercls.training.selection import criterion, is_improvement, validation_scores
from papercls.training.setup import LoopParts, prepare_loop

# Also importable from here (benchmarks/run.py does): the sampler, the config, write_history.
__all__ = [
    "LengthGroupedBatchSampler",
    "TrainConfig",
    "TrainResult",
    "train",
    "write_history",
]

EpochCallback = Callable[[int, dict[str, float]], None]


@dataclass
class TrainResult:
    history: list[dict[str, float]]
    best_epoch: int
    best_score: float  # the best epoch's select_metric value (history column criterion().column)
    select_metric: str
    epochs: int  # epochs planned: cfg.epochs raised to reach cfg.min_steps
    completed: bool  # False: stopped by max_epochs_this_run (resumable), no final model written
    stopped_early: bool
    model_dir: Path | None
    epochs_run: int  # epochs trained in this call (resumed epochs not counted)
    resumed_from_epoch: int  # 0 = fresh start
    train_samples_per_s: float | None
    extra: dict[str, Any] = field(default_factory=dict)


# --------------------------------------------------------------------------------------------
# the driver


def train(
    model,
    tokenizer,
    train_df: pd.DataFrame,
    valid_df: pd.DataFrame,
    cfg: TrainConfig,
    out_dir: str | Path,
    on_epoch_end: EpochCallback | None = None,
) -> TrainResult:
    """Fine-tune ``model`` (a sequence classifier returning ``.loss``/``.logits``) on
    ``train_df`` (columns text, label), early-stopping on ``valid_df``; save the final model and
    tokenizer to ``out_dir`` (atomically). Resumes from the checkpoint dir when one matches.

    ``on_epoch_end(epoch, {"train_loss", "valid_loss", "valid_f1", "valid_pr_auc",
    "valid_roc_auc", "valid_best_f1", "lr"})`` is called on the main process after each
    epoch's checkpoint is written (epoch counts from 1; epochs restored from a checkpoint are
    not replayed).
    """
    out_dir = Path(out_dir)
    ckpt_root = (
        Path(cfg.checkpoint_dir) if cfg.checkpoint_dir else out_dir.parent / f"{out_dir.name}.ckpt"
    )
    if cfg.threads > 0:
        torch.set_num_threads(cfg.threads)
    _check_frames(train_df, valid_df)
    run = prepare_loop(model, tokenizer, train_df, valid_df, cfg)
    state = _restore(run, ckpt_root)
    resumed_from = state.epoch
    _announce(run, cfg)
    meter = _Meter()
    interrupted = False
    for epoch in range(state.epoch, run.epochs):
        if state.stop:
            break
        if cfg.max_epochs_this_run is not None and meter.epochs_run >= cfg.max_epochs_this_run:
            interrupted = True  # resumable; no final model
            break
        train_loss = _train_epoch(run, cfg, epoch, state, meter)
        valid_loss, probs, labels = _evaluate(run.model, run.valid_loader, run.accelerator)
        meter.epochs_run += 1
        scores = validation_scores(labels, probs, valid_loss)
        row = _record_epoch(run, cfg, state, epoch, train_loss, scores)
        _checkpoint(run, state, ckpt_root)
        if on_epoch_end is not None and run.main:
            on_epoch_end(epoch + 1, {**row, "lr": float(run.scheduler.get_last_lr()[0])})

    result = _result(run, cfg, state, meter, resumed_from, ckpt_root, not interrupted)
    if interrupted:
        run.accelerator.free_memory()
        return result
    result.best_epoch = _save_final(run, cfg, state, tokenizer, out_dir, ckpt_root)
    result.model_dir = out_dir
    return result


# --------------------------------------------------------------------------------------------
# the steps


@dataclass
class _Meter:
    """What this call trained: epochs, and the samples and seconds of the batch loops."""

    epochs_run: int = 0
    seconds: float = 0.0
    samples: int = 0


def _check_frames(train_df: pd.DataFrame, valid_df: pd.DataFrame) -> None:
    for name, df in (("train", train_df), ("valid", valid_df)):
        missing = {"text", "label"} - set(df.columns)
        if missing:
            raise ValueError(f"{name} frame lacks column(s) {sorted(missing)}")
        if len(df) == 0:
            raise ValueError(f"{name} frame is empty")


def _restore(run: LoopParts, ckpt_root: Path) -> LoopState:
    """The loop state of the newest checkpoint (with weights, optimizer, scheduler and scaler
    restored); a fresh state when there is none, it was made with other data/params/model, or
    it cannot be read back (truncated or tampered files): then the checkpoint dir is discarded
    with a warning naming the checkpoint."""
    ckpt = latest_checkpoint(ckpt_root)
    if ckpt is None:
        return LoopState()
    try:
        state = read_checkpoint(
            ckpt, run.fingerprint, run.unwrapped, run.optimizer, run.scheduler, run.scaler
        )
        why = "was made with other data/params/model"
    except CheckpointDamaged as exc:
        state, why = None, f"cannot be read back ({exc.reason}); it is discarded"
    if state is None:
        warnings.warn(f"checkpoint {ckpt} {why}; starting afresh", stacklevel=3)
        run.accelerator.wait_for_everyone()
        if run.main:
            shutil.rmtree(ckpt_root, ignore_errors=True)
        run.accelerator.wait_for_everyone()
        return LoopState()
    run.accelerator.print(f"resuming from {ckpt} (epoch {state.epoch} done)")
    return state


def _announce(run: LoopParts, cfg: TrainConfig) -> None:
    acc = run.accelerator
    raised = f" (raised from {cfg.epochs} for min_steps {cfg.min_steps})"
    acc.print(
        f"training {type(run.unwrapped).__name__}: {run.n_train} train / {run.n_valid} valid "
        f"rows, max_length {run.max_length}, {run.epochs} epoch(s)"
        f"{raised if run.epochs > cfg.epochs else ''} x {run.batches_per_epoch} batches, "
        f"select_metric {cfg.select_metric}, class_weight {cfg.class_weight}, "
        f"{acc.num_processes} process(es) on {acc.device.type}, "
        f"mixed precision {acc.mixed_precision}, {torch.get_num_threads()} CPU threads"
    )


def _train_epoch(
    run: LoopParts, cfg: TrainConfig, epoch: int, state: LoopState, meter: _Meter
) -> float:
    """One pass over the training batches (epoch counts from 0); returns the mean training loss
    over all processes."""
    from transformers import set_seed

    acc = run.accelerator
    set_seed(cfg.seed + epoch)
    run.sampler.set_epoch(epoch)
    run.model.train()
    t0 = time.perf_counter()
    loss_sum = torch.zeros((), device=acc.device)
    n_seen = torch.zeros((), device=acc.device)
    n = run.batches_per_epoch
    bar = progress_bar(run.n_train, f"epoch {epoch + 1}/{run.epochs}", "samples", run.progress)
    run.optimizer.zero_grad(set_to_none=True)
    for i, batch in enumerate(run.train_loader):
        batch = {k: v.to(acc.device) for k, v in batch.items()}
        group_start = (i // cfg.grad_accum) * cfg.grad_accum
        group_size = min(cfg.grad_accum, n - group_start)
        is_update = (i + 1) % cfg.grad_accum == 0 or i + 1 == n
        weighted_loss, rows = _forward_backward(run, batch, group_size, sync=is_update)
        loss_sum += weighted_loss
        n_seen += rows
        if is_update:
            _update(run, cfg)
            state.global_step += 1
        bar.update(batch["input_ids"].shape[0] * acc.num_processes)
    bar.close()
    meter.seconds += time.perf_counter() - t0
    totals = acc.reduce(torch.stack([loss_sum, n_seen]), reduction="sum")
    meter.samples += int(totals[1])
    return float(totals[0] / totals[1])


def _forward_backward(run: LoopParts, batch, group_size: int, sync: bool):
    """Loss of one batch, its gradient accumulated (scaled by the accumulation group's size);
    gradients are synchronised across processes only on the group's last batch. Returns the
    batch's mean loss times its rows, and its rows; with several processes, this process's
    shares of both, which the epoch sums over all processes."""
    acc = run.accelerator
    if acc.num_processes == 1:
        loss = _loss(run, batch)
        acc.backward(loss / group_size)
        rows = batch["input_ids"].shape[0]
        return loss.detach().float() * rows, rows
    if sync:
        share, rows_all, rows = _shared_loss(run, batch)
        acc.backward(share * acc.num_processes / group_size)
    else:
        with acc.no_sync(run.model):
            share, rows_all, rows = _shared_loss(run, batch)
            acc.backward(share * acc.num_processes / group_size)
    return share.detach().float() * rows_all, rows


def _shared_loss(run: LoopParts, batch) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """This process's share of the (optionally class-weighted) mean cross-entropy of the global
    batch: its rows' summed loss over the whole batch's weight (padding rows count for
    nothing); the shares of all processes add up to the mean. Data-parallel training averages
    the gradients over the N processes, hence the factor N at the backward pass. Also returns
    the real rows of the global batch and of this process's part."""
    labels = batch["labels"]
    inputs = {k: v for k, v in batch.items() if k != "labels"}
    logits = run.model(**inputs).logits.float()
    total = torch.nn.functional.cross_entropy(
        logits, labels, weight=run.class_weights, reduction="sum", ignore_index=PAD_LABEL
    )
    real = labels != PAD_LABEL
    weight = real.sum() if run.class_weights is None else run.class_weights[labels[real]].sum()
    counts = torch.stack([weight.float(), real.sum().float()])
    weight_all, rows_all = run.accelerator.reduce(counts, reduction="sum")
    return total / weight_all, rows_all, counts[1]


def _loss(run: LoopParts, batch) -> torch.Tensor:
    """The model's own (unweighted) cross-entropy, or the class-weighted one."""
    if run.class_weights is None:
        return run.model(**batch).loss
    inputs = {k: v for k, v in batch.items() if k != "labels"}
    logits = run.model(**inputs).logits.float()
    return torch.nn.functional.cross_entropy(logits, batch["labels"], weight=run.class_weights)


def _update(run: LoopParts, cfg: TrainConfig) -> None:
    """Clip, step the optimizer and (unless a mixed-precision step was skipped) the schedule."""
    if cfg.max_grad_norm and cfg.max_grad_norm > 0:
        run.accelerator.clip_grad_norm_(run.model.parameters(), cfg.max_grad_norm)
    run.optimizer.step()
    if not run.accelerator.optimizer_step_was_skipped:
        run.scheduler.step()
    run.optimizer.zero_grad(set_to_none=True)


@torch.inference_mode()
def _evaluate(model, loader, accelerator) -> tuple[float, np.ndarray, np.ndarray]:
    """Validation loss (unweighted cross-entropy), P(label == 1) and labels, gathered over all
    processes: every row once, in the order of one process (padding rows dropped)."""
    if isinstance(model, torch.nn.parallel.DistributedDataParallel):
        model = model.module  # without the wrapper's collectives
    model.eval()
    all_logits, all_labels = [], []
    for batch in loader:
        batch = {k: v.to(accelerator.device) for k, v in batch.items()}
        labels = batch.pop("labels")
        logits = model(**batch).logits.float()
        logits, labels = accelerator.gather((logits, labels))
        keep = labels != PAD_LABEL
        all_logits.append(logits[keep].cpu())
        all_labels.append(labels[keep].cpu())
    logits = torch.cat(all_logits)
    labels = torch.cat(all_labels)
    loss = torch.nn.functional.cross_entropy(logits, labels).item()
    probs = torch.softmax(logits, dim=-1)[:, 1].numpy().astype(np.float64)
    return float(loss), probs, labels.numpy()


def _record_epoch(
    run: LoopParts,
    cfg: TrainConfig,
    state: LoopState,
    epoch: int,
    train_loss: float,
    scores: dict[str, float],
) -> dict[str, float]:
    """Early-stopping bookkeeping after epoch ``epoch`` (from 0) on ``select_metric``: best
    weights, patience, history. Returns the epoch's history row."""
    column = criterion(cfg.select_metric).column
    best_row = state.history[state.best_epoch - 1] if state.best_epoch else None
    improved = is_improvement(cfg.select_metric, scores, best_row)
    if improved:
        state.best_epoch, state.best_score, state.bad_epochs = epoch + 1, scores[column], 0
        state.best_weights = cpu_state(run.unwrapped)
    else:
        state.bad_epochs += 1
    # min_steps is a floor: early stopping waits until that many updates are made
    state.stop = (
        cfg.patience > 0 and state.bad_epochs >= cfg.patience and state.global_step >= cfg.min_steps
    )
    state.best_is_current = improved
    state.epoch = epoch + 1
    row = {"epoch": epoch + 1, "train_loss": train_loss, **scores}
    state.history.append(row)
    shown = dict.fromkeys(["valid_loss", "valid_f1", column])  # in order, without repeats
    run.accelerator.print(
        f"epoch {epoch + 1}/{run.epochs}: train_loss {train_loss:.4f} "
        + " ".join(f"{c} {scores[c]:.4f}" for c in shown)
        + (" *" if improved else "")  # the best epoch so far by select_metric
        + (" (early stop)" if state.stop else "")
    )
    return row


def _checkpoint(run: LoopParts, state: LoopState, ckpt_root: Path) -> None:
    if run.main:
        write_checkpoint(
            ckpt_root,
            run.fingerprint,
            state,
            cpu_state(run.unwrapped),
            run.optimizer,
            run.scheduler,
            run.scaler,
        )
    run.accelerator.wait_for_everyone()


def _result(
    run: LoopParts,
    cfg: TrainConfig,
    state: LoopState,
    meter: _Meter,
    resumed_from: int,
    ckpt_root: Path,
    completed: bool,
) -> TrainResult:
    return TrainResult(
        history=state.history,
        best_epoch=state.best_epoch,
        best_score=math.nan if state.best_score is None else state.best_score,
        select_metric=cfg.select_metric,
        epochs=run.epochs,
        completed=completed,
        stopped_early=state.stop and len(state.history) < run.epochs,
        model_dir=None,
        epochs_run=meter.epochs_run,
        resumed_from_epoch=resumed_from,
        train_samples_per_s=meter.samples / meter.seconds if meter.seconds > 0 else None,
        extra={"checkpoint_dir": str(ckpt_root), "max_length": run.max_length},
    )


def _save_final(
    run: LoopParts, cfg: TrainConfig, state: LoopState, tokenizer, out_dir: Path, ckpt_root: Path
) -> int:
    """Load the final weights (best epoch, or last), save model, tokenizer and
    trainer_state.json to ``out_dir`` atomically and drop the checkpoint. Returns the epoch
    whose weights were saved."""
    if cfg.select_best and state.best_weights is not None:
        run.unwrapped.load_state_dict(state.best_weights)
        saved_epoch = state.best_epoch
    else:
        saved_epoch = state.history[-1]["epoch"] if state.history else state.best_epoch
    if run.main:
        # an interrupted save (SIGTERM, full disk) leaves no half-written folder
        with atomic_dir(out_dir) as tmp:
            run.unwrapped.save_pretrained(tmp)
            tokenizer.model_max_length = run.max_length  # inference reuses the training length
            tokenizer.save_pretrained(tmp)
            trainer_state = {
                "history": state.history,
                "best_epoch": saved_epoch,
                "select_metric": cfg.select_metric,
                "best_score": state.best_score,
                "epochs": run.epochs,
                "selected": "best" if cfg.select_best else "last",
                # what determines the weights; not runtime fields such as the (absolute)
                # checkpoint_dir, which would tie the model's hash to the checkout's location
                "config": cfg.fingerprint_fields(),
            }
            (tmp / "trainer_state.json").write_text(json.dumps(trainer_state, indent=1), "utf-8")
        if not cfg.keep_checkpoint:
            shutil.rmtree(ckpt_root, ignore_errors=True)
    run.accelerator.wait_for_everyone()
    run.accelerator.free_memory()
    return saved_epoch
