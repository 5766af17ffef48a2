"""k-fold training over every labelled row, shared by the encoder and TF-IDF train stages.

The preprocess stage writes a ``fold`` column (0..folds-1, stratified over all labelled rows)
on both train.parquet and valid.parquet. In k-fold mode the two are one pool: the model of fold
k trains on the rows of the other folds and scores the rows of fold k, so every labelled row
gets exactly one out-of-fold probability (the held-out set of evaluate and tune_thresholds) and
the test probabilities are the mean over the fold models. The fold models are saved as
``models/<name>/fold_<k>/``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd


def labelled_rows(train_df: pd.DataFrame, valid_df: pd.DataFrame) -> pd.DataFrame:
    """train.parquet then valid.parquet rows as one frame (index 0..n-1), checked to carry the
    ``fold`` column."""
    for split, df in (("train", train_df), ("valid", valid_df)):
        if "fold" not in df.columns:
            raise ValueError(
                f"kfold: true needs a fold column in {split}.parquet; "
                "rerun the preprocess stage (dvc repro preprocess)"
            )
    return pd.concat([train_df, valid_df], ignore_index=True)


def fold_ids(labelled: pd.DataFrame) -> list[int]:
    """The sorted fold ids of ``labelled``; at least two, each holding both classes."""
    folds = sorted(int(f) for f in labelled["fold"].unique())
    if len(folds) < 2:
        raise ValueError(
            f"kfold: true needs at least 2 folds (preprocess.folds), the data has {folds}"
        )
    for k in folds:
        labels = set(labelled.loc[labelled["fold"] == k, "label"].astype(int).tolist())
        if labels != {0, 1}:
            raise ValueError(
                f"fold {k} holds only label(s) {sorted(labels)}: too few rows of a class for "
                f"{len(folds)} folds (lower preprocess.folds)"
            )
    return folds


def fold_mask(labelled: pd.DataFrame, k: int) -> np.ndarray:
    return labelled["fold"].astype("int64").to_numpy() == k


def fold_dir(out_root: Path, k: int) -> Path:
    return out_root / f"fold_{k}"


def clear_other_layouts(out_root: Path, folds: list[int]) -> None:
    """Remove everything in ``models/<name>/`` but the ``fold_<k>`` folders of ``folds``: a
    single-model layout, fold folders of other fold ids and leftovers of killed writes, so that
    it holds exactly this run's fold models (finished folds of an interrupted run are kept)."""
    if not out_root.is_dir():
        return
    keep = {fold_dir(out_root, k).name for k in folds}
    for p in out_root.iterdir():
        if p.name in keep:
            continue
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p, ignore_errors=True)
        else:
            p.unlink()
