"""The training loop: batching, config, checkpoints/resume, early stopping, k-fold, TF-IDF."""

from __future__ import annotations

import dataclasses
import importlib.util
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

pytestmark = pytest.mark.usefixtures("restore_torch_threads")

REPO = Path(__file__).resolve().parents[2]


def _cfg(**kw):
    from papercls.train_config import TrainConfig

    base = dict(
        max_length=48,
        batch_size=8,
        grad_accum=2,
        epochs=2,
        lr=2e-3,
        warmup_ratio=0.2,
        weight_decay=0.01,
        patience=0,
        seed=7,
        threads=1,
        select_best=False,
        progress=False,
    )
    base.update(kw)
    return TrainConfig(**base)


def _fresh_model(backbone_dir, seed=7):
    from transformers import AutoTokenizer, set_seed

    from papercls.models import build_baseline

    set_seed(seed)
    return build_baseline(str(backbone_dir)), AutoTokenizer.from_pretrained(backbone_dir)


def _weights(model_dir):
    from safetensors.torch import load_file

    return load_file(str(Path(model_dir) / "model.safetensors"))


# --------------------------------------------------------------------------------------------


def test_length_grouped_sampler_is_seeded_complete_and_grouped():
    from papercls.batching import LengthGroupedBatchSampler

    rng = np.random.default_rng(0)
    lengths = rng.integers(5, 200, size=203)
    s = LengthGroupedBatchSampler(lengths, batch_size=8, seed=3)
    assert len(s) == 26
    s.set_epoch(0)
    a = s.batches()
    assert s.batches() == a  # same (seed, epoch) -> same batches
    s.set_epoch(1)
    b = s.batches()
    assert b != a
    for batches in (a, b):
        flat = [i for batch in batches for i in batch]
        assert sorted(flat) == list(range(203))  # every row exactly once
        assert all(len(batch) == 8 for batch in batches[:-1]) and len(batches[-1]) == 3
    # grouping: the spread of lengths inside a batch is far below that of random batches
    spread = np.mean([np.ptp(lengths[batch]) for batch in a[:-1]])
    random_spread = np.mean([np.ptp(lengths[rng.permutation(203)[:8]]) for _ in range(50)])
    assert spread < 0.5 * random_spread
    assert LengthGroupedBatchSampler(lengths, 8, seed=4).batches() != a
    ordered = LengthGroupedBatchSampler(lengths, 50, shuffle=False).batches()
    assert [lengths[i] for i in ordered[0]] == sorted(lengths, reverse=True)[:50]


def test_train_config_from_params():
    from papercls.train_config import TrainConfig

    section = {
        "backbone": "minilm",
        "max_length": 128,
        "batch_size": 4,
        "grad_accum": 2,
        "epochs": 1,
        "lr": "3e-5",
        "warmup_ratio": 0.1,
        "weight_decay": 0.01,
        "patience": 1,
        "seed": 1,
        "threads": 2,
        "kfold": True,
        "head": {"hidden": 128},
    }
    cfg = TrainConfig.from_params(section, progress=False)
    assert (cfg.max_length, cfg.batch_size, cfg.grad_accum, cfg.lr) == (128, 4, 2, 3e-5)
    assert cfg.progress is False and cfg.max_grad_norm == 1.0
    with pytest.raises(ValueError, match="lerning_rate"):
        TrainConfig.from_params({"lerning_rate": 1.0})
    with pytest.raises(ValueError):
        TrainConfig(epochs=0)


def test_parameter_groups_exclude_bias_and_layernorm(tiny_bert_dir):
    from papercls.loop_setup import parameter_groups

    model, _ = _fresh_model(tiny_bert_dir)
    decay, no_decay = parameter_groups(model, 0.01)
    names = {id(p): n for n, p in model.named_parameters()}
    assert decay["weight_decay"] == 0.01 and no_decay["weight_decay"] == 0.0
    assert all("bias" not in names[id(p)] and "LayerNorm" not in names[id(p)]
               for p in decay["params"])  # fmt: skip
    assert any("LayerNorm.weight" in names[id(p)] for p in no_decay["params"])
    assert len(decay["params"]) + len(no_decay["params"]) == len(names)


@pytest.mark.parametrize("interruption", ["max_epochs_this_run", "callback_raises"])
def test_resume_after_interruption_gives_identical_weights(
    interruption, tiny_bert_dir, tiny_corpus, tmp_path
):
    from papercls.checkpoint import latest_checkpoint
    from papercls.training import train

    train_df, valid_df = tiny_corpus["train"], tiny_corpus["valid"]
    # uninterrupted: 2 epochs
    model, tok = _fresh_model(tiny_bert_dir)
    full = train(model, tok, train_df, valid_df, _cfg(), tmp_path / "a" / "m")
    assert full.completed and full.resumed_from_epoch == 0 and len(full.history) == 2
    assert not (tmp_path / "a" / "m.ckpt").exists()  # removed after success

    # 1 epoch, then an interruption
    model, tok = _fresh_model(tiny_bert_dir)
    out = tmp_path / "b" / "m"
    ckpt = tmp_path / "b" / "m.ckpt"
    if interruption == "max_epochs_this_run":
        part = train(model, tok, train_df, valid_df, _cfg(max_epochs_this_run=1), out)
        assert not part.completed and part.epochs_run == 1 and part.model_dir is None
    else:

        def boom(epoch, metrics):
            assert set(metrics) >= {"train_loss", "valid_loss", "valid_f1"}
            raise KeyboardInterrupt

        with pytest.raises(KeyboardInterrupt):
            train(model, tok, train_df, valid_df, _cfg(), out, on_epoch_end=boom)
    assert not out.exists()
    assert latest_checkpoint(ckpt).name == "epoch-0001"
    assert sorted(p.name for p in latest_checkpoint(ckpt).iterdir()) == [
        "model.safetensors",
        "optimizer.pt",
        "scheduler.pt",
        "state.json",
    ]
    # leftovers of a write killed half-way are ignored (and cleaned up)
    (ckpt / ".epoch-0002.tmp-999").mkdir()
    (ckpt / ".epoch-0002.tmp-999" / "model.safetensors").write_bytes(b"partial")
    (ckpt / "epoch-0002").mkdir()  # no state.json: incomplete

    # rerun: a fresh process would build the same model, then resume
    model, tok = _fresh_model(tiny_bert_dir)
    seen = []
    resumed = train(
        model, tok, train_df, valid_df, _cfg(), out, on_epoch_end=lambda e, m: seen.append(e)
    )
    assert resumed.completed and resumed.resumed_from_epoch == 1 and resumed.epochs_run == 1
    assert seen == [2]
    assert resumed.history == full.history
    a, b = _weights(tmp_path / "a" / "m"), _weights(out)
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    assert not ckpt.exists()


def test_changed_params_discard_stale_checkpoint(tiny_bert_dir, tiny_corpus, tmp_path):
    from papercls.training import train

    train_df, valid_df = tiny_corpus["train"], tiny_corpus["valid"]
    model, tok = _fresh_model(tiny_bert_dir)
    out = tmp_path / "m"
    train(model, tok, train_df, valid_df, _cfg(max_epochs_this_run=1), out)
    assert (tmp_path / "m.ckpt" / "epoch-0001" / "state.json").exists()
    model, tok = _fresh_model(tiny_bert_dir)
    with pytest.warns(UserWarning, match="starting afresh"):
        res = train(model, tok, train_df, valid_df, _cfg(lr=1e-3), out)
    assert res.resumed_from_epoch == 0 and res.epochs_run == 2


def test_early_stopping_keeps_best_epoch_weights(tiny_bert_dir, tiny_corpus, tmp_path, monkeypatch):
    import papercls.training as tr

    scripted = iter([0.5, 0.9, 0.7, 0.6, 0.95])
    real_evaluate = tr._evaluate

    def fake_evaluate(model, loader, accelerator):
        loss, _, probs, y = real_evaluate(model, loader, accelerator)
        return loss, next(scripted), probs, y

    monkeypatch.setattr(tr, "_evaluate", fake_evaluate)
    model, tok = _fresh_model(tiny_bert_dir)
    snapshots = {}

    def snap(epoch, metrics):
        snapshots[epoch] = {k: v.clone() for k, v in model.state_dict().items()}

    cfg = _cfg(epochs=5, patience=2, select_best=True, grad_accum=1)
    res = tr.train(model, tok, tiny_corpus["train"], tiny_corpus["valid"], cfg, tmp_path / "m",
                   on_epoch_end=snap)  # fmt: skip
    assert [h["valid_f1"] for h in res.history] == [0.5, 0.9, 0.7, 0.6]
    assert res.stopped_early and res.best_epoch == 2 and res.best_valid_f1 == 0.9
    saved = _weights(tmp_path / "m")
    for k, v in saved.items():
        assert torch.equal(v, snapshots[2][k]), k
    assert not all(torch.equal(v, snapshots[4][k]) for k, v in saved.items())
    state = json.loads((tmp_path / "m" / "trainer_state.json").read_text())
    assert state["best_epoch"] == 2 and len(state["history"]) == 4


def test_tfidf_save_load_reproduces_predictions(tiny_corpus, tmp_path):
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import f1_score

    from papercls.tfidf import TfidfClassifier

    train_df, valid_df = tiny_corpus["train"], tiny_corpus["valid"]
    clf = TfidfClassifier.from_params({"max_features": 500, "ngram_max": 2, "C": 4.0, "seed": 42})
    clf.fit(train_df["text"].tolist(), train_df["label"].to_numpy())
    texts = valid_df["text"].tolist() + ["", "unseen words only"]
    before = clf.predict_proba(texts)
    clf.save(tmp_path / "tfidf")
    files = sorted(p.name for p in (tmp_path / "tfidf").iterdir())
    assert files == ["tfidf.json", "tfidf.safetensors"]
    again = TfidfClassifier.load(tmp_path / "tfidf")
    after = again.predict_proba(texts)
    assert after.dtype == np.float64 and np.array_equal(before, after)
    assert "sep" not in again.vocabulary  # the template separator is not a feature
    assert len(again.vocabulary) <= 500
    # same numbers as the plain scikit-learn pipeline
    vec = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, max_features=500)
    x = vec.fit_transform([t.replace("[SEP]", " ") for t in train_df["text"].tolist()])
    lr = LogisticRegression(C=4.0, random_state=42, max_iter=2000).fit(x, train_df["label"])
    ref = lr.predict_proba(vec.transform([t.replace("[SEP]", " ") for t in texts]))[:, 1]
    np.testing.assert_allclose(after, ref, rtol=1e-6, atol=1e-9)
    assert f1_score(valid_df["label"], before[: len(valid_df)] >= 0.5) > 0.9


def test_kfold_out_of_fold_predictions_and_test_mean(
    tiny_bert_dir, tiny_prepared_dir, tmp_path, tiny_train_params
):
    from papercls.inference import load_classifier, predict_dir_proba, predict_proba
    from papercls.train_stage import run_training

    params = {**tiny_train_params, "backbone": str(tiny_bert_dir), "kfold": True, "epochs": 1,
              "threads": 1}  # fmt: skip
    seen = []
    summary = run_training(
        "baseline",
        params,
        tiny_prepared_dir,
        tmp_path / "models",
        tmp_path / "predictions",
        tmp_path / "metrics",
        on_epoch_end=lambda e, m: seen.append(sorted(m)),
        progress=False,
    )
    assert summary.completed and [f.fold for f in summary.folds] == [0, 1, 2, 3]
    assert any("fold_3/valid_f1" in keys for keys in seen)
    train = pd.read_parquet(tiny_prepared_dir / "train.parquet")
    test = pd.read_parquet(tiny_prepared_dir / "test.parquet")
    heldout = pd.read_parquet(tmp_path / "predictions" / "baseline" / "heldout.parquet")
    assert list(heldout.columns) == ["uuid", "label", "prob"]
    assert heldout["uuid"].tolist() == train["uuid"].tolist()  # every train row, out of fold
    assert heldout["label"].tolist() == train["label"].tolist()
    assert heldout["prob"].between(0, 1).all() and heldout["prob"].notna().all()
    fold_dirs = sorted(p.name for p in (tmp_path / "models" / "baseline").iterdir())
    assert fold_dirs == ["fold_0", "fold_1", "fold_2", "fold_3"]
    # OOF: the rows of fold k are scored by the model that did not train on them
    in_fold = train["fold"].to_numpy() == 2
    m, t = load_classifier(tmp_path / "models" / "baseline" / "fold_2")
    np.testing.assert_allclose(
        heldout["prob"].to_numpy()[in_fold],
        predict_proba(m, t, train.loc[in_fold, "text"].tolist(), None),
        atol=1e-7,
    )
    pred = pd.read_parquet(tmp_path / "predictions" / "baseline" / "test.parquet")
    assert list(pred.columns) == ["uuid", "prob"] and pred["uuid"].tolist() == test["uuid"].tolist()
    folds = [
        predict_proba(*load_classifier(tmp_path / "models" / "baseline" / f"fold_{k}"),
                      test["text"].tolist(), None)
        for k in range(4)
    ]  # fmt: skip
    np.testing.assert_allclose(pred["prob"].to_numpy(), np.mean(folds, axis=0), atol=1e-7)
    np.testing.assert_allclose(
        predict_dir_proba(tmp_path / "models" / "baseline", test["text"].tolist()),
        pred["prob"].to_numpy(),
        atol=1e-7,
    )
    hist = pd.read_csv(tmp_path / "metrics" / "baseline" / "history.csv")
    assert list(hist.columns) == ["fold", "epoch", "train_loss", "valid_loss", "valid_f1"]
    assert sorted(hist["fold"].unique().tolist()) == [0, 1, 2, 3]
    assert not (tmp_path / "models" / "baseline.ckpt").exists()


def test_write_history(tmp_path):
    from papercls.training import write_history

    rows = [{"epoch": 1, "train_loss": 0.7, "valid_loss": 0.6, "valid_f1": 0.5}]
    path = write_history(rows, tmp_path / "m" / "history.csv")
    assert pd.read_csv(path).to_dict("records") == rows


def test_outputs_get_ordinary_permissions(tmp_path):
    """Atomic writes go through temp files that mkstemp/mkdtemp create private (0600/0700);
    the history CSV and the model and checkpoint folders end up with ordinary permissions."""
    import stat

    from papercls.io import atomic_dir
    from papercls.training import write_history

    rows = [{"epoch": 1, "train_loss": 0.7, "valid_loss": 0.6, "valid_f1": 0.5}]
    path = write_history(rows, tmp_path / "history.csv")
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    with atomic_dir(tmp_path / "model") as tmp:
        (tmp / "config.json").write_text("{}")
    assert stat.S_IMODE((tmp_path / "model").stat().st_mode) == 0o755
    assert sorted(p.name for p in tmp_path.iterdir()) == ["history.csv", "model"]


def _load_script(name):
    spec = importlib.util.spec_from_file_location(f"stage_{name}", REPO / "stages" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_stage_scripts_reject_bad_arguments(capsys):
    assert _load_script("train").main([]) == 2
    assert _load_script("train").main(["tfidf"]) == 2
    assert _load_script("train_tfidf").main(["extra"]) == 2
    assert "usage" in capsys.readouterr().err


def test_train_config_fields_are_documented_defaults():
    from papercls.train_config import TrainConfig

    names = {f.name for f in dataclasses.fields(TrainConfig)}
    params = (REPO / "params.yaml").read_text()
    import yaml

    for section in ("baseline", "topline"):
        keys = set(yaml.safe_load(params)[section]) - {"backbone", "kfold", "head"}
        assert keys <= names, keys - names
