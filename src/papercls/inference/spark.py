"""``papercls spark-predict``: score a corpus of papers on Spark with the registered model.

The model (default ``models:/paper-classifier@champion``; also ``runs:/...`` or a logged
model's folder) is the served pyfunc of ``papercls.tracking.serving``: paper rows in, ``prob``
and ``label`` (at the threshold logged with it) out. ``mlflow.pyfunc.spark_udf`` runs it in the
Spark workers on the paper columns; the output is a Parquet folder of ``uuid, prob, label``,
written beside its place and renamed into it when complete.

Input: a ``.csv`` or ``.parquet`` file, or a folder of either. Columns ``uuid``, ``title`` and
``abstract`` are required (``Keywords``, ``author`` optional), and rows are checked as
``papercls predict`` checks them (uuid present and unique; title or abstract not empty).
Paths are read and written by the driver and the workers alike: on a cluster, a filesystem
they share. Also runnable as ``python -m papercls.inference.spark`` or as a file given to
``spark-submit`` (README "Scoring a corpus on Spark").
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

DEFAULT_MODEL_URI = "models:/paper-classifier@champion"
RESULT_TYPE = "prob double, label long"
REQUIRED = ("uuid", "title", "abstract")  # papercls.data.schema.TEST_REQUIRED
PAPER_COLUMNS = ("title", "abstract", "Keywords", "author")  # what the model reads
FORMATS = {".csv": "csv", ".parquet": "parquet"}
# Python's str.strip() whitespace, as a Java regex: \s and \p{Z} miss \x1c-\x1f and \x85
_WS = r"[\s\p{Z}\x1c-\x1f\x85]"


def input_files(path: Path) -> tuple[str, list[Path]]:
    """``("csv" | "parquet", files)`` of a file, or of a folder of files of one format (names
    starting with ``_`` or ``.``, such as ``_SUCCESS``, are skipped, as Spark skips them)."""
    if path.is_file():
        if path.suffix.lower() not in FORMATS:
            raise_input(path, "not a .csv or .parquet file")
        return FORMATS[path.suffix.lower()], [path]
    if not path.is_dir():
        raise_input(path, "no such file or folder")
    files = sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith(("_", ".")))
    kinds = {FORMATS.get(p.suffix.lower()) for p in files}
    if len(kinds) != 1 or None in kinds:
        raise_input(path, "expected a folder of .csv files or of .parquet files only")
    return kinds.pop(), files


def raise_input(path: Path, message: str, column: str | None = None):
    from papercls.errors import InputError

    raise InputError(path, message, column=column)


def _columns(fmt: str, file: Path) -> list[str]:
    if fmt == "parquet":
        import pyarrow.parquet as pq

        return list(pq.read_schema(file).names)
    import csv

    with open(file, newline="", encoding="utf-8-sig") as f:
        return next(csv.reader(f), [])


def check_columns(fmt: str, files: list[Path]) -> list[str]:
    """The columns of the input; InputError naming the file and the first missing required
    column, or a CSV whose header differs from the first one's (Spark reads them all with it)."""
    first = None
    for file in files:
        columns = _columns(fmt, file)
        missing = [c for c in REQUIRED if c not in columns]
        if missing:
            raise_input(file, f"missing column(s) {missing}", column=missing[0])
        if first is None:
            first = columns
        elif fmt == "csv" and columns != first:
            raise_input(file, f"header {columns} differs from {files[0].name}'s {first}")
    return first


def read_papers(spark, path: Path):
    """The input as a DataFrame of string columns, its columns checked."""
    from pyspark.sql import functions as F

    fmt, files = input_files(path)
    columns = check_columns(fmt, files)
    if fmt == "csv":  # quoted fields may hold newlines; "" inside quotes is a quote
        df = spark.read.csv(str(path), header=True, multiLine=True, escape='"', encoding="UTF-8")
    else:
        df = spark.read.parquet(str(path))
    keep = [c for c in columns if c in REQUIRED or c in PAPER_COLUMNS]
    return df.select(*[F.col(f"`{c}`").cast("string").alias(c) for c in keep])


def _stripped(column: str):
    from pyspark.sql import functions as F

    value = F.coalesce(F.col(column), F.lit(""))
    return F.regexp_replace(value, f"^{_WS}+|{_WS}+$", "")


def check_rows(papers, path: Path):
    """``papers`` with stripped uuids, after the row checks of ``papercls predict``: no empty
    uuid, no duplicate, not both title and abstract empty (InputError naming the column and a
    uuid or title; Spark rows have no line numbers)."""
    from pyspark.sql import functions as F

    papers = papers.withColumn("uuid", _stripped("uuid"))
    no_text = (_stripped("title") == "") & (_stripped("abstract") == "")
    untitled = F.coalesce("title", "abstract", F.lit(""))
    found = papers.agg(
        F.min(F.when(F.col("uuid") == "", untitled)).alias("no_uuid"),
        F.min(F.when(no_text, F.col("uuid"))).alias("no_text"),
    ).first()
    if found["no_uuid"] is not None:
        raise_input(path, f"empty uuid (row titled {found['no_uuid']!r})", column="uuid")
    if found["no_text"] is not None:
        raise_input(
            path, f"uuid {found['no_text']!r}: both title and abstract are empty", column="title"
        )
    dup = papers.groupBy("uuid").count().filter("count > 1").orderBy("uuid").first()
    if dup is not None:
        raise_input(path, f"duplicate uuid {dup['uuid']!r} ({dup['count']} rows)", column="uuid")
    return papers


def score(spark, papers, model_uri: str):
    """``uuid, prob, label`` of every row: the model's UDF on a struct of the paper columns
    (a struct reaches the model as a DataFrame with those column names)."""
    import mlflow.pyfunc
    from mlflow.exceptions import MlflowException
    from pyspark.sql import functions as F

    try:
        udf = mlflow.pyfunc.spark_udf(
            spark, model_uri, result_type=RESULT_TYPE, env_manager="local"
        )
    except (MlflowException, OSError) as exc:
        raise ValueError(f"--model-uri {model_uri}: {getattr(exc, 'message', exc)}") from None
    cols = [c for c in PAPER_COLUMNS if c in papers.columns]
    parallelism = spark.sparkContext.defaultParallelism
    if papers.rdd.getNumPartitions() < parallelism:  # a small file: one task would do it all
        papers = papers.repartition(parallelism)
    scored = papers.withColumn("pred", udf(F.struct(*cols)))
    return scored.select("uuid", "pred.prob", "pred.label")


def check_paths(input_path: Path, output: Path) -> None:
    """Refuse an output that is, holds or lies inside the input: replacing it would delete it."""
    inp, out = input_path.resolve(), output.resolve()
    if inp == out or inp.is_relative_to(out) or out.is_relative_to(inp):
        raise ValueError(f"--output {output} overlaps the input {input_path}: write elsewhere")
    if output.exists() and not output.is_dir():
        raise ValueError(f"--output {output} is a file; give a folder to write")


def use_tracking(model_uri: str) -> None:
    """The project's tracking URI (``$MLFLOW_TRACKING_URI`` or the repository's SQLite
    database) for a registry or run URI; a model folder needs none."""
    from papercls.tracking.uri import configure_process, resolve_tracking_uri

    configure_process()
    if model_uri.startswith(("models:", "runs:")):
        import mlflow

        mlflow.set_tracking_uri(resolve_tracking_uri())


def spark_predict(spark, model_uri: str, input_path: str | Path, output: str | Path) -> tuple:
    """Score ``input_path`` with ``model_uri`` into the Parquet folder ``output`` (replaced
    only when complete); ``(rows, medical)``."""
    from pyspark.sql import functions as F

    from papercls.data.io import atomic_dir

    input_path, output = Path(input_path), Path(output)
    check_paths(input_path, output)
    papers = check_rows(read_papers(spark, input_path), input_path)
    use_tracking(model_uri)
    scored = score(spark, papers, model_uri)
    with atomic_dir(output) as tmp:
        scored.write.mode("overwrite").parquet(str(tmp))
        counts = spark.read.parquet(str(tmp)).agg(F.count("*"), F.sum("label")).first()
    return int(counts[0]), int(counts[1] or 0)


def session(master: str | None):
    """``(spark, started)``: the active session, else one started here on ``master`` (default:
    spark-submit's when it launched this process, else ``local[*]``). A local master runs its
    workers in this Python environment, bound to 127.0.0.1, without the UI."""
    import warnings

    from pyspark.sql import SparkSession

    warnings.filterwarnings("ignore", "PySpark does not yet fully support pandas", FutureWarning)
    active = SparkSession.getActiveSession()
    if active is not None:
        return active, False
    if master is None and "PYSPARK_GATEWAY_PORT" not in os.environ:  # not under spark-submit
        master = "local[*]"
    builder = SparkSession.builder.appName("papercls spark-predict")
    if master:
        builder = builder.master(master)
    if master and master.startswith("local"):
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
        builder = builder.config("spark.driver.host", "127.0.0.1")
        builder = builder.config("spark.ui.enabled", "false")
    return builder.getOrCreate(), True


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="papercls spark-predict",
        description="Score a corpus of papers on Spark with an MLflow model; write a Parquet "
        "folder of uuid, prob, label (1 = medical, at the model's threshold).",
    )
    ap.add_argument("--input", required=True, help=".csv or .parquet file, or a folder of either")
    ap.add_argument("--output", required=True, help="Parquet folder to write (replaced)")
    ap.add_argument("--model-uri", default=DEFAULT_MODEL_URI, help=f"default {DEFAULT_MODEL_URI}")
    ap.add_argument(
        "--master",
        default=None,
        help="Spark master, e.g. local[2] or spark://host:7077 (default: spark-submit's, "
        "else local[*])",
    )
    return ap


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``papercls spark-predict``; 2 on bad input, nothing written then."""
    from papercls.tracking.uri import TrackingUnavailable

    args = build_parser().parse_args(argv)
    spark, started = session(args.master)
    try:
        rows, medical = spark_predict(spark, args.model_uri, args.input, args.output)
    except (ValueError, OSError, TrackingUnavailable) as exc:  # InputError is a ValueError
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        if started:
            spark.stop()
    print(f"wrote {args.output}: {rows} rows, {medical} medical ({args.model_uri})")
    return 0


if __name__ == "__main__":
    # Run as a file (spark-submit), its folder comes first on sys.path, where the onnx/
    # subpackage would shadow the onnx package: drop it.
    if sys.path and os.path.abspath(sys.path[0]) == os.path.dirname(os.path.abspath(__file__)):
        del sys.path[0]
    sys.exit(main())
