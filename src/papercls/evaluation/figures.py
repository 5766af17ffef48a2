"""PNG figures that open anywhere (no browser, no network): ROC and precision-recall curves of
every model, training curves (evaluate stage); F1 against threshold and confusion matrices at the
thresholds tune_thresholds chose (tune_thresholds stage).

Rendering is headless and reproducible: matplotlib's Agg canvas directly (no pyplot, no GUI
backend), matplotlib's default style whatever the user's matplotlibrc says, a fixed size and
dpi, and no timestamp or software tag in the PNG, so the same inputs give byte-identical files.
Each file is written atomically; every ``render_*`` function returns the paths it wrote.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import matplotlib.style
import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from papercls.data.io import atomic_path
from papercls.data.schema import ID2LABEL
from papercls.evaluation.metrics import threshold_sweep

DPI = 100
SIZE = (8.0, 5.0)  # inches: 800 x 500 pixels
PANEL = 3.6  # inches per confusion-matrix panel
ROC, PR, TRAINING = "roc.png", "pr.png", "training.png"
F1_THRESHOLD, CONFUSION = "f1_threshold.png", "confusion.png"
EVALUATE_FIGURES = (ROC, PR, TRAINING)
THRESHOLD_FIGURES = (F1_THRESHOLD, CONFUSION)
HISTORY_COLUMNS = ["epoch", "train_loss", "valid_loss", "valid_f1"]
LABELS = tuple(ID2LABEL.values())
# Grid added to the distinct probabilities of the F1-against-threshold curve.
_GRID = np.linspace(0.0, 1.0, 201)


@contextlib.contextmanager
def _figure(size: tuple[float, float] = SIZE) -> Iterator[Figure]:
    """A figure on an Agg canvas, drawn with matplotlib's default style."""
    with matplotlib.style.context("default"):
        fig = Figure(figsize=size, dpi=DPI, layout="constrained")
        FigureCanvasAgg(fig)
        yield fig


def save_png(fig: Figure, path: str | Path) -> Path:
    """Write ``fig`` as PNG atomically, without the Software tag (nor any timestamp)."""
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=DPI, metadata={"Software": None})
    return path


def _color(models: list[str], name: str) -> str:
    """The same colour for a model in every figure."""
    return f"C{models.index(name) % 10}"


def _fmt(v: Any) -> str:
    return "n/a" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.4f}"


def load_history(path: str | Path) -> pd.DataFrame | None:
    """metrics/<model>/history.csv as a frame, or None when the file does not exist (models
    without training epochs, such as tfidf). Raises ValueError naming the file and column for
    a file that cannot be read, lacks a column or holds a non-number."""
    path = Path(path)
    if not path.exists():
        return None
    try:
        df = pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: cannot read training history ({exc})") from None
    missing = [c for c in HISTORY_COLUMNS if c not in df.columns]
    if missing:
        raise ValueError(f"{path}: missing column(s) {missing}; found {list(df.columns)}")
    for col in HISTORY_COLUMNS:
        if not pd.api.types.is_numeric_dtype(df[col]):
            raise ValueError(f"{path}: column {col!r} holds non-numbers")
    return df


def _per_epoch(history: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """One row per epoch (k-fold histories: the mean over folds) and a legend suffix."""
    if "fold" not in history.columns:
        return history.sort_values("epoch"), ""
    folds = history["fold"].nunique()
    mean = history.groupby("epoch", as_index=False)[HISTORY_COLUMNS[1:]].mean()
    return mean, f" (mean of {folds} folds)"


def _roc_figure(curves: dict[str, pd.DataFrame], results: dict[str, dict], path: Path) -> Path:
    models = list(curves)
    with _figure() as fig:
        ax = fig.add_subplot()
        ax.plot([0, 1], [0, 1], color="0.6", linestyle=":", label="chance")
        for name, df in curves.items():
            label = f"{name} (ROC-AUC {_fmt(results[name].get('roc_auc'))})"
            ax.plot(df["fpr"], df["tpr"], color=_color(models, name), label=label)
        ax.set(xlim=(0, 1), ylim=(0, 1.01), xlabel="false positive rate")
        ax.set(ylabel="true positive rate", title="ROC curves (held-out predictions)")
        ax.legend(loc="lower right")
        return save_png(fig, path)


def _pr_figure(curves: dict[str, pd.DataFrame], results: dict[str, dict], path: Path) -> Path:
    models = list(curves)
    with _figure() as fig:
        ax = fig.add_subplot()
        for name, df in curves.items():
            label = f"{name} (PR-AUC {_fmt(results[name].get('pr_auc'))})"
            ax.plot(df["recall"], df["precision"], color=_color(models, name), label=label)
        rates = {results[name]["positive_rate"] for name in curves}
        if len(rates) == 1:  # same held-out rows: the precision of a random ranking
            rate = rates.pop()
            ax.axhline(rate, color="0.6", linestyle=":", label=f"share of positives ({rate:.4f})")
        ax.set(xlim=(0, 1), ylim=(0, 1.01), xlabel="recall", ylabel="precision")
        ax.set_title("Precision-recall curves (held-out predictions)")
        ax.legend(loc="lower left")
        return save_png(fig, path)


def _epoch_axis(ax, epochs: list[int]) -> None:
    """Whole epochs on the x axis, with half an epoch of margin (a single epoch stays centred)."""
    ax.set_xlim(min(epochs) - 0.5, max(epochs) + 0.5)
    if len(set(epochs)) <= 10:
        ax.set_xticks(sorted(set(epochs)))
    else:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def _training_figure(histories: dict[str, pd.DataFrame | None], path: Path) -> Path:
    with _figure() as fig:
        draw_training(fig, histories)
        return save_png(fig, path)


def draw_training(fig: Figure, histories: dict[str, pd.DataFrame | None]) -> None:
    """Loss (train: solid line, filled circles; valid: dashed line, open squares) and validation
    F1 per epoch, one colour per model; a model's values are written beside its points when it
    has a single epoch, where no line can show them."""
    models = list(histories)
    loss_ax, f1_ax = fig.subplots(1, 2)
    shown = {k: v for k, v in histories.items() if v is not None and len(v)}
    epochs: list[int] = []
    for name, history in shown.items():
        df, suffix = _per_epoch(history)
        epochs += [int(e) for e in df["epoch"]]
        color = _color(models, name)
        train = {"color": color, "marker": "o", "linestyle": "-"}
        valid = {"color": color, "marker": "s", "linestyle": "--", "markerfacecolor": "white"}
        loss_ax.plot(df["epoch"], df["train_loss"], label=f"{name} train{suffix}", **train)
        loss_ax.plot(df["epoch"], df["valid_loss"], label=f"{name} valid{suffix}", **valid)
        f1_ax.plot(df["epoch"], df["valid_f1"], label=f"{name}{suffix}", **train)
        if len(df) == 1:
            points = ((loss_ax, "train_loss"), (loss_ax, "valid_loss"), (f1_ax, "valid_f1"))
            for ax, column in points:
                side = models.index(name) % 2  # models alternate sides: close values stay apart
                x, y = float(df["epoch"].iloc[0]), float(df[column].iloc[0])
                _value_label(ax, x, y, color, right=bool(side))
    for ax, title in ((loss_ax, "loss"), (f1_ax, "validation F1 at 0.5")):
        ax.set(title=title, xlabel="epoch")
        if shown:
            _epoch_axis(ax, epochs)
            ax.legend(fontsize="small")
        else:
            ax.text(0.5, 0.5, "no training history", ha="center", transform=ax.transAxes)
    skipped = [m for m in models if m not in shown]
    note = f" (no history: {', '.join(skipped)})" if skipped else ""
    fig.suptitle(f"Training curves from metrics/<model>/history.csv{note}")


def _value_label(ax, x: float, y: float, color: str, right: bool) -> None:
    offset, align = ((8, 0), "left") if right else ((-8, 0), "right")
    ax.annotate(f"{y:.4f}", (x, y), textcoords="offset points", xytext=offset, va="center",
                ha=align, color=color, fontsize="small")  # fmt: skip


def render_evaluate_figures(
    out_dir: str | Path,
    roc: dict[str, pd.DataFrame],
    pr: dict[str, pd.DataFrame],
    results: dict[str, dict[str, Any]],
    histories: dict[str, pd.DataFrame | None],
) -> list[Path]:
    """roc.png and pr.png (every model on one chart; ``roc``/``pr``: {model: curve frame} as
    metrics.roc_points/pr_points give, ``results``: {model: eval figures}) and training.png
    (``histories``: {model: load_history(...)}; models without one are left out and named in the
    title). Returns the three paths."""
    out = Path(out_dir)
    return [
        _roc_figure(roc, results, out / ROC),
        _pr_figure(pr, results, out / PR),
        _training_figure(histories, out / TRAINING),
    ]


def _f1_figure(heldout: dict[str, pd.DataFrame], tuned: dict[str, dict], path: Path) -> Path:
    models = list(heldout)
    methods = sorted({str(t["method"]) for t in tuned.values()})
    with _figure() as fig:
        ax = fig.add_subplot()
        for name, df in heldout.items():
            y, p = df["label"].to_numpy(), df["prob"].to_numpy()
            sweep = threshold_sweep(y, p, np.unique(np.concatenate([_GRID, p])))
            color = _color(models, name)
            # F1 at a cut holds on the interval (previous cut, this cut]: steps-pre
            ax.plot(sweep["threshold"], sweep["f1"], color=color, drawstyle="steps-pre")
            t, f1 = tuned[name]["threshold"], tuned[name]["f1"]
            ax.axvline(t, color=color, linestyle=":", linewidth=1)
            label = f"{name}: threshold {t:.4f}, F1 {f1:.4f}"
            ax.plot([t], [f1], "o", color=color, label=label)
        ax.set(xlim=(0, 1), ylim=(0, 1.01), xlabel="threshold (positive when prob >= threshold)")
        ax.set(ylabel="F1 on held-out rows")
        ax.set_title(
            f"F1 against threshold (held-out); marked: thresholds chosen by tune_thresholds "
            f"(method {', '.join(methods)})",
            fontsize="medium",
        )
        ax.legend(loc="best")
        return save_png(fig, path)


def confusion_grid(n_models: int) -> tuple[int, int]:
    """(rows, columns) of the confusion panels: at most 4 a row, rows filled evenly, so that
    4 models make one row and no grid has a whole empty row or more than one empty cell a row."""
    rows = math.ceil(n_models / 4)
    return rows, math.ceil(n_models / rows)


def confusion_size(n_models: int) -> tuple[float, float]:
    """Figure size in inches for ``n_models`` panels (see :func:`confusion_grid`)."""
    rows, cols = confusion_grid(n_models)
    return max(PANEL * cols, 2 * PANEL), 0.4 + PANEL * rows


def _confusion_figure(tuned: dict[str, dict], path: Path) -> Path:
    n = len(tuned)
    with _figure(confusion_size(n)) as fig:
        axes = fig.subplots(*confusion_grid(n), squeeze=False).ravel()
        for ax, (name, m) in zip(axes, tuned.items(), strict=False):
            counts = np.array([[m["tn"], m["fp"]], [m["fn"], m["tp"]]])
            ax.imshow(counts, cmap="Blues", vmin=0, vmax=max(int(counts.max()), 1))
            for (i, j), v in np.ndenumerate(counts):
                dark = v > counts.max() / 2
                ax.text(j, i, str(v), ha="center", va="center", color="w" if dark else "k")
            ax.set(xticks=[0, 1], yticks=[0, 1], xticklabels=LABELS, yticklabels=LABELS)
            ax.set(xlabel="predicted", ylabel="actual")
            title = f"{name}\nthreshold {m['threshold']:.4f} (method {m['method']})"
            ax.set_title(title, fontsize="medium")
        for ax in axes[n:]:
            ax.set_axis_off()
        fig.suptitle("Confusion matrices at the tuned thresholds (held-out rows)")
        return save_png(fig, path)


def render_threshold_figures(
    out_dir: str | Path, heldout: dict[str, pd.DataFrame], tuned: dict[str, dict[str, Any]]
) -> list[Path]:
    """f1_threshold.png (F1 of each model against the threshold on its held-out rows, with the
    threshold tune_thresholds chose marked) and confusion.png (one panel per model at that
    threshold). ``heldout``: {model: frame with label, prob}; ``tuned``: {model: tuned.json
    figures (threshold, method, f1, tn, fp, fn, tp)}. Returns the two paths."""
    out = Path(out_dir)
    return [
        _f1_figure(heldout, tuned, out / F1_THRESHOLD),
        _confusion_figure(tuned, out / CONFUSION),
    ]
