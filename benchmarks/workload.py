"""What the benchmarks run on: the project's params, rows of its own split, texts to predict,
and the shape of a model (for the FLOP model)."""

from __future__ import annotations

from typing import Any

from benchmarks.config import ROOT, TESTB_CSV


def load_project_params() -> dict[str, Any]:
    from papercls.config.params import load_params

    return load_params(ROOT / "params.yaml")


def sample_frames(params: dict[str, Any], n_train: int, n_valid: int):
    """The first ``n_train`` / ``n_valid`` rows of the project's own train/valid split of the
    bundled sample (data/sample/*.csv, preprocess template)."""
    from papercls.data.preprocess import prepare_frames

    frames = prepare_frames(
        ROOT / params["data"]["train"], ROOT / params["data"]["test"], params["preprocess"]
    )
    return (
        frames["train"].head(n_train).reset_index(drop=True),
        frames["valid"].head(n_valid).reset_index(drop=True),
    )


def inference_texts(n: int, template: str) -> tuple[list[str], str]:
    """The first ``n`` texts of the competition's testB.csv, else ``n`` generated rows."""
    from papercls.data.schema import load_test
    from papercls.data.text import build_texts

    if TESTB_CSV.is_file():
        df = load_test(TESTB_CSV).head(n)
        return build_texts(df, template), f"{TESTB_CSV} ({len(df)} rows)"
    from papercls.synthetic.sample import generate

    df = generate(n, seed=1, labelled=False)
    return build_texts(df, template), f"{TESTB_CSV} ABSENT: {n} generated rows instead"


def non_embedding_params(model) -> int:
    """Parameters outside the ``embeddings`` module (word/position/type tables, whose lookup
    costs no matmul)."""
    return sum(p.numel() for n, p in model.named_parameters() if ".embeddings." not in f".{n}")


def encoder_shape(model) -> tuple[int, int]:
    cfg = model.config
    return int(cfg.num_hidden_layers), int(cfg.hidden_size)


def f1_at_half(labels, probs) -> float:
    import numpy as np
    from sklearn.metrics import f1_score

    return float(f1_score(labels, (np.asarray(probs) >= 0.5).astype(int), zero_division=0))
