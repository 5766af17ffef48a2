"""What valid params must find on this machine is checked by the check_params stage too, before
DVC removes any output: the backbone (``minilm``, a local model directory, or a hub id in the
Hugging Face cache; no download), ``thresholds.expected_count`` against the rows of
``data.test``, and a remote tracking server's health when ``tracking.fail_on_unavailable`` is
true. Each problem is one ``error:`` line naming the key; exit code 2; no marker written.
"""

from __future__ import annotations

import copy
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from reliability_support import ROOT

from papercls.config.environment import count_rows

PARAMS = yaml.safe_load((ROOT / "params.yaml").read_text())
TEST_CSV = ROOT / "data" / "sample" / "test.csv"


def _repo(tmp_path: Path, **changes: Any) -> Path:
    """A folder with dvc.yaml, the bundled test CSV and params.yaml with ``changes``
    (``{"baseline.backbone": "x"}`` spelled ``baseline__backbone="x"``)."""
    root = tmp_path / "repo"
    (root / "data" / "sample").mkdir(parents=True)
    (root / "dvc.yaml").write_text("stages: {}\n")
    shutil.copy(TEST_CSV, root / "data" / "sample" / "test.csv")
    params = copy.deepcopy(PARAMS)
    for dotted, value in changes.items():
        section, key = dotted.split("__")
        params[section][key] = value
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    return root


def _stage(root: Path, hub: Path, **env: str) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "HF_"))}
    environ.update(HF_HUB_CACHE=str(hub), HF_HUB_OFFLINE="1", **env)
    return subprocess.run(
        [sys.executable, str(ROOT / "stages" / "check_params.py")],
        cwd=root,
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _errors(proc: subprocess.CompletedProcess) -> list[str]:
    return [line for line in proc.stderr.splitlines() if line.startswith("error: ")]


def _refused(proc: subprocess.CompletedProcess, root: Path, key: str) -> str:
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    (line,) = _errors(proc)
    assert line.startswith(f"error: params.yaml: {key}: "), line
    assert not (root / "data" / "params_ok.json").exists()
    return line


def _cached_hub_model(hub: Path, repo_id: str) -> None:
    """The layout huggingface_hub gives a downloaded model: refs/main -> snapshots/<rev>/."""
    folder = hub / f"models--{repo_id.replace('/', '--')}"
    rev = "0" * 40
    (folder / "snapshots" / rev).mkdir(parents=True)
    (folder / "snapshots" / rev / "config.json").write_text("{}")
    (folder / "refs").mkdir()
    (folder / "refs" / "main").write_text(rev)


def test_unknown_backbone_name_is_refused(tmp_path: Path) -> None:
    root = _repo(tmp_path, topline__backbone="no-such-org/no-such-model")
    line = _refused(_stage(root, tmp_path / "hub"), root, "topline.backbone")
    assert "'no-such-org/no-such-model'" in line and "Hugging Face cache" in line, line
    assert "hf download no-such-org/no-such-model" in line, line


def test_directory_without_a_model_is_refused(tmp_path: Path) -> None:
    (tmp_path / "notes").mkdir()
    root = _repo(tmp_path, baseline__backbone=str(tmp_path / "notes"))
    line = _refused(_stage(root, tmp_path / "hub"), root, "baseline.backbone")
    assert "has no config.json" in line, line
    root = _repo(tmp_path / "2", baseline__backbone="./models/nowhere")
    line = _refused(_stage(root, tmp_path / "hub"), root, "baseline.backbone")
    assert "does not exist" in line, line


def test_local_model_directory_and_cached_hub_id_pass(tmp_path: Path) -> None:
    hub = tmp_path / "hub"
    _cached_hub_model(hub, "some-org/cached-model")
    root = _repo(
        tmp_path, baseline__backbone="backbones/tiny", topline__backbone="some-org/cached-model"
    )
    (root / "backbones" / "tiny").mkdir(parents=True)
    (root / "backbones" / "tiny" / "config.json").write_text("{}")
    proc = _stage(root, hub)
    assert proc.returncode == 0, proc.stderr
    assert (root / "data" / "params_ok.json").exists()


def test_expected_count_above_the_test_rows_is_refused(tmp_path: Path) -> None:
    rows = count_rows(TEST_CSV)
    import pandas as pd

    assert rows == len(pd.read_csv(TEST_CSV, dtype=str, keep_default_na=False))  # as preprocess
    root = _repo(tmp_path, thresholds__expected_count=rows)
    assert _stage(root, tmp_path / "hub").returncode == 0
    root = _repo(tmp_path / "2", thresholds__expected_count=rows + 1)
    line = _refused(_stage(root, tmp_path / "hub"), root, "thresholds.expected_count")
    assert f"got {rows + 1}, more than the {rows} rows of data.test" in line, line


def test_count_rows_follows_quoted_newlines_and_blank_lines(tmp_path: Path) -> None:
    csv = tmp_path / "t.csv"
    csv.write_text('\ufeffuuid,title\n1,"two\nlines"\n\n2,b\n', encoding="utf-8")
    assert count_rows(csv) == 2
    assert count_rows(tmp_path / "missing.csv") is None


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("fail", [True, False], ids=["fail", "fallback"])
def test_unreachable_tracking_server(tmp_path: Path, fail: bool) -> None:
    root = _repo(tmp_path, tracking__fail_on_unavailable=fail)
    uri = f"http://alice:s3cr3t-pw@127.0.0.1:{_closed_port()}"
    proc = _stage(root, tmp_path / "hub", MLFLOW_TRACKING_URI=uri)
    if not fail:  # the stages will warn and log to mlflow.db
        assert proc.returncode == 0, proc.stderr
        return
    line = _refused(proc, root, "tracking.fail_on_unavailable")
    assert "MLflow tracking server http://127.0.0.1:" in line and "unreachable" in line, line
    assert "s3cr3t-pw" not in proc.stdout + proc.stderr


def test_the_check_stays_light(tmp_path: Path) -> None:
    """Every branch of the check (a hub id, a remote server) imports neither torch, pandas,
    transformers nor mlflow: the stage runs before every `dvc repro` and takes a fraction of a
    second."""
    root = _repo(tmp_path, baseline__backbone="some-org/not-cached", thresholds__expected_count=3)
    script = (
        "import runpy, sys\n"
        f"sys.argv = [{str(ROOT / 'stages' / 'check_params.py')!r}]\n"
        "try:\n"
        "    runpy.run_path(sys.argv[0], run_name='__main__')\n"
        "except SystemExit as e:\n"
        "    print('exit', e.code)\n"
        "heavy = ('torch', 'pandas', 'transformers', 'mlflow', 'numpy')\n"
        "print('heavy', sorted(m for m in heavy if m in sys.modules))\n"
    )
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "HF_"))}
    environ.update(HF_HUB_CACHE=str(tmp_path / "hub"), HF_HUB_OFFLINE="1")
    environ["MLFLOW_TRACKING_URI"] = f"http://127.0.0.1:{_closed_port()}"
    proc = subprocess.run(
        [sys.executable, "-c", script], cwd=root, env=environ, capture_output=True, text=True
    )
    assert "exit 2" in proc.stdout, proc.stdout + proc.stderr
    keys = [line.split(": ")[2] for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert keys == ["baseline.backbone", "tracking.fail_on_unavailable"], proc.stderr
    assert "heavy []" in proc.stdout, proc.stdout
