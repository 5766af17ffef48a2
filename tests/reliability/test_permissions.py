"""Outputs get the usual permissions: files 0666 and folders 0777, less the umask.

Before: the atomic writers renamed mkstemp/mkdtemp temporaries into place, so parquet files,
JSON metrics, CSVs from `papercls predict` and data/prepared/ were private (0600/0700), and
safetensors weights (model.safetensors, tfidf.safetensors) were 0600 whatever the umask; a
teammate or a CI job under another user could not read them. Checked under umask 022 and 002.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from papercls.cli import main as cli_main
from papercls.data.io import atomic_dir, write_csv, write_json, write_parquet, write_text
from papercls.data.preprocess import run_preprocess
from papercls.inference.predict import write_submission


@pytest.fixture(params=[0o022, 0o002], ids=["umask-022", "umask-002"])
def umask(request):
    old = os.umask(request.param)
    try:
        yield request.param
    finally:
        os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _modes(root: Path) -> dict[str, str]:
    """Every file and folder under ``root`` (itself included) -> octal mode."""
    paths = [root, *root.rglob("*")]
    return {str(p.relative_to(root.parent)): oct(_mode(p)) for p in paths}


def _expected(root: Path, umask: int) -> dict[str, str]:
    return {
        str(p.relative_to(root.parent)): oct((0o777 if p.is_dir() else 0o666) & ~umask)
        for p in [root, *root.rglob("*")]
    }


def test_atomic_file_writers(tmp_path: Path, umask: int) -> None:
    df = pd.DataFrame({"uuid": ["a", "b"], "prob": [0.1, 0.9]})
    out = tmp_path / "out"
    write_parquet(df, out / "test.parquet")
    write_csv(df, out / "roc.csv")
    write_json({"f1": 0.5}, out / "eval.json")
    write_text("# table\n", out / "summary.md")
    files = sorted(out.iterdir())
    assert len(files) == 4
    assert {p.name: oct(_mode(p)) for p in files} == {p.name: oct(0o666 & ~umask) for p in files}


def test_atomic_dir_with_safetensors_inside(tmp_path: Path, umask: int) -> None:
    from safetensors.numpy import save_file

    target = tmp_path / "models" / "x"
    with atomic_dir(target) as tmp:
        save_file({"w": np.zeros(3)}, str(tmp / "model.safetensors"))  # written 0600
        (tmp / "fold_0").mkdir(mode=0o700)
        (tmp / "fold_0" / "config.json").write_text("{}")
        script = tmp / "run.sh"
        script.write_text("#!/bin/sh\n")
        script.chmod(0o700)
    modes = _modes(target)
    assert modes.pop("x/run.sh") == oct(0o777 & ~umask)  # executable bits kept
    expected = _expected(target, umask)
    expected.pop("x/run.sh")
    assert modes == expected


def test_preprocess_and_submission(tmp_path: Path, umask: int) -> None:
    rows = [f"u{i},Title {i},A B,Abstract {i},kw,{i % 2}\n" for i in range(20)]
    train = tmp_path / "train.csv"
    train.write_text("uuid,title,author,abstract,Keywords,label\n" + "".join(rows))
    test = tmp_path / "test.csv"
    test.write_text("uuid,title,abstract\nt0,a,b\nt1,c,d\n")
    cfg = {"text_template": "{title} {sep} {abstract}", "valid_size": 0.2, "folds": 2, "seed": 1}
    prepared = tmp_path / "data" / "prepared"
    run_preprocess(train, test, prepared, cfg)
    assert _modes(prepared) == _expected(prepared, umask)

    preds = tmp_path / "predictions"
    write_parquet(
        pd.DataFrame({"uuid": ["t1", "t0"], "prob": [0.2, 0.7]}), preds / "m" / "test.parquet"
    )
    thresholds = tmp_path / "thresholds.json"
    thresholds.write_text(json.dumps({"m": {"threshold": 0.5}}))
    write_submission(
        "m",
        preds,
        thresholds,
        prepared / "test.parquet",
        tmp_path / "submission.csv",
        preds / "submission_probs.csv",
    )
    for p in (tmp_path / "submission.csv", preds / "submission_probs.csv"):
        assert oct(_mode(p)) == oct(0o666 & ~umask), p


def test_tfidf_model_and_papercls_predict(tmp_path: Path, umask: int, tiny_corpus, capsys):
    from papercls.models.tfidf import TfidfClassifier

    train = tiny_corpus["train"]
    model_dir = tmp_path / "models" / "tfidf"
    TfidfClassifier(max_features=500).fit(train["text"], train["label"]).save(model_dir)
    assert _modes(model_dir) == _expected(model_dir, umask)

    csv = tmp_path / "input.csv"
    csv.write_text("uuid,title,abstract\nt0,clinical patient,therapy\nt1,galaxy,quantum\n")
    out = tmp_path / "labels.csv"
    args = ["predict", "--model-dir", str(model_dir), "--input", str(csv), "--output", str(out)]
    assert cli_main([*args, "--template", "{title} {sep} {abstract}"]) == 0, capsys.readouterr()
    assert oct(_mode(out)) == oct(0o666 & ~umask)


@pytest.mark.slow
def test_encoder_model_folder(
    tmp_path: Path, umask: int, tiny_bert_dir, tiny_prepared_dir, tiny_train_params,
    restore_torch_threads,
) -> None:  # fmt: skip
    from papercls.training.stage import run_training

    params = {**tiny_train_params, "backbone": str(tiny_bert_dir), "epochs": 1, "threads": 1}
    summary = run_training(
        "baseline",
        params,
        prepared_dir=tiny_prepared_dir,
        models_dir=tmp_path / "models",
        predictions_dir=tmp_path / "predictions",
        metrics_dir=tmp_path / "metrics",
    )
    model_dir = Path(summary.model_dir)
    assert (model_dir / "model.safetensors").exists()
    assert _modes(model_dir) == _expected(model_dir, umask)
    for p in (tmp_path / "predictions" / "baseline").iterdir():
        assert oct(_mode(p)) == oct(0o666 & ~umask), p
