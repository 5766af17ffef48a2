"""Quick probe of the CPU inference engines on real abstracts (run by hand; not a test).

    python benchmarks/engines_probe.py [--rows 200] [--rounds 2] [--csv PATH]

The bundled MiniLM backbone is built as a baseline classifier whose head is a logistic
regression fitted on pooled outputs of labelled MAG titles (``--head-csv``; a random head would
leave every probability near 0.5), saved as the train stage saves it, exported to
ONNX (fp32 and int8) and run over the first ``--rows`` rows of the competition's test.csv
(template ``{title} [SEP] {Keywords} [SEP] {abstract}``, max_length 256, batch 16). Engines are
run interleaved, best of ``--rounds``; model loading and session creation are not timed.
Prints the CPU, one row per engine (rows/s by wall time and by process CPU time, speed-up over
torch fp32, label agreement at 0.5 and the largest probability difference against torch fp32).
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import onnx
import pandas as pd
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from papercls import (  # noqa: E402
    hardware,
    inference,
    onnx_export,
    onnx_inference,
    onnx_quantize,
)
from papercls.backbone import default_backbone_dir  # noqa: E402
from papercls.models import build_baseline  # noqa: E402
from papercls.text import build_texts  # noqa: E402

TEMPLATE = "{title} [SEP] {Keywords} [SEP] {abstract}"
DEFAULT_CSV = ROOT.parent / "shared" / "data" / "competition" / "test.csv"
DEFAULT_HEAD_CSV = ROOT.parent / "shared" / "data" / "mag" / "train.csv"
MAX_LENGTH, BATCH = 256, 16


def fit_head(model, tokenizer, csv: Path, n: int) -> None:
    """Set the classification head to a logistic regression on the pooled outputs of ``n``
    labelled MAG titles, so that probabilities spread over (0, 1) as a trained model's do and
    label agreement means something (a random head leaves every row near 0.5)."""
    from sklearn.linear_model import LogisticRegression

    df = pd.read_csv(csv, dtype=str, keep_default_na=False).head(n)
    enc = inference.encode(tokenizer, build_texts(df, TEMPLATE), MAX_LENGTH)
    feats = np.empty((len(df), model.config.hidden_size), dtype=np.float32)
    with torch.inference_mode():
        for idx, batch in inference.length_sorted_batches(tokenizer, enc, list(enc), 64):
            feats[idx] = model.base_model(**batch).pooler_output.numpy()
    lr = LogisticRegression(C=1.0, max_iter=2000).fit(feats, df["label"].astype(int))
    with torch.no_grad():  # softmax([0, w.x + b])[1] == sigmoid(w.x + b)
        model.classifier.weight.zero_()
        model.classifier.bias.zero_()
        model.classifier.weight[1] = torch.from_numpy(lr.coef_[0].astype(np.float32))
        model.classifier.bias[1] = float(lr.intercept_[0])


def save_baseline(out_dir: Path, head_csv: Path | None, head_rows: int) -> Path:
    """MiniLM + a 2-label head (fitted when ``head_csv`` is given), saved as the train stage
    saves a model."""
    from transformers import AutoTokenizer, set_seed

    backbone = default_backbone_dir()
    set_seed(0)
    model = build_baseline(backbone).eval()
    tokenizer = AutoTokenizer.from_pretrained(backbone)
    tokenizer.model_max_length = MAX_LENGTH
    if head_csv is not None and head_csv.is_file():
        fit_head(model, tokenizer, head_csv, head_rows)
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    return out_dir


def engines(model_dir: Path, onnx_dir: Path, threads: int | None) -> dict:
    """name -> callable(texts) -> probabilities; ``threads``: ONNX Runtime intra-op threads
    (None: its default)."""
    model, tokenizer = inference.load_classifier(model_dir, device="cpu")
    fp32 = onnx_inference.make_session(onnx_dir / onnx_export.MODEL_FILE, threads)
    int8 = onnx_inference.make_session(onnx_dir / onnx_export.INT8_FILE, threads)
    fused_path = onnx_dir / "fused.onnx"  # the fp32 graph int8 starts from
    onnx.save(onnx_quantize.fuse_encoder(onnx_dir / onnx_export.MODEL_FILE), str(fused_path))
    fused = onnx_inference.make_session(fused_path, threads)

    def torch_run(texts, bf16=False):
        ctx = torch.autocast("cpu", dtype=torch.bfloat16) if bf16 else contextlib.nullcontext()
        with ctx:
            return inference.predict_proba(model, tokenizer, texts, MAX_LENGTH, BATCH, False)

    def onnx_run(session, texts):
        return onnx_inference.session_proba(session, tokenizer, texts, MAX_LENGTH, BATCH, False)

    return {
        "torch fp32 (eager)": torch_run,
        "torch bf16 autocast": lambda t: torch_run(t, bf16=True),
        "onnx fp32": lambda t: onnx_run(fp32, t),
        "onnx fp32 (fused graph)": lambda t: onnx_run(fused, t),
        "onnx int8 (fused, per-channel)": lambda t: onnx_run(int8, t),
    }


def measure(runs: dict, texts: list[str], rounds: int) -> tuple[dict, dict]:
    """Interleaved best-of-``rounds`` (wall seconds, process CPU seconds) per engine, and each
    engine's probabilities. CPU seconds count every thread of this process (ONNX Runtime's
    too) and move less than wall time when other work shares the machine."""
    for run in runs.values():  # warm-up: first-call allocations, oneDNN kernel choice
        run(texts[:BATCH])
    best = {name: (float("inf"), float("inf")) for name in runs}
    probs = {}
    for _ in range(rounds):
        for name, run in runs.items():
            w0, c0 = time.perf_counter(), time.process_time()
            probs[name] = run(texts)
            took = (time.perf_counter() - w0, time.process_time() - c0)
            best[name] = (min(best[name][0], took[0]), min(best[name][1], took[1]))
    return best, probs


def report(best: dict, probs: dict, n: int) -> pd.DataFrame:
    ref_name = next(iter(best))
    ref = probs[ref_name]
    rows = []
    for name, (wall, cpu) in best.items():
        p = probs[name]
        rows.append(
            {
                "engine": name,
                "rows/s": round(n / wall, 2),
                "x torch fp32": round(best[ref_name][0] / wall, 2),
                "rows/cpu-s": round(n / cpu, 2),
                "x (cpu)": round(best[ref_name][1] / cpu, 2),
                "label agreement": float(np.mean((p >= 0.5) == (ref >= 0.5))),
                "max |dprob|": float(np.max(np.abs(p - ref))),
            }
        )
    return pd.DataFrame(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--csv", type=Path, default=DEFAULT_CSV)
    parser.add_argument("--head-csv", type=Path, default=DEFAULT_HEAD_CSV, help="labelled rows")
    parser.add_argument("--head-rows", type=int, default=1000)
    parser.add_argument(
        "--threads", type=int, default=0, help="torch and ONNX Runtime threads (0: defaults)"
    )
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    caps = hardware.cpu_capabilities()
    print(f"CPU: {caps.summary()}")
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads; auto precision -> "
        f"{hardware.resolve_precision('auto', caps)}"
    )
    df = pd.read_csv(args.csv, dtype=str, keep_default_na=False).head(args.rows)
    texts = build_texts(df, TEMPLATE)
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = save_baseline(Path(tmp) / "model", args.head_csv, args.head_rows)
        t0 = time.perf_counter()
        onnx_export.export_onnx(model_dir, Path(tmp) / "onnx", int8=True)
        print(f"export fp32 + int8: {time.perf_counter() - t0:.1f} s")
        best, probs = measure(
            engines(model_dir, Path(tmp) / "onnx", args.threads or None), texts, args.rounds
        )
    table = report(best, probs, len(texts))
    ref = next(iter(probs.values()))
    print(
        f"torch fp32 probabilities: positive rate {np.mean(ref >= 0.5):.3f}, "
        f"{np.mean(np.abs(ref - 0.5) < 0.05):.3f} of rows within 0.05 of 0.5"
    )
    print(
        f"{len(texts)} rows of {args.csv.name}, max_length {MAX_LENGTH}, batch {BATCH}, "
        f"best of {args.rounds} interleaved"
    )
    print(table.to_string(index=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
