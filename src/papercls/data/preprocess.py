"""The preprocess stage: validate both CSVs, render the model text, split, write parquet files.

train.parquet and valid.parquet (uuid, text, label, fold) are the seeded stratified single split;
``fold`` (0..folds-1) is stratified over all labelled rows, for k-fold training."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from papercls.data.io import atomic_dir, write_json
from papercls.data.schema import load_test, load_train
from papercls.data.text import (
    SEP,
    SplitTooSmall,
    assign_folds,
    build_texts,
    plan_split,
    template_fields,
)
from papercls.errors import InputError

# The split settings `papercls validate` assumes when no params.yaml is at hand (params.yaml's).
DEFAULT_SPLIT = {"valid_size": 0.2, "folds": 5, "seed": 42}


def split_labelled(
    labels: np.ndarray, path: str | Path, cfg: dict[str, Any]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`papercls.data.text.plan_split` with the ``preprocess`` section's settings; a file too
    small for them is an InputError naming ``path`` and what is too small."""
    try:
        return plan_split(
            labels, float(cfg["valid_size"]), int(cfg.get("folds", 5)), int(cfg["seed"])
        )
    except SplitTooSmall as exc:
        raise InputError(path, str(exc), column="label") from None


def prepared_test_frame(test: pd.DataFrame, template: str) -> pd.DataFrame:
    """test.parquet's rows: uuid, text and, when the test CSV is labelled, its checked label
    (evaluation only: no stage trains on it)."""
    te = pd.DataFrame({"uuid": test["uuid"], "text": build_texts(test, template)})
    if "label" in test.columns:
        te["label"] = test["label"].astype("int64").to_numpy()
    return te


def prepare_frames(
    train_csv: str | Path, test_csv: str | Path, cfg: dict[str, Any]
) -> dict[str, Any]:
    """Validate and transform; nothing is written. Returns frames and meta."""
    template = cfg["text_template"]
    template_fields(template)
    train = load_train(train_csv)
    test = load_test(test_csv, keep_label=True)
    labels = train["label"].to_numpy()
    tr_idx, va_idx, _ = split_labelled(labels, train_csv, cfg)
    texts = build_texts(train, template)
    labelled = pd.DataFrame({"uuid": train["uuid"], "text": texts, "label": train["label"]})
    # k-fold ids stratified over every labelled row (k-fold training pools train and valid);
    # the single split's train/valid rows do not depend on them
    labelled["fold"] = assign_folds(labels, int(cfg.get("folds", 5)), int(cfg["seed"]))
    tr = labelled.iloc[tr_idx].reset_index(drop=True)
    va = labelled.iloc[va_idx].reset_index(drop=True)
    te = prepared_test_frame(test, template)
    meta = {
        "n_train": len(tr),
        "n_valid": len(va),
        "n_test": len(te),
        "prior": float(labels.mean()),
        "sep": SEP,
        "template": template,
    }
    return {"train": tr, "valid": va, "test": te, "meta": meta}


def run_preprocess(
    train_csv: str | Path, test_csv: str | Path, out_dir: str | Path, cfg: dict[str, Any]
) -> dict[str, Any]:
    """Validate first; then write train/valid/test parquet and meta.json into ``out_dir``
    as one unit (a temporary folder renamed into place), so a failure leaves no output."""
    frames = prepare_frames(train_csv, test_csv, cfg)
    with atomic_dir(out_dir) as tmp:
        for name in ("train", "valid", "test"):
            frames[name].to_parquet(tmp / f"{name}.parquet", index=False)
        write_json(frames["meta"], tmp / "meta.json")
    return frames["meta"]
