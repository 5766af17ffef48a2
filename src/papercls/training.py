"""The one training loop of the encoder models (baseline, topline, their k-fold variants).

``train()`` runs unchanged on CPU, on one GPU (bf16/fp16 autocast) and on several GPUs under
``torchrun`` / ``accelerate launch`` (Accelerate). Texts are tokenised once; batches are
length-grouped (shuffled within seeded mega-batches of similar length) and dynamically padded.
AdamW (no decay on biases/norms), linear warm-up and decay, gradient accumulation, clipping,
early stopping on validation F1 with the best epoch's weights kept.

Every epoch ends with a checkpoint ``<ckpt>/epoch-NNNN/`` written to a temp dir and renamed
(model + best weights as safetensors; optimizer/scheduler/scaler state via ``torch.save`` and
read back with ``torch.load(weights_only=True)``; the rest in JSON). Rerunning after an
interruption resumes from the last complete checkpoint and ends with exactly the weights of an
uninterrupted run on CPU: batch order depends only on (seed, epoch) and the global RNGs are
reseeded with ``seed + epoch`` at the start of every epoch.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import re
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
from safetensors.torch import load_file, save_file
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from papercls.inference import encode, model_input_names, resolve_max_length, show_progress
from papercls.io import replace_dir

CHECKPOINT_FORMAT = "papercls-ckpt-v1"
_EPOCH_DIR = re.compile(r"^epoch-(\d{4,})$")

# Keys of a model section that are about building the model, not the loop.
MODEL_KEYS = frozenset({"backbone", "kfold", "head"})

EpochCallback = Callable[[int, dict[str, float]], None]


@dataclass
class TrainConfig:
    max_length: int = 256
    batch_size: int = 16
    grad_accum: int = 1
    epochs: int = 3
    lr: float = 5e-5
    warmup_ratio: float = 0.1
    weight_decay: float = 0.01
    patience: int = 2  # epochs without validation-F1 improvement before stopping; 0 = never
    seed: int = 42
    threads: int = 0  # torch CPU threads; 0 = library default (all cores)
    max_grad_norm: float = 1.0
    eval_batch_size: int = 64
    mixed_precision: str = "auto"  # auto (bf16/fp16 on CUDA, none on CPU) | no | bf16 | fp16
    select_best: bool = True  # final weights = best validation-F1 epoch (else the last epoch)
    checkpoint_dir: str | None = None  # default: <out_dir>/../<out_dir name>.ckpt
    keep_checkpoint: bool = False  # keep the checkpoint after success (k-fold: until all folds)
    max_epochs_this_run: int | None = None  # stop (resumably) after this many epochs this call
    progress: bool | None = None  # tqdm bars; None = only on a terminal

    # Fields that do not change the trained weights (left out of the resume fingerprint).
    RUNTIME_FIELDS = frozenset(
        {
            "threads",
            "eval_batch_size",
            "checkpoint_dir",
            "keep_checkpoint",
            "max_epochs_this_run",
            "progress",
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
        if self.batch_size < 1 or self.grad_accum < 1:
            raise ValueError("batch_size and grad_accum must be >= 1")
        if not 0.0 <= self.warmup_ratio < 1.0:
            raise ValueError("warmup_ratio must be in [0, 1)")
        if self.mixed_precision not in ("auto", "no", "bf16", "fp16"):
            raise ValueError("mixed_precision must be one of auto, no, bf16, fp16")

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
# batching


class LengthGroupedBatchSampler:
    """Batches of indices of similar length.

    shuffle=True: a seeded permutation (``seed``, ``epoch``) is cut into mega-batches of
    ``batch_size * mega_batch_mult`` indices, each sorted by length (longest first), concatenated
    and cut into batches; the full batches are shuffled, the one partial batch comes last.
    shuffle=False: all indices sorted by length (longest first).
    """

    drop_last = False

    def __init__(
        self,
        lengths: list[int] | np.ndarray,
        batch_size: int,
        seed: int = 0,
        shuffle: bool = True,
        mega_batch_mult: int | None = None,
    ):
        self.lengths = np.asarray(lengths, dtype=np.int64)
        self.batch_size = int(batch_size)
        self.seed = int(seed)
        self.shuffle = shuffle
        n = len(self.lengths)
        if mega_batch_mult is None:  # as transformers' LengthGroupedSampler
            mega_batch_mult = max(1, min(n // (self.batch_size * 4), 50))
        self.mega_batch_mult = int(mega_batch_mult)
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def batches(self) -> list[list[int]]:
        n = len(self.lengths)
        bs = self.batch_size
        if not self.shuffle:
            order = np.argsort(-self.lengths, kind="stable")
            return [order[i : i + bs].tolist() for i in range(0, n, bs)]
        rng = np.random.default_rng([self.seed, self.epoch])
        perm = rng.permutation(n)
        mega = bs * self.mega_batch_mult
        chunks = []
        for s in range(0, n, mega):
            chunk = perm[s : s + mega]
            chunks.append(chunk[np.argsort(-self.lengths[chunk], kind="stable")])
        flat = np.concatenate(chunks) if chunks else perm
        batches = [flat[i : i + bs].tolist() for i in range(0, n, bs)]
        tail = [batches.pop()] if batches and len(batches[-1]) < bs else []
        order = rng.permutation(len(batches))
        return [batches[i] for i in order] + tail

    def __iter__(self):
        yield from self.batches()

    def __len__(self) -> int:
        return math.ceil(len(self.lengths) / self.batch_size)


class _ListDataset(torch.utils.data.Dataset):
    def __init__(self, rows: list[dict[str, Any]]):
        self.rows = rows

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int) -> dict[str, Any]:
        return self.rows[i]


def tokenize_frame(
    tokenizer, df: pd.DataFrame, max_length: int, keys: set[str] | None = None
) -> list[dict[str, Any]]:
    """One feature dict per row (no padding) with ``labels`` from the ``label`` column."""
    enc = encode(tokenizer, df["text"].tolist(), max_length)
    use = [k for k in enc if keys is None or k in keys]
    labels = df["label"].astype("int64").tolist()
    return [{**{k: enc[k][i] for k in use}, "labels": int(labels[i])} for i in range(len(df))]


# --------------------------------------------------------------------------------------------
# helpers


def resolve_mixed_precision(value: str) -> str:
    if value != "auto":
        return value
    if torch.cuda.is_available():
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    return "no"


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


def _cpu_state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """Detached CPU copies (no shared storage, so safetensors can write them)."""
    return {k: v.detach().to("cpu", copy=True).contiguous() for k, v in model.state_dict().items()}


def _fingerprint(cfg: TrainConfig, model, train_rows, valid_rows, extra: dict) -> str:
    h = hashlib.sha256()
    h.update(json.dumps(cfg.fingerprint_fields(), sort_keys=True, default=str).encode())
    h.update(type(model).__name__.encode())
    cfg_dict = model.config.to_dict()
    cfg_dict.pop("_name_or_path", None)
    cfg_dict.pop("transformers_version", None)
    h.update(json.dumps(cfg_dict, sort_keys=True, default=str).encode())
    h.update(json.dumps(extra, sort_keys=True).encode())
    for rows in (train_rows, valid_rows):
        h.update(str(len(rows)).encode())
        for r in rows:
            h.update(np.asarray(r["input_ids"], dtype=np.int64).tobytes())
            h.update(b"|%d;" % r["labels"])
    return h.hexdigest()


def latest_checkpoint(ckpt_root: str | Path) -> Path | None:
    """The newest complete ``epoch-NNNN`` checkpoint (one with state.json), or None."""
    root = Path(ckpt_root)
    if not root.is_dir():
        return None
    found = []
    for p in root.iterdir():
        m = _EPOCH_DIR.match(p.name)
        if m and p.is_dir() and (p / "state.json").is_file():
            found.append((int(m.group(1)), p))
    return max(found)[1] if found else None


def _torch_load(path: Path) -> Any:
    return torch.load(path, map_location="cpu", weights_only=True)


def _write_checkpoint(
    root: Path,
    epoch: int,
    model_state: dict[str, torch.Tensor],
    best_state: dict[str, torch.Tensor] | None,
    best_is_current: bool,
    optimizer,
    scheduler,
    scaler,
    state: dict[str, Any],
) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    final = root / f"epoch-{epoch:04d}"
    tmp = root / f".{final.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    save_file(model_state, str(tmp / "model.safetensors"), metadata={"format": "pt"})
    if not best_is_current and best_state is not None:
        save_file(best_state, str(tmp / "best.safetensors"), metadata={"format": "pt"})
    torch.save(optimizer.state_dict(), tmp / "optimizer.pt")
    torch.save(scheduler.state_dict(), tmp / "scheduler.pt")
    if scaler is not None:
        torch.save(scaler.state_dict(), tmp / "scaler.pt")
    # state.json last: its presence marks the checkpoint complete.
    (tmp / "state.json").write_text(json.dumps(state, indent=1), "utf-8")
    replace_dir(tmp, final)
    for p in root.iterdir():  # older checkpoints and leftovers of killed writes
        if p != final and (_EPOCH_DIR.match(p.name) or p.name.startswith(".epoch-")):
            shutil.rmtree(p, ignore_errors=True)
    return final


@torch.inference_mode()
def _evaluate(model, loader, accelerator) -> tuple[float, float, np.ndarray, np.ndarray]:
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


# --------------------------------------------------------------------------------------------
# the loop


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
    from accelerate import Accelerator
    from transformers import DataCollatorWithPadding, get_linear_schedule_with_warmup, set_seed

    out_dir = Path(out_dir)
    ckpt_root = (
        Path(cfg.checkpoint_dir) if cfg.checkpoint_dir else out_dir.parent / f"{out_dir.name}.ckpt"
    )
    if cfg.threads > 0:
        torch.set_num_threads(cfg.threads)
    for name, df in (("train", train_df), ("valid", valid_df)):
        missing = {"text", "label"} - set(df.columns)
        if missing:
            raise ValueError(f"{name} frame lacks column(s) {sorted(missing)}")
        if len(df) == 0:
            raise ValueError(f"{name} frame is empty")

    set_seed(cfg.seed)
    accelerator = Accelerator(mixed_precision=resolve_mixed_precision(cfg.mixed_precision))
    main = accelerator.is_main_process
    progress = show_progress(cfg.progress) and main

    # -- data: tokenised once ---------------------------------------------------------------
    max_length = resolve_max_length(tokenizer, cfg.max_length)
    keys = model_input_names(model)
    train_rows = tokenize_frame(tokenizer, train_df, max_length, keys)
    valid_rows = tokenize_frame(tokenizer, valid_df, max_length, keys)
    collator = DataCollatorWithPadding(
        tokenizer, pad_to_multiple_of=8 if accelerator.device.type == "cuda" else None
    )
    sampler = LengthGroupedBatchSampler(
        [len(r["input_ids"]) for r in train_rows], cfg.batch_size, seed=cfg.seed
    )
    train_loader = DataLoader(_ListDataset(train_rows), batch_sampler=sampler, collate_fn=collator)
    valid_sampler = LengthGroupedBatchSampler(
        [len(r["input_ids"]) for r in valid_rows], cfg.eval_batch_size, shuffle=False
    )
    valid_loader = DataLoader(
        _ListDataset(valid_rows), batch_sampler=valid_sampler, collate_fn=collator
    )

    # -- optimisation -----------------------------------------------------------------------
    optimizer = torch.optim.AdamW(parameter_groups(model, cfg.weight_decay), lr=cfg.lr)
    model, optimizer, train_loader, valid_loader = accelerator.prepare(
        model, optimizer, train_loader, valid_loader
    )
    batches_per_epoch = len(train_loader)  # per process
    updates_per_epoch = math.ceil(batches_per_epoch / cfg.grad_accum)
    total_updates = updates_per_epoch * cfg.epochs
    warmup = math.ceil(cfg.warmup_ratio * total_updates)
    scheduler = get_linear_schedule_with_warmup(
        getattr(optimizer, "optimizer", optimizer), warmup, total_updates
    )
    scaler = getattr(accelerator, "scaler", None)
    unwrapped = accelerator.unwrap_model(model)

    # -- resume -----------------------------------------------------------------------------
    fingerprint = _fingerprint(
        cfg,
        unwrapped,
        train_rows,
        valid_rows,
        {
            "processes": accelerator.num_processes,
            "mixed_precision": accelerator.mixed_precision,
            "max_length": max_length,
        },
    )
    history: list[dict[str, float]] = []
    best_epoch, best_f1, bad_epochs, start_epoch, stop = 0, -1.0, 0, 0, False
    best_state: dict[str, torch.Tensor] | None = None
    global_step = 0
    ckpt = latest_checkpoint(ckpt_root)
    if ckpt is not None:
        state = json.loads((ckpt / "state.json").read_text("utf-8"))
        if state.get("format") != CHECKPOINT_FORMAT or state.get("fingerprint") != fingerprint:
            warnings.warn(
                f"checkpoint {ckpt} was made with other data/params/model; starting afresh",
                stacklevel=2,
            )
            accelerator.wait_for_everyone()
            if main:
                shutil.rmtree(ckpt_root, ignore_errors=True)
            accelerator.wait_for_everyone()
        else:
            unwrapped.load_state_dict(load_file(str(ckpt / "model.safetensors")))
            optimizer.load_state_dict(_torch_load(ckpt / "optimizer.pt"))
            scheduler.load_state_dict(_torch_load(ckpt / "scheduler.pt"))
            if scaler is not None and (ckpt / "scaler.pt").is_file():
                scaler.load_state_dict(_torch_load(ckpt / "scaler.pt"))
            if state["best_is_current"]:
                best_state = _cpu_state(unwrapped)
            else:
                best_state = load_file(str(ckpt / "best.safetensors"))
            history = state["history"]
            best_epoch, best_f1 = state["best_epoch"], state["best_f1"]
            bad_epochs, start_epoch, stop = state["bad_epochs"], state["epoch"], state["stop"]
            global_step = state["global_step"]
            accelerator.print(f"resuming from {ckpt} (epoch {start_epoch} done)")

    # -- epochs -----------------------------------------------------------------------------
    accelerator.print(
        f"training {type(unwrapped).__name__}: {len(train_rows)} train / {len(valid_rows)} valid "
        f"rows, max_length {max_length}, {cfg.epochs} epoch(s) x {batches_per_epoch} batches, "
        f"{accelerator.num_processes} process(es) on {accelerator.device.type}, "
        f"mixed precision {accelerator.mixed_precision}, {torch.get_num_threads()} CPU threads"
    )
    epochs_run, train_time, train_samples = 0, 0.0, 0
    interrupted = False
    for epoch in range(start_epoch, cfg.epochs):
        if stop:
            break
        if cfg.max_epochs_this_run is not None and epochs_run >= cfg.max_epochs_this_run:
            interrupted = True
            break
        set_seed(cfg.seed + epoch)
        if hasattr(train_loader, "set_epoch"):  # Accelerate's loader re-sets it on iteration
            train_loader.set_epoch(epoch)
        sampler.set_epoch(epoch)
        model.train()
        t0 = time.perf_counter()
        loss_sum = torch.zeros((), device=accelerator.device)
        n_seen = torch.zeros((), device=accelerator.device)
        bar = tqdm(
            total=batches_per_epoch,
            desc=f"epoch {epoch + 1}/{cfg.epochs}",
            disable=not progress,
            leave=False,
        )
        optimizer.zero_grad(set_to_none=True)
        for i, batch in enumerate(train_loader):
            group_start = (i // cfg.grad_accum) * cfg.grad_accum
            group_size = min(cfg.grad_accum, batches_per_epoch - group_start)
            is_update = (i + 1) % cfg.grad_accum == 0 or i + 1 == batches_per_epoch
            bs = batch["input_ids"].shape[0]
            if is_update or accelerator.num_processes == 1:
                out = model(**batch)
                accelerator.backward(out.loss / group_size)
            else:
                with accelerator.no_sync(model):
                    out = model(**batch)
                    accelerator.backward(out.loss / group_size)
            loss_sum += out.loss.detach().float() * bs
            n_seen += bs
            if is_update:
                if cfg.max_grad_norm and cfg.max_grad_norm > 0:
                    accelerator.clip_grad_norm_(model.parameters(), cfg.max_grad_norm)
                optimizer.step()
                if not accelerator.optimizer_step_was_skipped:
                    scheduler.step()
                optimizer.zero_grad(set_to_none=True)
                global_step += 1
            bar.update(1)
        bar.close()
        train_time += time.perf_counter() - t0
        totals = accelerator.reduce(torch.stack([loss_sum, n_seen]), reduction="sum")
        train_loss = float(totals[0] / totals[1])
        train_samples += int(totals[1])

        valid_loss, valid_f1, _, _ = _evaluate(model, valid_loader, accelerator)
        epochs_run += 1
        improved = valid_f1 > best_f1
        if improved:
            best_epoch, best_f1, bad_epochs = epoch + 1, valid_f1, 0
            best_state = _cpu_state(unwrapped)
        else:
            bad_epochs += 1
        stop = cfg.patience > 0 and bad_epochs >= cfg.patience
        row = {
            "epoch": epoch + 1,
            "train_loss": train_loss,
            "valid_loss": valid_loss,
            "valid_f1": valid_f1,
        }
        history.append(row)
        accelerator.print(
            f"epoch {epoch + 1}/{cfg.epochs}: train_loss {train_loss:.4f} "
            f"valid_loss {valid_loss:.4f} valid_f1 {valid_f1:.4f}"
            + (" *" if improved else "")
            + (" (early stop)" if stop else "")
        )
        if main:
            _write_checkpoint(
                ckpt_root,
                epoch + 1,
                _cpu_state(unwrapped),
                best_state,
                improved,
                optimizer,
                scheduler,
                scaler,
                {
                    "format": CHECKPOINT_FORMAT,
                    "fingerprint": fingerprint,
                    "epoch": epoch + 1,
                    "global_step": global_step,
                    "history": history,
                    "best_epoch": best_epoch,
                    "best_f1": best_f1,
                    "best_is_current": improved,
                    "bad_epochs": bad_epochs,
                    "stop": stop,
                },
            )
        accelerator.wait_for_everyone()
        if on_epoch_end is not None and main:
            on_epoch_end(epoch + 1, {**row, "lr": float(scheduler.get_last_lr()[0])})

    speed = train_samples / train_time if train_time > 0 else None
    result = TrainResult(
        history=history,
        best_epoch=best_epoch,
        best_valid_f1=best_f1,
        completed=not interrupted,
        stopped_early=stop and len(history) < cfg.epochs,
        model_dir=None,
        epochs_run=epochs_run,
        resumed_from_epoch=start_epoch,
        train_samples_per_s=speed,
        extra={"checkpoint_dir": str(ckpt_root), "max_length": max_length},
    )
    if interrupted:
        accelerator.free_memory()
        return result

    # -- final model ------------------------------------------------------------------------
    if cfg.select_best and best_state is not None:
        unwrapped.load_state_dict(best_state)
    else:
        result.best_epoch = history[-1]["epoch"] if history else best_epoch
    if main:
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        tmp = out_dir.parent / f".{out_dir.name}.tmp-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        try:
            unwrapped.save_pretrained(tmp)
            tokenizer.model_max_length = max_length  # inference reuses the training length
            tokenizer.save_pretrained(tmp)
            (tmp / "trainer_state.json").write_text(
                json.dumps(
                    {
                        "history": history,
                        "best_epoch": result.best_epoch,
                        "best_valid_f1": best_f1,
                        "selected": "best" if cfg.select_best else "last",
                        # what determines the weights; not runtime fields such as the
                        # (absolute) checkpoint_dir, which would tie the model's hash to the
                        # checkout's location
                        "config": cfg.fingerprint_fields(),
                    },
                    indent=1,
                ),
                "utf-8",
            )
            replace_dir(tmp, out_dir)
        finally:  # an interrupted save (SIGTERM, full disk) leaves no half-written folder
            shutil.rmtree(tmp, ignore_errors=True)
        if not cfg.keep_checkpoint:
            shutil.rmtree(ckpt_root, ignore_errors=True)
    accelerator.wait_for_everyone()
    accelerator.free_memory()
    result.model_dir = out_dir
    return result


def write_history(history: list[dict[str, Any]], path: str | Path) -> Path:
    """history rows -> CSV (epoch, train_loss, valid_loss, valid_f1 [, fold first]),
    written atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    cols = ["epoch", "train_loss", "valid_loss", "valid_f1"]
    df = pd.DataFrame(history)
    if "fold" in df.columns:
        cols = ["fold", *cols]
    df = df.reindex(columns=cols)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    df.to_csv(tmp, index=False)
    os.replace(tmp, path)
    return path
