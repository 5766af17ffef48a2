"""bf16 against fp32 training on this CPU, at small scale (run by hand; not part of run.py).

    python -m benchmarks.precision_training [--rows 600] [--max-length 48] [--epochs 2]
                                            [--rounds 2]

Real labelled MAG titles (mag/train.csv of ../shared/data or $PAPERCLS_SHARED_DATA, the
first ``--rows`` rows) are prepared with the project's preprocess (template, stratified
validation split); MiniLM is then fine-tuned with the project's training loop
(``papercls.training.loop.train``, params.yaml's baseline settings except length and epochs) with
``mixed_precision: no`` (fp32) and with ``bf16`` (autocast on CPU), each in a fresh process
(Accelerate keeps one precision per process), taking turns for ``--rounds`` rounds. Printed per
precision: the best training samples/s (wall) and samples per CPU-second of the rounds, and the
validation F1 at 0.5 and ROC-AUC of the trained model (predicted in fp32: only training
differs).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from benchmarks.config import MAG_TRAIN_CSV as MAG_TRAIN
from benchmarks.config import ROOT, SHARED_DATA

MAG_TEST = SHARED_DATA / "mag" / "eval_unlabelled.csv"
PRECISIONS = ("no", "bf16")  # training's spelling: "no" = fp32


def _frames(rows: int, tmp: Path) -> tuple[Any, Any]:
    """The first ``rows`` rows of MAG train.csv, prepared as the preprocess stage does."""
    import pandas as pd

    from benchmarks.workload import load_project_params
    from papercls.data.preprocess import prepare_frames

    train_csv, test_csv = tmp / "train.csv", tmp / "test.csv"
    pd.read_csv(MAG_TRAIN, dtype=str, keep_default_na=False).head(rows).to_csv(
        train_csv, index=False
    )
    pd.read_csv(MAG_TEST, dtype=str, keep_default_na=False).head(8).to_csv(test_csv, index=False)
    frames = prepare_frames(train_csv, test_csv, load_project_params()["preprocess"])
    return frames["train"], frames["valid"]


def run_one(precision: str, rows: int, max_length: int, epochs: int) -> dict[str, Any]:
    """Train once with ``precision`` (this process); the figures as a dict."""
    import time

    from sklearn.metrics import f1_score, roc_auc_score
    from transformers import AutoTokenizer, set_seed

    from benchmarks.workload import load_project_params
    from papercls.inference.encoder import predict_dir_proba
    from papercls.models.backbone import resolve_backbone
    from papercls.models.fused_head import build_baseline
    from papercls.training.config import TrainConfig
    from papercls.training.loop import train

    section = dict(load_project_params()["baseline"])
    backbone = resolve_backbone(section.pop("backbone"))
    section.pop("kfold", None)
    section.update(
        max_length=max_length, epochs=epochs, patience=0, mixed_precision=precision, progress=False
    )
    cfg = TrainConfig.from_params(section)
    with tempfile.TemporaryDirectory() as tmp:
        train_df, valid_df = _frames(rows, Path(tmp))
        set_seed(cfg.seed)
        model = build_baseline(backbone)
        tokenizer = AutoTokenizer.from_pretrained(backbone)
        c0 = time.process_time()
        result = train(model, tokenizer, train_df, valid_df, cfg, Path(tmp) / "model")
        cpu = time.process_time() - c0
        probs = predict_dir_proba(Path(tmp) / "model", valid_df["text"].tolist(), device="cpu")
    labels = valid_df["label"].to_numpy()
    samples = len(train_df) * epochs
    return {
        "precision": precision,
        "train_rows": len(train_df),
        "valid_rows": len(valid_df),
        "samples_per_s": result.train_samples_per_s,
        "samples_per_cpu_s": samples / cpu,  # incl. tokenising and the per-epoch evaluation
        "valid_f1": float(f1_score(labels, (probs >= 0.5).astype(int), zero_division=0)),
        "valid_roc_auc": float(roc_auc_score(labels, probs)),
        "best_valid_f1_loop": result.best_valid_f1,
        "train_loss": [row["train_loss"] for row in result.history],
    }


def _in_subprocess(precision: str, args: argparse.Namespace) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "benchmarks.precision_training", "--one", precision]
    cmd += ["--rows", str(args.rows), "--max-length", str(args.max_length)]
    cmd += ["--epochs", str(args.epochs)]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{precision} run failed:\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=600)
    p.add_argument("--max-length", type=int, default=48)
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--one", choices=PRECISIONS, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.one:
        print(json.dumps(run_one(args.one, args.rows, args.max_length, args.epochs)))
        return 0
    from papercls.hardware import cpu_capabilities

    print(f"CPU: {cpu_capabilities().summary()}")
    runs: dict[str, list[dict[str, Any]]] = {p: [] for p in PRECISIONS}
    for k in range(args.rounds):
        for precision in PRECISIONS if k % 2 == 0 else PRECISIONS[::-1]:
            runs[precision].append(_in_subprocess(precision, args))
            print(json.dumps(runs[precision][-1]), flush=True)
    print(
        f"\n{args.rows} MAG rows, max_length {args.max_length}, {args.epochs} epochs, "
        f"best of {args.rounds} (interleaved)"
    )
    print(f"{'precision':<10}{'samples/s':>11}{'samples/cpu-s':>15}{'valid F1':>10}{'ROC-AUC':>9}")
    for precision, rs in runs.items():
        first = rs[0]
        print(
            f"{'fp32' if precision == 'no' else precision:<10}"
            f"{max(r['samples_per_s'] for r in rs):>11.2f}"
            f"{max(r['samples_per_cpu_s'] for r in rs):>15.2f}"
            f"{first['valid_f1']:>10.4f}{first['valid_roc_auc']:>9.4f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
