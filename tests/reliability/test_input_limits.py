"""Bounds on what one CSV read may take: a device such as /dev/zero (read without end) and a FIFO
(opening it waits for a writer) are refused before they are read; standard input still works
(``-``); a file over the size limit and a field over the field limit are refused with a clear
error. The limits are module constants; the tests use small ones."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from papercls.cli import main as cli_main
from papercls.data import io as data_io

ROOT = Path(__file__).resolve().parents[2]
HEADER = "uuid,title,author,abstract,Keywords,label\n"
ROWS = "".join(
    f"u{i},Title {i},Ann Lee,Abstract {i} about cells.,kw{i},{i % 2}\n" for i in range(8)
)
PARAMS = {
    "preprocess": {
        "text_template": "{title} {sep} {Keywords} {sep} {abstract}",
        "valid_size": 0.25,
        "folds": 2,
        "seed": 1,
    }
}


def _validate(tmp_path: Path, target: str, stdin: bytes | None = None):
    """``papercls validate`` in a subprocess (the timeout is a safety net against a hang)."""
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump(PARAMS), encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    return subprocess.run(
        [sys.executable, "-m", "papercls.cli", "validate", target, "--params", str(params)],
        input=stdin,
        capture_output=True,
        timeout=120,
        env=env,
        cwd=tmp_path,
    )


def _one_error(proc) -> str:
    err = proc.stderr.decode(errors="replace")
    assert proc.returncode == 2, (proc.returncode, err)
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]


def test_dev_zero_is_refused(tmp_path):
    line = _one_error(_validate(tmp_path, "/dev/zero"))
    assert "/dev/zero" in line and "not a regular file" in line


def test_fifo_is_refused_without_waiting_for_a_writer(tmp_path):
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    line = _one_error(_validate(tmp_path, str(fifo)))
    assert str(fifo) in line and "not a regular file" in line


def test_standard_input_is_read(tmp_path):
    proc = _validate(tmp_path, "-", stdin=(HEADER + ROWS).encode())
    assert proc.returncode == 0, proc.stderr.decode()
    assert "8 rows ok" in proc.stdout.decode()


def test_file_over_the_size_limit_is_refused(tmp_path, monkeypatch, capsys):
    path = tmp_path / "train.csv"
    path.write_text(HEADER + ROWS, encoding="utf-8")
    monkeypatch.setattr(data_io, "MAX_FILE_BYTES", 200)
    assert cli_main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: file {path}: larger than ") and "split the file" in err, err


def test_standard_input_over_the_size_limit_is_refused(monkeypatch):
    import io

    class Stdin:
        buffer = io.BytesIO((HEADER + ROWS * 300).encode())

    monkeypatch.setattr(data_io, "MAX_FILE_BYTES", 70_000)
    monkeypatch.setattr(sys, "stdin", Stdin())
    with pytest.raises(data_io.InputError, match="larger than"):
        data_io.read_csv_checked("-", ["uuid", "title"])
    assert Stdin.buffer.tell() == 70_001  # read up to the limit, not further


def test_field_over_the_field_limit_is_refused_with_its_row(tmp_path, monkeypatch, capsys):
    long = "word " * 200
    path = tmp_path / "train.csv"
    path.write_text(HEADER + ROWS + f"u9,T,A,{long},k,1\n", encoding="utf-8")
    monkeypatch.setattr(data_io, "MAX_FIELD_CHARS", 500)
    assert cli_main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: file {path}, row 9: a field is longer than "), err


def test_reading_leaves_the_process_csv_field_limit_as_it_was(tmp_path, monkeypatch):
    """The field limit is csv-module-wide: other readers in the process (the params check's
    row count) must not inherit the reader's limit."""
    import csv

    path = tmp_path / "ok.csv"
    path.write_text(HEADER + ROWS, encoding="utf-8")
    before = csv.field_size_limit()
    monkeypatch.setattr(data_io, "MAX_FIELD_CHARS", 500)
    assert cli_main(["validate", str(path), "--kind", "test"]) == 0
    assert csv.field_size_limit() == before
