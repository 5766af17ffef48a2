"""Training samples/s with 1 and with 2 processes on this CPU (gloo, torchrun).

Usage: python benchmarks/multiprocess.py [--rows 64] [--max-length 64] [--backbone minilm]
         [--processes 1,2] [--threads T]

Each run is a fresh ``torchrun --standalone --nproc_per_node N`` of this script's worker, which
trains one epoch of the project's loop (``papercls.training.loop.train``) on the first
``--rows`` rows of the bundled sample's train split (global batch 16, fp32) and reports the
loop's samples/s (all processes together, batch loops only: no start-up, no validation). The
cores are shared out: OMP_NUM_THREADS = cores / N per process (``--threads``: T each). Prints
the CPU, then one line per process count and the speed-up.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def _worker(args: argparse.Namespace) -> int:
    from transformers import AutoTokenizer, set_seed

    from benchmarks.workload import load_project_params, sample_frames
    from papercls.distributed import is_main_process
    from papercls.models.backbone import resolve_backbone
    from papercls.models.fused_head import build_baseline
    from papercls.training.loop import TrainConfig, train

    train_df, valid_df = sample_frames(load_project_params(), args.rows, 32)
    backbone = resolve_backbone(args.backbone)
    cfg = TrainConfig(
        max_length=args.max_length, batch_size=16, epochs=1, lr=1e-4, patience=0, seed=42,
        mixed_precision="fp32", progress=False, checkpoint_dir=str(Path(args.out).parent / "ckpt"),
    )  # fmt: skip
    set_seed(cfg.seed)
    model = build_baseline(backbone)
    result = train(
        model, AutoTokenizer.from_pretrained(backbone), train_df, valid_df, cfg,
        Path(args.out).parent / "model",
    )  # fmt: skip
    if is_main_process():
        Path(args.out).write_text(json.dumps({"samples_per_s": result.train_samples_per_s}))
    return 0


def _run(processes: int, args: argparse.Namespace, threads: int) -> float:
    from papercls.distributed import launcher_command

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "result.json"
        worker = [
            "--worker", "--out", str(out), "--rows", str(args.rows),
            "--max-length", str(args.max_length), "--backbone", args.backbone,
        ]  # fmt: skip
        env = dict(os.environ, OMP_NUM_THREADS=str(threads))
        env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), env.get("PYTHONPATH", "")])
        cmd = launcher_command(processes, __file__, worker)
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
        if proc.returncode != 0 or not out.is_file():
            print(proc.stdout[-2000:], proc.stderr[-4000:], file=sys.stderr)
            raise SystemExit(f"error: the run with {processes} process(es) failed")
        return float(json.loads(out.read_text())["samples_per_s"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=64)
    parser.add_argument("--max-length", type=int, default=64)
    parser.add_argument("--backbone", default="minilm")
    parser.add_argument("--processes", default="1,2")
    parser.add_argument("--threads", type=int, default=0, help="per process (0: cores / N)")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return _worker(args)

    from benchmarks.machine import cpu_facts

    cpu = cpu_facts()
    cores = int(cpu["cores"])
    print(f"CPU: {cpu['model']}, {cores} cores usable")
    print(
        f"workload: {args.backbone}, {args.rows} train rows, max_length {args.max_length}, "
        "global batch 16, fp32, 1 epoch"
    )
    speeds = {}
    for n in (int(p) for p in args.processes.split(",")):
        threads = args.threads or max(1, cores // n)
        speeds[n] = _run(n, args, threads)
        print(f"{n} process(es) x {threads} thread(s): {speeds[n]:.1f} training samples/s")
    if 1 in speeds and len(speeds) > 1:
        for n, s in speeds.items():
            if n != 1:
                print(f"speed-up {n} vs 1 process(es): {s / speeds[1]:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
