"""``papercls predict`` on a broken model folder or bad paths: exit code 2 and one ``error:`` line
naming the path, never a traceback, and the input CSV never replaced by the labels."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from papercls.inference.predict_cli import predict_main
from papercls.synthetic.sample import write_sample


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory, tiny_bert_dir) -> Path:
    """A saved classifier folder (the tiny BERT with a random 2-class head)."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    d = tmp_path_factory.mktemp("predict_errors") / "model"
    model = AutoModelForSequenceClassification.from_pretrained(tiny_bert_dir, num_labels=2)
    model.save_pretrained(d)
    AutoTokenizer.from_pretrained(tiny_bert_dir).save_pretrained(d)
    return d


@pytest.fixture()
def test_csv(tmp_path) -> Path:
    write_sample(tmp_path / "data", n_train=10, n_test=6, seed=3)
    return tmp_path / "data" / "test.csv"


def _broken_copy(model_dir: Path, dest: Path, case: str) -> tuple[Path, str]:
    """A copy of ``model_dir`` broken as ``case`` says; returns it and the path the error must
    name."""
    shutil.copytree(model_dir, dest)
    weights = dest / "model.safetensors"
    if case == "no-weights":
        weights.unlink()
        return dest, str(dest)
    if case == "pickle-only":
        torch.save(load_file(weights), dest / "pytorch_model.bin")
        weights.unlink()
        return dest, str(dest)
    if case == "truncated-header":
        weights.write_bytes(weights.read_bytes()[:100])
        return dest, str(weights)
    if case == "truncated-data":
        weights.write_bytes(weights.read_bytes()[:-1000])
        return dest, str(weights)
    if case == "invalid-config":
        (dest / "config.json").write_text('{"model_type": "bert", ', encoding="utf-8")
        return dest, str(dest / "config.json")
    if case == "no-tokenizer":  # transformers would read every word as [UNK]
        (dest / "tokenizer.json").unlink()
        return dest, str(dest)
    if case == "config-not-object":
        (dest / "config.json").write_text("[1, 2]", encoding="utf-8")
        return dest, str(dest / "config.json")
    raise AssertionError(case)


def _run(capsys, *argv: str) -> tuple[int, str]:
    rc = predict_main([str(a) for a in argv])
    out = capsys.readouterr()
    return rc, out.out + out.err


@pytest.mark.parametrize(
    "case",
    [
        "no-weights",
        "pickle-only",
        "truncated-header",
        "truncated-data",
        "invalid-config",
        "config-not-object",
        "no-tokenizer",
    ],
)
def test_broken_model_folder_is_an_error_naming_it(
    model_dir, test_csv, tmp_path, capsys, case
) -> None:
    broken, named = _broken_copy(model_dir, tmp_path / case, case)
    out_csv = tmp_path / "labels.csv"
    rc, text = _run(capsys, "--model-dir", broken, "--input", test_csv, "--output", out_csv)
    assert rc == 2, text
    assert text.startswith("error: ") and named in text, text
    assert "Traceback" not in text
    assert not out_csv.exists()
    if case == "pickle-only":
        assert "pytorch_model.bin" in text and "pickle" in text
    if case == "no-tokenizer":
        assert "no tokenizer.json" in text


def test_output_that_is_a_directory(model_dir, test_csv, tmp_path, capsys) -> None:
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    rc, text = _run(capsys, "--model-dir", model_dir, "--input", test_csv, "--output", out_dir)
    assert rc == 2 and f"error: --output {out_dir} is a directory" in text, text
    assert list(out_dir.iterdir()) == []


def test_output_under_a_file(model_dir, test_csv, tmp_path, capsys) -> None:
    out = tmp_path / "labels.csv" / "x.csv"
    (tmp_path / "labels.csv").write_text("keep\n")
    rc, text = _run(capsys, "--model-dir", model_dir, "--input", test_csv, "--output", out)
    assert rc == 2 and str(tmp_path / "labels.csv") in text and "Traceback" not in text, text
    assert (tmp_path / "labels.csv").read_text() == "keep\n"


def test_thresholds_file_that_is_a_directory(model_dir, test_csv, tmp_path, capsys) -> None:
    tdir = tmp_path / "thresholds.json"
    tdir.mkdir()
    rc, text = _run(
        capsys,
        "--model-dir",
        model_dir,
        "--input",
        test_csv,
        "--output",
        tmp_path / "labels.csv",
        "--thresholds-file",
        tdir,
    )
    assert rc == 2 and text.startswith("error: ") and str(tdir) in text, text
    assert "Traceback" not in text and not (tmp_path / "labels.csv").exists()


def _same_file_spellings(test_csv: Path, tmp_path: Path) -> dict[str, Path]:
    link = tmp_path / "link.csv"
    link.symlink_to(test_csv)
    hard = tmp_path / "hard.csv"
    os.link(test_csv, hard)
    dotted = test_csv.parent / ".." / test_csv.parent.name / "." / test_csv.name
    return {"same": test_csv, "symlink": link, "hardlink": hard, "dotted": dotted}


@pytest.mark.parametrize("spelling", ["same", "symlink", "hardlink", "dotted", "relative"])
def test_output_that_is_the_input_is_refused(
    model_dir, test_csv, tmp_path, capsys, monkeypatch, spelling
) -> None:
    before = test_csv.read_bytes()
    if spelling == "relative":
        monkeypatch.chdir(test_csv.parent)
        out = Path(test_csv.name)
    else:
        out = _same_file_spellings(test_csv, tmp_path)[spelling]
    rc, text = _run(capsys, "--model-dir", model_dir, "--input", test_csv, "--output", out)
    assert rc == 2, text
    assert f"error: --output {out} is the input file" in text, text
    assert test_csv.read_bytes() == before


def test_a_good_call_still_writes_the_labels(model_dir, test_csv, tmp_path, capsys) -> None:
    out = tmp_path / "labels.csv"
    rc, text = _run(capsys, "--model-dir", model_dir, "--input", test_csv, "--output", out)
    assert rc == 0, text
    assert out.read_text().splitlines()[0] == "uuid,label"
    assert len(out.read_text().splitlines()) == 7
