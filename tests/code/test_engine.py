"""The inference engine choice (papercls.inference.engine): resolution of ``auto``, ``papercls predict
--engine/--precision`` end to end on a tiny model, the ONNX export kept beside the model, the
train stage's ``inference`` params, and ``mixed_precision: auto`` in training."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import fit_briefly

from papercls import hardware
from papercls.inference import engine as eng
from papercls.inference.onnx import cache as onnx_cache
from papercls.inference.predict_cli import predict_main

XEON = "model name\t: Intel Xeon\nflags\t\t: avx2 avx512f avx512_bf16 amx_bf16 amx_int8\n"
EPYC = "model name\t: AMD EPYC\nflags\t\t: avx2 fma\n"
TOL = 1e-4
MAX_LENGTH = 64


@pytest.fixture()
def amx():
    return hardware.detect(XEON, torch_features=None)


@pytest.fixture()
def avx2():
    return hardware.detect(EPYC, torch_features=None)


# ----------------------------------------------------------------------------- resolution


def test_auto_picks_bf16_only_where_native(amx, avx2):
    assert eng.resolve_engine("torch", "auto", amx, "cpu") == eng.Engine("torch", "bf16", "auto")
    assert eng.resolve_engine("torch", "auto", avx2, "cpu") == eng.Engine("torch", "fp32", "auto")
    # ONNX Runtime has no bf16 CPU path for these graphs: auto stays exact
    assert eng.resolve_engine("onnx", "auto", amx, "cpu").precision == "fp32"
    # asked for explicitly: kept, native or not
    assert eng.resolve_engine("torch", "bf16", avx2, "cpu").precision == "bf16"
    assert eng.resolve_engine(" ONNX ", "Int8", amx, "cpu") == eng.Engine("onnx", "int8", "int8")
    assert eng.resolve_engine("torch", "auto", amx, "cpu").describe() == "torch bf16 (auto)"


def test_params_section_defaults_to_exact_torch(amx):
    assert eng.from_params(None, amx) == eng.Engine("torch", "fp32", "fp32")
    assert eng.from_params({"engine": "onnx"}, amx) == eng.Engine("onnx", "fp32", "fp32")


@pytest.mark.parametrize(
    "engine, precision, named",
    [
        ("tensorrt", "fp32", "engine must be one of torch, onnx; got 'tensorrt'"),
        ("torch", "fp16", "precision must be one of auto, fp32, bf16, int8; got 'fp16'"),
        ("onnx", "bf16", "precision bf16 is not available with engine onnx"),
        (None, "fp32", "engine must be one of"),
    ],
)
def test_bad_values_are_named(engine, precision, named, amx):
    with pytest.raises(ValueError, match=named):
        eng.resolve_engine(engine, precision, amx, "cpu")


def test_params_schema_follows_the_engine():
    from papercls.config import check as config_check

    assert config_check.ENGINES == eng.ENGINES and config_check.PRECISIONS == eng.PRECISIONS
    assert set(config_check.ONNX_PRECISIONS) == {"auto", *eng.ONNX_PRECISIONS}
    params = yaml_params()
    assert config_check.check_params(params) == []
    params["inference"] = {"engine": "onnx", "precision": "bf16"}
    assert config_check.check_params(params) == [
        ("inference.precision", "got 'bf16' with engine onnx; allowed: auto, fp32, int8")
    ]
    params["inference"] = {"engine": "gpu", "precison": "fp32"}
    keys = [key for key, _ in config_check.check_params(params)]
    assert keys == ["inference.precison", "inference.engine"]


def yaml_params() -> dict:
    import yaml

    return yaml.safe_load((Path(__file__).resolve().parents[2] / "params.yaml").read_text())


# ----------------------------------------------------------------------------- a tiny model


def _fit(model, tokenizer, train: pd.DataFrame, steps: int = 30) -> None:
    fit_briefly(model, tokenizer, train, MAX_LENGTH, steps)


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory, tiny_bert_dir, tiny_corpus) -> Path:
    """A tiny BERT classifier, briefly fitted, saved as the train stage saves one."""
    from transformers import AutoTokenizer, set_seed

    from papercls.models.fused_head import build_baseline

    set_seed(0)
    model = build_baseline(str(tiny_bert_dir))
    tokenizer = AutoTokenizer.from_pretrained(tiny_bert_dir)
    tokenizer.model_max_length = MAX_LENGTH
    with torch.random.fork_rng():
        _fit(model, tokenizer, tiny_corpus["train"])
    out = tmp_path_factory.mktemp("engine") / "model"
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


@pytest.fixture(scope="module")
def papers_csv(tmp_path_factory, tiny_corpus) -> Path:
    """A test-format CSV (uuid,title,abstract,Keywords) from the tiny corpus' texts."""
    rows = pd.concat([tiny_corpus["valid"], tiny_corpus["test"]], ignore_index=True)
    parts = rows["text"].str.split(r" \[SEP\] ", regex=True, expand=True)
    df = pd.DataFrame(
        {"uuid": rows["uuid"], "title": parts[0], "abstract": parts[2], "Keywords": parts[1]}
    )
    path = tmp_path_factory.mktemp("csv") / "papers.csv"
    df.to_csv(path, index=False)
    return path


def _predict(model: Path, csv: Path, out: Path, *extra: str) -> pd.DataFrame:
    args = ["--model-dir", str(model), "--input", str(csv), "--output", str(out), "--with-prob"]
    assert predict_main([*args, *extra]) == 0
    return pd.read_csv(out, dtype={"uuid": str})


def test_predict_onnx_matches_torch_end_to_end(tiny_model, papers_csv, tmp_path, capsys):
    ref = _predict(tiny_model, papers_csv, tmp_path / "torch.csv", "--precision", "fp32")
    assert "torch fp32" in capsys.readouterr().out
    assert 0.1 < ref["label"].mean() < 0.9  # both labels occur
    onnx_dir = tmp_path / "kept"
    got = _predict(
        tiny_model, papers_csv, tmp_path / "onnx.csv", "--engine", "onnx", "--onnx-dir",
        str(onnx_dir),
    )  # fmt: skip
    assert "onnx fp32" in capsys.readouterr().out
    assert got["uuid"].tolist() == ref["uuid"].tolist()
    assert got["label"].tolist() == ref["label"].tolist()
    assert np.abs(got["prob"] - ref["prob"]).max() < TOL
    assert (onnx_dir / "model.onnx").is_file() and (onnx_dir / onnx_cache.MARKER).is_file()
    assert not any(p.suffix == ".onnx" for p in tiny_model.rglob("*"))  # the model is untouched


def test_predict_onnx_int8_runs_and_keeps_the_export_beside_the_model(
    tiny_model, papers_csv, tmp_path
):
    ref = _predict(tiny_model, papers_csv, tmp_path / "torch.csv", "--precision", "fp32")
    got = _predict(tiny_model, papers_csv, tmp_path / "q.csv", "--engine", "onnx", "--int8")
    kept = onnx_cache.cache_dir(tiny_model)
    assert kept == tiny_model.with_name("model.onnx")
    assert (kept / "model.int8.onnx").is_file()
    assert got["prob"].between(0, 1).all() and np.abs(got["prob"] - ref["prob"]).max() > 0
    assert np.mean(got["label"] == ref["label"]) >= 0.9


def test_torch_precisions_run_and_stay_close(tiny_model, papers_csv, tmp_path):
    ref = _predict(tiny_model, papers_csv, tmp_path / "fp32.csv", "--precision", "fp32")
    for precision in ("bf16", "int8"):
        got = _predict(tiny_model, papers_csv, tmp_path / "x.csv", "--precision", precision)
        assert np.abs(got["prob"] - ref["prob"]).max() < 0.05, precision


@pytest.mark.parametrize(
    "args, option",
    [
        (["--engine", "tensorrt"], "--engine"),
        (["--precision", "fp16"], "--precision"),
        (["--int8", "--precision", "bf16"], "--precision"),
    ],
)
def test_bad_engine_options_exit_2_naming_the_option(args, option, tiny_model, papers_csv,
                                                      tmp_path, capsys):  # fmt: skip
    out = tmp_path / "out.csv"
    base = ["--model-dir", str(tiny_model), "--input", str(papers_csv), "--output", str(out)]
    with pytest.raises(SystemExit) as exc:
        predict_main([*base, *args])
    assert exc.value.code == 2 and option in capsys.readouterr().err
    assert not out.exists()


def test_onnx_with_bf16_exits_2_naming_both_options(tiny_model, papers_csv, tmp_path, capsys):
    out = tmp_path / "out.csv"
    base = ["--model-dir", str(tiny_model), "--input", str(papers_csv), "--output", str(out)]
    assert predict_main([*base, "--engine", "onnx", "--precision", "bf16"]) == 2
    err = capsys.readouterr().err
    assert "--engine onnx --precision bf16" in err and "not available" in err
    assert not out.exists()


# ----------------------------------------------------------------------------- the export


def test_export_is_made_once_and_again_when_the_model_changes(tiny_model, tmp_path, monkeypatch):
    import shutil

    model = tmp_path / "m"
    shutil.copytree(tiny_model, model)
    (leaf,) = onnx_cache.ensure_export(model)
    marker = json.loads((leaf / onnx_cache.MARKER).read_text())
    assert marker["source"] == onnx_cache.model_digest(model) and marker["int8"] is False
    calls = []
    real = onnx_cache.export_onnx
    monkeypatch.setattr(onnx_cache, "export_onnx", lambda *a, **k: calls.append(a) or real(*a, **k))
    onnx_cache.ensure_export(model)
    assert calls == []  # current: kept
    onnx_cache.ensure_export(model, int8=True)
    assert len(calls) == 1 and (leaf / "model.int8.onnx").is_file()
    onnx_cache.ensure_export(model)  # fp32 asked, int8 present: still current
    assert len(calls) == 1
    (model / "config.json").write_text((model / "config.json").read_text() + "\n")
    onnx_cache.ensure_export(model)
    assert len(calls) == 2  # the model changed: exported again


def test_kfold_export_layout_and_stale_folds_removed(tiny_model, tmp_path):
    import shutil

    model = tmp_path / "kf"
    for k in (0, 1):
        shutil.copytree(tiny_model, model / f"fold_{k}")
    onnx_dir = onnx_cache.cache_dir(model)
    (onnx_dir / "fold_7").mkdir(parents=True)  # from an earlier run with more folds
    (onnx_dir / "model.onnx").write_bytes(b"an earlier single-model export")
    leaves = onnx_cache.ensure_export(model)
    assert leaves == [onnx_dir / "fold_0", onnx_dir / "fold_1"]
    assert sorted(p.name for p in onnx_dir.iterdir()) == ["fold_0", "fold_1"]
    texts = ["patient clinical therapy", "galaxy quantum lattice", ""]
    onnx = eng.predict_dir(model, texts, eng.Engine("onnx"))
    ref = eng.predict_dir(model, texts, eng.Engine("torch"), device="cpu")
    assert np.abs(onnx - ref).max() < TOL


# ----------------------------------------------------------------------------- train stage


def test_train_stage_predicts_with_the_inference_engine(
    tmp_path, tiny_bert_dir, tiny_prepared_dir, tiny_train_params, restore_torch_threads
):
    from papercls.inference.engine import predict_dir
    from papercls.training.stage import run_training

    section = {**tiny_train_params, "backbone": str(tiny_bert_dir), "kfold": True, "epochs": 1,
               "threads": 1, "progress": False}  # fmt: skip
    dirs = {k: tmp_path / k for k in ("models", "predictions", "metrics")}
    summary = run_training(
        "baseline",
        section,
        prepared_dir=tiny_prepared_dir,
        models_dir=dirs["models"],
        predictions_dir=dirs["predictions"],
        metrics_dir=dirs["metrics"],
        inference={"engine": "onnx", "precision": "fp32"},
    )
    assert summary.completed
    kept = dirs["models"] / "baseline.onnx"
    folds = sorted(p.name for p in (dirs["models"] / "baseline").glob("fold_*"))
    assert sorted(p.name for p in kept.glob("fold_*")) == folds and len(folds) >= 2
    assert not list((dirs["models"] / "baseline").rglob("*.onnx"))
    test = pd.read_parquet(summary.test)
    texts = pd.read_parquet(tiny_prepared_dir / "test.parquet")["text"].tolist()
    ref = predict_dir(summary.model_dir, texts, device="cpu")
    assert np.abs(test["prob"].to_numpy() - ref).max() < TOL


# ----------------------------------------------------------------------------- training


@pytest.fixture()
def fresh_accelerate_state():
    """Accelerate keeps one mixed precision per process: leave none behind."""
    from accelerate.state import AcceleratorState

    yield
    AcceleratorState._reset_state(reset_partial_state=False)


@pytest.mark.parametrize("cpu, expected", [(XEON, "bf16"), (EPYC, "no")])
def test_mixed_precision_auto_follows_the_cpu(
    cpu, expected, monkeypatch, tiny_bert_dir, tiny_corpus, fresh_accelerate_state
):
    from transformers import AutoTokenizer

    from papercls.models.fused_head import build_baseline
    from papercls.training import setup as loop_setup
    from papercls.training.config import TrainConfig

    caps = hardware.detect(cpu, torch_features=None)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(hardware, "cpu_capabilities", lambda: caps)
    assert loop_setup.resolve_mixed_precision("auto") == expected
    for given in ("no", "bf16", "fp16"):
        assert loop_setup.resolve_mixed_precision(given) == given
    model = build_baseline(str(tiny_bert_dir))
    tokenizer = AutoTokenizer.from_pretrained(tiny_bert_dir)
    cfg = TrainConfig(max_length=32, batch_size=8, epochs=1, threads=1, progress=False)
    assert cfg.mixed_precision == "auto"
    train, valid = tiny_corpus["train"].head(16), tiny_corpus["valid"].head(8)
    parts = loop_setup.prepare_loop(model, tokenizer, train, valid, cfg)
    assert parts.accelerator.mixed_precision == expected


def test_bf16_training_runs_and_saves_fp32_weights(
    tmp_path, tiny_bert_dir, tiny_corpus, fresh_accelerate_state, restore_torch_threads
):
    from safetensors.torch import load_file
    from transformers import AutoTokenizer, set_seed

    from papercls.models.fused_head import build_baseline
    from papercls.training.config import TrainConfig
    from papercls.training.loop import train

    weights = {}
    for precision in ("no", "bf16", "no"):  # back to fp32 in the same process works too
        set_seed(0)
        model = build_baseline(str(tiny_bert_dir))
        tokenizer = AutoTokenizer.from_pretrained(tiny_bert_dir)
        cfg = TrainConfig(max_length=32, batch_size=8, epochs=1, threads=1, progress=False,
                          mixed_precision=precision)  # fmt: skip
        out = tmp_path / f"{precision}-{len(weights)}"
        result = train(model, tokenizer, tiny_corpus["train"], tiny_corpus["valid"], cfg, out)
        assert result.completed and np.isfinite(result.history[0]["train_loss"])
        weights[out.name] = load_file(str(out / "model.safetensors"))
    fp32, bf16, again = weights.values()
    assert {t.dtype for t in bf16.values()} == {torch.float32}  # autocast: fp32 master weights
    name = "classifier.weight"
    assert torch.equal(fp32[name], again[name])  # fp32 is exact and repeatable
    assert not torch.equal(fp32[name], bf16[name])  # bf16 did compute in bf16
    assert (fp32[name] - bf16[name]).abs().max() < 0.05
