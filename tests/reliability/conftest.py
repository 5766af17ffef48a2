"""Fixtures of the reliability suite (helpers: reliability_support.py).

``built_repo`` (session scope) is the one pipeline run that the interruption, determinism,
safety and tracking-failure modules share (each stage costs seconds of imports alone, so the
suite runs as few as possible):

1. the tiny config in a temporary repository, with a baseline that trains for 10 short epochs
   without early stopping; ``dvc repro preprocess``;
2. ``dvc repro train@baseline``, killed with SIGTERM to its process group as soon as the first
   epoch checkpoint exists; what is on disk and in mlflow.db right then is recorded in
   ``repo.notes["kill"]`` (test_interruption.py checks it);
3. a plain ``dvc repro`` (the baseline resumes from its checkpoint), committed to git.
"""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import pytest
import yaml
from reliability_support import (
    BASELINE_EPOCHS,
    KILLED_STAGE,
    Repo,
    build_repo,
    interrupt,
    mlflow_runs,
)


def _observe_kill(repo: Repo, rc: int, log: str) -> dict[str, Any]:
    import torch

    from papercls.training.checkpoint import latest_checkpoint

    root = repo.root
    ckpt = latest_checkpoint(root / "models" / "baseline.ckpt")
    weights_only_ok = {}
    if ckpt is not None:
        for p in sorted(ckpt.iterdir()):
            if p.suffix == ".pt":
                try:
                    torch.load(p, map_location="cpu", weights_only=True)
                    weights_only_ok[p.name] = True
                except Exception as e:  # recorded, asserted on in the test
                    weights_only_ok[p.name] = f"{type(e).__name__}: {e}"
    lock = yaml.safe_load((root / "dvc.lock").read_text())
    return {
        "rc": rc,
        "log": log,
        "models": sorted(p.name for p in (root / "models").iterdir()),
        "baseline_predictions": (root / "predictions" / "baseline").exists(),
        "locked_stages": sorted(lock["stages"]),
        "checkpoint": str(ckpt) if ckpt else None,
        "checkpoint_files": sorted(p.name for p in ckpt.iterdir()) if ckpt else [],
        "weights_only": weights_only_ok,
        "runs": [(r.data.tags.get("dvc.stage"), r.info.status) for r in mlflow_runs(root)],
    }


@pytest.fixture(scope="session")
def built_repo(tmp_path_factory, tiny_bert_dir) -> Repo:
    """The whole pipeline on the tiny config, after an interrupted baseline (module doc)."""
    from papercls.training.checkpoint import latest_checkpoint

    repo = build_repo(
        tmp_path_factory.mktemp("reliability"),
        tiny_bert_dir,
        baseline={
            "epochs": BASELINE_EPOCHS,
            "patience": 0,
            "max_length": 64,
            "batch_size": 8,
            "threads": 1,
        },
        topline={"threads": 1},
    )
    repo.sh("dvc", "repro", "preprocess")
    ckpt_root = repo.root / "models" / "baseline.ckpt"
    rc, log = interrupt(
        repo,
        KILLED_STAGE,
        signal.SIGTERM,
        ready=lambda: latest_checkpoint(ckpt_root) is not None,
        log_path=Path(repo.root.parent / "killed.log"),
    )
    repo.notes["kill"] = _observe_kill(repo, rc, log)
    proc = repo.sh("dvc", "repro")
    repo.notes["repro_log"] = proc.stdout + proc.stderr
    repo.sh("git", "add", "-A")
    repo.sh("git", "commit", "-qm", "first run")
    return repo
