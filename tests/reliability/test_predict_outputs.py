"""What ``papercls predict --output`` may replace: a new .csv/.parquet file, or one holding labels
it wrote before; never another file without --force, never a file under the project's code,
data, model or metrics folders, never a device, FIFO or symlink (which would become a file)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pandas as pd
import pytest

from papercls.inference.predict_cli import predict_main

INPUT = (
    "uuid,title,author,abstract\n"
    "b2,Cancer therapy in patients,A B,A clinical trial of cancer therapy.\n"
    "a1,Quantum lattices,C D,An algorithm for graphs and circuits.\n"
)
LABELS = "uuid,label\nb2,1\na1,0\n"


@pytest.fixture(scope="module")
def tfidf_dir(tmp_path_factory) -> Path:
    from papercls.models.tfidf import TfidfClassifier

    texts = ["patient clinical trial of cancer therapy", "quantum lattice algorithm for graphs"]
    d = tmp_path_factory.mktemp("outputs") / "model"
    TfidfClassifier(max_features=100, ngram_max=1, C=1.0).fit(texts * 4, [1, 0] * 4).save(d)
    return d


@pytest.fixture()
def workspace(tmp_path, monkeypatch) -> Path:
    """A repository (dvc.yaml at its root) as the working directory, with the input CSV."""
    (tmp_path / "dvc.yaml").write_text("stages: {}\n")
    (tmp_path / "in.csv").write_text(INPUT, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _predict(capsys, model: Path, output: str, *extra: str) -> tuple[int, str]:
    argv = ["--model-dir", str(model), "--input", "in.csv", "--output", output, "--threshold"]
    rc = predict_main([*argv, "0.5", *extra])
    cap = capsys.readouterr()
    return rc, cap.out + cap.err


@pytest.mark.parametrize(
    "path, content",
    [
        ("params.yaml", "train:\n  epochs: 3\n"),
        ("src/papercls/errors.py", "class InputError(ValueError): ...\n"),
        ("notes.txt", "keep me\n"),
    ],
)
def test_an_output_that_is_not_csv_or_parquet_is_refused(
    tfidf_dir, workspace, capsys, path, content
):
    target = workspace / path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(content)
    rc, text = _predict(capsys, tfidf_dir, path, "--force")
    assert rc == 2 and text.startswith(f"error: --output {path} is not a .csv or .parquet"), text
    assert target.read_text() == content


@pytest.mark.parametrize(
    "path", ["data/prepared/test.parquet", "metrics/x.csv", "models/m/labels.csv", "src/a.csv"]
)
def test_an_existing_file_in_a_project_folder_is_refused_even_with_force(
    tfidf_dir, workspace, capsys, path
):
    target = workspace / path
    target.parent.mkdir(parents=True)
    if target.suffix == ".parquet":
        pd.DataFrame({"uuid": ["x"], "text": ["t"]}).to_parquet(target)
    else:
        target.write_text(LABELS)  # even a previous output: DVC or git owns it
    before = target.read_bytes()
    rc, text = _predict(capsys, tfidf_dir, path, "--force")
    folder = path.split("/")[0]
    assert rc == 2 and f"exists under {folder}/" in text, text
    assert target.read_bytes() == before


def test_a_new_file_in_a_project_folder_is_written(tfidf_dir, workspace, capsys):
    rc, text = _predict(capsys, tfidf_dir, "metrics/new.csv")
    assert rc == 0, text
    assert (workspace / "metrics" / "new.csv").read_text() == LABELS


def test_another_csv_is_replaced_only_with_force(tfidf_dir, workspace, capsys):
    other = workspace / "results.csv"
    other.write_text("name,score\nx,1\n")
    rc, text = _predict(capsys, tfidf_dir, "results.csv")
    assert rc == 2 and "not a previous output of papercls predict" in text, text
    assert "--force" in text and other.read_text() == "name,score\nx,1\n"
    rc, text = _predict(capsys, tfidf_dir, "results.csv", "--force")
    assert rc == 0 and other.read_text() == LABELS, text


@pytest.mark.parametrize("old", ["uuid,label\nzz,1\n", "uuid,label,prob\nzz,1,0.9\n"])
def test_a_previous_output_is_replaced(tfidf_dir, workspace, capsys, old):
    (workspace / "labels.csv").write_text(old)
    rc, text = _predict(capsys, tfidf_dir, "labels.csv")
    assert rc == 0 and (workspace / "labels.csv").read_text() == LABELS, text
    rc, text = _predict(capsys, tfidf_dir, "labels.parquet")
    assert rc == 0, text
    rc, text = _predict(capsys, tfidf_dir, "labels.parquet")  # its own Parquet output
    assert rc == 0 and pd.read_parquet(workspace / "labels.parquet")["uuid"].tolist() == [
        "b2",
        "a1",
    ]


def test_a_csv_named_parquet_is_not_a_previous_output(tfidf_dir, workspace, capsys):
    (workspace / "labels.parquet").write_text(LABELS)
    rc, text = _predict(capsys, tfidf_dir, "labels.parquet")
    assert rc == 2 and "not a previous output" in text, text


def test_a_fifo_is_not_replaced_by_a_file(tfidf_dir, workspace, capsys):
    fifo = workspace / "labels.csv"
    os.mkfifo(fifo)
    rc, text = _predict(capsys, tfidf_dir, "labels.csv", "--force")
    assert rc == 2 and "not a regular file" in text and "--output -" in text, text
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


def test_a_device_node_is_not_replaced_by_a_file(tfidf_dir, workspace, capsys):
    """As /dev/null was, run as root (a node like it, made here, not /dev/null itself)."""
    node = workspace / "null.csv"
    try:
        os.mknod(node, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    except (PermissionError, AttributeError):
        pytest.skip("making a device node needs root")
    rc, text = _predict(capsys, tfidf_dir, "null.csv", "--force")
    assert rc == 2 and "not a regular file" in text, text
    assert stat.S_ISCHR(os.lstat(node).st_mode)


def test_a_symlink_is_not_replaced_by_a_file(tfidf_dir, workspace, capsys):
    (workspace / "real.csv").write_text(LABELS)
    link = workspace / "labels.csv"
    link.symlink_to("real.csv")
    rc, text = _predict(capsys, tfidf_dir, "labels.csv", "--force")
    assert rc == 2 and "symbolic link" in text, text
    assert link.is_symlink() and (workspace / "real.csv").read_text() == LABELS
