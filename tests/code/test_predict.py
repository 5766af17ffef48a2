"""Submission writing and `papercls predict` on any CSV."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from papercls.evaluation.threshold_file import read_threshold
from papercls.inference.predict import write_submission
from papercls.inference.predict_cli import predict_main
from papercls.inference.stream import predict_csv

ROOT = Path(__file__).resolve().parents[2]
TEST_B = ROOT.parent / "shared" / "data" / "competition" / "testB.csv"
needs_test_b = pytest.mark.skipif(
    not TEST_B.is_file(), reason=f"shared competition file {TEST_B} is not present"
)


def _setup(root: Path, n: int = 50, model: str = "topline", threshold: float = 0.5) -> list[str]:
    """prepared test.parquet (input order), shuffled test predictions, thresholds.json."""
    uuids = [f"p{i:03d}" for i in np.random.default_rng(0).permutation(n)]
    (root / "data" / "prepared").mkdir(parents=True)
    pd.DataFrame({"uuid": uuids, "text": ["x"] * n}).to_parquet(
        root / "data" / "prepared" / "test.parquet"
    )
    probs = np.linspace(0.0, 1.0, n)
    pred = pd.DataFrame({"uuid": uuids, "prob": probs}).sample(frac=1.0, random_state=1)
    (root / "predictions" / model).mkdir(parents=True)
    pred.to_parquet(root / "predictions" / model / "test.parquet")
    (root / "metrics").mkdir()
    (root / "metrics" / "thresholds.json").write_text(
        json.dumps({model: {"method": "f1", "threshold": threshold}, "other": {"threshold": 0.1}})
    )
    return uuids


def _submit(root: Path, model: str = "topline") -> dict:
    return write_submission(
        model=model,
        predictions_dir=root / "predictions",
        thresholds_file=root / "metrics" / "thresholds.json",
        prepared_test=root / "data" / "prepared" / "test.parquet",
        output=root / "submission.csv",
        probs_output=root / "predictions" / "submission_probs.csv",
    )


def _no_temp_files(root: Path) -> bool:
    return not [p for p in root.rglob("*") if p.name.endswith(".tmp")]


def test_submission_in_input_order(tmp_path):
    uuids = _setup(tmp_path, threshold=0.3)
    info = _submit(tmp_path)
    text = (tmp_path / "submission.csv").read_text()
    assert text.splitlines()[0] == "uuid,label"
    sub = pd.read_csv(tmp_path / "submission.csv", dtype={"uuid": str})
    assert sub["uuid"].tolist() == uuids and sub["uuid"].is_unique
    assert set(sub["label"].tolist()) <= {0, 1} and sub["label"].dtype.kind == "i"
    probs = pd.read_csv(tmp_path / "predictions" / "submission_probs.csv", dtype={"uuid": str})
    assert list(probs.columns) == ["uuid", "prob", "label"]
    assert probs["uuid"].tolist() == uuids
    assert (probs["label"] == (probs["prob"] >= 0.3).astype(int)).all()
    assert (sub["label"] == probs["label"]).all()
    assert info["threshold"] == 0.3 and info["n"] == 50
    assert info["positives"] == int((np.linspace(0, 1, 50) >= 0.3).sum())
    assert _no_temp_files(tmp_path)


@pytest.mark.parametrize(
    "change, match",
    [
        (lambda df: df.iloc[1:], r"uuid mismatch: .*1 test uuid\(s\) without a prediction"),
        (lambda df: df.assign(uuid=["zzz"] + df["uuid"].tolist()[1:]), "'zzz'"),
        (lambda df: pd.concat([df, df.iloc[:1]]), "duplicate uuid"),
        (lambda df: pd.concat([df, pd.DataFrame({"uuid": ["new"], "prob": [0.5]})]),
         r"51 rows but .* has 50"),
    ],
)
def test_uuid_mismatch_is_a_clear_error_and_writes_nothing(tmp_path, change, match):
    _setup(tmp_path)
    path = tmp_path / "predictions" / "topline" / "test.parquet"
    change(pd.read_parquet(path)).to_parquet(path)
    with pytest.raises(ValueError, match=match):
        _submit(tmp_path)
    assert not (tmp_path / "submission.csv").exists()
    assert not (tmp_path / "predictions" / "submission_probs.csv").exists()


def test_failed_write_leaves_no_partial_file(tmp_path, monkeypatch):
    _setup(tmp_path)
    (tmp_path / "submission.csv").write_text("old\n")
    real_to_csv = pd.DataFrame.to_csv
    calls = []

    def flaky_to_csv(self, path, *args, **kwargs):
        calls.append(path)
        real_to_csv(self.head(5), path, *args, **kwargs)
        if len(calls) == 2:  # the second file fails half-way
            raise OSError("disk full")

    monkeypatch.setattr(pd.DataFrame, "to_csv", flaky_to_csv)
    with pytest.raises(OSError, match="disk full"):
        _submit(tmp_path)
    assert (tmp_path / "submission.csv").read_text() == "old\n"  # neither file replaced
    assert not (tmp_path / "predictions" / "submission_probs.csv").exists()
    assert _no_temp_files(tmp_path)


def test_missing_inputs_are_named(tmp_path):
    _setup(tmp_path)
    with pytest.raises(FileNotFoundError, match=r"baseline[/\\]test\.parquet"):
        _submit(tmp_path, model="baseline")
    with pytest.raises(ValueError, match=r"no threshold for model 'nope'.*\['other', 'topline'\]"):
        read_threshold(tmp_path / "metrics" / "thresholds.json", "nope")
    with pytest.raises(FileNotFoundError, match="tune_thresholds"):
        read_threshold(tmp_path / "missing.json", "topline")


# --------------------------------------------------------------------------- any CSV


@pytest.fixture(scope="module")
def tfidf_dir(tmp_path_factory) -> Path:
    tfidf = pytest.importorskip(
        "papercls.models.tfidf", reason="papercls.models.tfidf is not written yet"
    )
    texts = ["patient clinical trial of cancer therapy", "hospital disease treatment outcome",
             "quantum lattice algorithm for graphs", "compiler network circuit design"] * 5
    labels = [1, 1, 0, 0] * 5
    d = tmp_path_factory.mktemp("tfidf_model")
    tfidf.TfidfClassifier(max_features=1000, ngram_max=1, C=1.0).fit(texts, labels).save(d)
    return d


@pytest.fixture(scope="module")
def tiny_bert_classifier(tmp_path_factory) -> Path:
    """Randomly initialised 2-layer BERT classifier (hidden 32) with a tiny WordPiece vocab."""
    pytest.importorskip(
        "papercls.inference.encoder", reason="papercls.inference.encoder is not written yet"
    )
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizer, set_seed

    d = tmp_path_factory.mktemp("tiny_bert_cls")
    # whole words only (other words become [UNK]): short token sequences keep this fast
    words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "of", "and", "in", "patients",
             "study", "cancer", "heart", "risk", "cell", "data", "model", ",", ".", "-", "##s"]
    vocab = d / "vocab.txt"
    vocab.write_text("\n".join(words) + "\n", encoding="utf-8")
    tokenizer = BertTokenizer(vocab=str(vocab), model_max_length=128)
    config = BertConfig(vocab_size=len(words), hidden_size=32, num_hidden_layers=2,
                        num_attention_heads=2, intermediate_size=64,
                        max_position_embeddings=128, num_labels=2)
    set_seed(0)
    BertForSequenceClassification(config).save_pretrained(d)
    tokenizer.save_pretrained(d)
    vocab.unlink()
    return d


def _csv_uuids(path: Path) -> list[str]:
    return pd.read_csv(path, dtype=str, keep_default_na=False)["uuid"].tolist()


@needs_test_b
def test_predict_csv_tfidf_on_test_b(tfidf_dir, tmp_path):
    out = tmp_path / "out" / "pred.csv"
    info = predict_csv(tfidf_dir, TEST_B, out, threshold=0.5, with_prob=True)
    written = pd.read_csv(out, dtype={"uuid": str})
    assert list(written.columns) == ["uuid", "label", "prob"]
    assert len(written) == 2000 and written["uuid"].tolist() == _csv_uuids(TEST_B)
    assert written["uuid"].is_unique and set(written["label"].tolist()) <= {0, 1}
    assert (written["label"] == (written["prob"] >= 0.5).astype(int)).all()
    assert info == {"rows": 2000, "positives": int(written["label"].sum())}


@needs_test_b
def test_predict_csv_tiny_bert_on_test_b(tiny_bert_classifier, tmp_path):
    out = tmp_path / "pred.csv"
    predict_csv(tiny_bert_classifier, TEST_B, out, threshold=0.5, max_length=32, batch_size=128)
    assert out.read_text().splitlines()[0] == "uuid,label"
    written = pd.read_csv(out, dtype={"uuid": str})
    assert len(written) == 2000 and written["uuid"].tolist() == _csv_uuids(TEST_B)
    assert set(written["label"].tolist()) <= {0, 1}


def _small_csv(path: Path) -> Path:
    path.write_text(
        "uuid,title,author,abstract\n"
        "b2,Cancer therapy in patients,A B,A clinical trial of cancer therapy.\n"
        "a1,Quantum lattices,C D,An algorithm for graphs and circuits.\n",
        encoding="utf-8",
    )
    return path


def test_predict_main_with_thresholds_file(tfidf_dir, tmp_path, capsys):
    csv = _small_csv(tmp_path / "in.csv")
    thresholds = tmp_path / "thresholds.json"
    thresholds.write_text(json.dumps({"tfidf": {"threshold": 0.0}, "x": {"threshold": 1.0}}))
    out = tmp_path / "out.csv"
    args = ["--model-dir", str(tfidf_dir), "--input", str(csv), "--output", str(out),
            "--thresholds-file", str(thresholds), "--model-name", "tfidf"]
    assert predict_main(args) == 0
    assert out.read_text() == "uuid,label\nb2,1\na1,1\n"  # threshold 0: everything positive
    args[-1] = "x"
    assert predict_main(args) == 0
    assert out.read_text() == "uuid,label\nb2,0\na1,0\n"  # threshold 1.0 (probs < 1)
    assert "2 rows" in capsys.readouterr().out


def test_predict_main_bad_input_is_named(tfidf_dir, tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    bad.write_text("uuid,title\nu1,A title\n", encoding="utf-8")
    out = tmp_path / "out.csv"
    rc = predict_main(["--model-dir", str(tfidf_dir), "--input", str(bad), "--output", str(out)])
    err = capsys.readouterr().err
    assert rc == 2 and "bad.csv" in err and "abstract" in err
    assert not out.exists()
    rc = predict_main(["--model-dir", str(tmp_path / "none"), "--input", str(_small_csv(
        tmp_path / "in.csv")), "--output", str(out), "--threshold", "0.4"])
    assert rc == 2 and "model folder" in capsys.readouterr().err


# --------------------------------------------------------------------------- int8


_TEXTS = [
    "the study of cancer in patients",
    "heart risk data model",
    "cell data of the heart study, and the risk of cancer in patients",
    "model",
]


@pytest.mark.parametrize("kind", ["baseline", "topline"])
def test_int8_copy_quantises_every_linear_and_stays_close(kind, tiny_bert_dir):
    import torch
    from transformers import AutoTokenizer, set_seed

    from papercls.inference.encoder import predict_proba, quantize_int8
    from papercls.models.fused_head import build_baseline, build_topline

    set_seed(0)
    build = build_baseline if kind == "baseline" else build_topline
    model = build(str(tiny_bert_dir)).eval()
    tok = AutoTokenizer.from_pretrained(tiny_bert_dir)
    q = quantize_int8(model)
    linear = {n for n, m in model.named_modules() if type(m) is torch.nn.Linear}
    assert len(linear) >= 12  # 2 layers x 6, plus pooler and head
    replaced = {n: type(m).__module__ for n, m in q.named_modules() if n in linear}
    assert set(replaced) == linear and all("quantized" in t for t in replaced.values()), replaced
    assert all(type(m) is torch.nn.Linear for n, m in model.named_modules() if n in linear)
    p_float = predict_proba(model, tok, _TEXTS, 32)
    p_int8 = predict_proba(q, tok, _TEXTS, 32)
    assert np.isfinite(p_int8).all() and p_int8.shape == (len(_TEXTS),)
    assert np.abs(p_float - p_int8).max() < 0.02, (p_float, p_int8)


def test_predict_main_int8(tiny_bert_classifier, tfidf_dir, tmp_path, capsys):
    csv = _small_csv(tmp_path / "in.csv")
    out = tmp_path / "out.csv"
    base = ["--input", str(csv), "--output", str(out), "--with-prob", "--max-length", "32"]
    assert predict_main(["--model-dir", str(tiny_bert_classifier), *base, "--int8"]) == 0
    q = pd.read_csv(out, dtype={"uuid": str})
    assert predict_main(["--model-dir", str(tiny_bert_classifier), *base]) == 0
    f = pd.read_csv(out, dtype={"uuid": str})
    assert q["uuid"].tolist() == f["uuid"].tolist() == ["b2", "a1"]
    assert np.abs(q["prob"] - f["prob"]).max() < 0.02
    out.unlink()
    assert predict_main(["--model-dir", str(tfidf_dir), *base, "--int8"]) == 2
    assert "TF-IDF" in capsys.readouterr().err and not out.exists()
