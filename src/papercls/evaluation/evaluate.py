"""The evaluate and tune_thresholds stages' logic: read every model's predictions, write
figures, plot files, PNG figures and thresholds. Every file is written atomically
(``papercls.data.io``), and all inputs are read and checked before the first file is written.
Floats in the written files are rounded by ``papercls.evaluation.rounding`` (stated precision, see
there). Prediction files are read by ``papercls.data.predictions`` (its loaders are importable
from here too); a labelled test set's figures come from ``papercls.evaluation.labelled_test``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from papercls.console import figure, interval
from papercls.data.io import write_csv, write_json, write_text
from papercls.data.predictions import load_heldout, load_test_probs, prediction_path
from papercls.evaluation.labelled_test import (
    AT_DEFAULT,
    AT_TUNED,
    labelled_test_figures,
    load_test_labels,
)
from papercls.evaluation.metrics import (
    MAX_POINTS,
    classification_metrics,
    confusion_rows,
    pr_points,
    roc_points,
    threshold_sweep,
)
from papercls.evaluation.rounding import round_floats, round_frame, round_threshold
from papercls.evaluation.thresholds import choose_threshold

SUMMARY_COLUMNS = [
    ("F1", "f1"),
    ("precision", "precision"),
    ("recall", "recall"),
    ("accuracy", "accuracy"),
    ("ROC-AUC", "roc_auc"),
    ("PR-AUC", "pr_auc"),
]
# Keys whose values are decision thresholds: written exactly as given (a param) or as
# round_threshold left them (same rows selected), never re-rounded to SIG_DIGITS.
THRESHOLD_KEYS = frozenset({"threshold", "best_f1_threshold", "prior_threshold", "fixed"})


def remove_unlisted(models: list[str], root: str | Path, patterns: list[str]) -> list[Path]:
    """Remove the outputs (``patterns`` such as ``"metrics/{}/eval.json"``, under ``root``) of
    every model with predictions that ``models`` leaves out; return what was removed. dvc.yaml
    declares these outputs ``persist: true``, so DVC no longer removes them before the stage:
    a model left out of ``evaluate.models`` would otherwise keep its last figures as if they
    were current (DVC then reports the output missing, as it did before)."""
    import shutil

    from papercls.config.schema import MODELS

    removed = []
    for name in (m for m in MODELS if m not in models):
        for pattern in patterns:
            path = Path(root) / pattern.format(name)
            if path.is_dir():
                shutil.rmtree(path)
            elif path.exists():
                path.unlink()
            else:
                continue
            removed.append(path)
    return removed


class StageResult(dict):
    """What a stage function returns: ``{model: figures}`` as before (a dict), plus
    ``figures``, the PNG paths written, for logging as MLflow artifacts."""

    def __init__(self, results: dict[str, dict[str, Any]], figures: list[Path]) -> None:
        super().__init__(results)
        self.figures = list(figures)


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
    figures_dir: str | Path | None = None,
) -> StageResult:
    """For each model: metrics/<name>/eval.json, plots/<name>/{roc,pr,threshold,confusion}.csv;
    then metrics/summary.md and, in ``figures_dir`` (default plots/figures), roc.png, pr.png and
    training.png (from metrics/<name>/history.csv where present). Returns {model: eval metrics
    as written} with ``.figures`` the three PNG paths."""
    from papercls.evaluation.figures import load_history, render_evaluate_figures

    if not models:
        raise ValueError("evaluate.models is empty: name at least one model")
    metrics_dir, plots_dir = Path(metrics_dir), Path(plots_dir)
    heldout = {m: load_heldout(prediction_path(predictions_dir, m, "heldout"), m) for m in models}
    histories = {m: load_history(metrics_dir / m / "history.csv") for m in models}
    raw: dict[str, dict[str, Any]] = {}
    results: dict[str, dict[str, Any]] = {}
    roc: dict[str, pd.DataFrame] = {}
    pr: dict[str, pd.DataFrame] = {}
    for name, df in heldout.items():
        y, p = df["label"].to_numpy(), df["prob"].to_numpy()
        raw[name] = classification_metrics(y, p, threshold)
        results[name] = round_floats(raw[name], keep=THRESHOLD_KEYS)
        write_json(results[name], metrics_dir / name / "eval.json")
        plots = plots_dir / name
        roc[name] = round_frame(roc_points(y, p, max_points))
        pr[name] = round_frame(pr_points(y, p, max_points))
        write_csv(roc[name], plots / "roc.csv")
        write_csv(pr[name], plots / "pr.csv")
        write_csv(round_frame(threshold_sweep(y, p)), plots / "threshold.csv")
        write_csv(confusion_rows(y, p, threshold), plots / "confusion.csv")
    # the table shows 4 decimals of the unrounded figures (rounding twice could move one)
    write_text(summary_markdown(raw, threshold), metrics_dir / "summary.md")
    fig_dir = plots_dir / "figures" if figures_dir is None else Path(figures_dir)
    return StageResult(results, render_evaluate_figures(fig_dir, roc, pr, results, histories))


def round_entry(entry: dict[str, Any], *probs: np.ndarray) -> dict[str, Any]:
    """A choose_threshold entry as written: each chosen threshold (not a fixed one, a param)
    by round_threshold, so it selects the same rows of every ``probs`` array as before
    rounding; every other float to SIG_DIGITS significant digits."""
    out = dict(entry)
    if out["method"] != "fixed":
        out["threshold"] = round_threshold(entry["threshold"], *probs)
    for part in ("best_f1", "prior"):
        if entry.get(part):
            out[part] = {
                **entry[part],
                "threshold": round_threshold(entry[part]["threshold"], *probs),
            }
    return round_floats(out, keep=THRESHOLD_KEYS)


def tuned_metrics(entry: dict[str, Any], heldout: pd.DataFrame, test: pd.DataFrame) -> dict:
    """Flat figures at the chosen threshold on held-out rows, plus how the test set splits;
    floats rounded as in eval.json, thresholds copied from ``entry`` (already rounded)."""
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
    return round_floats(out, keep=THRESHOLD_KEYS)


class ThresholdTable(StageResult):
    """What run_tune_thresholds returns: ``{model: choose_threshold(...)}`` as written to
    metrics/thresholds.json, with ``figures`` (the PNG paths written), ``tuned``
    (``{model: tuned_metrics(...)}`` as written to metrics/<model>/tuned.json) and ``test``
    (``{model: test figures}`` as written to metrics/<model>/test.json; empty when no prepared
    test file was given)."""

    def __init__(
        self,
        table: dict[str, dict[str, Any]],
        figures: list[Path],
        tuned: dict[str, dict[str, Any]],
        test: dict[str, dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(table, figures)
        self.tuned = tuned
        self.test = dict(test or {})

    def run_metrics(self) -> dict[str, float]:
        """The figures the tune_thresholds stage logs: ``<model>.threshold``,
        ``<model>.tuned_f1`` and ``<model>.best_f1``; with a labelled test set also
        ``<model>.test_f1`` (at the tuned threshold) and ``<model>.test_f1_at_0.5``."""
        out: dict[str, float] = {}
        for name, entry in self.items():
            out[f"{name}.threshold"] = entry["threshold"]
            out[f"{name}.tuned_f1"] = self.tuned[name]["f1"]
            out[f"{name}.best_f1"] = entry["best_f1"]["f1"]
            test = self.test.get(name) or {}
            if test.get("labelled"):
                out[f"{name}.test_f1"] = test[AT_TUNED]["f1"]
                out[f"{name}.test_f1_at_0.5"] = test[AT_DEFAULT]["f1"]
        return out

    def summary_lines(self) -> list[str]:
        """One line per model: threshold, F1 there, method, best-F1 threshold and its 95%
        interval (figures to 4 decimals); with a labelled test set, the test F1 at the tuned
        threshold and at 0.5."""
        lines = []
        for name, entry in self.items():
            best = entry["best_f1"]
            line = (
                f"{name} threshold {figure(entry['threshold'])}, "
                f"F1 {figure(self.tuned[name]['f1'])} (method {entry['method']}; "
                f"best-F1 threshold {figure(best['threshold'])}, "
                f"95% CI {interval(best['ci_low'], best['ci_high'])})"
            )
            test = self.test.get(name) or {}
            if test.get("labelled"):
                line += (
                    f"; test F1 {figure(test[AT_TUNED]['f1'])} (tuned), "
                    f"{figure(test[AT_DEFAULT]['f1'])} (0.5), n={test[AT_TUNED]['n']}"
                )
            lines.append(line)
        return lines


def load_prior(meta_path: str | Path) -> float | None:
    """The labelled data's positive rate (``prior``) from data/prepared/meta.json."""
    meta_path = Path(meta_path)
    try:
        return json.loads(meta_path.read_text(encoding="utf-8")).get("prior")
    except FileNotFoundError:
        raise FileNotFoundError(f"{meta_path} not found: run the preprocess stage first") from None


def run_tune_thresholds(
    models: list[str],
    params: dict[str, Any],
    prior: float | None,
    predictions_dir: str | Path = "predictions",
    metrics_dir: str | Path = "metrics",
    figures_dir: str | Path | None = None,
    prepared_test: str | Path | None = None,
    figures: bool = True,
) -> ThresholdTable:
    """Choose each model's threshold (``params`` is the ``thresholds`` section) and write
    metrics/thresholds.json ({model: choose_threshold(...)}, rounded by round_entry),
    metrics/<model>/tuned.json, then f1_threshold.png and confusion.png in ``figures_dir``
    (default: plots/figures beside ``metrics_dir``). With ``prepared_test``
    (data/prepared/test.parquet) also metrics/<model>/test.json: the test figures at 0.5 and
    at the chosen threshold when that file has labels, else ``{"labelled": false}``. Returns
    the table with ``.figures``, ``.tuned`` and ``.test`` (the figures written).
    ``figures=False`` draws no figure (and needs no matplotlib)."""

    if not models:
        raise ValueError("evaluate.models is empty: name at least one model")
    metrics_dir = Path(metrics_dir)
    method = params.get("method", "f1")
    paths = {m: prediction_path(predictions_dir, m, "test") for m in models}
    frames = {
        m: (
            load_heldout(prediction_path(predictions_dir, m, "heldout"), m),
            load_test_probs(paths[m], m),
        )
        for m in models
    }
    labels = None if prepared_test is None else load_test_labels(prepared_test)
    table: dict[str, dict[str, Any]] = {}
    tuned: dict[str, dict[str, Any]] = {}
    test_figs: dict[str, dict[str, Any]] = {}
    for name, (heldout, test) in frames.items():
        entry = choose_threshold(method, heldout, test["prob"].to_numpy(), params, prior)
        table[name] = round_entry(entry, heldout["prob"].to_numpy(), test["prob"].to_numpy())
        tuned[name] = tuned_metrics(table[name], heldout, test)
        if prepared_test is not None:
            figs = labelled_test_figures(
                labels, test, table[name]["threshold"], str(paths[name]), str(prepared_test)
            )
            test_figs[name] = round_floats(figs, keep=THRESHOLD_KEYS)
    for name in models:
        write_json(tuned[name], metrics_dir / name / "tuned.json")
        if name in test_figs:
            write_json(test_figs[name], metrics_dir / name / "test.json")
    write_json(table, metrics_dir / "thresholds.json")
    if not figures:
        return ThresholdTable(table, [], tuned, test_figs)
    from papercls.evaluation.figures import render_threshold_figures

    fig_dir = metrics_dir.parent / "plots" / "figures" if figures_dir is None else figures_dir
    held = {m: frames[m][0] for m in models}
    pngs = render_threshold_figures(fig_dir, held, tuned)
    return ThresholdTable(table, pngs, tuned, test_figs)
