"""The training loop: batching, config, checkpoints/resume, early stopping, k-fold, TF-IDF."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.metrics import average_precision_score

from papercls.training.selection import VALID_COLUMNS

pytestmark = pytest.mark.usefixtures("restore_torch_threads")

REPO = Path(__file__).resolve().parents[2]


def _cfg(**kw):
    from papercls.training.config import TrainConfig

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

    from papercls.models.fused_head import build_baseline

    set_seed(seed)
    return build_baseline(str(backbone_dir)), AutoTokenizer.from_pretrained(backbone_dir)


def _weights(model_dir):
    from safetensors.torch import load_file

    return load_file(str(Path(model_dir) / "model.safetensors"))


# --------------------------------------------------------------------------------------------


def test_length_grouped_sampler_is_seeded_complete_and_grouped():
    from papercls.training.batching import LengthGroupedBatchSampler

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
    from papercls.training.config import TrainConfig

    section = {
        "backbone": "minilm",
        "max_length": 128,
        "batch_size": 4,
        "grad_accum": 2,
        "epochs": 1,
        "lr": 3e-5,
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
    with pytest.raises(ValueError, match="lr"):  # a string is not a number (YAML reads 3e-5 so)
        TrainConfig.from_params({"lr": "3e-5"})
    with pytest.raises(ValueError, match="hiden"):  # the model keys are checked too
        TrainConfig.from_params({"head": {"hiden": 8}})


def test_parameter_groups_exclude_bias_and_layernorm(tiny_bert_dir):
    from papercls.training.setup import parameter_groups

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
    from papercls.training.checkpoint import latest_checkpoint
    from papercls.training.loop import train

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
    from papercls.training.loop import train

    train_df, valid_df = tiny_corpus["train"], tiny_corpus["valid"]
    model, tok = _fresh_model(tiny_bert_dir)
    out = tmp_path / "m"
    train(model, tok, train_df, valid_df, _cfg(max_epochs_this_run=1), out)
    assert (tmp_path / "m.ckpt" / "epoch-0001" / "state.json").exists()
    model, tok = _fresh_model(tiny_bert_dir)
    with pytest.warns(UserWarning, match="starting afresh"):
        res = train(model, tok, train_df, valid_df, _cfg(lr=1e-3), out)
    assert res.resumed_from_epoch == 0 and res.epochs_run == 2


FLAT_LOSS = [0.69] * 5


@pytest.mark.parametrize(
    "select_metric,scripted,best,ran",
    [
        # patience 2 stops after two epochs without improvement; a tie on the criterion goes to
        # the lower validation loss, a tie on both to the earlier epoch
        ("pr_auc", {"valid_pr_auc": [0.5, 0.9, 0.9, 0.6, 0.95],
                    "valid_loss": [0.6, 0.5, 0.55, 0.5, 0.4]}, 2, 4),
        ("pr_auc", {"valid_pr_auc": [0.5, 0.9, 0.9, 0.9, 0.9],
                    "valid_loss": [0.6, 0.5, 0.4, 0.45, 0.4]}, 3, 5),
        ("log_loss", {"valid_loss": [0.5, 0.3, 0.3, 0.4, 0.1]}, 2, 4),  # lower is better
        ("best_f1", {"valid_best_f1": [0.2, 0.4, 0.6, 0.5, 0.1], "valid_loss": FLAT_LOSS}, 3, 5),
        # F1 at 0.5 stuck at 0 while nothing crosses 0.5: the old criterion keeps epoch 1
        ("f1", {"valid_f1": [0.0, 0.0, 0.0, 0.9, 0.9], "valid_loss": FLAT_LOSS}, 1, 3),
    ],
)  # fmt: skip
def test_early_stopping_follows_select_metric_and_keeps_best_weights(
    select_metric, scripted, best, ran, tiny_bert_dir, tiny_corpus, tmp_path, monkeypatch
):
    import papercls.training.loop as tr
    from papercls.training.selection import criterion

    epoch = iter(range(5))
    real_scores = tr.validation_scores

    def fake_scores(labels, probs, loss):
        i = next(epoch)
        return {**real_scores(labels, probs, loss), **{c: v[i] for c, v in scripted.items()}}

    monkeypatch.setattr(tr, "validation_scores", fake_scores)
    model, tok = _fresh_model(tiny_bert_dir)
    snapshots, logged = {}, {}

    def snap(epoch, metrics):
        snapshots[epoch] = {k: v.clone() for k, v in model.state_dict().items()}
        logged[epoch] = metrics

    cfg = _cfg(epochs=5, patience=2, select_best=True, grad_accum=1, select_metric=select_metric)
    res = tr.train(model, tok, tiny_corpus["train"], tiny_corpus["valid"], cfg, tmp_path / "m",
                   on_epoch_end=snap)  # fmt: skip
    column = criterion(select_metric).column
    assert [h[column] for h in res.history] == scripted[column][:ran]
    assert (res.best_epoch, res.best_score, res.select_metric) == (
        best,
        scripted[column][best - 1],
        select_metric,
    )
    assert res.stopped_early == (ran < 5)
    # every validation figure is in the history and reaches the epoch callback (MLflow)
    for name in VALID_COLUMNS:
        assert all(np.isfinite(h[name]) for h in res.history), name
        assert logged[1][name] == res.history[0][name]
    saved = _weights(tmp_path / "m")
    for k, v in saved.items():
        assert torch.equal(v, snapshots[best][k]), k
    assert not all(torch.equal(v, snapshots[ran][k]) for k, v in saved.items())
    state = json.loads((tmp_path / "m" / "trainer_state.json").read_text())
    assert (state["best_epoch"], state["select_metric"]) == (best, select_metric)
    assert state["best_score"] == scripted[column][best - 1] and len(state["history"]) == ran


def test_select_metric_figures_come_from_papercls_metrics():
    from papercls.evaluation.metrics import classification_metrics
    from papercls.evaluation.thresholds import best_f1_threshold
    from papercls.training.selection import is_improvement, validation_scores

    y = np.array([0, 0, 1, 0, 1, 0, 0, 1])
    p = np.array([0.1, 0.3, 0.35, 0.2, 0.45, 0.4, 0.05, 0.3])  # all under 0.5
    scores = validation_scores(y, p, 0.61)
    m = classification_metrics(y, p)
    assert scores["valid_f1"] == 0.0 and scores["valid_loss"] == 0.61
    assert scores["valid_pr_auc"] == m["pr_auc"] and scores["valid_roc_auc"] == m["roc_auc"]
    assert scores["valid_best_f1"] == best_f1_threshold(y, p)[1] > 0.5
    one_class = validation_scores(np.zeros(4, dtype=int), np.full(4, 0.2), 0.3)
    assert np.isnan(one_class["valid_pr_auc"]) and np.isnan(one_class["valid_roc_auc"])

    def row(score, loss=0.5):
        return {"valid_pr_auc": score, "valid_roc_auc": score, "valid_loss": loss}

    nan = float("nan")
    assert is_improvement("pr_auc", row(nan), None)  # the first epoch is the best so far
    assert not is_improvement("pr_auc", row(nan), row(0.4))
    assert is_improvement("pr_auc", row(0.1), row(nan))
    assert not is_improvement("roc_auc", row(0.8), row(0.8))  # a full tie keeps the earlier
    assert is_improvement("roc_auc", row(0.8, loss=0.4), row(0.8))  # a tie: lower loss wins
    assert not is_improvement("roc_auc", row(0.7, loss=0.1), row(0.8))
    assert is_improvement("log_loss", row(0, 0.2), row(0, 0.3))
    assert not is_improvement("log_loss", row(0, 0.3), row(0, 0.2))


def test_min_steps_raises_epochs_and_holds_off_early_stopping(
    tiny_bert_dir, tiny_corpus, tmp_path, capsys, monkeypatch
):
    """64 rows at batch 8 = 8 updates per epoch: min_steps 20 -> 3 epochs, the linear schedule
    decays over all 24 updates (the learning rate reaches 0 after the last one), and early
    stopping (patience 1, no epoch ever improves) waits for the 20 updates."""
    import papercls.training.loop as tr
    from papercls.training.setup import planned_epochs

    assert planned_epochs(1, 75, 75) == 1  # the bundled data: 1,200 rows at batch 16
    assert planned_epochs(1, 75, 19) == 4  # 299 rows at batch 16
    assert planned_epochs(5, 75, 19) == 5 and planned_epochs(1, 0, 19) == 1
    flat = {"valid_pr_auc": 0.5, "valid_loss": 0.6}
    real_scores = tr.validation_scores
    monkeypatch.setattr(tr, "validation_scores", lambda *a: {**real_scores(*a), **flat})
    lrs = {}
    model, tok = _fresh_model(tiny_bert_dir)
    cfg = _cfg(epochs=1, min_steps=20, grad_accum=1, patience=1, select_best=True)
    res = tr.train(model, tok, tiny_corpus["train"], tiny_corpus["valid"], cfg, tmp_path / "m",
                   on_epoch_end=lambda e, m: lrs.__setitem__(e, m["lr"]))  # fmt: skip
    assert res.epochs == 3 and len(res.history) == 3 and sorted(lrs) == [1, 2, 3]
    assert lrs[1] > lrs[2] > lrs[3] == 0.0
    assert res.best_epoch == 1 and not res.stopped_early
    out = capsys.readouterr().out
    assert "3 epoch(s) (raised from 1 for min_steps 20)" in out
    assert "epoch 3/3" in out and "(early stop)" in out.splitlines()[-1]
    # without the floor, patience 1 stops after epoch 2
    model, tok = _fresh_model(tiny_bert_dir)
    cfg = _cfg(epochs=3, min_steps=0, grad_accum=1, patience=1)
    res = tr.train(model, tok, tiny_corpus["train"], tiny_corpus["valid"], cfg, tmp_path / "n")
    assert len(res.history) == 2 and res.stopped_early


def test_balanced_class_weight_weights_the_loss(tiny_bert_dir, tiny_corpus):
    from types import SimpleNamespace

    from papercls.training.config import TrainConfig
    from papercls.training.loop import _loss
    from papercls.training.setup import balanced_class_weights

    w = balanced_class_weights(pd.Series([0, 0, 0, 1]))
    assert w.tolist() == pytest.approx([4 / 6, 2.0])  # n / (2 * n_class)
    with pytest.raises(ValueError, match="both classes"):
        balanced_class_weights(pd.Series([0, 0]))
    with pytest.raises(ValueError, match="class_weight"):
        TrainConfig(class_weight="auto")
    with pytest.raises(ValueError, match="select_metric"):
        TrainConfig(select_metric="accuracy")
    with pytest.raises(ValueError, match="min_steps"):
        TrainConfig(min_steps=-1)
    with pytest.raises(ValueError, match="class_weight"):
        TrainConfig(class_weight=None)
    assert TrainConfig(class_weight=" Balanced ").class_weight == "balanced"

    model, tok = _fresh_model(tiny_bert_dir)
    model.eval()
    texts = tiny_corpus["train"]["text"].tolist()[:6]
    batch = dict(tok(texts, padding=True, return_tensors="pt"))
    batch["labels"] = torch.tensor([1, 0, 0, 0, 0, 1])
    inputs = {k: v for k, v in batch.items() if k != "labels"}
    with torch.no_grad():
        logits = model(**inputs).logits
        weighted = _loss(SimpleNamespace(model=model, class_weights=w), batch)
        plain = _loss(SimpleNamespace(model=model, class_weights=None), batch)
    ce = torch.nn.functional.cross_entropy
    assert torch.allclose(weighted, ce(logits, batch["labels"], weight=w))
    assert torch.allclose(plain, ce(logits, batch["labels"]))
    assert not torch.allclose(weighted, plain)


def test_tfidf_save_load_reproduces_predictions(tiny_corpus, tmp_path):
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import f1_score

    from papercls.models.tfidf import TfidfClassifier

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
    from papercls.inference.encoder import load_classifier, predict_dir_proba, predict_proba
    from papercls.training.stage import run_training

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
    assert any("fold_3/valid_f1" in keys and "fold_3/valid_pr_auc" in keys for keys in seen)
    # k-fold pools train and valid: every labelled row is held out once
    train = pd.concat(
        [pd.read_parquet(tiny_prepared_dir / f"{s}.parquet") for s in ("train", "valid")],
        ignore_index=True,
    )
    test = pd.read_parquet(tiny_prepared_dir / "test.parquet")
    heldout = pd.read_parquet(tmp_path / "predictions" / "baseline" / "heldout.parquet")
    assert list(heldout.columns) == ["uuid", "label", "prob"]
    assert heldout["uuid"].tolist() == train["uuid"].tolist()  # every labelled row, out of fold
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
    assert list(hist.columns) == ["fold", "epoch", "train_loss", *VALID_COLUMNS]
    assert sorted(hist["fold"].unique().tolist()) == [0, 1, 2, 3]
    # each fold model is selected on its own fold's rows: its best score is their PR-AUC
    first = hist[hist["fold"] == 2].iloc[0]
    assert first["valid_pr_auc"] == pytest.approx(
        average_precision_score(train.loc[in_fold, "label"], heldout["prob"][in_fold]), abs=1e-6
    )
    assert summary.folds[2].best_score == pytest.approx(first["valid_pr_auc"])
    assert not (tmp_path / "models" / "baseline.ckpt").exists()


def test_write_history(tmp_path):
    from papercls.training.loop import write_history

    rows = [{"epoch": 1, "train_loss": 0.7, "valid_loss": 0.6, "valid_f1": 0.5}]
    path = write_history(rows, tmp_path / "m" / "history.csv")
    assert pd.read_csv(path).to_dict("records") == rows
    full = [{"valid_best_f1": 0.8, "valid_roc_auc": 0.9, "valid_pr_auc": 0.7, **rows[0]}]
    path = write_history(full, tmp_path / "m" / "history.csv")
    assert list(pd.read_csv(path).columns) == ["epoch", "train_loss", *VALID_COLUMNS]


def test_outputs_get_ordinary_permissions(tmp_path):
    """Atomic writes go through temp files that mkstemp/mkdtemp create private (0600/0700);
    the history CSV and the model and checkpoint folders end up with ordinary permissions."""
    import stat

    from papercls.data.io import atomic_dir
    from papercls.training.loop import write_history

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
    from papercls.training.config import TrainConfig

    names = set(TrainConfig.model_fields)
    params = (REPO / "params.yaml").read_text()
    import yaml

    for section in ("baseline", "topline"):
        keys = set(yaml.safe_load(params)[section]) - {"backbone", "kfold", "head"}
        assert keys <= names, keys - names


def test_default_min_steps_adds_no_epoch_on_the_bundled_data():
    """The default budget must not lengthen `dvc repro` on the bundled data (15-minute target):
    its train split gives at least min_steps updates in the configured epochs."""
    import math

    import yaml

    from papercls.training.setup import planned_epochs

    params = yaml.safe_load((REPO / "params.yaml").read_text())
    rows = len(pd.read_csv(REPO / "data" / "sample" / "train.csv"))
    n_train = rows - math.ceil(rows * params["preprocess"]["valid_size"])
    for name in ("baseline", "topline"):
        sec = params[name]
        updates = math.ceil(math.ceil(n_train / sec["batch_size"]) / sec["grad_accum"])
        assert sec["min_steps"] > 0
        assert planned_epochs(sec["epochs"], sec["min_steps"], updates) == sec["epochs"], name
        assert planned_epochs(1, sec["min_steps"], 19) >= 3  # 299 rows at batch 16
