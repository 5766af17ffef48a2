"""Safety: weights are saved and loaded as safetensors only (no pickle), remote code is never
trusted, and no secret, credential or absolute home/repository path reaches the metrics files
or the params and tags logged to MLflow."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest
from reliability_support import ROOT, SECRETS, Repo, mlflow_runs

SCANNED = ("src", "stages")
PICKLE_MODULES = {"pickle", "cPickle", "_pickle", "cloudpickle", "dill", "joblib", "shelve"}
PICKLE_ATTRS = {"read_pickle", "to_pickle"}  # pandas
# Weights and tokenizers may only come as these; anything else in a model dir is suspicious.
MODEL_FILE_SUFFIXES = {".safetensors", ".json", ".txt", ".model", ".csv"}
FORBIDDEN_SUFFIXES = {".bin", ".pt", ".pth", ".pkl", ".pickle", ".joblib", ".ckpt", ".h5", ".npy"}


def _is_true(node: ast.AST | None) -> bool:
    return isinstance(node, ast.Constant) and node.value is True


def _kw(call: ast.Call, name: str) -> ast.keyword | None:
    return next((k for k in call.keywords if k.arg == name), None)


def unsafe_calls(source: str, filename: str = "<src>") -> list[str]:
    """Places in ``source`` that could unpickle or run remote code."""
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        where = f"{filename}:{getattr(node, 'lineno', '?')}"
        if isinstance(node, ast.Import):
            found += [
                f"{where} import {a.name}"
                for a in node.names
                if a.name.split(".")[0] in PICKLE_MODULES
            ]
        elif isinstance(node, ast.ImportFrom) and node.module:
            if node.module.split(".")[0] in PICKLE_MODULES:
                found.append(f"{where} from {node.module} import")
        elif isinstance(node, ast.Attribute) and node.attr in PICKLE_ATTRS:
            found.append(f"{where} .{node.attr}")
        elif isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            owner = getattr(func.value, "id", "") if isinstance(func, ast.Attribute) else ""
            if name == "load" and owner == "torch":
                kw = _kw(node, "weights_only")
                if kw is None or not _is_true(kw.value):
                    found.append(f"{where} torch.load without weights_only=True")
            for key in ("trust_remote_code", "allow_pickle"):
                kw = _kw(node, key)
                if kw is not None and not (
                    isinstance(kw.value, ast.Constant) and kw.value.value is False
                ):
                    found.append(f"{where} {key}={ast.unparse(kw.value)}")
            kw = _kw(node, "use_safetensors")
            if kw is not None and not _is_true(kw.value):
                found.append(f"{where} use_safetensors={ast.unparse(kw.value)}")
            if any(k.arg is None for k in node.keywords) and name == "from_pretrained":
                found.append(f"{where} from_pretrained(**kwargs): options cannot be checked")
        elif isinstance(node, ast.Dict):  # {"trust_remote_code": True} passed on as **kwargs
            for k, v in zip(node.keys, node.values, strict=True):
                if isinstance(k, ast.Constant) and k.value in ("trust_remote_code", "allow_pickle"):
                    if not (isinstance(v, ast.Constant) and v.value is False):
                        found.append(f"{where} {{{k.value!r}: {ast.unparse(v)}}}")
    return found


def test_scanner_finds_every_unsafe_pattern() -> None:
    bad = """
import pickle
import joblib as jl
from cloudpickle import dumps
import torch, pandas as pd
torch.load("a.pt")
torch.load("a.pt", weights_only=False)
AutoModel.from_pretrained("x", trust_remote_code=True)
np.load("a.npy", allow_pickle=True)
pd.read_pickle("a.pkl")
AutoModel.from_pretrained("x", use_safetensors=False)
AutoModel.from_pretrained("x", **{"trust_remote_code": True})
"""
    assert len(unsafe_calls(bad)) == 11, unsafe_calls(bad)
    good = """
torch.load(p, map_location="cpu", weights_only=True)
AutoModel.from_pretrained("x", use_safetensors=True, trust_remote_code=False)
s = "pickle is mentioned in a string; trust_remote_code=True in a comment"
"""
    assert unsafe_calls(good) == []


@pytest.mark.parametrize("folder", SCANNED)
def test_code_never_unpickles_or_trusts_remote_code(folder: str) -> None:
    files = sorted((ROOT / folder).rglob("*.py"))
    assert files
    found = []
    for f in files:
        found += unsafe_calls(f.read_text(encoding="utf-8"), str(f.relative_to(ROOT)))
    assert found == []


def test_load_classifier_refuses_pickled_weights(tmp_path: Path, tiny_bert_dir: Path) -> None:
    """A model directory that holds only a pickled pytorch_model.bin is not loaded."""
    import torch
    from transformers import AutoTokenizer, BertForSequenceClassification

    from papercls.inference.encoder import load_classifier

    model = BertForSequenceClassification.from_pretrained(tiny_bert_dir, num_labels=2)
    model.config.save_pretrained(tmp_path)
    AutoTokenizer.from_pretrained(tiny_bert_dir).save_pretrained(tmp_path)
    torch.save(model.state_dict(), tmp_path / "pytorch_model.bin")
    with pytest.raises(OSError, match="safetensors"):
        load_classifier(tmp_path, device="cpu")


# --------------------------------------------------------------------------- after training


@pytest.fixture(scope="module")
def repo(built_repo: Repo) -> Repo:
    return built_repo


def test_model_dirs_hold_safetensors_only(repo: Repo) -> None:
    models = repo.root / "models"
    names = sorted(p.name for p in models.iterdir() if not p.name.startswith(".gitignore"))
    assert names == ["baseline", "tfidf", "topline"], names  # no checkpoints or temp dirs left
    for name in names:
        files = [p for p in (models / name).rglob("*") if p.is_file()]
        bad = [str(p) for p in files if p.suffix in FORBIDDEN_SUFFIXES]
        assert bad == [], f"pickle-capable files in models/{name}: {bad}"
        unknown = [str(p) for p in files if p.suffix not in MODEL_FILE_SUFFIXES]
        assert unknown == [], unknown
        assert any(p.suffix == ".safetensors" for p in files), name
    for cfg in models.rglob("config.json"):
        config = json.loads(cfg.read_text())
        assert "auto_map" not in config, f"{cfg} refers to remote code"


def _leaks(text: str, repo: Repo) -> list[str]:
    needles = [*SECRETS, str(repo.home), str(repo.home.resolve()), str(repo.root)]
    return [n for n in needles if n in text]


def test_saved_models_hold_no_absolute_paths(repo: Repo) -> None:
    """Model folders are DVC-cached and logged to MLflow: no home or checkout path in them (it
    would leak, and tie the model's hash to where the repository was cloned). Regression:
    trainer_state.json held the absolute checkpoint_dir and the topline's config.json the
    backbone's absolute path."""
    files = [p for p in (repo.root / "models").rglob("*") if p.suffix in {".json", ".txt"}]
    assert len(files) >= 8
    for p in files:
        assert _leaks(p.read_text(errors="replace"), repo) == [], p


def test_no_secrets_or_absolute_paths_in_metrics_files(repo: Repo) -> None:
    files = [p for p in (repo.root / "metrics").rglob("*") if p.is_file()]
    files += [p for p in (repo.root / "plots").rglob("*") if p.is_file()]
    files += [repo.root / "submission.csv", repo.root / "predictions" / "submission_probs.csv"]
    assert len(files) > 10
    for p in files:
        assert _leaks(p.read_text(errors="replace"), repo) == [], p


def test_no_secrets_or_absolute_paths_in_mlflow_params_and_tags(repo: Repo) -> None:
    runs = mlflow_runs(repo.root)
    stages = {r.data.tags.get("dvc.stage") for r in runs}
    assert {"train_tfidf", "train@baseline", "train@topline", "evaluate"} <= stages
    for r in runs:
        logged = json.dumps([r.data.params, r.data.tags, r.info.run_name])
        assert _leaks(logged, repo) == [], (r.data.tags.get("dvc.stage"), _leaks(logged, repo))
        assert not [k for k in r.data.params if "token" in k.lower()], r.data.params
    baseline = next(r for r in runs if r.data.tags.get("dvc.stage") == "train@baseline")
    assert baseline.data.params["baseline.backbone"] == "~/backbones/tiny-bert"


PICKLE_MAGIC = {b"\x80\x02", b"\x80\x03", b"\x80\x04", b"\x80\x05"}  # protocol 2..5 streams


def test_mlflow_models_hold_no_pickles(repo: Repo) -> None:
    """Every model the stages logged (train@baseline, train@topline, tune_thresholds) is logged
    as code: no pickle file and no pickle stream in mlartifacts/, weights as safetensors."""
    import yaml

    mlmodels = sorted((repo.root / "mlartifacts").rglob("MLmodel"))
    assert len(mlmodels) >= 3, mlmodels
    for mlmodel in mlmodels:
        conf = yaml.safe_load(mlmodel.read_text())["flavors"]["python_function"]
        assert conf["loader_module"] == "mlflow.pyfunc.loaders.code_model", mlmodel
        assert "python_model" not in conf, mlmodel
        files = [p for p in mlmodel.parent.rglob("*") if p.is_file()]
        assert any(p.suffix == ".safetensors" for p in files), mlmodel
        bad = [p for p in files if p.suffix in FORBIDDEN_SUFFIXES]
        bad += [
            p for p in files if p.suffix != ".safetensors" and p.read_bytes()[:2] in PICKLE_MAGIC
        ]
        assert bad == [], bad
