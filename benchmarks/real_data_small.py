"""Small real-data check of the encoder training defaults: the training budget (``min_steps``),
the selection criterion (``select_metric``) and class weighting (``class_weight``).

Data: ../shared/data/mag (real paper titles, label 1 = medicine, 14% positive; see its README).
A seeded stratified subset of mag/train.csv (default 400 rows) goes through the project's own
preprocess (valid_size 0.2: 320 train / 80 validation rows) and train stage (``run_training``,
baseline, MiniLM); the first rows of mag/eval.csv (default 1,000) are the scored test set.
For each learning rate, three variants:

  a  old behaviour: epochs 1, min_steps 0, select_metric f1, class_weight none
  b  budget:        epochs 1, min_steps <--min-steps>, select_metric pr_auc, class_weight none
  c  b + balanced:  as b with class_weight balanced

Reported on the eval rows: F1 at the threshold tuned on the held-out (validation) predictions
(``papercls.evaluation.thresholds.best_f1_threshold``, what ``thresholds.method: f1`` uses), F1
at 0.5, ROC-AUC and PR-AUC (``papercls.evaluation.metrics``), with the epochs run, the best epoch
and seconds.

    python benchmarks/real_data_small.py [--rows 400] [--eval-rows 1000] [--lrs 5e-5 1e-4]
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))  # this checkout's package, also when run as a script

import pandas as pd  # noqa: E402
import yaml  # noqa: E402

VARIANTS: dict[str, dict[str, Any]] = {
    "a old (1 epoch, f1)": {"min_steps": 0, "select_metric": "f1", "class_weight": "none"},
    "b min_steps + pr_auc": {"select_metric": "pr_auc", "class_weight": "none"},
    "c b + balanced": {"select_metric": "pr_auc", "class_weight": "balanced"},
}
PREPROCESS = {"valid_size": 0.2, "folds": 5, "seed": 42}


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def prepare(data: Path, work: Path, rows: int, eval_rows: int, seed: int) -> pd.Series:
    """Subset CSVs -> ``work/prepared`` (the preprocess stage's format); returns the eval
    labels by uuid."""
    from sklearn.model_selection import train_test_split

    from papercls.data.preprocess import run_preprocess

    train = pd.read_csv(data / "train.csv", dtype=str, keep_default_na=False)
    sub, _ = train_test_split(train, train_size=rows, random_state=seed, stratify=train["label"])
    evaluation = pd.read_csv(data / "eval.csv", dtype=str, keep_default_na=False).head(eval_rows)
    sub.to_csv(work / "train.csv", index=False)
    evaluation.drop(columns=["label"]).to_csv(work / "test.csv", index=False)
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    cfg = {"text_template": params["preprocess"]["text_template"], **PREPROCESS}
    run_preprocess(work / "train.csv", work / "test.csv", work / "prepared", cfg)
    return evaluation.set_index("uuid")["label"].astype(int)


def run_one(work: Path, tag: str, section: dict[str, Any], eval_y: pd.Series) -> dict[str, Any]:
    from papercls.evaluation.metrics import classification_metrics
    from papercls.evaluation.thresholds import best_f1_threshold
    from papercls.training.stage import run_training

    out = work / tag
    t0 = time.perf_counter()
    summary = run_training("baseline", section, work / "prepared", out / "models",
                           out / "predictions", out / "metrics", progress=False)  # fmt: skip
    seconds = time.perf_counter() - t0
    held = pd.read_parquet(out / "predictions" / "baseline" / "heldout.parquet")
    test = pd.read_parquet(out / "predictions" / "baseline" / "test.parquet")
    threshold, _ = best_f1_threshold(held["label"], held["prob"])
    y = eval_y.loc[test["uuid"]].to_numpy()
    tuned = classification_metrics(y, test["prob"], threshold)
    at_half = classification_metrics(y, test["prob"], 0.5)
    return {
        "epochs": len(summary.history),
        "best_epoch": summary.best_epochs[0],
        "threshold": threshold,
        "f1_tuned": tuned["f1"],
        "f1_05": at_half["f1"],
        "roc_auc": tuned["roc_auc"],
        "pr_auc": tuned["pr_auc"],
        "max_prob": float(test["prob"].max()),
        "seconds": seconds,
    }


def table(results: list[dict[str, Any]]) -> str:
    head = ("| lr | variant | seed | epochs | best | thr | F1 tuned | F1 0.5 | ROC-AUC | PR-AUC "
            "| s |\n|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")  # fmt: skip
    lines = [head]
    for r in results:
        lines.append(
            f"| {r['lr']:g} | {r['variant']} | {r['seed']} | {r['epochs']} | {r['best_epoch']} "
            f"| {r['threshold']:.3f} | {r['f1_tuned']:.3f} | {r['f1_05']:.3f} "
            f"| {r['roc_auc']:.4f} | {r['pr_auc']:.4f} | {r['seconds']:.0f} |"
        )
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "mag")
    ap.add_argument("--rows", type=int, default=400, help="labelled rows drawn from train.csv")
    ap.add_argument("--eval-rows", type=int, default=1000, help="first rows of eval.csv scored")
    ap.add_argument("--lrs", type=float, nargs="+", default=[5e-5, 1e-4])
    ap.add_argument("--seeds", type=int, nargs="+", default=[42], help="training seeds")
    ap.add_argument("--min-steps", type=int, default=None, help="default: params.yaml's")
    ap.add_argument("--max-length", type=int, default=48)
    ap.add_argument("--variants", nargs="+", default=None, help="first letters (a b c)")
    ap.add_argument("--json", type=Path, default=None, help="also write the rows here")
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    import torch

    args = parse_args(argv)
    if not (args.data / "train.csv").is_file():
        print(f"error: {args.data / 'train.csv'} not found (use --data)", file=sys.stderr)
        return 2
    base = yaml.safe_load((ROOT / "params.yaml").read_text())["baseline"]
    min_steps = base.get("min_steps", 0) if args.min_steps is None else args.min_steps
    variants = {k: v for k, v in VARIANTS.items() if not args.variants or k[0] in args.variants}
    print(f"CPU: {cpu_model()}, {torch.get_num_threads()} torch threads, torch {torch.__version__}")
    print(
        f"data: {args.data}, {args.rows} train rows (valid_size 0.2), {args.eval_rows} eval "
        f"rows; baseline {base['backbone']}, max_length {args.max_length}, batch 16, "
        f"min_steps {min_steps} in b/c"
    )
    results = []
    with tempfile.TemporaryDirectory(prefix="real-small-") as tmp:
        work = Path(tmp)
        eval_y = prepare(args.data, work, args.rows, args.eval_rows, seed=0)
        for seed in args.seeds:
            for lr in args.lrs:
                for i, (name, overrides) in enumerate(variants.items()):
                    section = {**base, "max_length": args.max_length, "batch_size": 16,
                               "grad_accum": 1, "epochs": 1, "lr": lr, "seed": seed,
                               "min_steps": min_steps, "kfold": False, **overrides}  # fmt: skip
                    row = run_one(work, f"s{seed}-lr{lr:g}-{i}", section, eval_y)
                    results.append({"lr": lr, "variant": name, "seed": seed, **row})
                    print(table(results[-1:]).splitlines()[-1], flush=True)
    print()
    print(table(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
