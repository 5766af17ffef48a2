"""The model the inference benchmark runs: this checkout's trained baseline when there is one
(after ``dvc repro``), else MiniLM with a classification head fitted on real labelled titles
(so that probabilities spread over (0, 1) as a trained model's do and label agreement between
engines means something; a random head leaves every row near 0.5), else a fresh head.

A head fitted on titles calls few abstracts medical; its bias is then shifted so that half of
the benchmark's own rows fall on each side of 0.5, where label agreement is hardest to keep
(most rows near the threshold), as with a model whose threshold was tuned on such data."""

from __future__ import annotations

from pathlib import Path

from benchmarks.config import MAG_TRAIN_CSV, ROOT

HEAD_ROWS = 1000  # labelled MAG titles the head is fitted on
CENTRE_ROWS = 200  # benchmark rows the head's bias is centred on
HEAD_TEMPLATE = "{title} {sep} {Keywords} {sep} {abstract}"


def fit_head(model, tokenizer, csv: Path, n: int, max_length: int) -> None:
    """Set the 2-label head to a logistic regression on the pooled outputs of the first ``n``
    labelled rows of ``csv`` (softmax([0, w.x + b])[1] == sigmoid(w.x + b))."""
    import numpy as np
    import pandas as pd
    import torch
    from sklearn.linear_model import LogisticRegression

    from papercls.data.text import build_texts
    from papercls.inference import encoder as inference

    df = pd.read_csv(csv, dtype=str, keep_default_na=False).head(n)
    enc = inference.encode(tokenizer, build_texts(df, HEAD_TEMPLATE), max_length)
    feats = np.empty((len(df), model.config.hidden_size), dtype=np.float32)
    with torch.inference_mode():
        for idx, batch in inference.length_sorted_batches(tokenizer, enc, list(enc), 64):
            feats[idx] = model.base_model(**batch).pooler_output.numpy()
    lr = LogisticRegression(C=1.0, max_iter=2000).fit(feats, df["label"].astype(int))
    with torch.no_grad():
        model.classifier.weight.zero_()
        model.classifier.bias.zero_()
        model.classifier.weight[1] = torch.from_numpy(lr.coef_[0].astype(np.float32))
        model.classifier.bias[1] = float(lr.intercept_[0])


def centre_head(model, tokenizer, texts: list[str], max_length: int) -> None:
    """Shift the head's bias so that the median P(label 1) over ``texts`` is 0.5."""
    import numpy as np
    import torch

    from papercls.inference.encoder import predict_proba

    p = predict_proba(model, tokenizer, texts, max_length, 64, False)
    logit = np.log(np.clip(p, 1e-12, 1)) - np.log(np.clip(1 - p, 1e-12, 1))
    with torch.no_grad():
        model.classifier.bias[1] -= float(np.median(logit))


def minilm_baseline(
    out_dir: Path, max_length: int, head_csv: Path | None, texts: list[str] | None = None
) -> Path:
    """MiniLM + a 2-label head (fitted when ``head_csv`` is given, then centred on ``texts``),
    saved as the train stage saves a model (the tokenizer carries ``max_length``)."""
    from transformers import AutoTokenizer, set_seed

    from papercls.models.backbone import resolve_backbone
    from papercls.models.fused_head import build_baseline

    backbone = resolve_backbone("minilm")
    set_seed(0)
    model = build_baseline(backbone).eval()
    tokenizer = AutoTokenizer.from_pretrained(backbone)
    tokenizer.model_max_length = max_length
    if head_csv is not None:
        fit_head(model, tokenizer, head_csv, HEAD_ROWS, max_length)
        if texts:
            centre_head(model, tokenizer, texts[:CENTRE_ROWS], max_length)
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    return out_dir


def inference_model_dir(tmp: Path, max_length: int, texts: list[str]) -> tuple[Path, str]:
    """(model folder, what it is): the trained baseline (first fold of a k-fold one), else
    MiniLM with a head fitted on MAG titles and centred on ``texts``, else a fresh head."""
    candidate = ROOT / "models" / "baseline"
    if (candidate / "config.json").is_file():
        return candidate, f"trained model {candidate.relative_to(ROOT)}"
    folds = sorted(candidate.glob("fold_*/config.json"))
    if folds:
        return folds[0].parent, f"trained k-fold model {folds[0].parent.relative_to(ROOT)}"
    if MAG_TRAIN_CSV.is_file():
        out = minilm_baseline(tmp / "minilm-mag-head", max_length, MAG_TRAIN_CSV, texts)
        return out, (
            f"MiniLM, head fitted on {HEAD_ROWS} MAG titles, centred on the first "
            f"{min(len(texts), CENTRE_ROWS)} rows (no trained baseline found)"
        )
    out = minilm_baseline(tmp / "fresh-minilm", max_length, None)
    return out, "MiniLM with a fresh (untrained) head: no trained baseline, no MAG data"
