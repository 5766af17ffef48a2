"""Peak memory and rows/s of ``papercls predict`` with a TF-IDF model as the input grows: the
CLI reads, predicts and writes ``--chunk-size`` rows at a time, so its peak RSS should stay flat.

    python benchmarks/predict_memory.py                  # 10k and 100k rows
    python benchmarks/predict_memory.py --rows 10000 100000 1000000

The model is fitted on data/sample/train.csv (params.yaml's tfidf settings); the input repeats
data/sample/test.csv with fresh uuids. Each size runs ``papercls predict`` in a child process
that reports its own peak RSS (VmHWM) and CPU time (rows per CPU second is the figure that holds
on a busy machine). Prints the CPU name and one line per size.
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

_CHILD = """
import json, re, sys, time
from papercls.inference.predict_cli import predict_main
t0, c0 = time.perf_counter(), time.process_time()
rc = predict_main(sys.argv[1:])
seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
status = open("/proc/self/status").read()
hwm = int(re.search(r"^VmHWM:\\s+(\\d+) kB", status, re.M).group(1)) * 1024
print(json.dumps({"rc": rc, "seconds": seconds, "cpu_seconds": cpu, "peak_rss_bytes": hwm,
                  "torch": "torch" in sys.modules}))
"""


def cpu_name() -> str:
    sys.path.insert(0, str(ROOT))
    from benchmarks.machine import cpu_facts

    facts = cpu_facts()
    return f"{facts['model']} ({facts['cores']} cores usable)"


def fit_model(out: Path) -> Path:
    """A TF-IDF model fitted on the bundled training rows, as the tfidf stage fits it."""
    from papercls.config.params import load_params
    from papercls.data.schema import load_train
    from papercls.data.text import build_texts
    from papercls.inference.predict import DEFAULT_TEMPLATE
    from papercls.models.tfidf import TfidfClassifier

    train = load_train(ROOT / "data" / "sample" / "train.csv")
    params = {k: v for k, v in load_params(ROOT / "params.yaml")["tfidf"].items() if k != "kfold"}
    model = TfidfClassifier.from_params(params)
    model.fit(build_texts(train, DEFAULT_TEMPLATE), train["label"].tolist())
    return model.save(out / "tfidf")


def write_rows(path: Path, n: int) -> None:
    """``n`` rows: data/sample/test.csv repeated, each copy's uuids suffixed."""
    with open(ROOT / "data" / "sample" / "test.csv", encoding="utf-8", newline="") as fh:
        header, *rows = list(csv.reader(fh))
    with open(path, "w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(header)
        for i in range(n):
            row = list(rows[i % len(rows)])
            row[0] = f"{row[0]}-{i // len(rows)}"
            writer.writerow(row)


def measure(model: Path, src: Path, out: Path, chunk_size: int) -> dict:
    cmd = [sys.executable, "-c", _CHILD, "--model-dir", str(model), "--input", str(src)]
    cmd += ["--output", str(out), "--threshold", "0.5", "--chunk-size", str(chunk_size)]
    env = {"PYTHONPATH": str(ROOT / "src"), "PATH": str(Path(sys.executable).parent)}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"papercls predict failed:\n{proc.stdout}{proc.stderr}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    if result["rc"] != 0:
        raise RuntimeError(f"papercls predict exited {result['rc']}:\n{proc.stderr}")
    return result


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, nargs="+", default=[10_000, 100_000])
    ap.add_argument("--chunk-size", type=int, default=10_000)
    args = ap.parse_args(argv)
    sys.path.insert(0, str(ROOT / "src"))
    print(f"CPU: {cpu_name()}")
    with tempfile.TemporaryDirectory(prefix="predict-memory-") as tmp:
        tmp_path = Path(tmp)
        t0 = time.perf_counter()
        model = fit_model(tmp_path)
        print(f"TF-IDF model fitted on data/sample/train.csv in {time.perf_counter() - t0:.1f} s")
        print(f"chunk size {args.chunk_size:,}")
        for n in args.rows:
            src = tmp_path / f"in-{n}.csv"
            write_rows(src, n)
            r = measure(model, src, tmp_path / "out.csv", args.chunk_size)
            mb = src.stat().st_size / 1e6
            print(
                f"{n:>9,} rows ({mb:,.0f} MB): peak RSS {r['peak_rss_bytes'] / 2**20:,.0f} MiB, "
                f"{n / r['seconds']:,.0f} rows/s ({r['seconds']:.1f} s wall; "
                f"{n / r['cpu_seconds']:,.0f} rows per CPU second)",
                flush=True,
            )
            src.unlink()
    return 0


if __name__ == "__main__":
    sys.exit(main())
