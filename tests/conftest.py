"""Shared fixtures: tiny offline encoders (BERT, RoBERTa, DistilBERT) and a tiny, separable
prepared dataset. Nothing is downloaded; everything is built in temporary directories.

* ``tiny_corpus`` -> dict of DataFrames ``train`` and ``valid`` (uuid, text, label, fold 0..3
  stratified over both), ``test`` (uuid, text): medical rows use medical words, the others do
  not.
* ``tiny_prepared_dir`` -> a directory holding {train,valid,test}.parquet + meta.json in the
  preprocess stage's format (docs/ARCHITECTURE.md).
* ``tiny_bert_dir`` / ``tiny_roberta_dir`` / ``tiny_distilbert_dir`` -> save_pretrained
  directories of randomly initialised 2-layer encoders (hidden 32) with their tokenizers,
  usable as a ``backbone`` (``AutoModel.from_pretrained`` / ``AutoTokenizer.from_pretrained``).
  DistilBERT has no pooler (for the fused head's fallback path).
* ``tiny_train_params`` -> a baseline-style params section that trains the tiny models in
  seconds (merge ``backbone`` / ``head`` / ``kfold`` in).
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pandas as pd
import pytest

SEP = "[SEP]"
MEDICAL_WORDS = [
    "patient", "clinical", "disease", "therapy", "cancer", "diagnosis",
    "hospital", "treatment", "cardiac", "tumor", "infection", "surgery",
]  # fmt: skip
OTHER_WORDS = [
    "galaxy", "quantum", "algorithm", "network", "circuit", "polymer",
    "theorem", "lattice", "graph", "laser", "robot", "compiler",
]  # fmt: skip
COMMON_WORDS = [
    "the", "a", "of", "study", "we", "results", "method", "analysis", "data", "new",
    "model", "using", "and", "in", "for", "on", "show", "based", "approach", "paper",
]  # fmt: skip
VOCAB_SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
TINY_ENCODER = dict(hidden=32, layers=2, heads=2, intermediate=64, positions=128)


def _row_text(rng: random.Random, label: int) -> str:
    words = MEDICAL_WORDS if label == 1 else OTHER_WORDS

    def phrase(n_class: int, n_common: int) -> str:
        toks = [rng.choice(words) for _ in range(n_class)]
        toks += [rng.choice(COMMON_WORDS) for _ in range(n_common)]
        rng.shuffle(toks)
        return " ".join(toks)

    title = phrase(rng.randint(1, 2), rng.randint(2, 4))
    keywords = ", ".join(rng.choice(words) for _ in range(rng.randint(1, 3)))
    abstract = phrase(rng.randint(2, 6), rng.randint(6, 30)) + "."
    return f"{title} {SEP} {keywords} {SEP} {abstract}"


def make_tiny_corpus(seed: int = 0, n_train: int = 64, n_valid: int = 24, n_test: int = 20):
    """Deterministic balanced corpus (see module docstring)."""
    rng = random.Random(seed)

    def frame(n: int, prefix: str, labelled: bool) -> pd.DataFrame:
        labels = [i % 2 for i in range(n)]
        rng.shuffle(labels)
        df = pd.DataFrame(
            {
                "uuid": [f"{prefix}-{i:04d}" for i in range(n)],
                "text": [_row_text(rng, y) for y in labels],
            }
        )
        if labelled:
            df["label"] = pd.Series(labels, dtype="int64")
        return df

    train = frame(n_train, "tr", True)
    valid = frame(n_valid, "va", True)
    # folds 0..3 stratified over train and valid rows together (as preprocess writes them):
    # count within each class
    counters = {0: 0, 1: 0}
    for df in (train, valid):
        folds = []
        for y in df["label"].tolist():
            folds.append(counters[y] % 4)
            counters[y] += 1
        df["fold"] = pd.Series(folds, dtype="int64")
    return {"train": train, "valid": valid, "test": frame(n_test, "te", False)}


@pytest.fixture(scope="session")
def tiny_corpus():
    return make_tiny_corpus()


@pytest.fixture()
def tiny_prepared_dir(tmp_path, tiny_corpus) -> Path:
    d = tmp_path / "prepared"
    d.mkdir()
    for split, df in tiny_corpus.items():
        df.to_parquet(d / f"{split}.parquet", index=False)
    labelled = pd.concat([tiny_corpus["train"], tiny_corpus["valid"]])
    meta = {
        "n_train": len(tiny_corpus["train"]),
        "n_valid": len(tiny_corpus["valid"]),
        "n_test": len(tiny_corpus["test"]),
        "prior": float(labelled["label"].mean()),
        "sep": SEP,
        "template": "{title} {sep} {Keywords} {sep} {abstract}",
    }
    (d / "meta.json").write_text(json.dumps(meta))
    return d


def _vocab_words() -> list[str]:
    return VOCAB_SPECIALS + sorted(set(MEDICAL_WORDS + OTHER_WORDS + COMMON_WORDS)) + [",", "."]


@pytest.fixture(scope="session")
def tiny_bert_dir(tmp_path_factory) -> Path:
    from transformers import BertConfig, BertModel, BertTokenizer, set_seed

    d = tmp_path_factory.mktemp("tiny_bert")
    vocab = d / "vocab.txt"
    vocab.write_text("\n".join(_vocab_words()) + "\n", encoding="utf-8")
    tokenizer = BertTokenizer(vocab=str(vocab), model_max_length=TINY_ENCODER["positions"])
    config = BertConfig(
        vocab_size=len(_vocab_words()),
        hidden_size=TINY_ENCODER["hidden"],
        num_hidden_layers=TINY_ENCODER["layers"],
        num_attention_heads=TINY_ENCODER["heads"],
        intermediate_size=TINY_ENCODER["intermediate"],
        max_position_embeddings=TINY_ENCODER["positions"],
    )
    set_seed(0)
    BertModel(config).save_pretrained(d)
    tokenizer.save_pretrained(d)
    vocab.unlink()  # the tokenizer is saved as tokenizer.json
    return d


@pytest.fixture(scope="session")
def tiny_distilbert_dir(tmp_path_factory, tiny_bert_dir) -> Path:
    """DistilBERT (no pooler) sharing the tiny BERT tokenizer."""
    from transformers import AutoTokenizer, DistilBertConfig, DistilBertModel, set_seed

    d = tmp_path_factory.mktemp("tiny_distilbert")
    config = DistilBertConfig(
        vocab_size=len(_vocab_words()),
        dim=TINY_ENCODER["hidden"],
        n_layers=TINY_ENCODER["layers"],
        n_heads=TINY_ENCODER["heads"],
        hidden_dim=TINY_ENCODER["intermediate"],
        max_position_embeddings=TINY_ENCODER["positions"],
    )
    set_seed(0)
    DistilBertModel(config).save_pretrained(d)
    AutoTokenizer.from_pretrained(tiny_bert_dir).save_pretrained(d)
    return d


@pytest.fixture(scope="session")
def tiny_roberta_dir(tmp_path_factory) -> Path:
    from tokenizers import ByteLevelBPETokenizer
    from transformers import RobertaConfig, RobertaModel, RobertaTokenizer, set_seed

    d = tmp_path_factory.mktemp("tiny_roberta")
    corpus = make_tiny_corpus(seed=1)
    sentences = corpus["train"]["text"].tolist() + [" ".join(_vocab_words()[5:])]
    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(
        sentences,
        vocab_size=400,
        min_frequency=1,
        special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"],  # ids 0..4 as in RoBERTa
        show_progress=False,
    )
    raw = d / "bpe"
    raw.mkdir()
    bpe.save_model(str(raw))
    tokenizer = RobertaTokenizer(
        vocab=str(raw / "vocab.json"),
        merges=str(raw / "merges.txt"),
        model_max_length=TINY_ENCODER["positions"] - 2,
    )
    config = RobertaConfig(
        vocab_size=tokenizer.vocab_size if tokenizer.vocab_size else len(tokenizer),
        hidden_size=TINY_ENCODER["hidden"],
        num_hidden_layers=TINY_ENCODER["layers"],
        num_attention_heads=TINY_ENCODER["heads"],
        intermediate_size=TINY_ENCODER["intermediate"],
        max_position_embeddings=TINY_ENCODER["positions"],  # positions start at pad_id + 1
        pad_token_id=1,
        bos_token_id=0,
        eos_token_id=2,
    )
    set_seed(0)
    RobertaModel(config).save_pretrained(d)
    tokenizer.save_pretrained(d)
    return d


@pytest.fixture()
def tiny_train_params() -> dict:
    """Training keys of a model section tuned for the tiny encoders (seconds on 2 CPU cores)."""
    return {
        "max_length": 64,
        "batch_size": 8,
        "grad_accum": 1,
        "epochs": 6,
        "lr": 3.0e-3,
        "warmup_ratio": 0.1,
        "weight_decay": 0.01,
        "patience": 6,
        "seed": 42,
        "threads": 0,
        "kfold": False,
        "mixed_precision": "no",  # fp32 on every CPU ("auto" is bf16 where the CPU has it)
    }


@pytest.fixture()
def restore_torch_threads():
    """Training honours ``threads`` with torch.set_num_threads (process-wide): restore it."""
    import torch

    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def fit_briefly(model, tokenizer, train: pd.DataFrame, max_length: int, steps: int = 30) -> None:
    """A few AdamW steps on the tiny separable corpus, so that probabilities spread over
    (0, 1) as a trained model's do (a random encoder gives every text nearly the same one)."""
    import torch

    from papercls.inference import encoder as inference

    enc = inference.encode(tokenizer, train["text"].tolist(), max_length)
    keys = [k for k in enc if k in inference.model_input_names(model)]
    labels = torch.tensor(train["label"].to_numpy())
    gen = torch.Generator().manual_seed(0)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    model.train()
    for _ in range(steps):
        idx = torch.randperm(len(train), generator=gen)[:16].tolist()
        batch = tokenizer.pad([{k: enc[k][i] for k in keys} for i in idx], return_tensors="pt")
        loss = model(**batch, labels=labels[idx]).loss
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
