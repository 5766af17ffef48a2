"""benchmarks/real_data_small.py without training: argument handling and the printed table."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _bench():
    spec = importlib.util.spec_from_file_location(
        "real_data_small", ROOT / "benchmarks" / "real_data_small.py"
    )
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_missing_data_is_a_clear_error(tmp_path, capsys):
    assert _bench().main(["--data", str(tmp_path / "nowhere")]) == 2
    assert "nowhere/train.csv not found" in capsys.readouterr().err


def test_table_rows_and_variants():
    bench = _bench()
    row = {"lr": 1e-4, "variant": "b", "seed": 42, "epochs": 4, "best_epoch": 3,
           "threshold": 0.4631, "f1_tuned": 0.8771, "f1_05": 0.879, "roc_auc": 0.98823,
           "pr_auc": 0.9391, "seconds": 61.2}  # fmt: skip
    lines = bench.table([row]).splitlines()
    assert len(lines) == 3 and lines[0].count("|") == lines[2].count("|")
    assert lines[2] == "| 0.0001 | b | 42 | 4 | 3 | 0.463 | 0.877 | 0.879 | 0.9882 | 0.9391 | 61 |"
    assert [v["select_metric"] for v in bench.VARIANTS.values()] == ["f1", "pr_auc", "pr_auc"]
    assert bench.VARIANTS["a old (1 epoch, f1)"]["min_steps"] == 0
