"""ONNX export and ONNX Runtime inference agree with the torch path (tiny models)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from conftest import fit_briefly

from papercls.inference import encoder as inference
from papercls.inference.onnx import export as onnx_export
from papercls.inference.onnx import quantize as onnx_quantize
from papercls.inference.onnx import runtime as onnx_inference
from papercls.models.fused_head import build_baseline, build_topline

TOL = 1e-4
MAX_LENGTH = 64
THREADS = 1  # tiny graphs: one thread is fastest, and immune to other work on the machine


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(THREADS)
    yield
    torch.set_num_threads(before)


def _fit(model, tokenizer, corpus: dict, steps: int = 30) -> None:
    fit_briefly(model, tokenizer, corpus["train"], MAX_LENGTH, steps)


def _save(model, backbone: Path, out: Path, corpus: dict) -> Path:
    """Save as the train stage does: weights + tokenizer carrying the training max_length."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(backbone)
    tokenizer.model_max_length = MAX_LENGTH
    _fit(model, tokenizer, corpus)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


@pytest.fixture(scope="module")
def saved(
    tmp_path_factory, tiny_corpus, tiny_bert_dir, tiny_roberta_dir, tiny_distilbert_dir
) -> dict:
    """name -> saved model directory (baselines, fused heads, and a 2-fold directory)."""
    root = tmp_path_factory.mktemp("saved_models")
    torch.manual_seed(0)
    builds = {
        "bert": (build_baseline, tiny_bert_dir),
        "roberta": (build_baseline, tiny_roberta_dir),
        "fused_bert": (build_topline, tiny_bert_dir),
        "fused_roberta": (build_topline, tiny_roberta_dir),
        "fused_distilbert": (build_topline, tiny_distilbert_dir),  # no pooler/token_type_ids
        "kfold/fold_0": (build_topline, tiny_bert_dir),
        "kfold/fold_1": (build_topline, tiny_bert_dir),
    }
    out = {}
    for name, (build, backbone) in builds.items():
        out[name] = _save(build(str(backbone)), backbone, root / name, tiny_corpus)
    out["kfold"] = root / "kfold"
    return out


@pytest.fixture(scope="module")
def exported(saved, tmp_path_factory) -> dict:
    """name -> export directory (fp32 + int8)."""
    root = tmp_path_factory.mktemp("onnx")
    return {name: _export(d, root / name) for name, d in saved.items() if "/" not in name}


def _export(model_dir: Path, out_dir: Path) -> Path:
    onnx_export.export_onnx(model_dir, out_dir, int8=True)
    return out_dir


@pytest.fixture(scope="module")
def texts(tiny_corpus) -> list[str]:
    """Rows of many lengths: short, empty, and one longer than MAX_LENGTH (truncated)."""
    rows = tiny_corpus["valid"]["text"].tolist() + tiny_corpus["test"]["text"].tolist()
    return rows + ["", "patient", " ".join(rows[:6])]


def _torch(model_dir: Path, texts: list[str], batch_size: int) -> np.ndarray:
    return inference.predict_dir_proba(model_dir, texts, batch_size=batch_size, device="cpu")


MODELS = ["bert", "roberta", "fused_bert", "fused_roberta", "fused_distilbert", "kfold"]


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("batch_size", [1, 5, 64])
def test_fp32_matches_torch(name, batch_size, saved, exported, texts):
    ref = _torch(saved[name], texts, batch_size)
    got = onnx_inference.predict_dir_proba_onnx(
        exported[name], texts, batch_size=batch_size, threads=THREADS
    )
    assert got.shape == ref.shape == (len(texts),) and got.dtype == np.float64
    assert np.abs(got - ref).max() < TOL
    assert 0.05 < np.mean(ref >= 0.5) < 0.95  # the spread heads make both labels occur


@pytest.mark.parametrize(
    "name, inputs",
    [
        ("bert", ["input_ids", "token_type_ids", "attention_mask"]),
        ("roberta", ["input_ids", "attention_mask"]),
        # the fused head takes token_type_ids but DistilBERT ignores them: the graph drops them
        ("fused_distilbert", ["input_ids", "attention_mask"]),
    ],
)
def test_graph_inputs_and_dynamic_axes(name, inputs, exported):
    graph = onnx.load(str(exported[name] / onnx_export.MODEL_FILE))
    assert [i.name for i in graph.graph.input] == inputs
    for i in graph.graph.input:
        dims = [d.dim_param for d in i.type.tensor_type.shape.dim]
        assert dims == ["batch", "sequence"]
        assert i.type.tensor_type.elem_type == onnx.TensorProto.INT64
    assert [o.name for o in graph.graph.output] == [onnx_export.OUTPUT_NAME]
    out_dims = graph.graph.output[0].type.tensor_type.shape.dim
    assert out_dims[0].dim_param == "batch" and out_dims[1].dim_value == 2


def test_kfold_export_layout_and_fold_mean(saved, exported, texts):
    paths = onnx_inference.onnx_model_paths(exported["kfold"])
    assert [p.relative_to(exported["kfold"]).as_posix() for p in paths] == [
        "fold_0/model.onnx",
        "fold_1/model.onnx",
    ]
    tokenizer = inference.load_classifier(saved["kfold"] / "fold_0", device="cpu")[1]
    each = [
        onnx_inference.predict_proba_onnx(p, tokenizer, texts, None, 8, threads=THREADS)
        for p in paths
    ]
    mean = onnx_inference.predict_proba_onnx(paths, tokenizer, texts, None, 8, threads=THREADS)
    assert np.abs(each[0] - each[1]).max() > 0.01  # the folds differ, so averaging matters
    np.testing.assert_allclose(mean, (each[0] + each[1]) / 2, rtol=0, atol=1e-12)


@pytest.mark.parametrize("name", ["bert", "roberta", "fused_bert", "kfold"])
def test_int8_runs_close_to_torch(name, saved, exported, texts):
    ref = _torch(saved[name], texts, 16)
    got = onnx_inference.predict_dir_proba_onnx(
        exported[name], texts, batch_size=16, variant="int8", threads=THREADS
    )
    assert np.isfinite(got).all() and ((got >= 0) & (got <= 1)).all()
    assert np.mean((got >= 0.5) == (ref >= 0.5)) >= 0.95
    err = np.abs(got - ref)
    assert np.median(err) < 1e-2 and err.mean() < 2e-2
    assert np.abs(got - ref).max() > 0  # it is a different computation, not the fp32 graph


def test_int8_graph_is_fused_and_quantised_per_channel(exported):
    graph = onnx.load(str(exported["bert"] / onnx_export.INT8_FILE))
    ops = {n.op_type for n in graph.graph.node}
    assert {"QAttention", "SkipLayerNormalization", "DynamicQuantizeLinear"} <= ops
    scales = [t for t in graph.graph.initializer if t.name.endswith("_scale")]
    # per output channel: weight scales are vectors, one value per output feature
    assert any(len(t.dims) == 1 and t.dims[0] > 1 for t in scales)
    props = {p.key: p.value for p in graph.metadata_props}
    assert props[onnx_export.META_HEADS] == "2" and props[onnx_export.META_HIDDEN] == "32"


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_reexport_is_byte_identical(saved, exported, tmp_path):
    again = _export(saved["fused_bert"], tmp_path / "again")
    for name in (onnx_export.MODEL_FILE, onnx_export.INT8_FILE):
        assert _digest(again / name) == _digest(exported["fused_bert"] / name)


def _listing(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*"))


def test_failed_export_leaves_old_export_and_no_partial_files(saved, tmp_path, monkeypatch):
    out = tmp_path / "exports" / "model"
    _export(saved["kfold"], out)
    before = {p: _digest(out / p) for p in _listing(out) if (out / p).is_file()}
    real = onnx_export.export_model
    calls = []

    def fail_on_second_fold(model, tokenizer, out_path):
        calls.append(out_path)
        real(model, tokenizer, out_path)  # a complete file is written, then the fold fails
        if len(calls) == 2:
            raise RuntimeError("export failed")

    monkeypatch.setattr(onnx_export, "export_model", fail_on_second_fold)
    with pytest.raises(RuntimeError, match="export failed"):
        onnx_export.export_onnx(saved["kfold"], out)
    assert len(calls) == 2
    assert {p: _digest(out / p) for p in _listing(out) if (out / p).is_file()} == before
    assert [p.name for p in (tmp_path / "exports").iterdir()] == ["model"]  # no temp dirs


def test_failed_first_export_writes_nothing(saved, tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        Path(args[2]).write_bytes(b"half a graph")
        raise RuntimeError("tracing failed")

    monkeypatch.setattr(torch.onnx, "export", broken)
    with pytest.raises(RuntimeError, match="tracing failed"):
        onnx_export.export_onnx(saved["bert"], tmp_path / "out")
    assert list(tmp_path.iterdir()) == []


def test_failed_quantisation_leaves_no_file(exported, tmp_path, monkeypatch):
    import onnxruntime.quantization as q

    src = tmp_path / onnx_export.MODEL_FILE
    src.write_bytes((exported["bert"] / onnx_export.MODEL_FILE).read_bytes())

    def broken(model_input, model_output, **kwargs):
        Path(model_output).write_bytes(b"partial")
        raise RuntimeError("quantisation failed")

    monkeypatch.setattr(q, "quantize_dynamic", broken)
    with pytest.raises(RuntimeError, match="quantisation failed"):
        onnx_quantize.quantize_int8(src)
    assert [p.name for p in tmp_path.iterdir()] == [onnx_export.MODEL_FILE]


def test_missing_inputs_are_named(tmp_path, exported):
    with pytest.raises(FileNotFoundError, match=str(tmp_path)):
        onnx_inference.onnx_model_paths(tmp_path)
    with pytest.raises(ValueError, match="variant"):
        onnx_inference.onnx_model_paths(exported["bert"], variant="fp16")
    with pytest.raises(FileNotFoundError, match="nope.onnx"):
        onnx_quantize.quantize_int8(tmp_path / "nope.onnx")
    with pytest.raises(FileNotFoundError, match="no saved model"):
        onnx_export.export_onnx(tmp_path, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_no_texts_gives_empty_array(exported):
    got = onnx_inference.predict_dir_proba_onnx(exported["bert"], [], threads=THREADS)
    assert got.shape == (0,) and got.dtype == np.float64
