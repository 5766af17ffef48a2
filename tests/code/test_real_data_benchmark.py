"""benchmarks/real_data.py: the params overrides, and a whole run (pipeline variant and Trainer
anchor) on a small labelled corpus with a tiny encoder, checked against figures recomputed
here from the prediction files it keeps."""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import f1_score, roc_auc_score

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def bench():
    sys.path.insert(0, str(ROOT))
    try:
        return importlib.import_module("benchmarks.real_data")
    finally:
        sys.path.remove(str(ROOT))


def test_overrides_are_yaml_values_set_in_a_copy(bench):
    base = {"baseline": {"lr": 1e-4, "kfold": False}, "ensemble": {"members": ["a"]}}
    out = bench.apply_overrides(
        base,
        [
            "baseline.lr=5.0e-5",
            "baseline.kfold=true",
            "ensemble.members=[tfidf, topline]",
            "data.train=/x/train.csv",
        ],
    )
    assert out["baseline"] == {"lr": 5e-5, "kfold": True}
    assert out["ensemble"]["members"] == ["tfidf", "topline"]
    assert out["data"]["train"] == "/x/train.csv"
    assert base["baseline"] == {"lr": 1e-4, "kfold": False}  # the input is left alone
    with pytest.raises(ValueError, match="section.key=value"):
        bench.apply_overrides(base, ["baseline.lr"])


def test_every_variant_names_known_params(bench):
    from papercls.config.check import check_params
    from papercls.config.params import load_params

    base = load_params(ROOT / "params.yaml")
    for name, overrides in bench.VARIANTS.items():
        params = bench.apply_overrides(base, bench.COMMON + overrides)
        assert check_params(params) == [], name


def test_missing_data_is_a_clear_error(bench, tmp_path, capsys):
    assert bench.main(["--data", str(tmp_path / "nowhere")]) == 2
    assert "nowhere/train.csv" in capsys.readouterr().err


def _small_mag(tmp_path: Path) -> Path:
    from papercls.synthetic.sample import generate

    data = tmp_path / "mag"
    data.mkdir()
    generate(120, seed=3, noise=0.0).to_csv(data / "train.csv", index=False)
    generate(60, seed=4, noise=0.0).to_csv(data / "eval.csv", index=False)
    return data


def test_a_run_reports_what_its_predictions_give(
    bench, tmp_path, tiny_bert_dir, restore_torch_threads
):
    data, out = _small_mag(tmp_path), tmp_path / "out"
    tiny = ["epochs=2", "lr=3.0e-3", "batch_size=8", "min_steps=0", "mixed_precision='no'"]
    sets = [f"{m}.{kv}" for m in ("baseline", "topline") for kv in tiny] + ["preprocess.folds=2"]
    argv = [
        "--data",
        str(data),
        "--out",
        str(out),
        "--backbone",
        str(tiny_bert_dir),
        "--variants",
        "kfold",
        "trainer",
    ] + [a for s in sets for a in ("-S", s)]
    assert bench.main(argv) == 0

    rows = json.loads((out / "results.json").read_text())
    assert [(r["variant"], r["model"]) for r in rows] == [
        ("kfold", "tfidf"),
        ("kfold", "baseline"),
        ("kfold", "topline"),
        ("kfold", "ensemble"),
        ("anchor", "trainer"),
    ]
    eval_y = pd.read_csv(data / "eval.csv").set_index("uuid")["label"]
    for r in rows[:4]:
        held = pd.read_parquet(out / "kfold" / f"{r['model']}_heldout.parquet")
        test = pd.read_parquet(out / "kfold" / f"{r['model']}_test.parquet")
        assert len(held) == 120  # k-fold: out-of-fold predictions of every labelled row
        y, p = eval_y.loc[test["uuid"]].to_numpy(), test["prob"].to_numpy()
        assert r["n"] == len(test) == 60
        assert r["f1_05"] == pytest.approx(f1_score(y, p >= 0.5, zero_division=0), abs=1e-6)
        assert r["f1_tuned"] == pytest.approx(
            f1_score(y, p >= r["threshold"], zero_division=0), abs=1e-6
        )
        assert r["roc_auc"] == pytest.approx(roc_auc_score(y, p), abs=1e-6)
        oracle = max(f1_score(y, p >= t, zero_division=0) for t in np.unique(p))
        assert r["f1_oracle"] == pytest.approx(oracle, abs=1e-6)
        assert r["f1_oracle"] >= max(r["f1_tuned"], r["f1_05"]) - 1e-9
    trainer = rows[4]
    assert trainer["f1_tuned"] is None and 0.0 <= trainer["f1_05"] <= trainer["f1_oracle"] <= 1.0
    table = (out / "results.md").read_text()
    assert "| anchor | trainer | — |" in table and table.count("| kfold |") == 4
