"""Reading the prediction files every model writes: ``predictions/<model>/heldout.parquet``
(uuid, label, prob) and ``predictions/<model>/test.parquet`` (uuid, prob), checked. Errors name
the file and, for a missing file, the model and how to make it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from papercls.evaluation.metrics import check_inputs


def prediction_path(predictions_dir: str | Path, model: str, split: str) -> Path:
    """predictions/<model>/<split>.parquet with split in {heldout, test}."""
    return Path(predictions_dir) / model / f"{split}.parquet"


def _read_parquet(path: Path, model: str, columns: list[str]) -> pd.DataFrame:
    if not path.exists():
        raise FileNotFoundError(
            f"prediction file {path} not found (model {model!r}): run its training stage first "
            f"(dvc repro), or remove {model!r} from evaluate.models in params.yaml"
        )
    try:
        df = pd.read_parquet(path)
    except Exception as exc:  # corrupt or non-parquet file
        raise ValueError(f"{path}: cannot read parquet file ({exc})") from None
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(f"{path}: missing column(s) {missing}; found {list(df.columns)}")
    if len(df) == 0:
        raise ValueError(f"{path}: no rows")
    df = df[columns].copy()
    df["uuid"] = [str(u) for u in df["uuid"].tolist()]
    dup = df["uuid"].duplicated()
    if dup.any():
        raise ValueError(f"{path}: duplicate uuid {df['uuid'][dup].tolist()[0]!r}")
    return df


def load_heldout(path: str | Path, model: str = "?") -> pd.DataFrame:
    """Held-out predictions (uuid, label, prob), checked; errors name the file."""
    path = Path(path)
    df = _read_parquet(path, model, ["uuid", "label", "prob"])
    try:
        y, p = check_inputs(df["label"].to_numpy(), df["prob"].to_numpy())
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None
    df["label"], df["prob"] = y, p
    return df


def load_test_probs(path: str | Path, model: str = "?") -> pd.DataFrame:
    """Test predictions (uuid, prob) in file order, checked; errors name the file."""
    path = Path(path)
    df = _read_parquet(path, model, ["uuid", "prob"])
    p = df["prob"].to_numpy(dtype=np.float64)
    if not np.isfinite(p).all() or (p < 0).any() or (p > 1).any():
        raise ValueError(f"{path}: prob must be finite and within [0, 1]")
    df["prob"] = p
    return df
