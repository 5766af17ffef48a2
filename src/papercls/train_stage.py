"""Logic of the train stages: ``train@baseline``, ``train@topline`` and ``train_tfidf``.

Inputs: ``<prepared>/{train,valid,test}.parquet``. Outputs: ``models/<name>/``,
``predictions/<name>/heldout.parquet`` (uuid, label, prob), ``predictions/<name>/test.parquet``
(uuid, prob), ``metrics/<name>/history.csv`` (encoders only). Predictions are made by the model
RELOADED from disk, so they are exactly what a later stage loading ``models/<name>`` sees.

k-fold (``kfold: true``): one model per ``fold`` value of train.parquet, saved as
``models/<name>/fold_<k>/``, each trained on the other folds and early-stopped on valid.parquet;
heldout.parquet holds the out-of-fold probabilities of every train.parquet row; test.parquet the
mean over the fold models. A finished fold survives an interruption (its checkpoint is kept
until all folds are done), so a rerun only retrains what is missing.
"""

from __future__ import annotations

import dataclasses
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from papercls.io import write_parquet

EpochCallback = Callable[[int, dict[str, float]], None]


def _section(name: str, params: dict[str, Any]) -> dict[str, Any]:
    """``params`` may be the whole params.yaml or just the model's section."""
    if isinstance(params.get(name), dict):
        return dict(params[name])
    return dict(params)


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


def _write_predictions(
    predictions_dir: Path, name: str, heldout: pd.DataFrame, test: pd.DataFrame
) -> dict[str, str]:
    out = predictions_dir / name
    out.mkdir(parents=True, exist_ok=True)
    write_parquet(heldout, out / "heldout.parquet")
    write_parquet(test, out / "test.parquet")
    return {"heldout": str(out / "heldout.parquet"), "test": str(out / "test.parquet")}


def _heldout_frame(df: pd.DataFrame, prob: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "uuid": [str(u) for u in df["uuid"].tolist()],
            "label": df["label"].astype("int64").to_numpy(),
            "prob": np.asarray(prob, dtype=np.float64),
        }
    )


def _test_frame(df: pd.DataFrame, prob: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "uuid": [str(u) for u in df["uuid"].tolist()],
            "prob": np.asarray(prob, dtype=np.float64),
        }
    )


# --------------------------------------------------------------------------------------------
# TF-IDF


def run_tfidf(
    params: dict[str, Any],
    prepared_dir: str | Path = "data/prepared",
    models_dir: str | Path = "models",
    predictions_dir: str | Path = "predictions",
    name: str = "tfidf",
) -> dict[str, Any]:
    """Fit TF-IDF + logistic regression on train, save ``models/<name>/``, reload it and write
    the valid (heldout) and test predictions. Returns a summary dict."""
    from papercls.tfidf import TfidfClassifier

    section = _section(name, params)
    train_df, valid_df, test_df = read_prepared(prepared_dir)
    t0 = time.perf_counter()
    clf = TfidfClassifier.from_params(section).fit(
        train_df["text"].tolist(), train_df["label"].to_numpy()
    )
    fit_s = time.perf_counter() - t0
    model_dir = Path(models_dir) / name
    clf.save(model_dir)
    clf = TfidfClassifier.load(model_dir)
    paths = _write_predictions(
        Path(predictions_dir),
        name,
        _heldout_frame(valid_df, clf.predict_proba(valid_df["text"].tolist())),
        _test_frame(test_df, clf.predict_proba(test_df["text"].tolist())),
    )
    return {
        "name": name,
        "model_dir": str(model_dir),
        "n_features": len(clf.vocabulary),
        "fit_seconds": fit_s,
        **paths,
    }


# --------------------------------------------------------------------------------------------
# encoders


def build_model(section: dict[str, Any], backbone_dir: str):
    """Baseline (``AutoModelForSequenceClassification``) or, when the section has a ``head``
    mapping, the fused-head topline."""
    from papercls.models import build_baseline, build_topline

    if section.get("head") is not None:
        return build_topline(backbone_dir, section["head"])
    return build_baseline(backbone_dir)


def _prefixed(callback: EpochCallback | None, prefix: str) -> EpochCallback | None:
    if callback is None:
        return None

    def inner(epoch: int, metrics: dict[str, float]) -> None:
        callback(epoch, {f"{prefix}{k}": v for k, v in metrics.items()})

    return inner


def run_training(
    name: str,
    params: dict[str, Any],
    prepared_dir: str | Path = "data/prepared",
    models_dir: str | Path = "models",
    predictions_dir: str | Path = "predictions",
    metrics_dir: str | Path = "metrics",
    on_epoch_end: EpochCallback | None = None,
    **overrides: Any,
) -> dict[str, Any]:
    """Train the encoder model ``name`` (baseline/topline) from its params section; write its
    model, predictions and history. ``params``: the section (or the whole params.yaml).

    ``on_epoch_end(epoch, metrics)``: per-epoch hook (tracking); in k-fold mode the metric names
    are prefixed ``fold_<k>/``. ``overrides``: TrainConfig fields for this run only (e.g.
    ``max_epochs_this_run``, ``progress``). Returns a summary dict (paths, best epoch(s),
    best validation F1, training samples/s, ``completed``).
    """
    import torch
    from transformers import AutoTokenizer, set_seed

    from papercls.backbone import resolve_backbone
    from papercls.inference import load_classifier, predict_proba
    from papercls.training import TrainConfig, train, write_history

    section = _section(name, params)
    kfold = bool(section.get("kfold", False))
    cfg = TrainConfig.from_params(section, **overrides)
    if cfg.threads > 0:
        torch.set_num_threads(cfg.threads)
    backbone_dir = resolve_backbone(section.get("backbone", "minilm"))
    train_df, valid_df, test_df = read_prepared(prepared_dir)
    models_dir, predictions_dir, metrics_dir = (
        Path(models_dir),
        Path(predictions_dir),
        Path(metrics_dir),
    )
    out_root = models_dir / name
    ckpt_root = Path(cfg.checkpoint_dir) if cfg.checkpoint_dir else models_dir / f"{name}.ckpt"
    summary: dict[str, Any] = {
        "name": name,
        "backbone": str(section.get("backbone", "minilm")),
        "kfold": kfold,
        "model_dir": str(out_root),
    }

    def fit(train_part: pd.DataFrame, out_dir: Path, fold_cfg: TrainConfig, callback):
        tokenizer = AutoTokenizer.from_pretrained(backbone_dir)
        set_seed(fold_cfg.seed)
        model = build_model(section, backbone_dir)
        return train(model, tokenizer, train_part, valid_df, fold_cfg, out_dir, callback)

    def probs(model_dir: Path, texts: list[str]) -> np.ndarray:
        model, tokenizer = load_classifier(model_dir)
        return predict_proba(
            model,
            tokenizer,
            texts,
            max_length=None,
            batch_size=cfg.eval_batch_size,
            progress=cfg.progress,
        )

    if not kfold:
        cfg = dataclasses.replace(cfg, checkpoint_dir=str(ckpt_root))
        result = fit(train_df, out_root, cfg, on_epoch_end)
        summary.update(
            completed=result.completed,
            best_epoch=result.best_epoch,
            best_valid_f1=result.best_valid_f1,
            train_samples_per_s=result.train_samples_per_s,
            history=result.history,
        )
        if not result.completed:
            return summary
        heldout = _heldout_frame(valid_df, probs(out_root, valid_df["text"].tolist()))
        test = _test_frame(test_df, probs(out_root, test_df["text"].tolist()))
        history = result.history
    else:
        if "fold" not in train_df.columns:
            raise ValueError("kfold: true needs a fold column in train.parquet")
        folds = sorted(int(f) for f in train_df["fold"].unique())
        if len(folds) < 2:
            raise ValueError(f"kfold: true needs at least 2 folds, train.parquet has {folds}")
        if (out_root / "config.json").exists():  # a single-model layout from an earlier run
            shutil.rmtree(out_root)
        fold_ids = train_df["fold"].astype("int64").to_numpy()
        oof = np.full(len(train_df), np.nan)
        test_sum = np.zeros(len(test_df))
        history, fold_results = [], []
        for k in folds:
            in_fold = fold_ids == k
            fold_cfg = dataclasses.replace(
                cfg, checkpoint_dir=str(ckpt_root / f"fold_{k}"), keep_checkpoint=True
            )
            fold_dir = out_root / f"fold_{k}"
            result = fit(
                train_df[~in_fold].reset_index(drop=True),
                fold_dir,
                fold_cfg,
                _prefixed(on_epoch_end, f"fold_{k}/"),
            )
            fold_results.append(result)
            history += [{"fold": k, **row} for row in result.history]
            if not result.completed:
                summary.update(completed=False, history=history)
                return summary
            oof[in_fold] = probs(fold_dir, train_df.loc[in_fold, "text"].tolist())
            test_sum += probs(fold_dir, test_df["text"].tolist())
        heldout = _heldout_frame(train_df, oof)
        test = _test_frame(test_df, test_sum / len(folds))
        speeds = [r.train_samples_per_s for r in fold_results if r.train_samples_per_s]
        summary.update(
            completed=True,
            folds=folds,
            best_epoch=[r.best_epoch for r in fold_results],
            best_valid_f1=float(np.mean([r.best_valid_f1 for r in fold_results])),
            train_samples_per_s=float(np.mean(speeds)) if speeds else None,
            history=history,
        )
    summary.update(_write_predictions(predictions_dir, name, heldout, test))
    summary["history_csv"] = str(write_history(history, metrics_dir / name / "history.csv"))
    if ckpt_root.exists():
        shutil.rmtree(ckpt_root, ignore_errors=True)
    return summary
