"""Damaged files the pipeline reads back: a truncated TF-IDF weights file and a thresholds file
nested too deeply give one ``error:`` line naming the file (exit 2), never a traceback; a
tampered or truncated training checkpoint is discarded with a warning naming it and training
starts afresh (it cannot keep every later run from training)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from papercls.inference.predict_cli import predict_main
from papercls.synthetic.sample import write_sample

pytestmark = pytest.mark.usefixtures("restore_torch_threads")


@pytest.fixture(scope="module")
def tfidf_dir(tmp_path_factory) -> Path:
    from papercls.models.tfidf import TfidfClassifier

    d = tmp_path_factory.mktemp("damaged") / "tfidf"
    texts = ["patient clinical disease"] * 4 + ["galaxy quantum lattice"] * 4
    TfidfClassifier(max_features=100, ngram_max=1).fit(texts, [1] * 4 + [0] * 4).save(d)
    return d


@pytest.fixture()
def test_csv(tmp_path) -> Path:
    write_sample(tmp_path / "data", n_train=10, n_test=6, seed=3)
    return tmp_path / "data" / "test.csv"


def _predict(capsys, *argv) -> tuple[int, str]:
    rc = predict_main([str(a) for a in argv])
    out = capsys.readouterr()
    return rc, out.out + out.err


@pytest.mark.parametrize("cut", ["header", "data"])
def test_truncated_tfidf_weights_are_an_error_naming_the_file(
    cut, tfidf_dir, test_csv, tmp_path, capsys
):
    import shutil

    model = tmp_path / "tfidf"
    shutil.copytree(tfidf_dir, model)
    weights = model / "tfidf.safetensors"
    raw = weights.read_bytes()
    weights.write_bytes(raw[:20] if cut == "header" else raw[:-9])
    out = tmp_path / "out.csv"
    rc, text = _predict(capsys, "--model-dir", model, "--input", test_csv, "--output", out)
    assert rc == 2, text
    assert "Traceback" not in text
    lines = [line for line in text.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and str(weights) in lines[0] and "truncated" in lines[0], text
    assert not out.exists()


def test_deeply_nested_thresholds_file_is_an_error_naming_it(tfidf_dir, test_csv, tmp_path, capsys):
    thresholds = tmp_path / "thresholds.json"
    depth = 200_000
    thresholds.write_text('{"tfidf": ' + "[" * depth + "]" * depth + "}", encoding="utf-8")
    out = tmp_path / "out.csv"
    rc, text = _predict(
        capsys,
        *("--model-dir", tfidf_dir, "--input", test_csv, "--output", out),
        *("--thresholds-file", thresholds, "--model-name", "tfidf"),
    )
    assert rc == 2, text
    assert "Traceback" not in text and "RecursionError" not in text
    assert text.startswith(f"error: {thresholds}: ") and "nested too deeply" in text, text
    assert not out.exists()


# -- checkpoints ------------------------------------------------------------------------------


def _cfg(**kw):
    from papercls.training.config import TrainConfig

    base = dict(max_length=48, batch_size=8, epochs=2, lr=2e-3, patience=0, seed=7, threads=1)
    return TrainConfig(**{**base, "select_best": False, "progress": False, **kw})


def _train(tiny_bert_dir, corpus, out: Path, **kw):
    from transformers import AutoTokenizer, set_seed

    from papercls.models.fused_head import build_baseline
    from papercls.training.loop import train

    set_seed(7)
    model = build_baseline(str(tiny_bert_dir))
    tok = AutoTokenizer.from_pretrained(tiny_bert_dir)
    return train(model, tok, corpus["train"], corpus["valid"], _cfg(**kw), out)


class _NotAllowed:  # a class that torch.load(weights_only=True) refuses to unpickle
    pass


def _damage(ckpt: Path, how: str) -> Path:
    if how == "tampered-pickle":
        target = ckpt / "optimizer.pt"
        torch.save({"state": {}, "payload": _NotAllowed()}, target)
    elif how == "truncated-weights":
        target = ckpt / "model.safetensors"
        target.write_bytes(target.read_bytes()[:-100])
    elif how == "wrong-shape":  # reads back, but the last tensor does not fit the model
        from safetensors.torch import load_file, save_file

        target = ckpt / "model.safetensors"
        weights = load_file(str(target))
        weights[sorted(weights)[-1]] = torch.zeros(3, 3)
        save_file(weights, str(target), metadata={"format": "pt"})
    elif how == "garbled-state":
        target = ckpt / "state.json"
        data = json.loads(target.read_text("utf-8"))
        del data["global_step"]
        target.write_text(json.dumps(data), "utf-8")
    else:
        raise AssertionError(how)
    return target


@pytest.fixture(scope="module")
def full_run(tiny_bert_dir, tiny_corpus, tmp_path_factory):
    """The weights of an uninterrupted 2-epoch run."""
    from safetensors.torch import load_file

    out = tmp_path_factory.mktemp("full") / "m"
    res = _train(tiny_bert_dir, tiny_corpus, out)
    return res.history, load_file(str(out / "model.safetensors"))


@pytest.mark.parametrize(
    "how", ["tampered-pickle", "truncated-weights", "wrong-shape", "garbled-state"]
)
def test_damaged_checkpoint_is_discarded_and_training_starts_afresh(
    how, tiny_bert_dir, tiny_corpus, tmp_path, full_run
):
    from safetensors.torch import load_file

    from papercls.training.checkpoint import latest_checkpoint

    out = tmp_path / "m"
    _train(tiny_bert_dir, tiny_corpus, out, max_epochs_this_run=1)
    ckpt = latest_checkpoint(tmp_path / "m.ckpt")
    assert ckpt is not None and ckpt.name == "epoch-0001"
    _damage(ckpt, how)

    with pytest.warns(UserWarning, match="starting afresh") as seen:
        res = _train(tiny_bert_dir, tiny_corpus, out)
    message = " ".join(str(w.message) for w in seen)
    assert str(ckpt) in message and "cannot be read back" in message, message
    assert res.completed and res.resumed_from_epoch == 0 and res.epochs_run == 2
    # nothing of the damaged checkpoint leaked into the fresh run: the same weights as a run
    # that was never interrupted
    history, weights = full_run
    assert res.history == history
    got = load_file(str(out / "model.safetensors"))
    assert got.keys() == weights.keys()
    for k in weights:
        assert torch.equal(got[k], weights[k]), k
    assert not (tmp_path / "m.ckpt").exists()
