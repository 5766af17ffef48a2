"""The one training loop of the encoder models (baseline, topline, their k-fold variants).

``train()`` runs unchanged on CPU, on one GPU (bf16/fp16 autocast) and on several GPUs under
``torchrun`` / ``accelerate launch`` (Accelerate). Texts are tokenised once and batched by
length (:mod:`papercls.batching`). AdamW (no decay on biases/norms), linear warm-up and decay,
gradient accumulation, clipping, early stopping on validation F1 with the best epoch's weights
kept.

Every epoch ends with a checkpoint (:mod:`papercls.checkpoint`). Rerunning after an
interruption resumes from the last complete checkpoint and ends with exactly the weights of an
uninterrupted run on CPU: batch order depends only on (seed, epoch) and the global RNGs are
reseeded with ``seed + epoch`` at the start of every epoch.
"""

from __future__ import annotations

import json
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

from papercls.batching import LengthGroupedBatchSampler
from papercls.checkpoint import (
    LoopState,
    cpu_state,
    latest_checkpoint,
    read_checkpoint,
    write_checkpoint,
)
from papercls.console import progress_bar
from papercls.io import atomic_dir, atomic_path
from papercls.loop_setup import LoopParts, prepare_loop
from papercls.train_config import TrainConfig

# Also importable from here (benchmarks/run.py does): the sampler, and the config.
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
    best_valid_f1: float
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

    ``on_epoch_end(epoch, {"train_loss", "valid_loss", "valid_f1", "lr"})`` is called on the
    main process after each epoch's checkpoint is written (epoch counts from 1; epochs restored
    from a checkpoint are not replayed).
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
    for epoch in range(state.epoch, cfg.epochs):
        if state.stop:
            break
        if cfg.max_epochs_this_run is not None and meter.epochs_run >= cfg.max_epochs_this_run:
            interrupted = True  # resumable; no final model
            break
        train_loss = _train_epoch(run, cfg, epoch, state, meter)
        valid_loss, valid_f1, _, _ = _evaluate(run.model, run.valid_loader, run.accelerator)
        meter.epochs_run += 1
        row = _record_epoch(run, cfg, state, epoch, train_loss, valid_loss, valid_f1)
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
    restored); a fresh state when there is none or it was made with other data/params/model
    (then the checkpoint dir is discarded)."""
    ckpt = latest_checkpoint(ckpt_root)
    if ckpt is None:
        return LoopState()
    state = read_checkpoint(
        ckpt, run.fingerprint, run.unwrapped, run.optimizer, run.scheduler, run.scaler
    )
    if state is None:
        warnings.warn(
            f"checkpoint {ckpt} was made with other data/params/model; starting afresh",
            stacklevel=3,
        )
        run.accelerator.wait_for_everyone()
        if run.main:
            shutil.rmtree(ckpt_root, ignore_errors=True)
        run.accelerator.wait_for_everyone()
        return LoopState()
    run.accelerator.print(f"resuming from {ckpt} (epoch {state.epoch} done)")
    return state


def _announce(run: LoopParts, cfg: TrainConfig) -> None:
    acc = run.accelerator
    acc.print(
        f"training {type(run.unwrapped).__name__}: {run.n_train} train / {run.n_valid} valid "
        f"rows, max_length {run.max_length}, {cfg.epochs} epoch(s) x {run.batches_per_epoch} "
        f"batches, {acc.num_processes} process(es) on {acc.device.type}, "
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
    if hasattr(run.train_loader, "set_epoch"):  # Accelerate's loader re-sets it on iteration
        run.train_loader.set_epoch(epoch)
    run.sampler.set_epoch(epoch)
    run.model.train()
    t0 = time.perf_counter()
    loss_sum = torch.zeros((), device=acc.device)
    n_seen = torch.zeros((), device=acc.device)
    n = run.batches_per_epoch
    bar = progress_bar(run.n_train, f"epoch {epoch + 1}/{cfg.epochs}", "samples", run.progress)
    run.optimizer.zero_grad(set_to_none=True)
    for i, batch in enumerate(run.train_loader):
        group_start = (i // cfg.grad_accum) * cfg.grad_accum
        group_size = min(cfg.grad_accum, n - group_start)
        is_update = (i + 1) % cfg.grad_accum == 0 or i + 1 == n
        loss = _forward_backward(run, batch, group_size, sync=is_update)
        loss_sum += loss * batch["input_ids"].shape[0]
        n_seen += batch["input_ids"].shape[0]
        if is_update:
            _update(run, cfg)
            state.global_step += 1
        bar.update(batch["input_ids"].shape[0] * acc.num_processes)
    bar.close()
    meter.seconds += time.perf_counter() - t0
    totals = acc.reduce(torch.stack([loss_sum, n_seen]), reduction="sum")
    meter.samples += int(totals[1])
    return float(totals[0] / totals[1])


def _forward_backward(run: LoopParts, batch, group_size: int, sync: bool) -> torch.Tensor:
    """Loss of one batch, its gradient accumulated (scaled by the accumulation group's size);
    gradients are synchronised across processes only on the group's last batch."""
    acc = run.accelerator
    if sync or acc.num_processes == 1:
        out = run.model(**batch)
        acc.backward(out.loss / group_size)
    else:
        with acc.no_sync(run.model):
            out = run.model(**batch)
            acc.backward(out.loss / group_size)
    return out.loss.detach().float()


def _update(run: LoopParts, cfg: TrainConfig) -> None:
    """Clip, step the optimizer and (unless a mixed-precision step was skipped) the schedule."""
    if cfg.max_grad_norm and cfg.max_grad_norm > 0:
        run.accelerator.clip_grad_norm_(run.model.parameters(), cfg.max_grad_norm)
    run.optimizer.step()
    if not run.accelerator.optimizer_step_was_skipped:
        run.scheduler.step()
    run.optimizer.zero_grad(set_to_none=True)


@torch.inference_mode()
def _evaluate(model, loader, accelerator) -> tuple[float, float, np.ndarray, np.ndarray]:
    """Validation loss, F1 at 0.5, P(label == 1) and labels, gathered over all processes."""
    from sklearn.metrics import f1_score

    model.eval()
    all_logits, all_labels = [], []
    for batch in loader:
        labels = batch.pop("labels")
        logits = model(**batch).logits.float()
        logits, labels = accelerator.gather_for_metrics((logits, labels))
        all_logits.append(logits.cpu())
        all_labels.append(labels.cpu())
    logits = torch.cat(all_logits)
    labels = torch.cat(all_labels)
    loss = torch.nn.functional.cross_entropy(logits, labels).item()
    probs = torch.softmax(logits, dim=-1)[:, 1].numpy().astype(np.float64)
    y = labels.numpy()
    f1 = float(f1_score(y, (probs >= 0.5).astype(int), zero_division=0))
    return float(loss), f1, probs, y


def _record_epoch(
    run: LoopParts,
    cfg: TrainConfig,
    state: LoopState,
    epoch: int,
    train_loss: float,
    valid_loss: float,
    valid_f1: float,
) -> dict[str, float]:
    """Early-stopping bookkeeping after epoch ``epoch`` (from 0): best weights, patience,
    history. Returns the epoch's history row."""
    improved = valid_f1 > state.best_f1
    if improved:
        state.best_epoch, state.best_f1, state.bad_epochs = epoch + 1, valid_f1, 0
        state.best_weights = cpu_state(run.unwrapped)
    else:
        state.bad_epochs += 1
    state.stop = cfg.patience > 0 and state.bad_epochs >= cfg.patience
    state.best_is_current = improved
    state.epoch = epoch + 1
    row = {"epoch": epoch + 1, "train_loss": train_loss, "valid_loss": valid_loss,
           "valid_f1": valid_f1}  # fmt: skip
    state.history.append(row)
    run.accelerator.print(
        f"epoch {epoch + 1}/{cfg.epochs}: train_loss {train_loss:.4f} "
        f"valid_loss {valid_loss:.4f} valid_f1 {valid_f1:.4f}"
        + (" *" if improved else "")
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
        best_valid_f1=state.best_f1,
        completed=completed,
        stopped_early=state.stop and len(state.history) < cfg.epochs,
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
                "best_valid_f1": state.best_f1,
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


def write_history(history: list[dict[str, Any]], path: str | Path) -> Path:
    """history rows -> CSV (epoch, train_loss, valid_loss, valid_f1 [, fold first]),
    written atomically."""
    path = Path(path)
    cols = ["epoch", "train_loss", "valid_loss", "valid_f1"]
    df = pd.DataFrame(history)
    if "fold" in df.columns:
        cols = ["fold", *cols]
    df = df.reindex(columns=cols)
    with atomic_path(path) as tmp:
        df.to_csv(tmp, index=False)
    return path
