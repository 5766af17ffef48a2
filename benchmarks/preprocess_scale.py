"""The preprocess of a large generated corpus (part of the pipeline benchmark): wall time and
peak memory of ``run_preprocess`` in a child process."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks.dvc_repo import dvc_env
from benchmarks.results import Row, target_row
from benchmarks.timing import log
from benchmarks.workload import load_project_params

# The child reports its own peak RSS (VmHWM of its address space). rusage's ru_maxrss is no use
# here: Linux carries the parent's peak over the fork/exec into the child's figure.
_PREPROCESS_CHILD = """
import json, re, sys, time
t0 = time.perf_counter()
from papercls.data.preprocess import run_preprocess
t1 = time.perf_counter()
meta = run_preprocess(sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4]))
t2 = time.perf_counter()
status = open("/proc/self/status").read()
hwm = int(re.search(r"^VmHWM:\\s+(\\d+) kB", status, re.M).group(1)) * 1024
print(json.dumps({"import_seconds": t1 - t0, "preprocess_seconds": t2 - t1,
                  "peak_rss_bytes": hwm, "meta": meta}))
"""


def run_child(cmd: list[str], cwd: Path) -> tuple[str, float]:
    """Run ``cmd`` as a child process; return (its stdout, wall seconds)."""
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=dvc_env(), capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"{cmd[:3]} failed ({proc.returncode}):\n{proc.stdout}{proc.stderr}")
    return proc.stdout, seconds


def measure_preprocess(sizes: dict[str, int], tmp: Path) -> dict[str, Any]:
    """Generate the corpus, preprocess it in a child process; return the details."""
    from papercls.synthetic.sample import generate

    n, n_test = sizes["corpus"], sizes["corpus_test"]
    data = tmp / "corpus"
    data.mkdir()
    log(f"pipeline: generating a {n:,}-row corpus ...")
    t0 = time.perf_counter()
    generate(n, seed=3).to_csv(data / "train.csv", index=False)
    generate(n_test, seed=3, labelled=False).to_csv(data / "test.csv", index=False)
    gen_seconds = time.perf_counter() - t0
    cfg = load_project_params()["preprocess"]
    cmd = [sys.executable, "-c", _PREPROCESS_CHILD]
    cmd += [str(data / "train.csv"), str(data / "test.csv"), str(tmp / "prepared")]
    cmd.append(json.dumps(cfg))
    log("pipeline: preprocess in a child process ...")
    text, wall = run_child(cmd, tmp)
    return {
        "rows": n,
        "test_rows": n_test,
        "csv_bytes": (data / "train.csv").stat().st_size,
        "generate_seconds": gen_seconds,
        "child": json.loads(text.strip().splitlines()[-1]),
        "child_wall_seconds": wall,
    }


def bench_preprocess(sizes: dict[str, int], tmp: Path) -> tuple[list[Row], dict[str, Any]]:
    details = measure_preprocess(sizes, tmp)
    n, child, wall = details["rows"], details["child"], details["child_wall_seconds"]
    peak_gib = child["peak_rss_bytes"] / 2**30
    rows = [
        target_row(
            "pipeline",
            f"preprocess {n:,} rows: process wall",
            wall,
            "s",
            "< 30",
            note=f"run_preprocess itself {child['preprocess_seconds']:.1f} s",
        ),
        target_row(
            "pipeline",
            f"preprocess {n:,} rows: peak RSS",
            peak_gib,
            "GiB",
            "< 2",
            note="VmHWM of the child process",
        ),
    ]
    return rows, details
