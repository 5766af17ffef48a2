"""`papercls predict` reads, checks, predicts and writes in chunks: the same output for any chunk
size, errors with the file's own row numbers, CSV or Parquet in and out, stdin and stdout, uuids
verbatim, and the threshold the model was tuned with."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from papercls.inference.predict_cli import predict_main
from papercls.inference.stream import label_file, predict_csv

ROOT = Path(__file__).resolve().parents[2]
HEADER = ["uuid", "title", "author", "abstract", "Keywords"]


@pytest.fixture(scope="module")
def tfidf_dir(tmp_path_factory) -> Path:
    from papercls.models.tfidf import TfidfClassifier

    texts = [
        "patient clinical trial of cancer therapy",
        "hospital disease treatment outcome",
        "quantum lattice algorithm for graphs",
        "compiler network circuit design",
    ] * 5
    d = tmp_path_factory.mktemp("stream") / "mymodel"
    TfidfClassifier(max_features=1000, ngram_max=1, C=1.0).fit(texts, [1, 1, 0, 0] * 5).save(d)
    return d


def _records(n: int) -> list[list[str]]:
    words = ["cancer therapy patients", "quantum graphs", "clinical trial", "circuit design"]
    return [
        [f"p{i:04d}", f"Title {words[i % 4]}", "A B", f"An abstract\nover two lines, {i}.", "kw"]
        for i in range(n)
    ]


def _write_csv(path: Path, records: list[list[str]], header: list[str] = HEADER) -> Path:
    with open(path, "w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(records)
    return path


def _nul_far_in(records: list[list[str]], i: int) -> None:
    """A NUL byte in row ``i + 1``, past the first 64 KiB (where a binary file is sniffed)."""
    for r in records:
        r[3] += " long" * 1000
    records[i][3] = "a\x00b"


def _no_temp_files(folder: Path) -> bool:
    return not [p for p in folder.rglob("*") if p.name.endswith(".tmp")]


def _read_rows(path: Path) -> list[list[str]]:
    with open(path, encoding="utf-8", newline="") as fh:
        return list(csv.reader(fh))


def test_many_chunks_give_the_output_of_one(tfidf_dir, tmp_path):
    src = _write_csv(tmp_path / "in.csv", _records(23))
    one, many = tmp_path / "one.csv", tmp_path / "many.csv"
    info = predict_csv(tfidf_dir, src, one, with_prob=True, chunk_size=1000)
    assert predict_csv(tfidf_dir, src, many, with_prob=True, chunk_size=5) == info
    assert one.read_bytes() == many.read_bytes()
    rows = _read_rows(many)
    assert rows[0] == ["uuid", "label", "prob"] and len(rows) == 24
    assert [r[0] for r in rows[1:]] == [f"p{i:04d}" for i in range(23)]
    assert info == {"rows": 23, "positives": sum(int(r[1]) for r in rows[1:])}


def test_the_model_sees_at_most_a_chunk_of_rows(tmp_path):
    src = _write_csv(tmp_path / "in.csv", _records(23))
    sizes: list[int] = []

    def predict(texts: list[str]) -> np.ndarray:
        sizes.append(len(texts))
        return np.full(len(texts), 0.7)

    out = tmp_path / "out.csv"
    info = label_file(src, out, predict, lambda df: df["title"].tolist(), 0.5, chunk_size=5)
    assert sizes == [5, 5, 5, 5, 3] and info == {"rows": 23, "positives": 23}
    assert len(_read_rows(out)) == 24


@pytest.mark.parametrize(
    "bad, row, column, message",
    [
        (lambda r: r[16].__setitem__(slice(1, 4), ["", "A B", " "]), 17, "title", "both title"),
        (lambda r: r[16].__setitem__(0, "p0002"), 17, "uuid", "first seen at row 3"),
        (lambda r: r[16].__setitem__(0, "  "), 17, "uuid", "empty uuid"),
        (lambda r: r[12].append("extra"), 13, None, "expected 5 fields, found 6"),
        (lambda r: _nul_far_in(r, 21), 22, "abstract", "NUL byte"),
    ],
)
def test_a_bad_row_in_a_later_chunk_names_its_row_and_writes_nothing(
    tfidf_dir, tmp_path, capsys, bad, row, column, message
):
    records = _records(23)
    bad(records)
    src = _write_csv(tmp_path / "in.csv", records)
    out = tmp_path / "out" / "labels.csv"
    rc = predict_main(
        ["--model-dir", str(tfidf_dir), "--input", str(src), "--output", str(out)]
        + ["--chunk-size", "5"]
    )
    err = capsys.readouterr().err
    where = f"file {src}, row {row}" + (f", column {column!r}" if column else "")
    assert rc == 2 and err.startswith(f"error: {where}: ") and message in err, err
    assert not out.exists() and _no_temp_files(tmp_path)


def test_bytes_that_are_not_utf8_are_named(tfidf_dir, tmp_path):
    records = _records(30)
    for r in records:  # text is decoded in blocks: the bad byte lies many blocks in
        r[3] += " long" * 1000
    src = _write_csv(tmp_path / "in.csv", records)
    src.write_bytes(src.read_bytes().replace(b"p0025", b"p\xff025"))
    with pytest.raises(ValueError, match=rf"file {src}: bytes are not UTF-8 \(after data row"):
        predict_csv(tfidf_dir, src, tmp_path / "out.csv", chunk_size=5)
    assert not (tmp_path / "out.csv").exists() and _no_temp_files(tmp_path)


def test_parquet_in_and_out(tfidf_dir, tmp_path):
    records = _records(12)
    src = _write_csv(tmp_path / "in.csv", records)
    pq_in = tmp_path / "in.parquet"
    pd.DataFrame(records, columns=HEADER).to_parquet(pq_in, index=False)
    predict_csv(tfidf_dir, src, tmp_path / "a.csv", with_prob=True)
    predict_csv(tfidf_dir, pq_in, tmp_path / "b.parquet", with_prob=True, chunk_size=5)
    want = pd.read_csv(tmp_path / "a.csv", dtype={"uuid": str})
    got = pd.read_parquet(tmp_path / "b.parquet")
    assert list(got.columns) == ["uuid", "label", "prob"]
    assert got["uuid"].tolist() == want["uuid"].tolist()
    assert got["label"].tolist() == want["label"].tolist()
    np.testing.assert_allclose(got["prob"].to_numpy(), want["prob"].to_numpy(), rtol=0, atol=0)


def test_parquet_input_is_checked_like_a_csv(tfidf_dir, tmp_path):
    records = _records(12)
    records[9][0] = "p0001"
    pq_in = tmp_path / "in.parquet"
    pd.DataFrame(records, columns=HEADER).to_parquet(pq_in, index=False)
    with pytest.raises(ValueError, match=r"row 10, column 'uuid': duplicate uuid 'p0001'"):
        predict_csv(tfidf_dir, pq_in, tmp_path / "out.csv", chunk_size=4)
    assert not (tmp_path / "out.csv").exists()


def test_uuids_round_trip_verbatim(tfidf_dir, tmp_path):
    uuids = [" a1 ", "=1+2", "+x", "-y", "@z", "b2"]
    records = [[u, "Cancer therapy", "A", "Patients in a trial.", ""] for u in uuids]
    src = _write_csv(tmp_path / "in.csv", records)
    out = tmp_path / "out.csv"
    predict_csv(tfidf_dir, src, out, chunk_size=4)
    assert [r[0] for r in _read_rows(out)[1:]] == uuids
    predict_csv(tfidf_dir, src, tmp_path / "out.parquet", chunk_size=4)
    assert pd.read_parquet(tmp_path / "out.parquet")["uuid"].tolist() == uuids


def _cli(*args: str, stdin: bytes) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    return subprocess.run(
        [sys.executable, "-m", "papercls.cli", "predict", *args],
        input=stdin,
        capture_output=True,
        env=env,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("spelling", ["-", "/dev/stdin"])
def test_stdin_is_read_once(tfidf_dir, tmp_path, spelling):
    src = _write_csv(tmp_path / "in.csv", _records(9))
    want = tmp_path / "want.csv"
    predict_csv(tfidf_dir, src, want, threshold=0.5)
    out = tmp_path / "out.csv"
    done = _cli(
        "--model-dir", str(tfidf_dir), "--input", spelling, "--output", str(out),
        "--threshold", "0.5", "--chunk-size", "4", stdin=src.read_bytes(),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr.decode()
    assert out.read_bytes() == want.read_bytes()


def test_output_to_stdout(tfidf_dir, tmp_path):
    src = _write_csv(tmp_path / "in.csv", _records(9))
    want = tmp_path / "want.csv"
    predict_csv(tfidf_dir, src, want, threshold=0.5)
    done = _cli(
        "--model-dir", str(tfidf_dir), "--input", "-", "--output", "-", "--threshold", "0.5",
        stdin=src.read_bytes(),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr.decode()
    assert done.stdout == want.read_bytes()  # the summary goes to stderr
    assert b"wrote -: 9 rows" in done.stderr


def test_threshold_defaults_to_the_tuned_one(tfidf_dir, tmp_path, monkeypatch, capsys):
    """A workspace whose metrics/thresholds.json holds the tuned threshold of its
    models/mymodel (1.0 here: every label 0; at 0.5 the medical rows are 1)."""
    (tmp_path / "dvc.yaml").write_text("stages: {}\n")
    (tmp_path / "metrics").mkdir()
    thresholds = tmp_path / "metrics" / "thresholds.json"
    thresholds.write_text(json.dumps({"mymodel": {"method": "f1", "threshold": 1.0}}))
    shutil.copytree(tfidf_dir, tmp_path / "models" / "mymodel")
    monkeypatch.chdir(tmp_path)
    src = _write_csv(tmp_path / "in.csv", _records(8))
    args = ["--model-dir", "models/mymodel", "--input", str(src), "--output", "out.csv"]

    def labels() -> set[str]:
        return {r[1] for r in _read_rows(tmp_path / "out.csv")[1:]}

    assert predict_main(args) == 0
    assert "threshold 1, tuned, metrics/thresholds.json [mymodel]" in capsys.readouterr().out
    assert labels() == {"0"}
    # a model of the same name elsewhere is not the one the file speaks of
    assert predict_main(["--model-dir", str(tfidf_dir), *args[2:]]) == 0
    assert "threshold 0.5, default; " in capsys.readouterr().out and labels() == {"0", "1"}
    assert predict_main(["--model-dir", str(tfidf_dir), *args[2:], "--model-name", "mymodel"]) == 0
    assert "tuned" in capsys.readouterr().out and labels() == {"0"}
    thresholds.write_text(json.dumps({"other": {"threshold": 1.0}}))
    assert predict_main(args) == 0
    assert "threshold 0.5, default; no tuned threshold for 'mymodel'" in capsys.readouterr().out
    assert labels() == {"0", "1"}
    thresholds.write_text(json.dumps({"mymodel": {"threshold": "high"}}))
    assert predict_main(args) == 2
    assert "mymodel.threshold must be a number" in capsys.readouterr().err


def test_a_column_in_another_case_is_refused(tfidf_dir, tmp_path, capsys):
    header = ["uuid", "title", "author", "abstract", "keywords"]
    src = _write_csv(tmp_path / "in.csv", _records(3), header)
    out = tmp_path / "out.csv"
    rc = predict_main(["--model-dir", str(tfidf_dir), "--input", str(src), "--output", str(out)])
    err = capsys.readouterr().err
    assert rc == 2 and f"file {src}, row 0, column 'keywords'" in err and "'Keywords'" in err
    assert not out.exists()


def test_progress_shows_rows_per_second_and_rows_left(tmp_path, monkeypatch):
    src = _write_csv(tmp_path / "in.csv", _records(7))
    err = io.StringIO()
    monkeypatch.setattr(sys, "stderr", err)
    label_file(
        src, tmp_path / "o.csv", lambda t: np.zeros(len(t)), lambda df: df["title"].tolist(),
        0.5, chunk_size=3, progress=True,
    )  # fmt: skip
    text = err.getvalue()
    assert "7/7" in text and "rows/s" in text, text
