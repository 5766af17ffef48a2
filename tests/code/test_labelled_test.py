"""Labelled test sets: preprocess keeps a checked ``label`` column in test.parquet, and
tune_thresholds scores every model's test predictions at 0.5 and at its tuned threshold
(metrics/<model>/test.json); without labels test.json says so and holds no figures."""

from __future__ import annotations

import json
import runpy
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from papercls.data.preprocess import run_preprocess
from papercls.data.schema import load_test
from papercls.errors import InputError
from papercls.evaluation.evaluate import run_tune_thresholds
from papercls.evaluation.labelled_test import labelled_test_figures, load_test_labels
from papercls.evaluation.metrics import classification_metrics

ROOT = Path(__file__).resolve().parents[2]
MODELS = ["tfidf", "topline"]
CFG = {"text_template": "{title} {sep} {abstract}", "valid_size": 0.25, "folds": 2, "seed": 1}
TRAIN = "uuid,title,author,abstract,label\n" + "".join(
    f"u{i},Title {i},A B,Abstract {i},{i % 2}\n" for i in range(12)
)


def _csv(tmp: Path, name: str, text: str) -> Path:
    path = tmp / name
    path.write_text(text, encoding="utf-8")
    return path


def _test_csv(labels: list[str] | None) -> str:
    head = "uuid,title,abstract" + (",label" if labels is not None else "") + "\n"
    rows = [
        f"t{i},Title {i},Abstract {i}" + (f",{labels[i]}" if labels is not None else "") + "\n"
        for i in range(len(labels) if labels is not None else 4)
    ]
    return head + "".join(rows)


# --- preprocess ------------------------------------------------------------------------------


def test_preprocess_keeps_test_labels(tmp_path):
    train = _csv(tmp_path, "train.csv", TRAIN)
    test = _csv(tmp_path, "test.csv", _test_csv(["1", "0", "1.0", " 0 "]))
    run_preprocess(train, test, tmp_path / "prepared", CFG)
    df = pd.read_parquet(tmp_path / "prepared" / "test.parquet")
    assert list(df.columns) == ["uuid", "text", "label"]
    assert df["label"].dtype == np.int64 and df["label"].tolist() == [1, 0, 1, 0]


def test_preprocess_without_test_labels_writes_no_label(tmp_path):
    train = _csv(tmp_path, "train.csv", TRAIN)
    for text in (_test_csv(None), _test_csv(["", "", "", ""])):  # no column; a blank column
        run_preprocess(train, _csv(tmp_path, "test.csv", text), tmp_path / "prepared", CFG)
        df = pd.read_parquet(tmp_path / "prepared" / "test.parquet")
        assert list(df.columns) == ["uuid", "text"]


@pytest.mark.parametrize(
    "labels,row,message",
    [(["0", "2", "1", "0"], 2, "label '2'"), (["0", "1", "", "1"], 3, "missing")],
)
def test_bad_test_label_is_named_and_nothing_written(tmp_path, labels, row, message):
    train = _csv(tmp_path, "train.csv", TRAIN)
    test = _csv(tmp_path, "test.csv", _test_csv(labels))
    with pytest.raises(InputError, match=message) as info:
        run_preprocess(train, test, tmp_path / "prepared", CFG)
    assert (info.value.path, info.value.row, info.value.column) == (str(test), row, "label")
    assert not (tmp_path / "prepared").exists()
    assert "label" not in load_test(test).columns  # plain loading (predict) ignores labels


def test_one_class_test_set_is_accepted(tmp_path):
    train = _csv(tmp_path, "train.csv", TRAIN)
    test = _csv(tmp_path, "test.csv", _test_csv(["0", "0", "0", "0"]))
    run_preprocess(train, test, tmp_path / "prepared", CFG)
    labels = load_test_labels(tmp_path / "prepared" / "test.parquet")
    assert labels["label"].tolist() == [0, 0, 0, 0]
    probs = pd.DataFrame({"uuid": ["t3", "t2", "t1", "t0"], "prob": [0.9, 0.1, 0.2, 0.6]})
    figures = labelled_test_figures(labels, probs, 0.7)
    assert figures["tuned"]["fp"] == 1 and figures["at_0.5"]["fp"] == 2
    assert figures["tuned"]["roc_auc"] is None  # undefined with one class, not invented


# --- tune_thresholds -------------------------------------------------------------------------


def _predictions(root: Path, labelled: bool, n_test: int = 200) -> None:
    rng = np.random.default_rng(4)
    y_test = rng.integers(0, 2, n_test)
    for k, name in enumerate(MODELS):
        d = root / "predictions" / name
        d.mkdir(parents=True, exist_ok=True)
        y = rng.integers(0, 2, 300)
        held = {
            "uuid": [f"h{i}" for i in range(300)],
            "label": y,
            "prob": 0.3 * y + 0.6 * rng.random(300),
        }
        pd.DataFrame(held).to_parquet(d / "heldout.parquet", index=False)
        order = rng.permutation(n_test) if k else np.arange(n_test)  # any row order
        prob = 0.25 * y_test + 0.7 * rng.random(n_test)
        test = {"uuid": [f"t{i}" for i in order], "prob": prob[order]}
        pd.DataFrame(test).to_parquet(d / "test.parquet", index=False)
    prepared = root / "data" / "prepared"
    prepared.mkdir(parents=True, exist_ok=True)
    frame = pd.DataFrame({"uuid": [f"t{i}" for i in range(n_test)], "text": "t"})
    if labelled:
        frame["label"] = y_test
    frame.to_parquet(prepared / "test.parquet", index=False)


def _tune(root: Path):
    params = {"method": "f1", "bootstrap": 50, "seed": 0}
    return run_tune_thresholds(
        MODELS,
        params,
        0.4,
        root / "predictions",
        root / "metrics",
        prepared_test=root / "data" / "prepared" / "test.parquet",
    )


def test_labelled_test_figures_at_half_and_tuned(tmp_path):
    _predictions(tmp_path, labelled=True)
    table = _tune(tmp_path)
    labels = pd.read_parquet(tmp_path / "data" / "prepared" / "test.parquet").set_index("uuid")
    for name in MODELS:
        written = json.loads((tmp_path / "metrics" / name / "test.json").read_text())
        test = pd.read_parquet(tmp_path / "predictions" / name / "test.parquet")
        y = labels.loc[test["uuid"], "label"].to_numpy()
        threshold = table[name]["threshold"]
        assert written["labelled"] is True and written == table.test[name]
        assert written["at_0.5"] == pytest.approx(classification_metrics(y, test["prob"], 0.5))
        assert written["tuned"] == pytest.approx(classification_metrics(y, test["prob"], threshold))
        assert written["tuned"]["threshold"] == threshold and written["at_0.5"]["threshold"] == 0.5
        assert written["tuned"]["n"] == 200
        logged = table.run_metrics()
        assert logged[f"{name}.test_f1"] == written["tuned"]["f1"]
        assert logged[f"{name}.test_f1_at_0.5"] == written["at_0.5"]["f1"]
    assert "test F1" in table.summary_lines()[0]


def test_unlabelled_test_set_writes_no_figures(tmp_path):
    _predictions(tmp_path, labelled=False)
    table = _tune(tmp_path)
    for name in MODELS:
        assert json.loads((tmp_path / "metrics" / name / "test.json").read_text()) == {
            "labelled": False
        }
        assert f"{name}.test_f1" not in table.run_metrics()
    assert "test F1" not in "\n".join(table.summary_lines())


def test_predictions_for_other_rows_are_an_error_and_nothing_is_written(tmp_path):
    _predictions(tmp_path, labelled=True)
    path = tmp_path / "predictions" / "topline" / "test.parquet"
    test = pd.read_parquet(path)
    test.loc[0, "uuid"] = "stale"
    test.to_parquet(path, index=False)
    with pytest.raises(ValueError) as info:
        _tune(tmp_path)
    msg = str(info.value)
    assert "topline" in msg and "test.parquet" in msg and "'stale'" in msg
    assert not (tmp_path / "metrics").exists()


def test_tune_thresholds_stage_writes_test_json(tmp_path, monkeypatch, capsys):
    _predictions(tmp_path, labelled=True)
    (tmp_path / "data" / "prepared" / "meta.json").write_text(
        json.dumps({"prior": 0.4, "template": "{title} {sep} {abstract}"})
    )
    params = {
        "evaluate": {"models": MODELS},
        "thresholds": {"method": "f1", "bootstrap": 20, "seed": 0},
        "tracking": {"experiment": "test"},
    }
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    monkeypatch.setenv("DVC_ROOT", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    rc = runpy.run_path(str(ROOT / "stages" / "tune_thresholds.py"))["main"]()
    out = capsys.readouterr()
    assert rc == 0, out.err
    assert json.loads((tmp_path / "metrics" / "topline" / "test.json").read_text())["labelled"]
    assert "test F1" in out.out
