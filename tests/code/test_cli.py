"""The ``papercls`` command itself: ``python -m papercls``, ``--version``, ``--help``, and what a
missing or unknown command gets."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import papercls
from papercls.cli import COMMANDS, main

ROOT = Path(__file__).resolve().parents[2]


def _module(*args: str) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]),
    }
    return subprocess.run(
        [sys.executable, "-m", "papercls", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_python_m_papercls_runs_the_command() -> None:
    version = _module("--version")
    assert version.returncode == 0, version.stderr
    assert version.stdout.strip() == f"papercls {papercls.__version__}"
    helped = _module("--help")
    assert helped.returncode == 0, helped.stderr
    assert all(name in helped.stdout for name in COMMANDS)


def test_version(capsys) -> None:
    for flag in ("--version", "-V"):
        assert main([flag]) == 0
        assert capsys.readouterr().out == f"papercls {papercls.__version__}\n"


@pytest.mark.parametrize("word, what", [("predcit", "command"), ("--verbose", "option")])
def test_an_unknown_command_is_named_in_one_error_line(word, what, capsys) -> None:
    assert main([word]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: unknown {what} '{word}'")
    assert all(name in lines[0] for name in COMMANDS)


def test_no_command_prints_the_commands_to_stderr(capsys) -> None:
    assert main([]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.startswith("usage: papercls COMMAND")
    assert main(["--help"]) == 0
    assert capsys.readouterr().out.startswith("usage: papercls COMMAND")


def test_the_changelog_names_this_version() -> None:
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    released = re.findall(r"^## \[(\d+\.\d+\.\d+)\]", changelog, flags=re.M)
    assert released and released[0] == papercls.__version__, released
