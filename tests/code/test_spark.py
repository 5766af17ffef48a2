"""``papercls spark-predict``: the registered champion scores a corpus through
``mlflow.pyfunc.spark_udf`` on a local[2] Spark session, exactly like ``papercls predict`` on
the same rows; bad input gives one ``error:`` line, exit 2 and no output. A tiny random BERT
(``test_serving``'s) in a temporary SQLite registry; Spark bound to 127.0.0.1, no UI."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from test_serving import NAME, TEMPLATE, registry, tiny_classifier_dir  # noqa: F401 (fixtures)

from papercls.data.schema import validate_test
from papercls.data.text import build_texts
from papercls.inference import spark as spark_cli
from papercls.inference.predict_cli import predict_main

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
ROWS = 128  # two Spark partitions of 64 rows: one batch of the served model (batch_size 64)
BATCH = 64


@pytest.fixture(scope="module")
def spark():
    from pyspark.sql import SparkSession

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SPARK_LOCAL_IP", "127.0.0.1")
        mp.setenv("PYSPARK_PYTHON", sys.executable)
        session = (
            SparkSession.builder.master("local[2]")
            .appName("papercls-tests")
            .config("spark.driver.host", "127.0.0.1")
            .config("spark.ui.enabled", "false")
            .config("spark.sql.shuffle.partitions", "2")
            .getOrCreate()
        )
        try:
            yield session
        finally:
            session.stop()


@pytest.fixture(scope="module")
def sample_csv(tmp_path_factory, tiny_classifier_dir) -> Path:  # noqa: F811
    """The first bundled test rows whose model text fills the tiny model's positions. A row's
    probability moves by ~1e-5 with the shape of its batch (the padding, and the kernel that a
    batch of a few rows gets): with full texts and batches of 64 on both sides, every batch has
    the same shape in ``papercls predict`` and in the Spark workers."""
    from transformers import AutoTokenizer

    rows = pd.read_csv(ROOT / "data/sample/test.csv", dtype=str, keep_default_na=False)
    tokenizer = AutoTokenizer.from_pretrained(tiny_classifier_dir)
    ids = tokenizer(build_texts(validate_test(rows, "sample"), TEMPLATE))["input_ids"]
    full = [len(i) >= tokenizer.model_max_length for i in ids]
    assert sum(full) >= ROWS
    path = tmp_path_factory.mktemp("sample") / "papers.csv"
    rows[full].head(ROWS).to_csv(path, index=False)
    return path


def _predict(model_dir: Path, csv: Path, out: Path, threshold: float) -> pd.DataFrame:
    argv = ["--model-dir", str(model_dir), "--input", str(csv), "--output", str(out)]
    argv += ["--template", TEMPLATE, "--threshold", str(threshold), "--with-prob"]
    assert predict_main([*argv, "--batch-size", str(BATCH), "--precision", "fp32"]) == 0
    return pd.read_csv(out, dtype={"uuid": str})


@pytest.fixture(scope="module")
def expected(tiny_classifier_dir, sample_csv, tmp_path_factory) -> SimpleNamespace:  # noqa: F811
    """``papercls predict`` on the rows, at a threshold in the widest gap between the middle
    probabilities (both labels occur; no probability sits near it)."""
    out = tmp_path_factory.mktemp("expected") / "out.csv"
    probs = np.sort(_predict(tiny_classifier_dir, sample_csv, out, 0.5)["prob"])
    gaps = np.diff(probs)[ROWS // 4 : -ROWS // 4]
    i = ROWS // 4 + int(np.argmax(gaps))
    assert gaps.max() > 1e-4, probs
    threshold = float((probs[i] + probs[i + 1]) / 2)
    frame = _predict(tiny_classifier_dir, sample_csv, out, threshold)
    assert 0 < frame["label"].sum() < len(frame)
    return SimpleNamespace(threshold=threshold, frame=frame)


def test_default_model_uri_is_the_registered_champion():
    assert spark_cli.DEFAULT_MODEL_URI == f"models:/{NAME}@champion"


def test_spark_udf_scores_like_papercls_predict(
    spark, registry, sample_csv, expected, tmp_path, monkeypatch, capsys  # noqa: F811
):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", registry.uri)
    out = tmp_path / "scored"
    assert spark_cli.main(["--input", str(sample_csv), "--output", str(out)]) == 0
    assert f"wrote {out}: {ROWS} rows" in capsys.readouterr().out
    got = pd.read_parquet(out)
    assert got.columns.tolist() == ["uuid", "prob", "label"]
    got = got.set_index("uuid").loc[expected.frame["uuid"]]  # every uuid, once
    assert len(got) == ROWS and got.index.is_unique
    assert got["label"].tolist() == expected.frame["label"].tolist()
    np.testing.assert_allclose(got["prob"], expected.frame["prob"], rtol=0, atol=1e-6)
    assert [p.name for p in tmp_path.iterdir()] == ["scored"]  # no temporary folder left


def _write_bad(tmp_path: Path, sample_csv: Path, case: str) -> Path:
    rows = pd.read_csv(sample_csv, dtype=str, keep_default_na=False).head(6)
    if case == "missing column":
        rows = rows.drop(columns=["abstract"])
    elif case == "no text":
        rows.loc[3, ["title", "abstract"]] = ["\u3000 ", "\x1f"]  # blank to str.strip()
    elif case == "empty uuid":
        rows.loc[2, "uuid"] = " \t"
    elif case == "duplicate uuid":
        rows.loc[4, "uuid"] = rows.loc[1, "uuid"]
    folder = tmp_path / "in"
    folder.mkdir()
    rows.head(2).to_parquet(folder / "a.parquet", index=False)
    rows.iloc[2:].to_parquet(folder / "b.parquet", index=False)
    return folder


@pytest.mark.parametrize(
    ("case", "message"),
    [
        (
            "missing column",
            "file {dir}/a.parquet, column 'abstract': missing column(s) ['abstract']",
        ),
        (
            "no text",
            "file {dir}, column 'title': uuid '{uuid3}': both title and abstract are empty",
        ),
        ("empty uuid", "file {dir}, column 'uuid': empty uuid (row titled {title2!r})"),
        ("duplicate uuid", "file {dir}, column 'uuid': duplicate uuid '{uuid1}' (2 rows)"),
    ],
)
def test_bad_input_is_refused_and_nothing_is_written(
    spark, sample_csv, tmp_path, capsys, case, message
):
    folder = _write_bad(tmp_path, sample_csv, case)
    rows = pd.read_csv(sample_csv, dtype=str)
    out = tmp_path / "scored"
    argv = ["--input", str(folder), "--output", str(out), "--model-uri", str(tmp_path / "none")]
    assert spark_cli.main(argv) == 2
    err = capsys.readouterr().err.strip()
    uuid1, title2, uuid3 = rows["uuid"][1], rows["title"][2], rows["uuid"][3]
    assert err == "error: " + message.format(dir=folder, uuid1=uuid1, title2=title2, uuid3=uuid3)
    assert sorted(os.listdir(tmp_path)) == ["in"]


def test_a_missing_column_in_a_csv_keeps_the_old_output(spark, sample_csv, tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    pd.read_csv(sample_csv, dtype=str).drop(columns=["title"]).to_csv(bad, index=False)
    out = tmp_path / "scored"
    out.mkdir()
    (out / "old.parquet").write_bytes(b"old")
    assert spark_cli.main(["--input", str(bad), "--output", str(out)]) == 2
    assert capsys.readouterr().err.strip() == (
        f"error: file {bad}, column 'title': missing column(s) ['title']"
    )
    assert sorted(os.listdir(tmp_path)) == ["bad.csv", "scored"]
    assert os.listdir(out) == ["old.parquet"]
