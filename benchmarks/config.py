"""Paths, the benchmarks' names and order, and the sizes of a full and a --quick run."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCH_DIR = ROOT / "benchmarks"
# the shared real data (not part of the project): ../shared/data, or $PAPERCLS_SHARED_DATA
SHARED_DATA = Path(os.environ.get("PAPERCLS_SHARED_DATA") or ROOT.parent / "shared" / "data")
TESTB_CSV = SHARED_DATA / "competition" / "testB.csv"
MAG_TRAIN_CSV = SHARED_DATA / "mag" / "train.csv"
ALL_BENCHMARKS = ("training", "inference", "pipeline", "gpu")  # order of the table
EXECUTION_ORDER = ("pipeline", "gpu", "inference", "training")  # quickest first

SIZES = {
    # rows used by each benchmark; --quick shrinks them
    # rounds: ours and the peer trainer take turns this many times (best of each kept);
    # infer_chunk: the inference methods take turns chunk by chunk (see timing.interleaved()).
    "full": dict(
        train=400,
        valid=200,
        rounds=2,
        infer=2000,
        infer_chunk=250,
        infer_rounds=2,
        corpus=100_000,
        corpus_test=2000,
        bootstrap_rows=6000,
        repeats=3,
    ),
    "quick": dict(
        train=96,
        valid=64,
        rounds=1,
        infer=256,
        infer_chunk=128,
        infer_rounds=1,
        corpus=20_000,
        corpus_test=500,
        bootstrap_rows=2000,
        repeats=2,
    ),
}
