"""TF-IDF + logistic regression: the fast reference model.

Word n-grams 1..ngram_max, sublinear tf, at most max_features terms, L2-normalised rows;
``LogisticRegression(C, class_weight=None, random_state=seed)``.

Saved without pickle: ``tfidf.json`` (settings + vocabulary, term list in column order) and
``tfidf.safetensors`` (idf, coef, intercept as float64). ``predict_proba`` always goes through
those arrays, so a reloaded model reproduces the fitted model's probabilities exactly.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from safetensors.numpy import load_file, save_file
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from papercls.data.io import atomic_dir
from papercls.data.template import SEP

FORMAT = "papercls-tfidf-v1"
CONFIG_FILE = "tfidf.json"
WEIGHTS_FILE = "tfidf.safetensors"
TOKEN_PATTERN = r"(?u)\b\w\w+\b"


def _clean(texts: Iterable[Any]) -> list[str]:
    if hasattr(texts, "tolist"):
        texts = texts.tolist()
    out = []
    for t in texts:
        t = "" if t is None or (isinstance(t, float) and t != t) else str(t)
        out.append(t.replace(SEP, " "))  # the field separator is not a word
    return out


class TfidfClassifier:
    def __init__(
        self,
        max_features: int | None = 50000,
        ngram_max: int = 2,
        C: float = 4.0,
        seed: int = 42,
        max_iter: int = 2000,
    ):
        self.max_features = None if max_features in (None, 0) else int(max_features)
        self.ngram_max = int(ngram_max)
        self.C = float(C)
        self.seed = int(seed)
        self.max_iter = int(max_iter)
        self.vocabulary: list[str] | None = None
        self.idf: np.ndarray | None = None
        self.coef: np.ndarray | None = None
        self.intercept: float | None = None
        self._counter: CountVectorizer | None = None

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> TfidfClassifier:
        """From the ``tfidf`` section of params.yaml."""
        known = {"max_features", "ngram_max", "C", "seed", "max_iter"}
        unknown = set(params) - known
        if unknown:
            raise ValueError(f"unknown tfidf param(s) {sorted(unknown)}; expected {sorted(known)}")
        return cls(**params)

    # -- fitting -----------------------------------------------------------------------------
    def fit(self, texts: Sequence[str], labels: Sequence[int]) -> TfidfClassifier:
        texts = _clean(texts)
        y = np.asarray(labels).astype(np.int64)
        if set(np.unique(y).tolist()) != {0, 1}:
            raise ValueError("tfidf needs labels of both classes 0 and 1 in the training data")
        vec = TfidfVectorizer(
            ngram_range=(1, self.ngram_max),
            sublinear_tf=True,
            max_features=self.max_features,
            lowercase=True,
            token_pattern=TOKEN_PATTERN,
            dtype=np.float64,
        )
        x = vec.fit_transform(texts)
        clf = LogisticRegression(
            C=self.C, class_weight=None, random_state=self.seed, max_iter=self.max_iter
        )
        clf.fit(x, y)
        vocab = vec.vocabulary_
        terms = [""] * len(vocab)
        for term, idx in vocab.items():
            terms[idx] = term
        self.vocabulary = terms
        self.idf = np.asarray(vec.idf_, dtype=np.float64)
        self.coef = np.asarray(clf.coef_[0], dtype=np.float64)
        self.intercept = float(clf.intercept_[0])
        self._counter = None
        return self

    # -- prediction --------------------------------------------------------------------------
    def _check_fitted(self) -> None:
        if self.vocabulary is None:
            raise RuntimeError("TfidfClassifier is not fitted")

    def _count_vectorizer(self) -> CountVectorizer:
        if self._counter is None:
            self._counter = CountVectorizer(
                ngram_range=(1, self.ngram_max),
                lowercase=True,
                token_pattern=TOKEN_PATTERN,
                vocabulary={t: i for i, t in enumerate(self.vocabulary)},
                dtype=np.float64,
            )
        return self._counter

    def transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        """The TF-IDF matrix (sublinear tf * idf, rows L2-normalised)."""
        self._check_fitted()
        x = self._count_vectorizer().transform(_clean(texts)).tocsr().astype(np.float64)
        x.data = np.log(x.data) + 1.0
        x = x @ sp.diags(self.idf)
        x = sp.csr_matrix(x)
        norms = np.sqrt(np.asarray(x.multiply(x).sum(axis=1)).ravel())
        norms[norms == 0] = 1.0
        return sp.csr_matrix(sp.diags(1.0 / norms) @ x)

    def decision_function(self, texts: Sequence[str]) -> np.ndarray:
        x = self.transform(texts)
        return np.asarray(x @ self.coef).ravel() + self.intercept

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """P(label == 1) per text (float64)."""
        z = self.decision_function(texts)
        return 1.0 / (1.0 + np.exp(-z))

    # -- persistence -------------------------------------------------------------------------
    def save(self, directory: str | Path) -> Path:
        """Write tfidf.json + tfidf.safetensors into ``directory`` (atomically replaced)."""
        self._check_fitted()
        config = {
            "format": FORMAT,
            "max_features": self.max_features,
            "ngram_max": self.ngram_max,
            "C": self.C,
            "seed": self.seed,
            "max_iter": self.max_iter,
            "sublinear_tf": True,
            "lowercase": True,
            "token_pattern": TOKEN_PATTERN,
            "id2label": {"0": "other", "1": "medical"},
            "vocabulary": self.vocabulary,
        }
        weights = {
            "idf": np.ascontiguousarray(self.idf),
            "coef": np.ascontiguousarray(self.coef),
            "intercept": np.array([self.intercept], dtype=np.float64),
        }
        directory = Path(directory)
        with atomic_dir(directory) as tmp:
            (tmp / CONFIG_FILE).write_text(json.dumps(config, ensure_ascii=False), "utf-8")
            save_file(weights, str(tmp / WEIGHTS_FILE))
        return directory

    @classmethod
    def load(cls, directory: str | Path) -> TfidfClassifier:
        """The model saved in ``directory``: FileNotFoundError without ``tfidf.json``;
        ValueError naming the file for one that is unreadable, truncated or inconsistent."""
        directory = Path(directory)
        cfg_path = directory / CONFIG_FILE
        if not cfg_path.is_file():
            raise FileNotFoundError(f"{directory} holds no saved TF-IDF model ({CONFIG_FILE})")
        config = _read_config(cfg_path)
        try:
            model = cls(
                max_features=config["max_features"],
                ngram_max=config["ngram_max"],
                C=config["C"],
                seed=config["seed"],
                max_iter=config.get("max_iter", 2000),
            )
            model.vocabulary = list(config["vocabulary"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"{cfg_path}: not a valid TF-IDF model file ({exc!r})") from None
        model.idf, model.coef, model.intercept = _read_weights(directory / WEIGHTS_FILE)
        if not (len(model.vocabulary) == model.idf.shape[0] == model.coef.shape[0]):
            raise ValueError(f"{directory}: vocabulary, idf and coef sizes differ")
        return model


def _read_config(cfg_path: Path) -> dict[str, Any]:
    try:
        config = json.loads(cfg_path.read_text("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        why = type(exc).__name__
        raise ValueError(f"{cfg_path}: unreadable ({why}); save the model again") from None
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        shown = config.get("format") if isinstance(config, dict) else None
        raise ValueError(f"{cfg_path}: unknown format {shown!r}")
    if config.get("token_pattern") != TOKEN_PATTERN:
        raise ValueError(f"{cfg_path}: unsupported token_pattern")
    return config


def _read_weights(path: Path) -> tuple[np.ndarray, np.ndarray, float]:
    """idf, coef and intercept from ``tfidf.safetensors``; ValueError naming the file when it
    is missing, truncated or lacks one of them."""
    if not path.is_file():
        raise ValueError(f"{path}: file not found (the model folder is incomplete)")
    try:
        arrays = load_file(str(path))
        idf = arrays["idf"].astype(np.float64).ravel()
        coef = arrays["coef"].astype(np.float64).ravel()
        intercept = float(arrays["intercept"].ravel()[0])
    except Exception as exc:  # SafetensorError (truncated, corrupt) is a bare Exception
        reason = f"missing array {exc}" if isinstance(exc, KeyError) else str(exc)
        raise ValueError(
            f"{path}: unreadable TF-IDF weights ({reason}); the file may be truncated: "
            "train the model again"
        ) from None
    return idf, coef, intercept
