"""The log of real stage processes written to a pipe (as in `dvc repro > log`): labelled summary
lines with figures to 4 decimals, no progress bars, no report of the new head's missing weights,
and real warnings still shown.

train@baseline (tiny encoder), evaluate and tune_thresholds run as subprocesses in a minimal
workspace; a stale checkpoint left in models/baseline.ckpt makes the train stage raise the
project's own "starting afresh" UserWarning.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow

LONG_FLOAT = re.compile(r"\d\.\d{5,}")


def _workspace(root: Path, corpus: dict[str, pd.DataFrame], backbone: Path) -> Path:
    shutil.copy2(ROOT / "dvc.yaml", root / "dvc.yaml")  # marks the workspace root
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["baseline"].update(
        backbone=str(backbone), max_length=32, batch_size=16, epochs=1, min_steps=0
    )
    params["evaluate"]["models"] = ["baseline"]
    params["thresholds"]["bootstrap"] = 50
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    prepared = root / "data" / "prepared"
    prepared.mkdir(parents=True)
    for split, df in corpus.items():
        df.to_parquet(prepared / f"{split}.parquet", index=False)
    labelled = pd.concat([corpus["train"], corpus["valid"]])
    meta = {"n_train": len(corpus["train"]), "n_valid": len(corpus["valid"]),
            "n_test": len(corpus["test"]), "prior": float(labelled["label"].mean()),
            "sep": "[SEP]", "template": "{title} {sep} {abstract}"}  # fmt: skip
    (prepared / "meta.json").write_text(json.dumps(meta))
    stale = root / "models" / "baseline.ckpt" / "epoch-0001"
    stale.mkdir(parents=True)
    (stale / "state.json").write_text(json.dumps({"format": -1, "fingerprint": "stale"}))
    return root


@pytest.fixture(scope="module")
def logs(tmp_path_factory, tiny_corpus, tiny_bert_dir) -> dict[str, subprocess.CompletedProcess]:
    root = _workspace(tmp_path_factory.mktemp("stage_log"), tiny_corpus, tiny_bert_dir)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "DVC_", "HF_"))}
    out = {}
    for stage, args in (
        ("train", ["baseline"]),
        ("evaluate", []),
        ("tune_thresholds", []),
    ):
        proc = subprocess.run(
            [sys.executable, str(ROOT / "stages" / f"{stage}.py"), *args],
            cwd=root,
            env=env,
            capture_output=True,  # pipes: not a terminal; bytes, so that "\r" stays "\r"
            timeout=600,
        )
        proc.stdout, proc.stderr = proc.stdout.decode(), proc.stderr.decode()
        assert proc.returncode == 0, f"{stage}:\n{proc.stdout}\n{proc.stderr}"
        out[stage] = proc
    return out


def test_no_progress_bars_and_no_expected_load_report(logs):
    for stage, proc in logs.items():
        text = proc.stdout + proc.stderr
        assert "\r" not in text, stage
        assert "LOAD REPORT" not in text, stage
        for bar in ("Loading weights", "Writing model shards", "Downloading artifacts", "it/s]"):
            assert bar not in text, (stage, bar)
        assert "Creating initial MLflow database tables" not in text, stage


def test_summary_lines_are_labelled_with_four_decimals(logs):
    for stage, proc in logs.items():
        long = [line for line in proc.stdout.splitlines() if LONG_FLOAT.search(line)]
        assert not long, (stage, long)
    assert re.search(
        r"^baseline: best epoch 1, valid pr_auc \d\.\d{4}, ", logs["train"].stdout, re.M
    )
    assert re.search(
        r"^evaluate: baseline F1 \d\.\d{4}, ROC-AUC \d\.\d{4}, PR-AUC \d\.\d{4} "
        r"at threshold 0\.5000 \(24 held-out rows\)$",
        logs["evaluate"].stdout,
        re.M,
    )
    assert re.search(
        r"^tune_thresholds: baseline threshold (\d\.\d{4}), F1 \d\.\d{4} \(method f1; "
        r"best-F1 threshold \1, 95% CI \d\.\d{4}\.\.\d\.\d{4}\)$",
        logs["tune_thresholds"].stdout,
        re.M,
    )


def test_a_real_warning_is_still_printed(logs):
    err = logs["train"].stderr
    assert "UserWarning" in err
    assert "was made with other data/params/model; starting afresh" in err
