"""The files of the train stages: the prepared splits they read and the predictions they write.

Inputs: ``<prepared>/{train,valid,test}.parquet``. Outputs: ``predictions/<name>/heldout.parquet``
(uuid, label, prob) and ``predictions/<name>/test.parquet`` (uuid, prob), written atomically.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from papercls.io import write_parquet


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
