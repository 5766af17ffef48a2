"""``python benchmarks/serving.py``: throughput of the served model (``mlflow models serve``).

Logs a model directory the way the tune_thresholds stage does (models from code, threshold and
template in the model), registers it as ``paper-classifier@champion`` in a temporary SQLite
registry, serves it with ``mlflow models serve --env-manager local`` on 127.0.0.1 and times
one request of ``--rows`` paper rows (the CSV's own columns), ``--rows`` one-row requests one
after the other, and the same rows through the loaded model in this process (no HTTP). Prints
the CPU, and the model's input example as a request with its response.

Measurement only: without ``--model-dir`` it serves ``models/topline`` when trained, else the
default MiniLM backbone with a random head (the same computation as a trained model; its
labels mean nothing).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NAME = "paper-classifier"
URI = f"models:/{NAME}@champion"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python benchmarks/serving.py", description=__doc__)
    ap.add_argument("--model-dir", type=Path, default=None, help="default: see above")
    ap.add_argument("--csv", type=Path, default=ROOT / "data" / "sample" / "test.csv")
    ap.add_argument("--rows", type=int, default=64, help="rows per batch request (64)")
    ap.add_argument("--repeats", type=int, default=5, help="timed batch requests (best kept)")
    ap.add_argument("--max-length", type=int, default=256, help="random-head model only")
    ap.add_argument("--json", type=Path, default=None, help="also write the figures here")
    return ap.parse_args(argv)


def random_head_model(dest: Path, max_length: int) -> Path:
    """The default MiniLM backbone with a seeded random classification head, saved as the
    train stage saves a model (tokenizer limited to ``max_length``)."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer, set_seed

    from papercls.models.backbone import default_backbone_dir

    set_seed(0)
    src = default_backbone_dir()
    AutoModelForSequenceClassification.from_pretrained(src, num_labels=2).save_pretrained(dest)
    tokenizer = AutoTokenizer.from_pretrained(src)
    tokenizer.model_max_length = max_length
    tokenizer.save_pretrained(dest)
    return dest


def choose_model(args: argparse.Namespace, tmp: Path) -> tuple[Path, float, str]:
    """(model directory, threshold, what it is)."""
    from papercls.evaluation.threshold_file import read_threshold

    if args.model_dir is None and (ROOT / "models" / "topline" / "config.json").is_file():
        args.model_dir = ROOT / "models" / "topline"
    if args.model_dir is None:
        d = random_head_model(tmp / "minilm-random-head", args.max_length)
        return d, 0.5, f"MiniLM-L6 backbone, random head, max length {args.max_length}"
    try:
        threshold = read_threshold(ROOT / "metrics" / "thresholds.json", args.model_dir.name)
    except (FileNotFoundError, ValueError):
        threshold = 0.5
    return args.model_dir, threshold, f"{args.model_dir} (threshold {threshold:.4g})"


def register(model_dir: Path, threshold: float, template: str) -> str:
    """Log ``model_dir`` as the tune_thresholds stage does and make it the champion of the
    registry at ``$MLFLOW_TRACKING_URI``; returns the version."""
    import mlflow

    from papercls.tracking.serving import log_pyfunc

    client = mlflow.MlflowClient()
    with mlflow.start_run(run_name="serving-benchmark"):
        info = log_pyfunc(
            str(model_dir), "custom", "benchmark", "model", None, 64,
            threshold=threshold, template=template,
        )  # fmt: skip
    version = str(mlflow.register_model(info.model_uri, NAME).version)
    client.set_registered_model_alias(NAME, "champion", version)
    return version


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def served(log: Path, timeout: float = 300) -> Iterator[str]:
    """``mlflow models serve`` of the champion in its own process group; its URL once /ping
    answers. Stopped (the whole group) on exit."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    cmd = [sys.executable, "-m", "mlflow", "models", "serve", "-m", URI]
    cmd += ["--env-manager", "local", "-h", "127.0.0.1", "-p", str(port)]
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + timeout
        while True:
            with contextlib.suppress(OSError):
                with urllib.request.urlopen(url + "/ping", timeout=2):
                    break
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"mlflow models serve did not start:\n{log.read_text()[-3000:]}")
            time.sleep(1)
        yield url
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=30)


def post(url: str, records: list[dict]) -> tuple[float, dict]:
    """Seconds for one POST of ``records`` (dataframe_records) and the decoded answer."""
    body = json.dumps({"dataframe_records": records}).encode()
    req = urllib.request.Request(
        url + "/invocations", data=body, headers={"Content-Type": "application/json"}
    )
    start = time.perf_counter()
    with urllib.request.urlopen(req, timeout=600) as r:
        answer = json.loads(r.read())
    return time.perf_counter() - start, answer


def time_in_process(records: list[dict], repeats: int) -> float:
    """Best seconds of ``predict`` on the rows with the champion loaded in this process."""
    import mlflow.pyfunc
    import pandas as pd

    model = mlflow.pyfunc.load_model(URI)
    frame = pd.DataFrame(records)
    model.predict(frame)  # warm-up
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        model.predict(frame)
        best = min(best, time.perf_counter() - start)
    return best


def measure(url: str, records: list[dict], repeats: int) -> dict:
    post(url, records[:2])  # warm-up
    batch = [post(url, records)[0] for _ in range(repeats)]
    singles = sum(post(url, [r])[0] for r in records)
    n = len(records)
    return {
        "rows": n,
        "batch_request_s_best": min(batch),
        "batch_request_s_median": statistics.median(batch),
        "batch_rows_per_s": n / min(batch),
        "one_row_requests_rows_per_s": n / singles,
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    import pandas as pd
    import torch

    from benchmarks.machine import cpu_facts
    from papercls.config.params import load_params
    from papercls.tracking.serving import EXAMPLE_ROWS

    cpu = cpu_facts()
    template = load_params(ROOT / "params.yaml")["preprocess"]["text_template"]
    rows = pd.read_csv(args.csv, dtype=str, keep_default_na=False).head(args.rows)
    records = rows.drop(columns=["uuid"], errors="ignore").to_dict(orient="records")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{tmp / 'mlflow.db'}"
        model_dir, threshold, what = choose_model(args, tmp)
        version = register(model_dir, threshold, template)
        load = os.getloadavg()
        with served(tmp / "serve.log") as url:
            figures = measure(url, records, args.repeats)
            _, example = post(url, EXAMPLE_ROWS)
        figures["in_process_rows_per_s"] = len(records) / time_in_process(records, args.repeats)
        load_after = os.getloadavg()
    figures.update(
        cpu=cpu["model"], cores=cpu["cores"], cpu_flags=cpu["flags"],
        torch_threads=torch.get_num_threads(), model=what, version=version,
        load_average_before=load[0], load_average_after=load_after[0],
    )  # fmt: skip
    print(f"CPU: {cpu['model']}, {cpu['cores']} cores, flags {' '.join(cpu['flags'])}")
    print(f"model: {what}; served {URI} (v{version}) with --env-manager local")
    print(f"load average: {load[0]:.2f} before, {load_after[0]:.2f} after")
    print(f"example request: {json.dumps({'dataframe_records': EXAMPLE_ROWS})}")
    print(f"example response: {json.dumps(example)}")
    n = figures["rows"]
    print(f"{n} rows in one request: {figures['batch_rows_per_s']:.1f} rows/s "
          f"(best of {args.repeats}: {figures['batch_request_s_best']:.2f} s; median "
          f"{figures['batch_request_s_median']:.2f} s)")  # fmt: skip
    print(f"{n} one-row requests in a row: {figures['one_row_requests_rows_per_s']:.1f} rows/s")
    print(f"same {n} rows in-process (no HTTP): {figures['in_process_rows_per_s']:.1f} rows/s")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    # As a script this folder is sys.path[0]: swap it for the repository root (see run.py).
    here = Path(__file__).resolve().parent
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != here]
    sys.path.insert(0, str(here.parent))
    sys.exit(main())
