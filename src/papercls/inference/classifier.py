"""Any saved model folder as one classifier: the choice of model kind (TF-IDF or encoder) and
P(label 1) for texts, k-fold folders averaged over their fold models."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from papercls.inference.engine import Engine


def is_tfidf_dir(model_dir: str | Path) -> bool:
    """A TF-IDF model folder holds ``tfidf.json``; anything else is read as an encoder folder
    (``config.json``, or k-fold ``fold_<k>/config.json`` sub-folders)."""
    from papercls.models.tfidf import CONFIG_FILE

    return (Path(model_dir) / CONFIG_FILE).is_file()


def describe_engine(model_dir: str | Path, engine: Engine | None) -> str:
    """What computes the probabilities of ``model_dir``, for a summary line: an encoder's engine
    and precision (:meth:`Engine.describe`, ``auto`` as resolved); a TF-IDF model runs on
    neither (float64 NumPy), so no precision is claimed for it."""
    if is_tfidf_dir(model_dir):
        return "TF-IDF model, float64; --engine and --precision apply to encoders only"
    return (engine or Engine()).describe()


def load_predictor(
    model_dir: str | Path,
    max_length: int | None = None,
    batch_size: int = 32,
    int8: bool = False,
    engine: Engine | None = None,
    onnx_dir: str | Path | None = None,
    progress: bool | None = None,
) -> Callable[[list[str]], np.ndarray]:
    """A function from texts to P(label 1) with the model saved in ``model_dir``, checked once
    (a TF-IDF model is loaded once; an encoder folder per call). Arguments: see
    :func:`predict_probs`; ``progress``: an encoder's tqdm bar (None: on a terminal)."""
    if not Path(model_dir).is_dir():
        raise FileNotFoundError(f"model folder {model_dir} not found")
    if int8:
        if engine is not None and engine.precision != "int8":
            raise ValueError(f"int8 and precision {engine.precision} disagree")
        engine = engine or Engine("torch", "int8", "int8")
    engine = engine or Engine()
    if is_tfidf_dir(model_dir):
        if not engine.is_default:
            raise ValueError(
                f"engine {engine.describe()} applies to encoder models; "
                f"{model_dir} is a TF-IDF model"
            )
        from papercls.models.tfidf import TfidfClassifier

        predict = TfidfClassifier.load(model_dir).predict_proba
    else:
        from papercls.inference.encoder import check_model_files, is_tfidf_model, model_dirs
        from papercls.inference.engine import predict_dir

        for leaf in model_dirs(model_dir):  # refused before any row is read
            if not is_tfidf_model(leaf):
                check_model_files(leaf)

        def predict(texts: list[str]) -> np.ndarray:
            return predict_dir(
                model_dir,
                texts,
                engine,
                max_length,
                batch_size,
                progress=progress,
                onnx_dir=onnx_dir,
            )

    def checked(texts: list[str]) -> np.ndarray:
        probs = np.asarray(predict(texts), dtype=np.float64)
        if probs.shape != (len(texts),) or not np.isfinite(probs).all():
            raise RuntimeError(
                f"model {model_dir} returned {probs.shape} probabilities for {len(texts)} texts"
            )
        return probs

    return checked


def predict_probs(
    model_dir: str | Path,
    texts: list[str],
    max_length: int | None = None,
    batch_size: int = 32,
    int8: bool = False,
    engine: Engine | None = None,
    onnx_dir: str | Path | None = None,
) -> np.ndarray:
    """P(label 1) of ``texts`` with the model saved in ``model_dir``: TF-IDF, an encoder, or a
    k-fold encoder folder (mean over the fold models). ``max_length`` None: the length the
    encoder was trained with. ``engine``: runtime and precision of an encoder
    (:mod:`papercls.inference.engine`; None: torch fp32); ``int8``: the same as torch int8 (a
    dynamically quantised CPU copy). ``onnx_dir``: where the onnx engine keeps the export."""
    predictor = load_predictor(model_dir, max_length, batch_size, int8, engine, onnx_dir)
    return predictor(texts)
