"""The ``ensemble`` model: one prediction per row combined from several trained models' prediction
files, written in their format (predictions/ensemble/{heldout,test}.parquet), so that evaluate,
tune_thresholds and predict treat it like any model.

Methods (params.yaml ``ensemble.method``), per row, over the members' probabilities:

- ``mean``: the arithmetic mean. Still a probability when the members are calibrated alike.
- ``logit``: the sigmoid of the mean logit (geometric mean of the odds); a confident member
  weighs more than under ``mean``.
- ``rank``: the mean of each member's held-out empirical CDF value F_m(p) = share of that
  member's held-out probabilities at or below p. Test probabilities go through the same held-out
  CDF, so a test row scores exactly as a held-out row with the same member probabilities would,
  and a threshold tuned on held-out rows means the same on test rows. Members on different
  probability scales (TF-IDF beside an encoder) then count alike. The result is a score in
  [0, 1], not a probability: figures at 0.5 mean "above the members' held-out medians".

All members must hold predictions for the same held-out rows (same uuids and labels) and the
same test rows; anything else is an error naming both models. Outputs keep the first member's
row order.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pydantic import ValidationError

from papercls.config.messages import problems
from papercls.config.schema import ENSEMBLE_METHODS, Ensemble
from papercls.data.predictions import load_heldout, load_test_probs, prediction_path
from papercls.data.stage_io import PredictionFiles, write_predictions

NAME = "ensemble"
METHODS = ENSEMBLE_METHODS
# logit method: probabilities are clipped to [EPS, 1 - EPS] (a saturated member's 0.0 or 1.0
# would otherwise be an infinite logit that decides alone)
EPS = 1e-7
EnsembleConfig = Ensemble  # members (at least two trained models, distinct) and method


def ensemble_config(section: dict[str, Any] | None) -> EnsembleConfig:
    """The params.yaml ``ensemble`` section, checked by the params schema; defaults for absent
    keys. Raises ValueError naming each bad key."""
    try:
        return Ensemble.model_validate(section or {})
    except ValidationError as exc:
        found = problems(Ensemble, exc, section or {}, "ensemble")
        raise ValueError("; ".join(f"params.yaml {key}: {msg}" for key, msg in found)) from None


def held_out_cdf(heldout: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Share of ``heldout`` at or below each of ``values`` (the held-out empirical CDF)."""
    ref = np.sort(np.asarray(heldout, dtype=np.float64))
    return np.searchsorted(ref, np.asarray(values, dtype=np.float64), side="right") / len(ref)


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, EPS, 1.0 - EPS)
    return np.log(p) - np.log1p(-p)


def combine(heldout: np.ndarray, test: np.ndarray, method: str) -> tuple[np.ndarray, np.ndarray]:
    """Combine member probabilities: ``heldout`` (members x held-out rows) and ``test``
    (members x test rows) -> (held-out scores, test scores), each in [0, 1]."""
    heldout = np.asarray(heldout, dtype=np.float64)
    test = np.asarray(test, dtype=np.float64)
    if heldout.ndim != 2 or test.ndim != 2 or len(heldout) != len(test) or len(heldout) == 0:
        raise ValueError(
            "combine: expected 2-D arrays with one row per member, got shapes "
            f"{heldout.shape} and {test.shape}"
        )
    if method == "mean":
        return heldout.mean(axis=0), test.mean(axis=0)
    if method == "logit":

        def sigmoid(z: np.ndarray) -> np.ndarray:
            return 1.0 / (1.0 + np.exp(-z))

        return sigmoid(_logit(heldout).mean(axis=0)), sigmoid(_logit(test).mean(axis=0))
    if method == "rank":
        held = [held_out_cdf(h, h) for h in heldout]
        tst = [held_out_cdf(h, t) for h, t in zip(heldout, test, strict=True)]
        return np.mean(held, axis=0), np.mean(tst, axis=0)
    raise ValueError(f"unknown ensemble method {method!r}; choose one of {', '.join(METHODS)}")


def _examples(values: list[str], k: int = 3) -> str:
    return ", ".join(repr(v) for v in values[:k]) + (", ..." if len(values) > k else "")


def _check_same_rows(
    ref: pd.DataFrame, ref_name: str, df: pd.DataFrame, name: str, split: str, paths: dict
) -> None:
    """Raise ValueError unless ``df`` holds exactly ``ref``'s uuids (and, held-out, labels)."""
    have, want = set(df["uuid"]), set(ref["uuid"])
    if have != want:
        only_ref = [u for u in ref["uuid"] if u not in have]
        only_df = [u for u in df["uuid"] if u not in want]
        msg = (
            f"ensemble: {split} predictions of {ref_name!r} ({paths[ref_name]}, {len(ref)} rows) "
            f"and {name!r} ({paths[name]}, {len(df)} rows) are not the same rows"
        )
        if only_ref:
            msg += f"; {len(only_ref)} uuid(s) only in {ref_name!r} ({_examples(only_ref)})"
        if only_df:
            msg += f"; {len(only_df)} uuid(s) only in {name!r} ({_examples(only_df)})"
        if split == "held-out":
            msg += " (train every member the same way: all k-fold or all on one split)"
        raise ValueError(msg)
    if "label" in ref.columns:
        labels = df.set_index("uuid")["label"].loc[ref["uuid"]].to_numpy()
        differ = np.flatnonzero(labels != ref["label"].to_numpy())
        if len(differ):
            uuids = ref["uuid"].to_numpy()[differ].tolist()
            raise ValueError(
                f"ensemble: held-out labels of {ref_name!r} ({paths[ref_name]}) and {name!r} "
                f"({paths[name]}) differ for {len(differ)} uuid(s) ({_examples(uuids)})"
            )


def _member_probs(
    frames: dict[str, pd.DataFrame], split: str, paths: dict[str, Path]
) -> tuple[pd.DataFrame, np.ndarray]:
    """(first member's frame, members x rows probabilities in its row order)."""
    names = list(frames)
    ref = frames[names[0]].reset_index(drop=True)
    probs = []
    for name in names:
        _check_same_rows(ref, names[0], frames[name], name, split, paths)
        probs.append(frames[name].set_index("uuid")["prob"].loc[ref["uuid"]].to_numpy())
    return ref, np.vstack(probs)


def build_ensemble(
    cfg: EnsembleConfig, predictions_dir: str | Path
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Read every member's prediction files and combine them: (held-out uuid, label, prob;
    test uuid, prob). Raises FileNotFoundError / ValueError naming the file or model."""
    held_paths = {m: prediction_path(predictions_dir, m, "heldout") for m in cfg.members}
    test_paths = {m: prediction_path(predictions_dir, m, "test") for m in cfg.members}
    held_frames = {m: load_heldout(held_paths[m], m) for m in cfg.members}
    test_frames = {m: load_test_probs(test_paths[m], m) for m in cfg.members}
    held_ref, held_probs = _member_probs(held_frames, "held-out", held_paths)
    test_ref, test_probs = _member_probs(test_frames, "test", test_paths)
    held_score, test_score = combine(held_probs, test_probs, cfg.method)
    heldout = pd.DataFrame(
        {
            "uuid": held_ref["uuid"].tolist(),
            "label": held_ref["label"].astype("int64").to_numpy(),
            "prob": held_score,
        }
    )
    test = pd.DataFrame({"uuid": test_ref["uuid"].tolist(), "prob": test_score})
    return heldout, test


def run_ensemble(cfg: EnsembleConfig, predictions_dir: str | Path) -> PredictionFiles:
    """The ensemble stage: build first (nothing is written on an error), then write
    predictions/ensemble/heldout.parquet and test.parquet."""
    heldout, test = build_ensemble(cfg, predictions_dir)
    return write_predictions(predictions_dir, NAME, heldout, test)
