"""Batches for the training loop: texts tokenised once, length-grouped, dynamically padded.

The training batches depend only on (seed, epoch): a seeded permutation is cut into mega-batches
of similar length, so that padding is small and a resumed run sees the same batches as an
uninterrupted one. Validation batches are sorted by length, longest first.

``batch_size`` is the GLOBAL batch: with N processes every process builds the same batches and
takes its contiguous part of each (:class:`ShardedBatchSampler`), so N processes step through
the same batches as one. The parts are padded to one size (as data-parallel training needs) with
rows labelled :data:`PAD_LABEL`, which the loss and the gathered validation figures leave out.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader

from papercls.inference.encoder import encode


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


# The label of a padding row: cross-entropy's ignore_index, dropped from gathered predictions.
PAD_LABEL = -100


def shard_of(batch: list[int], rank: int, world: int) -> list[int]:
    """Process ``rank``'s contiguous part of the global ``batch`` (parts differ by at most one
    row, the larger ones first), padded to ``ceil(len(batch) / world)`` rows with ``-1 - i``
    (row ``i`` of the batch, used as padding). Concatenating the parts of ranks 0..world-1 and
    dropping the padding gives ``batch`` back in order."""
    size = math.ceil(len(batch) / world)
    base, extra = divmod(len(batch), world)
    start = rank * base + min(rank, extra)
    part = batch[start : start + base + (rank < extra)]
    return part + [-1 - batch[0]] * (size - len(part))


class ShardedBatchSampler:
    """This process's part (:func:`shard_of`) of each batch of ``sampler``: every process
    yields as many batches as ``sampler``, all of one size per step."""

    def __init__(self, sampler: LengthGroupedBatchSampler, rank: int = 0, world: int = 1):
        self.sampler = sampler
        self.rank = int(rank)
        self.world = int(world)

    def set_epoch(self, epoch: int) -> None:
        self.sampler.set_epoch(epoch)

    def __iter__(self):
        for batch in self.sampler.batches():
            yield batch if self.world == 1 else shard_of(batch, self.rank, self.world)

    def __len__(self) -> int:
        return len(self.sampler)


class ListDataset(torch.utils.data.Dataset):
    """A map-style dataset over a list of feature dicts; index ``-1 - i`` is row ``i`` as a
    padding row (label :data:`PAD_LABEL`)."""

    def __init__(self, rows: list[dict[str, Any]]):
        self.rows = rows

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int) -> dict[str, Any]:
        if i < 0:
            return {**self.rows[-1 - i], "labels": PAD_LABEL}
        return self.rows[i]


def tokenize_frame(
    tokenizer, df: pd.DataFrame, max_length: int, keys: set[str] | None = None
) -> list[dict[str, Any]]:
    """One feature dict per row (no padding) with ``labels`` from the ``label`` column."""
    enc = encode(tokenizer, df["text"].tolist(), max_length)
    use = [k for k in enc if keys is None or k in keys]
    labels = df["label"].astype("int64").tolist()
    return [{**{k: enc[k][i] for k in use}, "labels": int(labels[i])} for i in range(len(df))]


class Loaders(NamedTuple):
    train: DataLoader
    valid: DataLoader
    sampler: LengthGroupedBatchSampler  # the training sampler (its epoch is set by the loop)


def build_loaders(
    tokenizer,
    train_rows: list[dict[str, Any]],
    valid_rows: list[dict[str, Any]],
    batch_size: int,
    eval_batch_size: int,
    seed: int,
    pad_to_multiple_of: int | None = None,
    rank: int = 0,
    world: int = 1,
) -> Loaders:
    """Training loader (length-grouped, shuffled by (seed, epoch)) and validation loader (sorted
    by length), both padding each batch to its longest row. ``batch_size`` and
    ``eval_batch_size`` are global: process ``rank`` of ``world`` loads its part of each batch."""
    from transformers import DataCollatorWithPadding

    collator = DataCollatorWithPadding(tokenizer, pad_to_multiple_of=pad_to_multiple_of)
    sampler = LengthGroupedBatchSampler(
        [len(r["input_ids"]) for r in train_rows], batch_size, seed=seed
    )
    train_loader = DataLoader(
        ListDataset(train_rows),
        batch_sampler=ShardedBatchSampler(sampler, rank, world),
        collate_fn=collator,
    )
    valid_sampler = LengthGroupedBatchSampler(
        [len(r["input_ids"]) for r in valid_rows], eval_batch_size, shuffle=False
    )
    valid_loader = DataLoader(
        ListDataset(valid_rows),
        batch_sampler=ShardedBatchSampler(valid_sampler, rank, world),
        collate_fn=collator,
    )
    return Loaders(train_loader, valid_loader, sampler)
