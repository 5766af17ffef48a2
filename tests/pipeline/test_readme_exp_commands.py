"""Every `dvc exp run -S ...` command the README documents works on the real params.yaml.

DVC applies `-S` by rewriting params.yaml through Hydra and OmegaConf (`dvc.utils.hydra`), which
drops quotes: a value that YAML reads as something else unquoted (`"no"` becomes the boolean
false) must not be in params.yaml. Each command's overrides (sweeps expanded as DVC expands them)
are applied with DVC's own functions to a copy of the real params.yaml, and the result must pass
the check_params stage's check. One command also runs through a real `dvc exp run` of the
check_params stage in a temporary git repository.
"""

from __future__ import annotations

import re
import shlex
import shutil
from pathlib import Path

import pytest
import yaml
from dvc.utils.hydra import apply_overrides, get_hydra_sweeps

from papercls.config.check import check_params_file
from tests.pipeline.test_dvc_pipeline import run

ROOT = Path(__file__).resolve().parents[2]
DOCS = (ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")))
# placeholders the docs use for a user's own files
PLACEHOLDERS = {"...": "data/sample/train.csv"}


def documented_commands() -> list[str]:
    """Every `dvc exp run` command line in the docs (continuation lines joined, comments cut)."""
    commands = []
    for doc in DOCS:
        text = doc.read_text(encoding="utf-8").replace("\\\n", " ")
        for line in text.splitlines():
            for match in re.finditer(r"dvc exp run[^`#\n]*", line):
                commands.append(match.group(0).strip())
    return commands


def overrides_of(command: str) -> list[str]:
    words = shlex.split(command)
    found = [words[i + 1] for i, word in enumerate(words[:-1]) if word in ("-S", "--set-param")]
    out = []
    for item in found:
        if "=" not in item:  # prose such as "`dvc exp run -S ...` with a bad value"
            continue
        key, value = item.split("=", 1)
        out.append(f"{key}={PLACEHOLDERS.get(value, value)}")
    return out


COMMANDS = [c for c in documented_commands() if overrides_of(c)]


def test_the_docs_document_exp_run_commands() -> None:
    # guards the parametrised test below against passing on nothing
    assert len(COMMANDS) >= 8, COMMANDS


@pytest.mark.parametrize("command", COMMANDS)
def test_documented_exp_run_command_passes_the_params_check(command: str, tmp_path: Path) -> None:
    overrides = overrides_of(command)
    keys = [item.split("=", 1)[0] for item in overrides]
    # DVC keeps only the last of repeated keys: a command that repeats one says something it
    # does not do (a sweep is written key=a,b)
    assert len(keys) == len(set(keys)), f"{command!r} sets a key twice"
    for sweep in get_hydra_sweeps({"params.yaml": overrides}):
        params = tmp_path / "params.yaml"
        shutil.copy2(ROOT / "params.yaml", params)
        apply_overrides(params, sweep["params.yaml"])
        checked = check_params_file(params)  # raises ParamsError naming each bad key
        for item in sweep["params.yaml"]:
            key, value = item.split("=", 1)
            section = checked
            for part in key.split("."):
                section = section[part]
            assert section == yaml.safe_load(value), (command, key)


def test_params_survive_dvc_rewrite_unchanged(tmp_path: Path) -> None:
    """A rewrite that changes nothing keeps every value: no value depends on its quotes."""
    params = tmp_path / "params.yaml"
    shutil.copy2(ROOT / "params.yaml", params)
    before = yaml.safe_load(params.read_text())
    apply_overrides(params, [f"preprocess.seed={before['preprocess']['seed']}"])
    assert yaml.safe_load(params.read_text()) == before


@pytest.mark.slow
def test_real_dvc_exp_run_set_param_passes_check_params(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    for name in ("dvc.yaml", "params.yaml", ".gitignore", ".dvcignore"):
        shutil.copy2(ROOT / name, repo / name)
    for name in ("stages", "src", "data/sample"):
        shutil.copytree(
            ROOT / name, repo / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info")
        )
    for args in (["init", "-q", "-b", "main"], ["config", "user.email", "ci@example.com"],
                 ["config", "user.name", "ci"]):  # fmt: skip
        run(["git", *args], repo)
    run(["dvc", "init", "-q"], repo)
    run(["git", "add", "-A"], repo)
    run(["git", "commit", "-qm", "init"], repo)
    proc = run(
        ["dvc", "exp", "run", "-S", "baseline.epochs=3", "-S", "topline.epochs=3", "check_params"],
        repo,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    params = yaml.safe_load((repo / "params.yaml").read_text())
    assert params["baseline"]["epochs"] == 3
    assert params["baseline"]["mixed_precision"] == "fp32"
    assert (repo / "data" / "params_ok.json").exists()
