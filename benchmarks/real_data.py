"""Full-size real-data evaluation: the pipeline on ../shared/data/mag through params only.

Data: mag/train.csv (5,598 real paper titles, 14% medicine) is the labelled training file and
mag/eval.csv (6,000 unseen titles, labelled) the test file, exactly as
``dvc exp run -S data.train=... -S data.test=...`` would run them. Each variant is params.yaml
plus ``-S section.key=value`` overrides (values parsed as YAML, as ``dvc exp run -S`` does); it
runs the stages' own functions in stage order, in a scratch folder: check_params, preprocess,
train_tfidf, train@baseline, train@topline, ensemble, tune_thresholds. Each model's figures on
eval.csv are read back from the metrics/<model>/test.json that tune_thresholds writes: F1 at the
tuned threshold (chosen on the pipeline's own held-out predictions, never on eval) and at 0.5,
ROC-AUC, PR-AUC; "oracle" is the best F1 over all thresholds on eval itself (an upper bound, not
a result).

Two anchors are measured in the same run:
  tfidf-oof  TF-IDF + logistic regression (the tfidf model) with 5-fold out-of-fold thresholds;
  trainer    a plain transformers ``Trainer`` fine-tune of the same backbone on all train rows
             (3 epochs, lr 5e-5, batch 16, max length 64, fp32), scored at 0.5 and at the oracle.

    python -m benchmarks.real_data [--variants defaults kfold-epochs3 trainer] [-S key=value ...]
        [--backbone DIR] [--out DIR] [--budget-s SECONDS]

Every variant adds ``baseline.max_length=64 topline.max_length=64`` (titles: 99.9% fit in 64
word pieces) before its own overrides. Results go to ``--out`` (results.json, results.md and
each variant's prediction files) as they come, so a run stopped early keeps what it finished.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
# this checkout's package and benchmarks, also when run as a script
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]

ENCODERS = ("baseline", "topline")
COMMON = ["baseline.max_length=64", "topline.max_length=64"]
EPOCHS3 = ["baseline.epochs=3", "topline.epochs=3"]
KFOLD = ["baseline.kfold=true", "topline.kfold=true", "tfidf.kfold=true"]
VARIANTS: dict[str, list[str]] = {
    "defaults": [],
    "epochs3": EPOCHS3,
    "kfold": KFOLD,
    "kfold-epochs3": KFOLD + EPOCHS3,
    "kfold-epochs3-lr5e-5": KFOLD + EPOCHS3 + ["baseline.lr=5.0e-5", "topline.lr=5.0e-5"],
}


def device_line() -> str:
    import torch

    from benchmarks.machine import cpu_facts

    cpu = cpu_facts()["model"]
    gpu = torch.cuda.get_device_name() if torch.cuda.is_available() else "no GPU"
    return f"CPU {cpu} ({torch.get_num_threads()} torch threads); {gpu}; torch {torch.__version__}"


def apply_overrides(params: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """``section.key=value`` (value parsed as YAML) set into a deep copy of ``params``."""
    import yaml

    out = json.loads(json.dumps(params))
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise ValueError(f"override {item!r}: expected section.key=value")
        *path, last = key.split(".")
        node = out
        for part in path:
            node = node.setdefault(part, {})
        node[last] = yaml.safe_load(raw)
    return out


def run_pipeline(params: dict[str, Any], work: Path) -> dict[str, float]:
    """The stages' functions in dvc.yaml's order under ``work``; returns seconds per stage."""
    from papercls.config.check import check_params
    from papercls.data.preprocess import run_preprocess
    from papercls.evaluation.ensemble import ensemble_config, run_ensemble
    from papercls.evaluation.evaluate import load_prior, run_tune_thresholds
    from papercls.training.stage import run_training
    from papercls.training.tfidf_stage import run_tfidf

    problems = check_params(params)
    if problems:
        raise ValueError("params refused: " + "; ".join(str(p) for p in problems))
    prepared, preds, metrics = work / "data" / "prepared", work / "predictions", work / "metrics"
    seconds: dict[str, float] = {}

    def timed(stage: str, fn, *args, **kwargs):
        t0 = time.perf_counter()
        result = fn(*args, **kwargs)
        seconds[stage] = round(time.perf_counter() - t0, 1)
        print(f"  {stage}: {seconds[stage]:.0f} s", flush=True)
        return result

    data = params["data"]
    timed("preprocess", run_preprocess, data["train"], data["test"], prepared, params["preprocess"])
    timed("tfidf", run_tfidf, params["tfidf"], prepared, work / "models", preds)
    for name in ENCODERS:
        timed(
            name,
            run_training,
            name,
            params[name],
            prepared,
            work / "models",
            preds,
            metrics,
            inference=params.get("inference"),
            progress=False,
        )
    timed("ensemble", run_ensemble, ensemble_config(params.get("ensemble")), preds)
    models = list(params["evaluate"]["models"])
    prior = load_prior(prepared / "meta.json")
    timed(
        "tune_thresholds",
        run_tune_thresholds,
        models,
        params["thresholds"],
        prior,
        preds,
        metrics,
        prepared_test=prepared / "test.parquet",
        figures=False,
    )
    return seconds


def model_row(work: Path, model: str) -> dict[str, Any]:
    """A model's eval figures from metrics/<model>/test.json, plus the oracle F1."""
    import pandas as pd

    from papercls.evaluation.thresholds import best_f1_threshold

    test = json.loads((work / "metrics" / model / "test.json").read_text())
    probs = pd.read_parquet(work / "predictions" / model / "test.parquet")
    labels = pd.read_parquet(work / "data" / "prepared" / "test.parquet")
    y = labels.set_index("uuid")["label"].loc[probs["uuid"]].to_numpy()
    _, oracle = best_f1_threshold(y, probs["prob"].to_numpy())
    tuned, half = test["tuned"], test["at_0.5"]
    return {
        "f1_tuned": tuned["f1"],
        "threshold": tuned["threshold"],
        "f1_05": half["f1"],
        "f1_oracle": oracle,
        "roc_auc": tuned["roc_auc"],
        "pr_auc": tuned["pr_auc"],
        "n": tuned["n"],
    }


def trainer_anchor(params: dict[str, Any], backbone: str, out: Path) -> dict[str, Any]:
    """A plain ``Trainer`` fine-tune (transformers' run_classification recipe) on every train
    row, scored on eval at 0.5 and at the oracle threshold."""
    import numpy as np
    import pandas as pd
    from transformers import AutoModelForSequenceClassification, AutoTokenizer, Trainer, set_seed

    from benchmarks.peer_trainer import _padded_dataset, _training_args
    from papercls.evaluation.metrics import classification_metrics
    from papercls.evaluation.thresholds import best_f1_threshold
    from papercls.training.config import TrainConfig

    prepared = out / "data" / "prepared"
    labelled = pd.concat([pd.read_parquet(prepared / f"{s}.parquet") for s in ("train", "valid")])
    test = pd.read_parquet(prepared / "test.parquet")
    section = {**params["baseline"], "lr": 5e-5, "max_length": 64, "batch_size": 16}
    cfg = TrainConfig.from_params(section)
    t0 = time.perf_counter()
    tokenizer = AutoTokenizer.from_pretrained(backbone)
    set_seed(cfg.seed)
    model = AutoModelForSequenceClassification.from_pretrained(backbone, num_labels=2)
    # the recipe: 3 epochs, fp32
    args = dataclasses.replace(_training_args(cfg, out / "trainer"), num_train_epochs=3, bf16=False)
    trainer = Trainer(
        model=model, args=args, train_dataset=_padded_dataset(tokenizer, labelled, cfg.max_length)
    )
    trainer.train()
    logits = trainer.predict(_padded_dataset(tokenizer, test, cfg.max_length)).predictions
    z = logits - logits.max(axis=1, keepdims=True)
    prob = np.exp(z[:, 1]) / np.exp(z).sum(axis=1)
    y = test["label"].to_numpy()
    at_half = classification_metrics(y, prob, 0.5)
    _, oracle = best_f1_threshold(y, prob)
    shutil.rmtree(out / "trainer", ignore_errors=True)
    return {
        "f1_tuned": None,
        "threshold": 0.5,
        "f1_05": at_half["f1"],
        "f1_oracle": oracle,
        "roc_auc": at_half["roc_auc"],
        "pr_auc": at_half["pr_auc"],
        "n": at_half["n"],
        "seconds": round(time.perf_counter() - t0, 1),
    }


def table(rows: list[dict[str, Any]]) -> str:
    def f(v: Any) -> str:
        return "—" if v is None else f"{v:.3f}"

    lines = [
        "| variant | model | F1 tuned | threshold | F1 at 0.5 | F1 oracle | ROC-AUC | PR-AUC | s |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['variant']} | {r['model']} | {f(r['f1_tuned'])} | {f(r['threshold'])} "
            f"| {f(r['f1_05'])} | {f(r['f1_oracle'])} | {r['roc_auc']:.4f} | {r['pr_auc']:.4f} "
            f"| {r.get('seconds') or 0:.0f} |"
        )
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "mag")
    ap.add_argument(
        "--variants",
        nargs="+",
        default=["defaults", "kfold-epochs3", "trainer"],
        choices=sorted(VARIANTS) + ["trainer"],
        help="run in this order; trainer: the Trainer anchor",
    )
    ap.add_argument(
        "-S",
        "--set",
        dest="overrides",
        action="append",
        default=[],
        help="section.key=value for every variant (after the variant's own)",
    )
    ap.add_argument("--backbone", default=None, help="backbone for every encoder and the anchor")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "real_data_out")
    ap.add_argument("--budget-s", type=float, default=None, help="start nothing new after this")
    return ap.parse_args(argv)


def run_variant(variant: str, base: dict, overrides: list[str], keep: Path) -> list[dict]:
    """One variant (or the ``trainer`` anchor) in a scratch folder; its rows. A pipeline
    variant's prediction files and test.json are kept in ``keep`` (flat: <model>_<split>.*)."""
    from papercls.data.preprocess import run_preprocess
    from papercls.models.backbone import resolve_backbone

    with tempfile.TemporaryDirectory(prefix="real-data-") as tmp:
        work = Path(tmp)
        if variant == "trainer":
            params = apply_overrides(base, overrides)
            run_preprocess(
                params["data"]["train"],
                params["data"]["test"],
                work / "data" / "prepared",
                params["preprocess"],
            )
            backbone = resolve_backbone(params["baseline"]["backbone"])
            return [
                {"variant": "anchor", "model": "trainer", **trainer_anchor(params, backbone, work)}
            ]
        overrides = overrides[:2] + COMMON + VARIANTS[variant] + overrides[2:]
        params = apply_overrides(base, overrides)
        seconds = run_pipeline(params, work)
        models = params["evaluate"]["models"]
        rows = [
            {"variant": variant, "model": m, **model_row(work, m), "seconds": seconds.get(m)}
            for m in models
        ]
        shutil.rmtree(keep, ignore_errors=True)
        keep.mkdir(parents=True)
        for m in models:
            for split in ("heldout", "test"):
                shutil.copy(
                    work / "predictions" / m / f"{split}.parquet", keep / f"{m}_{split}.parquet"
                )
            shutil.copy(work / "metrics" / m / "test.json", keep / f"{m}_test.json")
        (keep / "overrides.txt").write_text("\n".join(overrides) + "\n")
        return rows


def main(argv: list[str] | None = None) -> int:
    from papercls.config.params import load_params

    args = parse_args(argv)
    start = time.perf_counter()
    train_csv, eval_csv = args.data / "train.csv", args.data / "eval.csv"
    if not (train_csv.is_file() and eval_csv.is_file()):
        print(f"error: {train_csv} or {eval_csv} not found (use --data)", file=sys.stderr)
        return 2
    print(device_line(), flush=True)
    base = load_params(ROOT / "params.yaml")
    # data first, then (in run_variant) COMMON and the variant's own, then --set / --backbone
    overrides = [f"data.train={train_csv.resolve()}", f"data.test={eval_csv.resolve()}"]
    overrides += args.overrides
    if args.backbone:
        overrides += [f"{m}.backbone={args.backbone}" for m in ENCODERS]
    args.out.mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, Any]] = []
    for variant in args.variants:
        if args.budget_s and time.perf_counter() - start > args.budget_s:
            print(f"budget spent: {variant} not run", flush=True)
            break
        print(f"{variant}:", flush=True)
        new = run_variant(variant, base, overrides, args.out / variant)
        rows += new
        print("\n".join(table(new).splitlines()[2:]), flush=True)
        (args.out / "results.json").write_text(json.dumps(rows, indent=1))
        (args.out / "results.md").write_text(device_line() + "\n\n" + table(rows) + "\n")
    print()
    print(table(rows))
    print(f"total {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
