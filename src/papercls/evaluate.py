"""The evaluate and tune_thresholds stages' logic: read every model's predictions, write
figures, plot files and thresholds. Every file is written atomically (``papercls.io``), and all
inputs are read and checked before the first file is written."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from papercls.io import write_csv, write_json, write_text
from papercls.metrics import (
    MAX_POINTS,
    check_inputs,
    classification_metrics,
    confusion_rows,
    pr_points,
    roc_points,
    threshold_sweep,
)
from papercls.thresholds import choose_threshold

SUMMARY_COLUMNS = [
    ("F1", "f1"),
    ("precision", "precision"),
    ("recall", "recall"),
    ("accuracy", "accuracy"),
    ("ROC-AUC", "roc_auc"),
    ("PR-AUC", "pr_auc"),
]


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


def prediction_path(predictions_dir: str | Path, model: str, split: str) -> Path:
    """predictions/<model>/<split>.parquet with split in {heldout, test}."""
    return Path(predictions_dir) / model / f"{split}.parquet"


def _fmt(v: Any) -> str:
    return "n/a" if v is None or (isinstance(v, float) and np.isnan(v)) else f"{v:.4f}"


def summary_markdown(results: dict[str, dict[str, Any]], threshold: float = 0.5) -> str:
    """Markdown table: one row per model, columns F1, precision, recall, accuracy, ROC-AUC,
    PR-AUC (held-out predictions at ``threshold``)."""
    head = ["model"] + [h for h, _ in SUMMARY_COLUMNS] + ["n"]
    lines = [
        f"# Model comparison (held-out predictions, threshold {threshold:g})",
        "",
        "| " + " | ".join(head) + " |",
        "|---|" + "---:|" * (len(head) - 1),
    ]
    for name, m in results.items():
        cells = [name] + [_fmt(m.get(k)) for _, k in SUMMARY_COLUMNS] + [str(m.get("n", ""))]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def run_evaluate(
    models: list[str],
    predictions_dir: str | Path = "predictions",
    metrics_dir: str | Path = "metrics",
    plots_dir: str | Path = "plots",
    threshold: float = 0.5,
    max_points: int = MAX_POINTS,
) -> dict[str, dict[str, Any]]:
    """For each model: metrics/<name>/eval.json, plots/<name>/{roc,pr,threshold,confusion}.csv;
    then metrics/summary.md. Returns {model: eval metrics}."""
    if not models:
        raise ValueError("evaluate.models is empty: name at least one model")
    metrics_dir, plots_dir = Path(metrics_dir), Path(plots_dir)
    heldout = {m: load_heldout(prediction_path(predictions_dir, m, "heldout"), m) for m in models}
    results: dict[str, dict[str, Any]] = {}
    for name, df in heldout.items():
        y, p = df["label"].to_numpy(), df["prob"].to_numpy()
        results[name] = classification_metrics(y, p, threshold)
        write_json(results[name], metrics_dir / name / "eval.json")
        plots = plots_dir / name
        write_csv(roc_points(y, p, max_points), plots / "roc.csv")
        write_csv(pr_points(y, p, max_points), plots / "pr.csv")
        write_csv(threshold_sweep(y, p), plots / "threshold.csv")
        write_csv(confusion_rows(y, p, threshold), plots / "confusion.csv")
    write_text(summary_markdown(results, threshold), metrics_dir / "summary.md")
    return results


def tuned_metrics(entry: dict[str, Any], heldout: pd.DataFrame, test: pd.DataFrame) -> dict:
    """Flat figures at the chosen threshold on held-out rows, plus how the test set splits."""
    t = entry["threshold"]
    out = classification_metrics(heldout["label"].to_numpy(), heldout["prob"].to_numpy(), t)
    best = entry["best_f1"]
    test_pos = int((test["prob"].to_numpy() >= t).sum())
    out.update(
        method=entry["method"],
        best_f1_threshold=best["threshold"],
        best_f1=best["f1"],
        threshold_ci_low=best.get("ci_low"),
        threshold_ci_high=best.get("ci_high"),
        f1_ci_low=best.get("f1_ci_low"),
        f1_ci_high=best.get("f1_ci_high"),
        prior_threshold=entry["prior"]["threshold"] if entry.get("prior") else None,
        test_predicted_positives=test_pos,
        test_predicted_rate=test_pos / len(test),
    )
    return out


def run_tune_thresholds(
    models: list[str],
    params: dict[str, Any],
    prior: float | None,
    predictions_dir: str | Path = "predictions",
    metrics_dir: str | Path = "metrics",
) -> dict[str, dict[str, Any]]:
    """Choose each model's threshold (``params`` is the ``thresholds`` section) and write
    metrics/thresholds.json ({model: choose_threshold(...)}) and metrics/<model>/tuned.json."""
    if not models:
        raise ValueError("evaluate.models is empty: name at least one model")
    metrics_dir = Path(metrics_dir)
    method = params.get("method", "f1")
    frames = {
        m: (
            load_heldout(prediction_path(predictions_dir, m, "heldout"), m),
            load_test_probs(prediction_path(predictions_dir, m, "test"), m),
        )
        for m in models
    }
    table: dict[str, dict[str, Any]] = {}
    tuned: dict[str, dict[str, Any]] = {}
    for name, (heldout, test) in frames.items():
        table[name] = choose_threshold(method, heldout, test["prob"].to_numpy(), params, prior)
        tuned[name] = tuned_metrics(table[name], heldout, test)
    for name in models:
        write_json(tuned[name], metrics_dir / name / "tuned.json")
    write_json(table, metrics_dir / "thresholds.json")
    return table
