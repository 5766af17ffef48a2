"""Bad params are refused before anything is deleted.

DVC removes a stage's outputs just before it runs the stage, so a stage that only notices a bad
param once it runs has already destroyed the last good outputs (metrics/thresholds.json and the
tuned.json files are git-tracked ``cache: false`` outputs: no ``dvc checkout`` brings them
back). The first stage, ``check_params``, checks every section of params.yaml; every other stage
depends on its output. Here: each bad value gives exit code 2 and an ``error:`` line naming the
key and the allowed values or the expected type (``papercls check-params`` and the stage
script); the real pipeline keeps its outputs when run with bad params; the schema stays in step
with the code it describes.
"""

from __future__ import annotations

import copy
import inspect
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from reliability_support import ROOT, Repo, stages_run

from papercls.cli import main as cli_main
from papercls.config.check import (
    CLASS_WEIGHTS,
    ENSEMBLE_METHODS,
    MARKER,
    MIXED_PRECISION,
    SELECT_METRICS,
    THRESHOLD_METHODS,
    check_params,
)
from papercls.config.schema import Encoder, Tfidf

PARAMS = yaml.safe_load((ROOT / "params.yaml").read_text())
SECRET = "hf_params_check_SECRET_5e1d"

# id: (dotted key to set, value, key named in the error, words the error must contain)
BAD = {
    "method-bogus": (
        "thresholds.method",
        "bogus",
        "thresholds.method",
        ["'bogus'", "allowed values: f1, prior, fixed"],
    ),
    "epochs-three": ("baseline.epochs", "three", "baseline.epochs", ["expected an integer >= 1"]),
    "epochs-bool": ("topline.epochs", True, "topline.epochs", ["expected an integer >= 1"]),
    "tfidf-C-abc": ("tfidf.C", "abc", "tfidf.C", ["expected a number > 0", "'abc'"]),
    "lr-negative": ("topline.lr", -1, "topline.lr", ["expected a number > 0", "-1"]),
    "valid-size-1.5": (
        "preprocess.valid_size",
        1.5,
        "preprocess.valid_size",
        ["expected a number in (0, 1)"],
    ),
    "template-bogus": (
        "preprocess.text_template",
        "{bogus}",
        "preprocess.text_template",
        ["unknown field(s) ['bogus']", "'title'", "'Keywords'", "'sep'"],
    ),
    "template-unclosed": (
        "preprocess.text_template",
        "{title",
        "preprocess.text_template",
        ["not a usable template"],
    ),
    "max-length-0": (
        "baseline.max_length",
        0,
        "baseline.max_length",
        ["expected an integer >= 3 or null"],
    ),
    "predict-model-nosuch": (
        "predict.model",
        "nosuch",
        "predict.model",
        ["'nosuch'", "allowed values: tfidf, baseline, topline"],
    ),
    "folds-negative": (
        "preprocess.folds",
        -1,
        "preprocess.folds",
        ["expected an integer in [0, 100]", "0: no folds"],
    ),
    "folds-one": (
        "preprocess.folds",
        1,
        "preprocess.folds",
        ["expected 0 (no folds) or an integer in [2, 100], got 1"],
    ),
    "folds-huge": ("preprocess.folds", 101, "preprocess.folds", ["in [0, 100]", "101"]),
    "threads-huge": (
        "baseline.threads",
        5000,
        "baseline.threads",
        ["expected an integer in [0, 1024] (0: all cores)", "5000"],
    ),
    "max-features-0": (
        "tfidf.max_features",
        0,
        "tfidf.max_features",
        ["expected an integer >= 1 or null (null: no limit)"],
    ),
    "bootstrap-huge": (
        "thresholds.bootstrap",
        100_001,
        "thresholds.bootstrap",
        ["expected an integer in [0, 100000] or null"],
    ),
    "batch-size-string": (  # a string is never a number, even one that reads as one
        "baseline.batch_size",
        "3",
        "baseline.batch_size",
        ["expected an integer >= 1", "'3' (a string)"],
    ),
    "lr-bool": ("baseline.lr", True, "baseline.lr", ["expected a number > 0", "True (a boolean)"]),
    "dropout-1.5": (
        "topline.head.dropout",
        1.5,
        "topline.head.dropout",
        ["expected a number in [0, 1)"],
    ),
    "fixed-bool": ("thresholds.fixed", True, "thresholds.fixed", ["expected a number in [0, 1]"]),
    "rate-nan": ("thresholds.expected_rate", float("nan"), "thresholds.expected_rate", ["nan"]),
    "mixed-precision": (
        "baseline.mixed_precision",
        "fp8",
        "baseline.mixed_precision",
        ["allowed values: fp32, auto, bf16, fp16"],
    ),
    "mixed-precision-yaml-boolean": (  # an unquoted `no`, as `dvc exp run -S` writes it
        "baseline.mixed_precision",
        False,
        "baseline.mixed_precision",
        ["YAML boolean", "write fp32"],
    ),
    "models-unknown": (
        "evaluate.models",
        ["tfidf", "bert"],
        "evaluate.models",
        ["'bert'", "allowed values: tfidf, baseline, topline"],
    ),
    "fail-on-unavailable-str": (
        "tracking.fail_on_unavailable",
        "no",
        "tracking.fail_on_unavailable",
        ["expected true or false"],
    ),
    "unknown-key": (
        "thresholds.methd",
        "f1",
        "thresholds.methd",
        ["unknown key", "known keys of thresholds: method, fixed"],
    ),
    "unknown-head-key": (
        "topline.head.hiden",
        64,
        "topline.head.hiden",
        ["unknown key", "known keys of topline.head: hidden, mean_weight"],
    ),
    "secret-unknown-key": (
        "tracking.hub_token",
        SECRET,
        "tracking.hub_token",
        ["unknown key", "experiment, register_name, fail_on_unavailable"],
    ),
}


def _with(params: dict, dotted: str, value: Any) -> dict:
    out = copy.deepcopy(params)
    *parents, last = dotted.split(".")
    node = out
    for key in parents:
        node = node[key]
    node[last] = value
    return out


def _write(path: Path, params: Any) -> Path:
    path.write_text(yaml.safe_dump(params, sort_keys=False), encoding="utf-8")
    return path


def _errors(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("error: ")]


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_value_is_refused_with_key_and_allowed_values(tmp_path: Path, capsys, case) -> None:
    key, value, named, words = BAD[case]
    path = _write(tmp_path / "params.yaml", _with(PARAMS, key, value))
    assert cli_main(["check-params", str(path)]) == 2
    out, err = capsys.readouterr()
    assert out == "" and "Traceback" not in err
    assert len(_errors(err)) == 1, err
    line = _errors(err)[0]
    assert line.startswith(f"error: {path}: {named}: "), line
    for word in words:
        assert word in line, line
    assert SECRET not in err  # the value of an unknown key is never shown


def test_predict_model_must_be_an_evaluated_model(tmp_path: Path, capsys) -> None:
    params = _with(PARAMS, "evaluate.models", ["tfidf", "topline"])
    path = _write(tmp_path / "params.yaml", _with(params, "predict.model", "baseline"))
    assert cli_main(["check-params", str(path)]) == 2
    err = capsys.readouterr().err
    assert _errors(err) == [
        f"error: {path}: predict.model: got 'baseline'; allowed values: evaluate.models "
        "(tfidf, topline)"
    ]


def test_kfold_needs_folds(tmp_path: Path, capsys) -> None:
    params = _with(_with(PARAMS, "topline.kfold", True), "preprocess.folds", 0)
    assert cli_main(["check-params", str(_write(tmp_path / "p.yaml", params))]) == 2
    assert "topline.kfold: true needs preprocess.folds >= 2" in capsys.readouterr().err


def test_every_problem_is_reported_at_once(tmp_path: Path, capsys) -> None:
    params = _with(_with(PARAMS, "baseline.epochs", "three"), "tfidf.C", "abc")
    del params["data"]["train"]
    params["thresold"] = {"method": "f1"}
    assert cli_main(["check-params", str(_write(tmp_path / "p.yaml", params))]) == 2
    keys = [line.split(": ")[2] for line in _errors(capsys.readouterr().err)]
    assert sorted(keys) == ["baseline.epochs", "data.train", "tfidf.C", "thresold"]


@pytest.mark.parametrize(
    "content,words",
    [
        ("thresholds: [1, 2\n", ["not valid YAML"]),
        ("- just\n- a list\n", ["expected a mapping of sections"]),
        (None, ["file not found"]),
    ],
    ids=["bad-yaml", "not-a-mapping", "missing"],
)
def test_unreadable_params_file(tmp_path: Path, capsys, content, words) -> None:
    path = tmp_path / "params.yaml"
    if content is not None:
        path.write_text(content)
    assert cli_main(["check-params", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {path}: ") and "Traceback" not in err
    assert all(w in err for w in words), err


def test_good_params_pass(tmp_path: Path, capsys) -> None:
    assert cli_main(["check-params", str(ROOT / "params.yaml")]) == 0
    assert capsys.readouterr().out.strip().endswith("params.yaml: ok")
    permissive = copy.deepcopy(PARAMS)
    permissive["thresholds"].update(method=" Prior ", expected_count=120)  # as the code reads it
    permissive["baseline"].update(backbone="any/hub-name", max_length=None, epochs=2.0)
    permissive["topline"].update(lr=1, warmup_ratio=0)  # an integer is a number
    permissive["topline"]["head"] = None  # a plain classification head
    permissive["tfidf"]["max_features"] = None
    assert check_params(permissive) == []
    assert check_params(_with(PARAMS, "thresholds.method", 0.35)) == []  # a fixed threshold


def _stage(root: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ROOT / "stages" / "check_params.py")],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_stage_script_exit_code_and_marker(tmp_path: Path) -> None:
    """The marker file holds the same bytes for any valid params (nothing downstream reruns
    when only the check reruns); bad params: exit 2, one error line, no marker."""
    (tmp_path / "dvc.yaml").write_text("stages: {}\n")
    marker = tmp_path / "data" / "params_ok.json"
    contents = []
    for epochs in (1, 7):
        _write(tmp_path / "params.yaml", _with(PARAMS, "topline.epochs", epochs))
        proc = _stage(tmp_path)
        assert proc.returncode == 0, proc.stderr
        contents.append(marker.read_bytes())
    assert contents[0] == contents[1] and yaml.safe_load(contents[0]) == MARKER
    marker.unlink()
    _write(tmp_path / "params.yaml", _with(PARAMS, "thresholds.method", "bogus"))
    proc = _stage(tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.splitlines()[0].startswith("error: params.yaml: thresholds.method: got")
    assert not marker.exists()


# ----------------------------------------------------------------- the schema follows the code


def test_schema_keys_follow_the_code() -> None:
    from papercls.evaluation import ensemble
    from papercls.evaluation.thresholds import METHODS
    from papercls.models.tfidf import TfidfClassifier
    from papercls.training import config as train_config
    from papercls.training import selection
    from papercls.training.config import MODEL_KEYS, TrainConfig

    assert set(Encoder.model_fields) == set(TrainConfig.model_fields) | MODEL_KEYS
    assert MODEL_KEYS == {"backbone", "kfold", "head"}
    signature = inspect.signature(TfidfClassifier.__init__).parameters
    tfidf_keys = set(signature) - {"self"}
    tfidf_keys |= {"kfold"}  # read by the stage (papercls.training.tfidf_stage), not the classifier
    assert set(Tfidf.model_fields) == tfidf_keys
    for key in tfidf_keys - {"kfold"}:  # the schema's defaults are the classifier's
        assert Tfidf.model_fields[key].default == signature[key].default, key
    assert THRESHOLD_METHODS == METHODS
    assert ENSEMBLE_METHODS == ensemble.METHODS
    assert set(SELECT_METRICS) == set(selection.SELECT_METRICS)
    assert CLASS_WEIGHTS == tuple(train_config.CLASS_WEIGHTS)
    for value in MIXED_PRECISION:
        TrainConfig(mixed_precision=value)  # each allowed value is one the code accepts
    with pytest.raises(ValueError):
        TrainConfig(mixed_precision="fp8")


def test_every_stage_depends_on_the_check() -> None:
    """check_params reads the whole params.yaml and every other stage depends on its output,
    so `dvc repro <any stage>` runs it first."""
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    check = stages.pop("check_params")
    assert check["params"] == [{"params.yaml": None}]
    assert check["outs"] == [{"data/params_ok.json": {"cache": False}}]
    for name, stage in stages.items():
        deps = stage.get("do", stage)["deps"]
        assert "data/params_ok.json" in deps, name


# ----------------------------------------------------------------- the real pipeline


def _snapshot(root: Path, paths: list[str]) -> dict[str, bytes]:
    return {p: (root / p).read_bytes() for p in paths}


@pytest.mark.slow
@pytest.mark.parametrize(
    "key,value,target,kept",
    [
        (
            "thresholds.method",
            "bogus",
            "tune_thresholds",
            ["metrics/thresholds.json", "metrics/topline/tuned.json", "metrics/tfidf/tuned.json"],
        ),
        ("predict.model", "nosuch", "predict", ["submission.csv"]),
    ],
    ids=["thresholds-method", "predict-model"],
)
def test_dvc_repro_with_bad_params_keeps_outputs(built_repo: Repo, key, value, target, kept):
    root = built_repo.root
    status = built_repo.sh("git", "status", "--porcelain").stdout
    before = _snapshot(root, [*kept, "predictions/submission_probs.csv"])
    built_repo.write_params(_with(built_repo.params(), key, value))
    try:
        proc = built_repo.sh("dvc", "repro", target, check=False, timeout=300)
    finally:
        built_repo.sh("git", "checkout", "--", "params.yaml")
    log = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert stages_run(log) == {"check_params"}, log
    assert f"error: params.yaml: {key}: got {value!r}" in log, log
    assert _snapshot(root, list(before)) == before, "a failed check must leave outputs alone"
    # good params again: only the check reruns, and its output is byte-identical
    proc = built_repo.sh("dvc", "repro", timeout=300)
    assert stages_run(proc.stdout) == {"check_params"}, proc.stdout
    assert built_repo.sh("git", "status", "--porcelain").stdout == status
