"""Labelling a test-format CSV or Parquet file chunk by chunk (``papercls predict``,
:func:`predict_csv`): rows are
read, checked, predicted and written ``chunk_size`` at a time, so memory does not grow with the
number of rows. The output (CSV, or Parquet for a ``.parquet`` path) is written to a temporary
file renamed into place at the end; ``-`` writes CSV to standard output as it goes."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from papercls.data.chunks import PARQUET_SUFFIX, STDIN, count_rows, iter_test_chunks
from papercls.data.io import atomic_path
from papercls.evaluation.metrics import predict_labels
from papercls.inference.engine import Engine

DEFAULT_CHUNK_SIZE = 10_000


@contextlib.contextmanager
def _parquet_writer(path: Path, with_prob: bool) -> Iterator[Callable[[pd.DataFrame], None]]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    fields = [("uuid", pa.string()), ("label", pa.int64())]
    schema = pa.schema(fields + ([("prob", pa.float64())] if with_prob else []))
    with atomic_path(path) as tmp, pq.ParquetWriter(tmp, schema) as writer:
        yield lambda df: writer.write_table(
            pa.Table.from_pandas(df, schema=schema, preserve_index=False)
        )


@contextlib.contextmanager
def _csv_writer(path: str | Path) -> Iterator[Callable[[pd.DataFrame], None]]:
    header = [True]

    def write_to(fh) -> Callable[[pd.DataFrame], None]:
        def write(df: pd.DataFrame) -> None:
            df.to_csv(fh, header=header[0], index=False, lineterminator="\n")
            header[0] = False

        return write

    if str(path) == STDIN:
        yield write_to(sys.stdout)
        sys.stdout.flush()
        return
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8", newline="") as fh:
        yield write_to(fh)


def open_output(path: str | Path, with_prob: bool):
    """A context giving ``write(frame)``: Parquet for a ``.parquet`` path, else CSV (``-``:
    standard output); a file appears only once the context ends without an error."""
    if str(path) != STDIN and Path(path).suffix.lower() == PARQUET_SUFFIX:
        return _parquet_writer(Path(path), with_prob)
    return _csv_writer(path)


def _progress_bar(path: Path, progress: bool | None):
    from tqdm.auto import tqdm

    if not (sys.stderr.isatty() if progress is None else progress):  # a terminal only
        return None
    return tqdm(total=count_rows(path), unit="rows", desc="predict", file=sys.stderr)


def label_file(
    path: Path,
    out_path: str | Path,
    predict: Callable[[list[str]], np.ndarray],
    texts: Callable[[pd.DataFrame], list[str]],
    threshold: float,
    chunk_size: int,
    with_prob: bool = False,
    name: str | None = None,
    progress: bool | None = None,
) -> dict[str, int]:
    """Label the rows of ``path`` (named ``name`` in errors) chunk by chunk: ``texts`` turns a
    checked chunk into model texts, ``predict`` gives their P(label 1); writes ``out_path``
    (uuid,label[,prob]) in input order. Returns ``{"rows": n, "positives": k}``.
    ``progress``: rows/s and rows left on standard error (None: on a terminal only)."""
    rows = positives = 0
    bar = _progress_bar(path, progress)
    try:
        with open_output(out_path, with_prob) as write:
            for df in iter_test_chunks(path, chunk_size, name):
                probs = predict(texts(df))
                labels = predict_labels(probs, threshold)
                out = pd.DataFrame({"uuid": df["uuid"].tolist(), "label": labels})
                if with_prob:
                    out["prob"] = probs
                write(out)
                rows, positives = rows + len(out), positives + int(np.sum(labels))
                if bar is not None:
                    bar.update(len(out))
    finally:
        if bar is not None:
            bar.close()
    return {"rows": rows, "positives": positives}


def predict_csv(
    model_dir: str | Path,
    csv_path: str | Path,
    out_path: str | Path,
    threshold: float = 0.5,
    template: str | None = None,
    max_length: int | None = None,
    batch_size: int = 32,
    with_prob: bool = False,
    int8: bool = False,
    engine: Engine | None = None,
    onnx_dir: str | Path | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    progress: bool | None = None,
) -> dict[str, int]:
    """Classify any test-format CSV or Parquet file (uuid,title,abstract[,author][,Keywords];
    ``-``: standard input, read once) ``chunk_size`` rows at a time: check each chunk, build
    texts with the template (default: see :func:`default_template`), predict with the model in
    ``model_dir``, write ``out_path`` (uuid,label[,prob]; Parquet for a ``.parquet`` path,
    ``-``: CSV on standard output) in input order. Returns ``{"rows": n, "positives": k}``.
    ``int8``, ``engine``, ``onnx_dir``: see :func:`papercls.inference.classifier.predict_probs`;
    ``progress``: see :func:`label_file`."""
    from papercls.data.chunks import regular_input
    from papercls.data.text import build_texts, template_fields
    from papercls.inference.classifier import load_predictor
    from papercls.inference.predict import default_template

    if chunk_size < 1:
        raise ValueError(f"chunk size must be positive, got {chunk_size}")
    template = template or default_template()
    template_fields(template)
    predict = load_predictor(
        model_dir,
        max_length,
        batch_size,
        int8=int8,
        engine=engine,
        onnx_dir=onnx_dir,
        progress=False,
    )
    name = "stdin" if str(csv_path) == STDIN else str(csv_path)
    with regular_input(str(csv_path)) as path:
        return label_file(
            path,
            out_path,
            predict,
            lambda df: build_texts(df, template),
            threshold,
            chunk_size,
            with_prob=with_prob,
            name=name,
            progress=progress,
        )
