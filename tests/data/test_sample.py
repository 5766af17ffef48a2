"""Tests for the synthetic corpus generator (papercls.synthetic.sample)."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from papercls.synthetic import sample
from papercls.synthetic.sample import (
    DEFAULT_SEED,
    TEST_COLUMNS,
    TRAIN_COLUMNS,
    generate,
    write_sample,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
CJK = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff\uac00-\ud7af]")


@pytest.fixture(scope="module")
def train() -> pd.DataFrame:
    """The bundled training set's size and seed."""
    return generate(1500, seed=DEFAULT_SEED)


def _words(texts: pd.Series) -> set[str]:
    return set(re.findall(r"[a-z0-9-]+", " ".join(texts.tolist()).lower()))


# --- determinism ------------------------------------------------------------------------


def test_same_seed_same_frame() -> None:
    pd.testing.assert_frame_equal(generate(300, seed=1), generate(300, seed=1))
    pd.testing.assert_frame_equal(
        generate(120, seed=1, labelled=False), generate(120, seed=1, labelled=False)
    )


def test_different_seed_differs() -> None:
    a, b = generate(300, seed=1), generate(300, seed=2)
    assert not set(a["uuid"].tolist()) & set(b["uuid"].tolist())
    assert (a["abstract"] != b["abstract"]).mean() > 0.9


def test_prefix_stable_with_size() -> None:
    """Rows do not depend on how many are asked for (a larger corpus extends a smaller one)."""
    small, large = generate(50, seed=4), generate(200, seed=4)
    pd.testing.assert_frame_equal(small, large.iloc[:50])


# --- schema -----------------------------------------------------------------------------


def test_train_schema(train: pd.DataFrame) -> None:
    assert tuple(train.columns) == TRAIN_COLUMNS
    assert TRAIN_COLUMNS == ("uuid", "title", "author", "abstract", "Keywords", "label")
    assert train["label"].dtype == np.int64
    assert set(train["label"].unique().tolist()) == {0, 1}
    assert len(train) == 1500
    for col in TRAIN_COLUMNS[:-1]:
        assert all(isinstance(v, str) for v in train[col].tolist()), col


def test_test_schema_and_empty_abstracts() -> None:
    test = generate(500, seed=DEFAULT_SEED, labelled=False)
    assert tuple(test.columns) == TEST_COLUMNS == TRAIN_COLUMNS[:-1]
    n_empty = int((test["abstract"] == "").sum())
    assert 1 <= n_empty <= 2
    assert (test["title"] != "").all()


def test_empty_request() -> None:
    assert tuple(generate(0).columns) == TRAIN_COLUMNS
    assert tuple(generate(0, labelled=False).columns) == TEST_COLUMNS
    assert len(generate(0)) == 0


@pytest.mark.parametrize("kwargs", [{"n": -1}, {"n": 10, "noise": 1.5}, {"n": 10, "noise": -0.1}])
def test_bad_arguments(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        generate(**kwargs)


def test_uuids_unique_and_v4(train: pd.DataFrame) -> None:
    ids = train["uuid"].tolist()
    assert len(set(ids)) == len(ids)
    assert all(uuid.UUID(u).version == 4 and str(uuid.UUID(u)) == u for u in ids)
    test_ids = generate(500, seed=DEFAULT_SEED, labelled=False)["uuid"].tolist()
    assert len(set(test_ids)) == len(test_ids)
    assert not set(ids) & set(test_ids), "train and test must not share uuids"


# --- the hard cases -----------------------------------------------------------------------


def test_authors_non_ascii_and_repeated(train: pd.DataFrame) -> None:
    authors = train["author"].tolist()
    assert any(not a.isascii() for a in authors)
    assert any(CJK.search(a) for a in authors), "no CJK author names"
    assert any(ch in "".join(authors) for ch in "éüöřçñ"), "no accented Latin names"

    def repeated(a: str) -> bool:
        names = a.split(", ")
        half = len(names) // 2
        return len(names) % 2 == 0 and half > 0 and names[:half] == names[half:]

    share = np.mean([repeated(a) for a in authors])
    assert 0.22 <= share <= 0.40, share  # ~30% asked, a few single repeats happen by chance


def test_keywords(train: pd.DataFrame) -> None:
    empty = (train["Keywords"] == "").mean()
    assert 0.10 <= empty <= 0.20, empty
    filled = train.loc[train["Keywords"] != "", "Keywords"].tolist()
    assert any(", " in k for k in filled)
    assert not any(";" in k for k in filled)


def test_abstract_lengths_and_symbols(train: pd.DataFrame) -> None:
    lengths = train["abstract"].str.len()
    assert lengths.min() < 200
    assert 3000 <= lengths.max() <= 3900
    assert 600 <= lengths.median() <= 1000, lengths.median()
    text = " ".join(train["abstract"].tolist())
    for symbol in ("±", "μ", "°C", "≥"):
        assert symbol in text, symbol


def test_class_balance(train: pd.DataFrame) -> None:
    assert 0.38 <= train["label"].mean() <= 0.55


def test_shared_vocabulary(train: pd.DataFrame) -> None:
    """Method words appear in both classes; medical-sounding words in non-medical papers."""
    text = train["title"] + " " + train["abstract"] + " " + train["Keywords"]
    med, non = _words(text[train["label"] == 1]), _words(text[train["label"] == 0])
    for word in (
        "segmentation",
        "regression",
        "network",
        "transformer",
        "scheduling",
        "wavelet",
        "sequencing",
        "proposed",
        "baselines",
    ):
        assert word in med and word in non, word
    # Most of the vocabulary is shared.
    assert len(med & non) / len(med | non) > 0.4
    non_text = " ".join(text[train["label"] == 0].tolist()).lower()
    for word in ("virus", "diagnosis", "health", "infect", "pathogen", "medical"):
        assert word in non_text, word


def test_noise_rate() -> None:
    clean = generate(4000, seed=11, noise=0.0)
    noisy = generate(4000, seed=11, noise=0.03)
    # Only the labels depend on the noise level.
    pd.testing.assert_frame_equal(clean.drop(columns="label"), noisy.drop(columns="label"))
    flipped = (clean["label"] != noisy["label"]).mean()
    assert 0.018 <= flipped <= 0.045, flipped
    assert (
        generate(500, seed=11, noise=1.0)["label"] == 1 - generate(500, seed=11, noise=0.0)["label"]
    ).all()


def test_learnable_but_not_trivial(train: pd.DataFrame) -> None:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.pipeline import make_pipeline

    text = (train["title"] + " " + train["abstract"] + " " + train["Keywords"]).tolist()
    model = make_pipeline(
        TfidfVectorizer(sublinear_tf=True, min_df=2),
        LogisticRegression(max_iter=1000),
    )
    scores = cross_val_score(
        model,
        text,
        train["label"].to_numpy(),
        cv=StratifiedKFold(5, shuffle=True, random_state=0),
        scoring="f1",
    )
    f1 = float(scores.mean())
    assert 0.7 < f1 < 0.99, f1


# --- files --------------------------------------------------------------------------------


def test_write_sample_is_byte_identical(tmp_path: Path) -> None:
    a = write_sample(tmp_path / "a", n_train=200, n_test=150, seed=5)
    b = write_sample(tmp_path / "b", n_train=200, n_test=150, seed=5)
    assert [p.name for p in a] == ["train.csv", "test.csv"]
    for pa, pb in zip(a, b, strict=True):
        assert pa.read_bytes() == pb.read_bytes()
    # Writing again over existing files gives the same bytes and leaves no temp files.
    before = a[0].read_bytes()
    write_sample(tmp_path / "a", n_train=200, n_test=150, seed=5)
    assert a[0].read_bytes() == before
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["test.csv", "train.csv"]


def test_written_files_round_trip(tmp_path: Path) -> None:
    train_path, test_path = write_sample(tmp_path, n_train=200, n_test=150, seed=5)
    raw = train_path.read_bytes()
    raw.decode("utf-8")
    assert b"\r\n" not in raw
    assert raw.startswith(b"uuid,title,author,abstract,Keywords,label\n")
    assert test_path.read_bytes().startswith(b"uuid,title,author,abstract,Keywords\n")
    back = pd.read_csv(train_path, encoding="utf-8", keep_default_na=False)
    expected = generate(200, seed=5)
    assert back["uuid"].tolist() == expected["uuid"].tolist()
    assert back["author"].tolist() == expected["author"].tolist()
    assert back["abstract"].tolist() == expected["abstract"].tolist()
    assert back["label"].tolist() == expected["label"].tolist()
    test_back = pd.read_csv(test_path, encoding="utf-8", keep_default_na=False)
    assert len(test_back) == 150
    assert int((test_back["abstract"] == "").sum()) == 1


def test_main_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "corpus"
    rc = sample.main(["--out", str(out), "--n-train", "40", "--n-test", "10", "--seed", "3"])
    assert rc == 0
    assert len(pd.read_csv(out / "train.csv")) == 40
    assert len(pd.read_csv(out / "test.csv")) == 10
    assert "train.csv" in capsys.readouterr().out


def test_bundled_sample_is_regenerable(tmp_path: Path) -> None:
    """data/sample is exactly what `python -m papercls.synthetic.sample --out data/sample`
    writes."""
    bundled = REPO_ROOT / "data" / "sample"
    if not (bundled / "train.csv").exists():
        pytest.skip("data/sample not present")
    fresh = write_sample(tmp_path)
    for path in fresh:
        assert path.read_bytes() == (bundled / path.name).read_bytes(), path.name


# --- vocabulary data file -------------------------------------------------------------------


def test_vocabulary_ships_with_the_package() -> None:
    """The tables live in a package data file (installed via pyproject package-data)."""
    from importlib import resources

    resource = resources.files("papercls").joinpath(sample.VOCAB_RESOURCE)
    assert resource.is_file()
    pyproject = (REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert '"synthetic/*.json"' in pyproject
    names = [pair["name"] for pair in sample._V["pairs"]]
    assert len(names) == len(set(names)) >= 10
    for pair in sample._V["pairs"]:
        assert {"med", "non", "method", "sents", "kw"} <= pair.keys(), pair["name"]


def test_numeric_slot_specs() -> None:
    assert sample._numeric_slot("x", ["int", "0.", 70, 29])(lambda: 0.0) == "0.70"
    assert sample._numeric_slot("x", ["float", 1.0, 39.0, 1])(lambda: 0.5) == "20.5"
    assert sample._numeric_slot("x", ["choice", [0.5, 1, "a"]])(lambda: 0.4) == "1"
    assert sample._numeric_slot("x", ["pow10", 2.0, 2.5])(lambda: 0.0) == "100"
    with pytest.raises(ValueError, match="numeric slot 'x'.*'cubic'"):
        sample._numeric_slot("x", ["cubic", 1, 2])
