"""Train files too small for the split: `papercls validate` and preprocess refuse them alike.

The stratified validation split needs two rows of each class and a part of at least one row per
class on each side; stratified folds need ``preprocess.folds`` rows of each class in the
training part. Before, such files passed `papercls validate` and then ended preprocess in a raw
scikit-learn traceback (exit code 1), or, with one class short of rows, in silently unbalanced
folds. Now both give exit code 2 and an error naming the file and what is too small.
"""

from __future__ import annotations

import itertools
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml
from reliability_support import ROOT

from papercls.cli import main as cli_main
from papercls.data.preprocess import run_preprocess
from papercls.errors import InputError

HEADER = "uuid,title,author,abstract,Keywords,label\n"
DEFAULT = {"text_template": "{title} {sep} {abstract}", "valid_size": 0.2, "folds": 5, "seed": 42}


def _train(path: Path, labels: list[int]) -> Path:
    rows = [f"u{i},Title {i},A B,Abstract {i} about cells.,kw,{y}\n" for i, y in enumerate(labels)]
    path.write_text(HEADER + "".join(rows), encoding="utf-8")
    return path


def _test(path: Path) -> Path:
    path.write_text("uuid,title,abstract\nt0,a,b\nt1,c,d\n", encoding="utf-8")
    return path


def _params(path: Path, **preprocess) -> str:
    path.write_text(yaml.safe_dump({"preprocess": {**DEFAULT, **preprocess}}), encoding="utf-8")
    return str(path)


# id: (labels, preprocess settings, words the error must contain)
SMALL = {
    "3-rows": ([0, 1, 1], {}, ["class 0 has 1 row(s)", "valid_size=0.2", "at least 2 per class"]),
    "10-rows": (
        [0, 1] * 5,
        {},
        ["class 0 has 4 row(s) in the training part (5 in the file", "preprocess.folds=5 needs"],
    ),
    "one-class-short-of-folds": (
        [0] * 36 + [1] * 5,
        {},
        ["class 1 has 4 row(s) in the training part (5 in the file", "at least 5 per class"],
    ),
    "validation-part-too-small": (
        [0, 0, 1, 1, 0, 1],
        {"valid_size": 0.1, "folds": 0},
        ["6 labelled rows leave 1 validation row(s)", "at least 2 (one per class)"],
    ),
    "training-part-too-small": (
        [0, 0, 1, 1, 0, 1],
        {"valid_size": 0.9, "folds": 0},
        ["leave 0 training row(s)"],
    ),
}


@pytest.mark.parametrize("case", sorted(SMALL))
def test_validate_and_preprocess_refuse_alike(tmp_path: Path, capsys, case: str) -> None:
    labels, settings, words = SMALL[case]
    train = _train(tmp_path / "train.csv", labels)
    params = _params(tmp_path / "params.yaml", **settings)
    assert cli_main(["validate", str(train), "--params", params]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: file {train}, column 'label': "), err
    assert all(w in err for w in words), err
    with pytest.raises(InputError) as exc:
        run_preprocess(
            train, _test(tmp_path / "test.csv"), tmp_path / "out", {**DEFAULT, **settings}
        )
    assert str(exc.value) == err.strip().removeprefix("error: ")
    assert not (tmp_path / "out").exists()


def test_validate_uses_the_repository_params_by_default(tmp_path: Path) -> None:
    """Without --params: the params.yaml of the repository around the working directory."""
    (tmp_path / "dvc.yaml").write_text("stages: {}\n")
    train = _train(tmp_path / "train.csv", [0, 1] * 5)
    cmd = [sys.executable, "-m", "papercls.cli", "validate", "train.csv"]
    run = lambda: subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=120)  # noqa: E731
    _params(tmp_path / "params.yaml", folds=2)
    ok = run()
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.startswith("train.csv: 10 rows ok (8 train / 2 valid, 2 folds")
    _params(tmp_path / "params.yaml", folds=5)
    bad = run()
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert "preprocess.folds=5 needs at least 5 per class" in bad.stderr
    assert train.exists()


def test_preprocess_stage_exit_code(tmp_path: Path) -> None:
    """The stage script, as DVC runs it: exit 2, one error line, no data/prepared."""
    (tmp_path / "dvc.yaml").write_text("stages: {}\n")
    _train(tmp_path / "train.csv", [0, 1] * 5)
    _test(tmp_path / "test.csv")
    params = {"data": {"train": "train.csv", "test": "test.csv"}, "preprocess": DEFAULT}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    proc = subprocess.run(
        [sys.executable, str(ROOT / "stages" / "preprocess.py")],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [
        "error: file train.csv, column 'label': class 0 has 4 row(s) in the training part "
        "(5 in the file, less the validation split); preprocess.folds=5 needs at least 5 per "
        "class: add rows or lower preprocess.folds (below 2: no folds)"
    ]
    assert not (tmp_path / "data").exists()


def test_validate_agrees_with_preprocess_on_every_small_file(tmp_path: Path, capsys) -> None:
    """Every mix of 1..9 rows per class at two split settings: validate passes exactly the
    files that preprocess turns into stratified parts and folds, and nothing else escapes."""
    test_csv = _test(tmp_path / "test.csv")
    for (n0, n1), folds in itertools.product(itertools.product(range(1, 10), repeat=2), (2, 5)):
        train = _train(tmp_path / "train.csv", [0] * n0 + [1] * n1)
        cfg = {**DEFAULT, "folds": folds}
        rc = cli_main(["validate", str(train), "--params", _params(tmp_path / "p.yaml", **cfg)])
        capsys.readouterr()
        try:
            run_preprocess(train, test_csv, tmp_path / "out", cfg)
        except InputError:
            assert rc == 2, (n0, n1, folds)
            continue
        assert rc == 0, (n0, n1, folds)
        part = pd.read_parquet(tmp_path / "out" / "train.parquet")
        valid = pd.read_parquet(tmp_path / "out" / "valid.parquet")
        assert set(part["label"]) == {0, 1} and len(valid) >= 2
        pooled = pd.concat([part, valid])  # folds are stratified over every labelled row
        counts = pooled.groupby(["fold", "label"]).size()
        assert len(counts) == 2 * folds, (n0, n1, folds)  # every fold holds both classes
