"""The predict stage writes only where its params may point: ``.csv`` files inside the repository,
outside its code, data, model and metrics folders (papercls.inference.outputs), checked before
anything is written, and DVC (``persist: true``) deletes nothing before the check. Every file the
stage writes is declared in dvc.yaml (``predict.probs_output`` included)."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from reliability_support import Repo

from papercls.inference.outputs import confined_output

OK = ["submission.csv", "predictions/submission_probs.csv", "out/sub.csv", "./a/../b.CSV"]
REFUSED = {
    "src/papercls/cli.py": "lies under src/",
    "stages/predict.py": "lies under stages/",
    "tests/x.csv": "lies under tests/",
    ".git/config.csv": "lies under .git/",
    "data/sample/train.csv": "lies under data/",
    "metrics/thresholds.csv": "lies under metrics/",
    "predictions/topline/test.csv": "sub-folder of predictions/",
    "params.yaml": "is not a .csv file",
    "pyproject.toml": "is not a .csv file",
    "../../x.csv": "outside the repository",
    "/tmp/elsewhere.csv": "outside the repository",
    "sub/../../x.csv": "outside the repository",
    "link_out/x.csv": "outside the repository",  # symlink to a folder outside
    "link_src.csv": "lies under src/",  # symlink to a source file
    "adir.csv": "is a directory",
    "": "expected the path of a .csv file",
}


@pytest.fixture()
def fake_root(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / "src" / "papercls").mkdir(parents=True)
    (root / "src" / "papercls" / "cli.py").write_text("code\n")
    (root / "adir.csv").mkdir()
    (root / "link_out").symlink_to(tmp_path)
    (root / "link_src.csv").symlink_to(root / "src" / "papercls" / "cli.py")
    return root


@pytest.mark.parametrize("value", OK)
def test_allowed_outputs(fake_root: Path, value: str) -> None:
    assert confined_output(fake_root, value, "predict.output") == fake_root.resolve() / value


@pytest.mark.parametrize("value,why", REFUSED.items(), ids=list(REFUSED))
def test_refused_outputs_name_the_key(fake_root: Path, value: str, why: str) -> None:
    with pytest.raises(ValueError, match=r"^predict\.probs_output: ") as info:
        confined_output(fake_root, value, "predict.probs_output")
    assert why in str(info.value)


# --------------------------------------------------------------------------- dvc repro predict


@pytest.fixture()
def repo(built_repo: Repo) -> Iterator[Repo]:
    """The shared repository, its tracked files restored and new untracked files removed
    afterwards (the predict stage must leave the next tests a clean pipeline)."""
    root = built_repo.root
    untracked = set(_untracked(root))
    yield built_repo
    built_repo.sh("git", "checkout", "--", ".")
    for name in set(_untracked(root)) - untracked:
        (root / name).unlink()


def _untracked(root: Path) -> list[str]:
    out = subprocess.run(
        ["git", "ls-files", "--others", "--exclude-standard"],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.split()


def _repro_predict(repo: Repo, **predict: str) -> subprocess.CompletedProcess:
    params = repo.params()
    params["predict"].update(predict)
    repo.write_params(params)
    return repo.sh("dvc", "repro", "predict", check=False, timeout=300)


@pytest.mark.slow
@pytest.mark.parametrize(
    "key,value",
    [
        ("output", "src/papercls/cli.py"),
        ("probs_output", "src/papercls/cli.py"),
        ("output", "../../outside.csv"),
        ("probs_output", "escape/x.csv"),  # escape -> a folder outside the repository
    ],
)
def test_repro_refuses_an_output_param_and_deletes_nothing(repo: Repo, key: str, value: str):
    root = repo.root
    (root / "escape").symlink_to(root.parent.parent, target_is_directory=True)
    cli = root / "src" / "papercls" / "cli.py"
    outputs = (root / "submission.csv", root / "predictions" / "submission_probs.csv")
    kept = {p: p.read_bytes() for p in (cli, *outputs)}
    proc = _repro_predict(repo, **{key: value})
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, out
    assert f"error: predict.{key}: {value!r}" in out, out
    assert {p: p.read_bytes() for p in kept} == kept, "a refused stage must change nothing"
    assert not (root.parent.parent / "outside.csv").exists()  # ../../ of the repository
    assert not (root.parent.parent / "x.csv").exists()


@pytest.mark.slow
def test_probs_output_is_declared(repo: Repo) -> None:
    """A new ``predict.probs_output`` is written, declared (DVC tracks it) and the stage is
    up to date afterwards; DVC no longer waits for an undeclared default path."""
    proc = _repro_predict(repo, probs_output="predictions/probs_other.csv")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    written = repo.root / "predictions" / "probs_other.csv"
    assert written.read_text().splitlines()[0] == "uuid,prob,label"
    assert repo.sh("dvc", "status", "predict", "--json").stdout.strip() == "{}"
    lock = (repo.root / "dvc.lock").read_text()
    assert "path: predictions/probs_other.csv" in lock
