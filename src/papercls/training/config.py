"""The training parameters of an encoder model: a ``baseline``/``topline`` params section,
checked (unknown keys are an error) and typed, with the fields that determine the trained
weights told apart from the runtime ones."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from papercls.training.selection import check_select_metric

# Keys of a model section that are about building the model, not the loop.
MODEL_KEYS = frozenset({"backbone", "kfold", "head"})
CLASS_WEIGHTS = ("none", "balanced")


@dataclass
class TrainConfig:
    max_length: int = 256
    batch_size: int = 16  # the global batch: with N processes each trains on about 1/N of it
    grad_accum: int = 1
    epochs: int = 3
    lr: float = 5e-5
    warmup_ratio: float = 0.1
    weight_decay: float = 0.01
    patience: int = 2  # epochs without improvement of select_metric before stopping; 0 = never
    seed: int = 42
    threads: int = 0  # torch CPU threads; 0 = library default (all cores)
    max_grad_norm: float = 1.0
    eval_batch_size: int = 64
    mixed_precision: str = "auto"  # CUDA: bf16/fp16; CPU: bf16 where native | fp32 (or no) | bf16 | fp16
    select_best: bool = True  # final weights = best epoch by select_metric (else the last epoch)
    select_metric: str = "pr_auc"  # criterion of early stopping and best epoch (papercls.training.selection)
    min_steps: int = 0  # minimum optimizer updates: epochs are raised to reach it; 0 = off
    class_weight: str = "none"  # none | balanced (cross-entropy weighted n / (2 * n_class))
    checkpoint_dir: str | None = None  # default: <out_dir>/../<out_dir name>.ckpt
    keep_checkpoint: bool = False  # keep the checkpoint after success (k-fold: until all folds)
    max_epochs_this_run: int | None = None  # stop (resumably) after this many epochs this call
    progress: bool | None = None  # tqdm bars; None = only on a terminal
    # processes the train stage starts (torchrun) when not started by a launcher already; the
    # loop itself trains with the processes it runs in (papercls.distributed)
    processes: int = 1

    # Fields that do not change the trained weights (left out of the resume fingerprint).
    RUNTIME_FIELDS = frozenset(
        {
            "threads",
            "eval_batch_size",
            "checkpoint_dir",
            "keep_checkpoint",
            "max_epochs_this_run",
            "progress",
            "processes",
        }
    )

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if value is None:
                continue
            if f.type in ("int", "int | None"):
                setattr(self, f.name, int(value))
            elif f.type == "float":
                setattr(self, f.name, float(value))
        if self.epochs < 1:
            raise ValueError("epochs must be >= 1")
        if self.processes < 1:
            raise ValueError(f"processes must be >= 1, got {self.processes}")
        if self.batch_size < 1 or self.grad_accum < 1:
            raise ValueError("batch_size and grad_accum must be >= 1")
        if not 0.0 <= self.warmup_ratio < 1.0:
            raise ValueError("warmup_ratio must be in [0, 1)")
        if self.mixed_precision not in ("fp32", "auto", "no", "bf16", "fp16"):
            raise ValueError("mixed_precision must be one of fp32, auto, bf16, fp16 (no = fp32)")
        check_select_metric(self.select_metric)
        if self.min_steps < 0:
            raise ValueError(f"min_steps must be >= 0, got {self.min_steps}")
        if self.class_weight is None:
            self.class_weight = "none"
        if self.class_weight not in CLASS_WEIGHTS:
            raise ValueError(
                f"class_weight must be one of {list(CLASS_WEIGHTS)}, got {self.class_weight!r}"
            )

    @classmethod
    def from_params(cls, section: dict[str, Any], **overrides: Any) -> TrainConfig:
        """From a ``baseline``/``topline`` params section (model keys backbone/kfold/head are
        ignored; unknown keys are an error so that typos do not pass silently)."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(section) - names - MODEL_KEYS
        if unknown:
            raise ValueError(f"unknown training param(s) {sorted(unknown)}; known: {sorted(names)}")
        kwargs = {k: v for k, v in section.items() if k in names}
        kwargs.update(overrides)
        return cls(**kwargs)

    def fingerprint_fields(self) -> dict[str, Any]:
        return {k: v for k, v in dataclasses.asdict(self).items() if k not in self.RUNTIME_FIELDS}
