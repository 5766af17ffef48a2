"""Any saved model folder as one classifier: the choice of model kind (TF-IDF or encoder) and
P(label 1) for texts, k-fold folders averaged over their fold models."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def is_tfidf_dir(model_dir: str | Path) -> bool:
    """A TF-IDF model folder holds ``tfidf.json``; anything else is read as an encoder folder
    (``config.json``, or k-fold ``fold_<k>/config.json`` sub-folders)."""
    from papercls.tfidf import CONFIG_FILE

    return (Path(model_dir) / CONFIG_FILE).is_file()


def predict_probs(
    model_dir: str | Path,
    texts: list[str],
    max_length: int | None = None,
    batch_size: int = 32,
    int8: bool = False,
) -> np.ndarray:
    """P(label 1) of ``texts`` with the model saved in ``model_dir``: TF-IDF, an encoder, or a
    k-fold encoder folder (mean over the fold models). ``max_length`` None: the length the
    encoder was trained with. ``int8``: an encoder runs as a dynamically quantised CPU copy."""
    if not Path(model_dir).is_dir():
        raise FileNotFoundError(f"model folder {model_dir} not found")
    if is_tfidf_dir(model_dir):
        if int8:
            raise ValueError(f"int8 applies to encoder models; {model_dir} is a TF-IDF model")
        from papercls.tfidf import TfidfClassifier

        probs = TfidfClassifier.load(model_dir).predict_proba(texts)
    else:
        from papercls.inference import predict_dir_proba

        probs = predict_dir_proba(
            model_dir, texts, max_length=max_length, batch_size=batch_size, int8=int8
        )
    probs = np.asarray(probs, dtype=np.float64)
    if probs.shape != (len(texts),) or not np.isfinite(probs).all():
        raise RuntimeError(
            f"model {model_dir} returned {probs.shape} probabilities for {len(texts)} texts"
        )
    return probs
