"""``python benchmarks/spark_scoring.py``: rows/s of ``papercls spark-predict`` (the registered
model through ``mlflow.pyfunc.spark_udf``) beside ``papercls predict`` on the same rows.

Takes ``--model-dir``, else the default MiniLM backbone with a seeded random head (the same
computation as a trained model; its labels mean nothing); logs it as the tune_thresholds stage
does and makes it ``paper-classifier@champion`` of a temporary SQLite registry; writes
``--rows`` rows (the rows of ``--csv`` repeated, uuids made unique) to a CSV; then times
``papercls predict`` on it (in-process, fp32, the served model's batch size) and
``spark-predict`` on a ``--master`` session twice (the first run includes the workers' start
and model load). Also compares the labels and probabilities of both. Prints the CPU and the
figures. Measurement only.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
URI = "models:/paper-classifier@champion"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python benchmarks/spark_scoring.py", description=__doc__)
    ap.add_argument("--model-dir", type=Path, default=None, help="default: see above")
    ap.add_argument("--csv", type=Path, default=ROOT / "data" / "sample" / "test.csv")
    ap.add_argument("--rows", type=int, default=256, help="rows scored (256)")
    ap.add_argument("--max-length", type=int, default=128, help="random-head model only")
    ap.add_argument("--master", default="local[2]")
    ap.add_argument("--json", type=Path, default=None, help="also write the figures here")
    return ap.parse_args(argv)


def corpus(csv: Path, rows: int, dest: Path) -> Path:
    import pandas as pd

    base = pd.read_csv(csv, dtype=str, keep_default_na=False)
    copies = [base.assign(uuid=base["uuid"] + f"-{k}") for k in range(-(-rows // len(base)))]
    pd.concat(copies).head(rows).to_csv(dest, index=False)
    return dest


def time_predict(model_dir: Path, csv: Path, out: Path, template: str) -> float:
    from papercls.inference.predict_cli import predict_main

    argv = ["--model-dir", str(model_dir), "--input", str(csv), "--output", str(out)]
    argv += ["--template", template, "--threshold", "0.5", "--with-prob", "--batch-size", "64"]
    start = time.perf_counter()
    assert predict_main([*argv, "--precision", "fp32"]) == 0
    return time.perf_counter() - start


def time_spark(master: str, csv: Path, out: Path) -> dict:
    from papercls.inference.spark import session, spark_predict

    start = time.perf_counter()
    spark, _ = session(master)
    spark.sparkContext.setLogLevel("ERROR")
    figures = {"session_start_s": time.perf_counter() - start, "runs_s": []}
    try:
        for _ in range(2):
            start = time.perf_counter()
            spark_predict(spark, URI, csv, out)
            figures["runs_s"].append(time.perf_counter() - start)
        figures["partitions"] = spark.sparkContext.defaultParallelism
    finally:
        spark.stop()
    return figures


def agreement(predict_csv: Path, spark_dir: Path) -> tuple[int, float]:
    """(labels that differ, largest probability difference) of the two outputs."""
    import numpy as np
    import pandas as pd

    want = pd.read_csv(predict_csv, dtype={"uuid": str}).set_index("uuid")
    got = pd.read_parquet(spark_dir).set_index("uuid").loc[want.index]
    diff = np.abs(got["prob"].to_numpy() - want["prob"].to_numpy())
    return int((got["label"] != want["label"]).sum()), float(diff.max())


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from benchmarks.machine import cpu_facts
    from benchmarks.serving import random_head_model, register
    from papercls.config.params import load_params

    cpu = cpu_facts()
    template = load_params(ROOT / "params.yaml")["preprocess"]["text_template"]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{tmp / 'mlflow.db'}"
        model_dir = args.model_dir or random_head_model(tmp / "minilm", args.max_length)
        what = str(args.model_dir or f"MiniLM-L6, random head, max length {args.max_length}")
        register(model_dir, 0.5, template)
        csv = corpus(args.csv, args.rows, tmp / "corpus.csv")
        load = os.getloadavg()
        predict_s = time_predict(model_dir, csv, tmp / "predict.csv", template)
        spark = time_spark(args.master, csv, tmp / "scored")
        differ, max_diff = agreement(tmp / "predict.csv", tmp / "scored")
        load_after = os.getloadavg()
    n = args.rows
    figures = {
        "cpu": cpu["model"], "cores": cpu["cores"], "model": what, "rows": n,
        "master": args.master, "predict_rows_per_s": n / predict_s,
        "spark_rows_per_s_first": n / spark["runs_s"][0],
        "spark_rows_per_s_second": n / spark["runs_s"][1], **spark,
        "labels_differ": differ, "max_prob_diff": max_diff,
        "load_average_before": load[0], "load_average_after": load_after[0],
    }  # fmt: skip
    print(f"CPU: {cpu['model']}, {cpu['cores']} cores; load average {load[0]:.2f} before, "
          f"{load_after[0]:.2f} after")  # fmt: skip
    print(f"model: {what}; {n} rows of {args.csv.name}, repeated")
    print(f"papercls predict: {figures['predict_rows_per_s']:,.0f} rows/s ({predict_s:.1f} s)")
    print(f"spark-predict {args.master}: session start {spark['session_start_s']:.1f} s; "
          f"first run {figures['spark_rows_per_s_first']:,.0f} rows/s "
          f"({spark['runs_s'][0]:.1f} s), second {figures['spark_rows_per_s_second']:,.0f} "
          f"rows/s ({spark['runs_s'][1]:.1f} s)")  # fmt: skip
    print(f"agreement: {differ} labels differ; largest probability difference {max_diff:.2e}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    # As a script this folder is sys.path[0]: swap it for the repository root (see run.py).
    here = Path(__file__).resolve().parent
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != here]
    sys.path.insert(0, str(here.parent))
    sys.exit(main())
