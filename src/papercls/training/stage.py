"""Logic of the encoder train stages ``train@baseline`` and ``train@topline``.

Inputs and prediction files: :mod:`papercls.data.stage_io`. Outputs: ``models/<name>/``,
``predictions/<name>/{heldout,test}.parquet`` and ``metrics/<name>/history.csv``. Predictions
are made by the model RELOADED from disk, so they are exactly what a later stage loading
``models/<name>`` sees.

k-fold (``kfold: true``, :mod:`papercls.training.kfold`): train.parquet and valid.parquet are one
pool of labelled rows; one model per ``fold`` value, saved as ``models/<name>/fold_<k>/``, trained
on the other folds and early-stopped (best epoch by ``select_metric``) on its own fold;
heldout.parquet holds the out-of-fold probabilities of every labelled row (train rows, then
valid rows); test.parquet the mean over the fold models
(:func:`papercls.inference.encoder.predict_dir_proba`). Selecting the epoch on the rows it then
scores makes those out-of-fold probabilities slightly optimistic; with the few epochs trained here
the effect is small, and it buys training on every labelled row. A finished fold survives an
interruption (its checkpoint is kept until all folds are done), so a rerun only retrains what is
missing.

With several processes (``processes`` > 1, or a ``torchrun`` / ``accelerate launch`` start) every
process trains (:mod:`papercls.training.loop`) and only the main one writes: it clears the fold
layout, computes the held-out and test predictions from the saved model(s) and writes them and
the history; the others return a summary without predictions.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import torch
from transformers import AutoTokenizer, set_seed

from papercls.config.params import section as params_section
from papercls.data.stage_io import heldout_frame, read_prepared, test_set_frame, write_predictions
from papercls.distributed import is_main_process, wait_for_everyone
from papercls.inference.engine import Engine, from_params, predict_dir
from papercls.inference.onnx.cache import cache_dir as onnx_cache_dir
from papercls.models.backbone import resolve_backbone
from papercls.models.fused_head import build_baseline, build_topline
from papercls.training.config import TrainConfig
from papercls.training.kfold import (
    clear_other_layouts,
    fold_dir,
    fold_ids,
    fold_mask,
    labelled_rows,
)
from papercls.training.loop import TrainResult, train, write_history
from papercls.training.selection import criterion

EpochCallback = Callable[[int, dict[str, float]], None]


@dataclass
class FoldSummary:
    fold: int
    model_dir: Path  # models/<name>/fold_<k>
    completed: bool
    best_epoch: int
    best_score: float  # select_metric on the fold's own rows at its best epoch
    train_samples_per_s: float | None


@dataclass
class TrainSummary:
    """What a train stage did. ``best_score``: the best epoch's ``select_metric`` on the
    validation rows. k-fold: ``best_score`` and ``train_samples_per_s`` are means over the folds
    trained, ``best_epochs`` and ``folds`` hold one entry per fold."""

    name: str
    backbone: str
    kfold: bool
    model_dir: Path  # models/<name>
    completed: bool  # False: stopped by max_epochs_this_run; no predictions written
    select_metric: str  # pr_auc | roc_auc | log_loss | best_f1 | f1 (papercls.training.selection)
    best_score: float
    best_epochs: list[int]  # one per fold, or one
    history: list[dict[str, float]]  # k-fold: rows carry a "fold" key
    train_samples_per_s: float | None
    folds: list[FoldSummary] = field(default_factory=list)  # k-fold only
    heldout: Path | None = None  # predictions/<name>/heldout.parquet (when completed)
    test: Path | None = None  # predictions/<name>/test.parquet
    history_csv: Path | None = None  # metrics/<name>/history.csv

    @property
    def score_name(self) -> str:
        """The logged name of ``best_score``: ``best_`` + its history column (best_valid_pr_auc,
        best_valid_loss for log_loss, best_valid_f1 for f1, ...)."""
        return f"best_{criterion(self.select_metric).column}"

    def metrics(self) -> dict[str, float]:
        """The numbers a tracking run logs: :attr:`score_name` and ``best_epoch`` (k-fold: the
        means over the folds, and ``fold_<k>/best_epoch``, ``fold_<k>/<score_name>``)."""
        out = {
            self.score_name: self.best_score,
            "best_epoch": float(np.mean(self.best_epochs)) if self.kfold else self.best_epochs[0],
        }
        for f in self.folds:
            out[f"fold_{f.fold}/best_epoch"] = f.best_epoch
            out[f"fold_{f.fold}/{self.score_name}"] = f.best_score
        return out

    def headline(self) -> str:
        epochs = self.best_epochs if self.kfold else self.best_epochs[0]
        return (
            f"{self.name}: best epoch {epochs}, valid {self.select_metric} "
            f"{self.best_score:.4f}, model in {self.model_dir}"
        )


class _Predictions(NamedTuple):
    heldout: pd.DataFrame
    test: pd.DataFrame


@dataclass
class _Job:
    """One encoder's training: its params section, resolved backbone and loop config."""

    name: str
    section: dict[str, Any]
    backbone_dir: str
    cfg: TrainConfig
    out_root: Path  # models/<name>
    ckpt_root: Path  # models/<name>.ckpt unless checkpoint_dir is set
    engine: Engine = field(default_factory=Engine)  # of the held-out/test predictions

    def fit(
        self,
        train_part: pd.DataFrame,
        valid_df: pd.DataFrame,
        out_dir: Path,
        cfg: TrainConfig,
        callback: EpochCallback | None,
    ) -> TrainResult:
        tokenizer = AutoTokenizer.from_pretrained(self.backbone_dir)
        set_seed(cfg.seed)
        model = build_model(self.section, self.backbone_dir)
        return train(model, tokenizer, train_part, valid_df, cfg, out_dir, callback)

    def probs(self, model_dir: Path, texts: list[str]) -> np.ndarray:
        """P(label == 1) from the model(s) saved in ``model_dir`` (k-fold root: fold mean),
        with the ``inference`` engine (onnx: the export kept in ``models/<name>.onnx/``)."""
        onnx_dir = onnx_cache_dir(self.out_root) / model_dir.relative_to(self.out_root)
        return predict_dir(
            model_dir,
            texts,
            self.engine,
            batch_size=self.cfg.eval_batch_size,
            progress=self.cfg.progress,
            onnx_dir=onnx_dir,
        )


def build_model(section: dict[str, Any], backbone_dir: str):
    """Baseline (``AutoModelForSequenceClassification``) or, when the section has a ``head``
    mapping, the fused-head topline."""
    if section.get("head") is not None:
        return build_topline(backbone_dir, section["head"])
    return build_baseline(backbone_dir)


def run_training(
    name: str,
    params: dict[str, Any],
    prepared_dir: str | Path = "data/prepared",
    models_dir: str | Path = "models",
    predictions_dir: str | Path = "predictions",
    metrics_dir: str | Path = "metrics",
    on_epoch_end: EpochCallback | None = None,
    inference: dict[str, Any] | None = None,
    **overrides: Any,
) -> TrainSummary:
    """Train the encoder model ``name`` (baseline/topline) from its params section; write its
    model, predictions and history. ``params``: the section (or the whole params.yaml).

    ``on_epoch_end(epoch, metrics)``: per-epoch hook (tracking); in k-fold mode the metric names
    are prefixed ``fold_<k>/``. ``overrides``: TrainConfig fields for this run only (e.g.
    ``max_epochs_this_run``, ``progress``). ``inference``: the params.yaml section that
    chooses the engine of the held-out and test predictions
    (:func:`papercls.inference.engine.from_params`; None: torch fp32).
    """
    section = params_section(params, name)
    cfg = TrainConfig.from_params(section, **overrides)
    if cfg.threads > 0:
        torch.set_num_threads(cfg.threads)
    models_dir = Path(models_dir)
    job = _Job(
        name=name,
        section=section,
        backbone_dir=resolve_backbone(section.get("backbone", "minilm")),
        cfg=cfg,
        out_root=models_dir / name,
        ckpt_root=Path(cfg.checkpoint_dir) if cfg.checkpoint_dir else models_dir / f"{name}.ckpt",
        engine=from_params(inference),
    )
    frames = read_prepared(prepared_dir)
    if section.get("kfold", False):
        summary, predictions = _train_kfold(job, *frames, on_epoch_end)
    else:
        summary, predictions = _train_single(job, *frames, on_epoch_end)
    if predictions is None:  # interrupted (the checkpoints stay for the rerun), or not main
        return summary
    summary.heldout, summary.test = write_predictions(
        predictions_dir, name, predictions.heldout, predictions.test
    )
    summary.history_csv = write_history(summary.history, Path(metrics_dir) / name / "history.csv")
    if job.ckpt_root.exists():
        shutil.rmtree(job.ckpt_root, ignore_errors=True)
    return summary


def _summary(job: _Job, kfold: bool, **fields: Any) -> TrainSummary:
    backbone = str(job.section.get("backbone", "minilm"))
    return TrainSummary(
        name=job.name,
        backbone=backbone,
        kfold=kfold,
        model_dir=job.out_root,
        select_metric=job.cfg.select_metric,
        **fields,
    )


def _train_single(
    job: _Job,
    train_df: pd.DataFrame,
    valid_df: pd.DataFrame,
    test_df: pd.DataFrame,
    on_epoch_end: EpochCallback | None,
) -> tuple[TrainSummary, _Predictions | None]:
    """One model on all of train.parquet; heldout = valid.parquet."""
    cfg = job.cfg.model_copy(update={"checkpoint_dir": str(job.ckpt_root)})
    result = job.fit(train_df, valid_df, job.out_root, cfg, on_epoch_end)
    summary = _summary(
        job,
        kfold=False,
        completed=result.completed,
        best_score=result.best_score,
        best_epochs=[result.best_epoch],
        history=result.history,
        train_samples_per_s=result.train_samples_per_s,
    )
    if not result.completed or not is_main_process():
        return summary, None
    return summary, _Predictions(
        heldout_frame(valid_df, job.probs(job.out_root, valid_df["text"].tolist())),
        test_set_frame(test_df, job.probs(job.out_root, test_df["text"].tolist())),
    )


def _train_kfold(
    job: _Job,
    train_df: pd.DataFrame,
    valid_df: pd.DataFrame,
    test_df: pd.DataFrame,
    on_epoch_end: EpochCallback | None,
) -> tuple[TrainSummary, _Predictions | None]:
    """One model per fold over every labelled row (module docstring); heldout = out-of-fold
    probabilities of train then valid rows, test = the mean over the fold models."""
    labelled = labelled_rows(train_df, valid_df)
    folds = fold_ids(labelled)
    if is_main_process():
        clear_other_layouts(job.out_root, folds)
    wait_for_everyone()
    oof = np.full(len(labelled), np.nan)
    history: list[dict[str, float]] = []
    done: list[FoldSummary] = []
    for k in folds:
        in_fold = fold_mask(labelled, k)
        out_dir = fold_dir(job.out_root, k)
        cfg = job.cfg.model_copy(
            update={"checkpoint_dir": str(job.ckpt_root / f"fold_{k}"), "keep_checkpoint": True}
        )
        held = labelled[in_fold].reset_index(drop=True)
        rest = labelled[~in_fold].reset_index(drop=True)
        result = job.fit(rest, held, out_dir, cfg, _prefixed(on_epoch_end, k))
        done.append(_fold_summary(k, out_dir, result))
        history += [{"fold": k, **row} for row in result.history]
        if not result.completed:
            break
        if is_main_process():
            oof[in_fold] = job.probs(out_dir, held["text"].tolist())
    speeds = [f.train_samples_per_s for f in done if f.train_samples_per_s]
    summary = _summary(
        job,
        kfold=True,
        completed=all(f.completed for f in done),
        best_score=float(np.mean([f.best_score for f in done])),
        best_epochs=[f.best_epoch for f in done],
        history=history,
        train_samples_per_s=float(np.mean(speeds)) if speeds else None,
        folds=done,
    )
    if not summary.completed or not is_main_process():
        return summary, None
    test = job.probs(job.out_root, test_df["text"].tolist())  # mean over fold_<k>/ models
    return summary, _Predictions(heldout_frame(labelled, oof), test_set_frame(test_df, test))


def _fold_summary(k: int, fold_dir: Path, result: TrainResult) -> FoldSummary:
    return FoldSummary(
        fold=k,
        model_dir=fold_dir,
        completed=result.completed,
        best_epoch=result.best_epoch,
        best_score=result.best_score,
        train_samples_per_s=result.train_samples_per_s,
    )


def _prefixed(callback: EpochCallback | None, fold: int) -> EpochCallback | None:
    """``callback`` with the metric names prefixed ``fold_<k>/``."""
    if callback is None:
        return None

    def inner(epoch: int, metrics: dict[str, float]) -> None:
        callback(epoch, {f"fold_{fold}/{k}": v for k, v in metrics.items()})

    return inner
