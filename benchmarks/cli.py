"""The command line: arguments, running the chosen benchmarks (quickest first, one failure not
hiding the others, SIGTERM still writing what was measured), results files and the summary."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import benchmarks
from benchmarks.config import ALL_BENCHMARKS, BENCH_DIR, EXECUTION_ORDER, SIZES
from benchmarks.engines import METHODS as INFERENCE_METHODS
from benchmarks.gpu import bench_gpu
from benchmarks.inference import bench_inference
from benchmarks.machine import environment
from benchmarks.pipeline import bench_pipeline
from benchmarks.results import Row, format_table, in_table_order, write_results
from benchmarks.timing import LoadMonitor, log
from benchmarks.training import bench_training

BENCHMARKS: dict[str, Callable[[dict[str, int], Path], tuple[list[Row], dict[str, Any]]]] = {
    "training": bench_training,
    "inference": bench_inference,
    "pipeline": bench_pipeline,
    "gpu": bench_gpu,
}


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=benchmarks.__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="small sizes: a few minutes in all")
    p.add_argument(
        "--only",
        default=",".join(ALL_BENCHMARKS),
        help=f"comma-separated subset of {','.join(ALL_BENCHMARKS)}",
    )
    p.add_argument(
        "--out-dir",
        type=Path,
        default=BENCH_DIR,
        help="where results.json and results.md go (default: benchmarks/)",
    )
    p.add_argument(
        "--infer-rows", type=int, default=None, help="testB rows for the inference benchmark"
    )
    p.add_argument(
        "--infer-methods",
        default=None,
        help="comma-separated subset of the inference methods (torch bf16, torch int8, onnx "
        "fp32, onnx int8); torch fp32 and pipeline always run",
    )
    p.add_argument(
        "--group-by-length",
        action="store_true",
        help="training: the peer Trainer groups rows by length and pads each batch to its "
        "longest row (its best for varied lengths) instead of padding every row to max length",
    )
    p.add_argument("--keep-tmp", action="store_true", help="keep the scratch directory")
    args = p.parse_args(argv)
    args.only = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = set(args.only) - set(ALL_BENCHMARKS)
    if unknown:
        p.error(f"unknown benchmark(s) {sorted(unknown)}")
    if args.infer_methods:
        args.infer_methods = [m.strip() for m in args.infer_methods.split(",") if m.strip()]
        unknown = set(args.infer_methods) - set(INFERENCE_METHODS)
        if unknown:
            p.error(f"unknown inference method(s) {sorted(unknown)}")
    return args


class Interrupted(Exception):
    """SIGTERM: stop, but still write what has been measured."""


def _on_sigterm(signum: int, frame: object) -> None:
    raise Interrupted(f"signal {signum}")


def run_benchmark(
    name: str,
    sizes: dict[str, int],
    scratch: Path,
    env: dict[str, Any],
    rows: list[Row],
    errors: dict[str, str],
) -> dict[str, Any]:
    """Run one benchmark; add its rows (and the load average while it ran) to ``rows``; return
    its details. A failure becomes an error row; SIGTERM adds that row and propagates."""
    t1 = time.perf_counter()
    monitor = LoadMonitor()
    try:
        with monitor:
            bench_rows, bench_details = BENCHMARKS[name](sizes, scratch)
    except Exception as exc:  # one failing benchmark must not hide the others
        errors[name] = f"{type(exc).__name__}: {exc}"
        log(f"{name} FAILED: {errors[name]}")
        bench_rows, bench_details = (
            [Row(name, "error", type(exc).__name__, note=str(exc)[:80], met=False)],
            {},
        )
        if isinstance(exc, Interrupted):
            rows.extend(bench_rows)
            raise
    bench_details["seconds"] = time.perf_counter() - t1
    load = bench_details["load_average_1min"] = monitor.summary()
    if name != "gpu" or bench_details.get("device"):
        bench_rows.append(
            Row(
                name,
                "machine load average (1 min), mean/max",
                f"{load['mean']:.1f}/{load['max']:.1f}",
                note=f"~{env['torch_threads']} is this script alone",
            )
        )
    rows.extend(bench_rows)
    return bench_details


def print_summary(rows: list[Row], env: dict[str, Any], out_dir: Path, seconds: float) -> None:
    print()
    print(format_table(in_table_order(rows)))
    print()
    print(f"peak assumed: {env['peak_fp32_gflops']:.1f} GFLOP/s = {env['peak_formula']}")
    print(
        "training FLOPs per sequence of s tokens: 6*N*s + 12*L*d*s^2 "
        "(N non-embedding params, L layers, d hidden)"
    )
    print(f"wrote {out_dir / 'results.json'} and {out_dir / 'results.md'} ({seconds:.0f} s)")


def main(argv: Sequence[str] | None = None, command: str = "python benchmarks/run.py") -> int:
    args = parse_args(argv)
    sizes = dict(SIZES["quick" if args.quick else "full"])
    if args.infer_rows:
        sizes["infer"] = args.infer_rows
    if args.infer_methods:
        sizes["infer_methods"] = args.infer_methods
    if args.group_by_length:
        sizes["peer_group_by_length"] = 1
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    signal.signal(signal.SIGTERM, _on_sigterm)
    started = dt.datetime.now(dt.UTC)
    t0 = time.perf_counter()
    env = environment()
    log(
        f"{env['cpu_model']}, {env['cores']} cores, peak {env['peak_fp32_gflops']:.1f} GFLOP/s "
        f"({env['peak_formula']}); sizes {sizes}"
    )
    rows: list[Row] = []
    details: dict[str, Any] = {"sizes": sizes}
    errors: dict[str, str] = {}
    meta = {
        "command": " ".join([*command.split(), *(argv or sys.argv[1:])]),
        "quick": args.quick,
        "started_utc": started.isoformat(timespec="seconds"),
        "duration_s": 0.0,
        "environment": env,
        "errors": errors,
        "completed": [],
    }

    def save() -> None:  # after every benchmark, so that an interrupted run leaves its figures
        meta["duration_s"] = time.perf_counter() - t0
        write_results(args.out_dir, in_table_order(rows), meta, details)

    tmp = Path(tempfile.mkdtemp(prefix="papercls-bench-"))
    try:
        # quickest first: a run cut short still has the pipeline figures
        for name in sorted(args.only, key=EXECUTION_ORDER.index):
            scratch = tmp / name
            scratch.mkdir()
            details[name] = run_benchmark(name, sizes, scratch, env, rows, errors)
            meta["completed"].append(name)
            save()
            log(f"{name} done in {details[name]['seconds']:.0f} s")
    except Interrupted:
        log("interrupted: writing what was measured")
    finally:
        save()
        if args.keep_tmp:
            log(f"scratch kept at {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    print_summary(rows, env, args.out_dir, meta["duration_s"])
    return 1 if errors else 0  # a missed target is a result, not a failure
