"""A failed stage keeps the last good git-tracked outputs.

DVC removes a stage's outputs just before it runs the stage; cached ones come back with
``dvc checkout``, but ``cache: false`` ones (the metrics, plot CSVs, figures and history files
that git tracks) would simply be gone when the stage then fails. They are declared
``persist: true`` (DVC leaves them in place), and every stage writes each of them to a
temporary file renamed over the old one once it is complete, so that a failed run leaves the
last good file and a successful one replaces it whole.
"""

from __future__ import annotations

import shutil

import pytest
import yaml
from reliability_support import ROOT, Repo, stages_run

MARKER = "data/params_ok.json"  # the same bytes for all valid params: nothing to keep


def _uncached_outputs() -> dict[str, dict]:
    """``{stage: {path: flags}}`` for every ``cache: false`` out or plot of dvc.yaml."""
    found: dict[str, dict] = {}
    for name, stage in yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"].items():
        body = stage.get("do", stage)
        for entry in body.get("outs", []) + body.get("plots", []):
            if isinstance(entry, dict):
                ((path, flags),) = entry.items()
                if flags and flags.get("cache") is False:
                    found.setdefault(name, {})[path] = flags
    return found


def test_every_git_tracked_output_persists() -> None:
    outputs = _uncached_outputs()
    assert {"train", "evaluate", "tune_thresholds", "predict"} <= set(outputs), outputs
    for stage, paths in outputs.items():
        for path, flags in paths.items():
            if path != MARKER:
                assert flags.get("persist") is True, f"{stage}: {path} is not persist: true"


@pytest.mark.slow
def test_failed_train_stage_keeps_the_history(built_repo: Repo) -> None:
    """A backbone directory that passes the check (it has a config.json) but holds no weights
    nor tokenizer: train@baseline fails after DVC has removed its outputs."""
    root = built_repo.root
    status = built_repo.sh("git", "status", "--porcelain").stdout
    kept = ["metrics/baseline/history.csv"]
    before = {p: (root / p).read_bytes() for p in kept}
    broken = built_repo.home / "backbones" / "config-only"
    broken.mkdir(parents=True)
    shutil.copy(built_repo.backbone / "config.json", broken / "config.json")
    params = built_repo.params()
    params["baseline"]["backbone"] = str(broken)
    built_repo.write_params(params)
    try:
        proc = built_repo.sh("dvc", "repro", "train@baseline", check=False, timeout=300)
    finally:
        built_repo.sh("git", "checkout", "--", "params.yaml")
        shutil.rmtree(broken)
    log = proc.stdout + proc.stderr
    assert proc.returncode != 0, log
    assert stages_run(log) == {"check_params", "train@baseline"}, log
    assert {p: (root / p).read_bytes() for p in kept} == before, "the last good history is gone"
    # the cached outputs DVC removed come back from the cache; the check reruns, nothing else
    built_repo.sh("dvc", "checkout", "train@baseline")
    proc = built_repo.sh("dvc", "repro", timeout=300)
    assert stages_run(proc.stdout) == {"check_params"}, proc.stdout
    assert built_repo.sh("git", "status", "--porcelain").stdout == status
