"""The peer of the training benchmark: a plain ``transformers.Trainer`` fine-tune as
transformers' run_classification example does it (every row padded to max length), or, with
``group_by_length``, the Trainer's own best for rows of varied length: its length-grouped
sampler (``train_sampling_strategy="group_by_length"``) and padding to each batch's longest
row (``DataCollatorWithPadding``)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from benchmarks.timing import sync
from benchmarks.workload import f1_at_half


def _epoch_timer():
    """A ``TrainerCallback`` that sums wall and CPU seconds between epoch begin and end."""
    from transformers import TrainerCallback

    class EpochTimer(TrainerCallback):
        seconds = cpu_seconds = 0.0

        def on_epoch_begin(self, args, state, control, **kwargs):
            sync()
            self.t0, self.c0 = time.perf_counter(), time.process_time()

        def on_epoch_end(self, args, state, control, **kwargs):
            sync()
            self.seconds += time.perf_counter() - self.t0
            self.cpu_seconds += time.process_time() - self.c0

    return EpochTimer()


def _padded_dataset(
    tokenizer, df, max_length: int, pad: bool = True
) -> list[dict[str, Any]]:
    """Rows tokenised and truncated to ``max_length``; ``pad``: padded to it as well."""
    padding = "max_length" if pad else False
    enc = tokenizer(df["text"].tolist(), padding=padding, max_length=max_length, truncation=True)
    labels = df["label"].astype(int).tolist()
    return [{**{k: enc[k][i] for k in enc}, "label": labels[i]} for i in range(len(df))]


class BatchRecorder:
    """Wraps a data collator and notes, for each batch it makes, the real length of every row
    (its attention mask's sum) and the length the batch was padded to."""

    def __init__(self, collator) -> None:
        self.collator = collator
        self.batches: list[tuple[list[int], int]] = []

    def __call__(self, features):
        batch = self.collator(features)
        mask = batch["attention_mask"]
        self.batches.append(([int(n) for n in mask.sum(dim=1).tolist()], int(mask.shape[1])))
        return batch


def _training_args(cfg, out: Path, group_by_length: bool = False):
    import torch
    from transformers import TrainingArguments

    cuda = torch.cuda.is_available()
    return TrainingArguments(
        output_dir=str(out),
        num_train_epochs=1,
        per_device_train_batch_size=cfg.batch_size,
        per_device_eval_batch_size=cfg.eval_batch_size,
        gradient_accumulation_steps=cfg.grad_accum,
        learning_rate=cfg.lr,
        weight_decay=cfg.weight_decay,
        warmup_steps=cfg.warmup_ratio,  # a float < 1 is a ratio in transformers 5
        max_grad_norm=cfg.max_grad_norm,
        lr_scheduler_type="linear",
        seed=cfg.seed,
        bf16=cuda and torch.cuda.is_bf16_supported(),
        use_cpu=not cuda,
        eval_strategy="no",
        save_strategy="no",
        logging_strategy="no",
        report_to="none",
        disable_tqdm=True,
        dataloader_num_workers=0,
        train_sampling_strategy="group_by_length" if group_by_length else "random",
    )


def train_peer(
    section: dict[str, Any],
    backbone_dir: str,
    train_df,
    valid_df,
    out: Path,
    group_by_length: bool = False,
):
    """A plain ``Trainer`` fine-tune: padding="max_length", ``default_data_collator``, random
    sampler (no length grouping), report_to="none"; same hyperparameters as ours.
    ``group_by_length``: the Trainer's length-grouped sampler with padding to each batch's
    longest row instead. The loop is timed by a callback between epoch begin and end (as our
    loop times itself); ``train_batches`` are the (row lengths, padded length) of its batches."""
    import numpy as np
    from transformers import (
        AutoModelForSequenceClassification,
        AutoTokenizer,
        DataCollatorWithPadding,
        Trainer,
        default_data_collator,
        set_seed,
    )

    from papercls.training.loop import TrainConfig

    cfg = TrainConfig.from_params(section, epochs=1)
    t0, c0 = time.perf_counter(), time.process_time()
    tokenizer = AutoTokenizer.from_pretrained(backbone_dir)
    set_seed(cfg.seed)
    model = AutoModelForSequenceClassification.from_pretrained(backbone_dir, num_labels=2)
    pad = not group_by_length
    train_ds = _padded_dataset(tokenizer, train_df, cfg.max_length, pad)
    valid_ds = _padded_dataset(tokenizer, valid_df, cfg.max_length, pad)
    timer = _epoch_timer()
    recorder = BatchRecorder(default_data_collator if pad else DataCollatorWithPadding(tokenizer))
    trainer = Trainer(
        model=model,
        args=_training_args(cfg, out, group_by_length),
        train_dataset=train_ds,
        data_collator=recorder,
        processing_class=tokenizer,
        callbacks=[timer],
    )
    metrics = trainer.train().metrics
    train_batches = list(recorder.batches)
    logits = trainer.predict(valid_ds).predictions
    trainer.save_model(str(out))
    tokenizer.save_pretrained(str(out))
    sync()
    wall, cpu_s = time.perf_counter() - t0, time.process_time() - c0
    z = logits - logits.max(axis=1, keepdims=True)
    probs = np.exp(z[:, 1]) / np.exp(z).sum(axis=1)
    return {
        "samples_per_s": len(train_df) / timer.seconds,
        "trainer_samples_per_s": metrics.get("train_samples_per_second"),
        "loop_seconds": timer.seconds,
        "loop_cpu_seconds": timer.cpu_seconds,
        "wall_seconds": wall,
        "cpu_seconds": cpu_s,
        "valid_f1": f1_at_half(valid_df["label"].to_numpy(), probs),
        "group_by_length": group_by_length,
        "train_batches": train_batches,
    }
