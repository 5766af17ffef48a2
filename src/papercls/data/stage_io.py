"""The files of the train stages: the prepared splits they read and the predictions they write.

Inputs: ``<prepared>/{train,valid,test}.parquet``. Outputs: ``predictions/<name>/heldout.parquet``
(uuid, label, prob), ``predictions/<name>/test.parquet`` (uuid, prob) and the encoders'
``metrics/<name>/history.csv``, written atomically.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from papercls.data.io import atomic_path, write_parquet
from papercls.evaluation.rounding import round_frame


class PredictionFiles(NamedTuple):
    heldout: Path
    test: Path


def read_prepared(prepared_dir: str | Path) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    prepared_dir = Path(prepared_dir)
    frames = []
    for split, cols in (
        ("train", ["uuid", "text", "label"]),
        ("valid", ["uuid", "text", "label"]),
        ("test", ["uuid", "text"]),
    ):
        path = prepared_dir / f"{split}.parquet"
        if not path.exists():
            raise FileNotFoundError(f"{path} not found: run the preprocess stage first")
        df = pd.read_parquet(path)
        missing = [c for c in cols if c not in df.columns]
        if missing:
            raise ValueError(f"{path}: missing column(s) {missing}")
        frames.append(df.reset_index(drop=True))
    return frames[0], frames[1], frames[2]


def heldout_frame(df: pd.DataFrame, prob: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "uuid": [str(u) for u in df["uuid"].tolist()],
            "label": df["label"].astype("int64").to_numpy(),
            "prob": np.asarray(prob, dtype=np.float64),
        }
    )


def test_set_frame(df: pd.DataFrame, prob: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "uuid": [str(u) for u in df["uuid"].tolist()],
            "prob": np.asarray(prob, dtype=np.float64),
        }
    )


def write_predictions(
    predictions_dir: str | Path, name: str, heldout: pd.DataFrame, test: pd.DataFrame
) -> PredictionFiles:
    out = Path(predictions_dir) / name
    out.mkdir(parents=True, exist_ok=True)
    write_parquet(heldout, out / "heldout.parquet")
    write_parquet(test, out / "test.parquet")
    return PredictionFiles(out / "heldout.parquet", out / "test.parquet")


def write_history(history: list[dict[str, Any]], path: str | Path) -> Path:
    """history rows -> CSV (epoch, train_loss, valid_loss, valid_f1, then the other validation
    figures the rows hold [, fold first]), written atomically."""
    from papercls.training.selection import VALID_COLUMNS  # only the encoder stages write a history

    path = Path(path)
    df = pd.DataFrame(history)
    cols = ["epoch", "train_loss", "valid_loss", "valid_f1"]
    cols += [c for c in VALID_COLUMNS if c not in cols and c in df.columns]
    if "fold" in df.columns:
        cols = ["fold", *cols]
    df = round_frame(df.reindex(columns=cols))
    with atomic_path(path) as tmp:
        df.to_csv(tmp, index=False)
    return path
