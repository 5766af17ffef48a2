"""The real bundled backbone (all-MiniLM-L6-v2, offline): loads and scores texts."""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.usefixtures("restore_torch_threads")

TEXTS = [
    "Randomised trial of a new therapy in cancer patients [SEP] oncology [SEP] We enrolled 200.",
    "Quantum error correction on superconducting circuits [SEP] qubits [SEP] We show a code.",
]


def test_minilm_backbone_loads_offline_and_scores_texts():
    import torch
    from transformers import AutoTokenizer

    from papercls.inference.encoder import predict_proba
    from papercls.models.backbone import resolve_backbone
    from papercls.models.fused_head import build_baseline, build_topline

    torch.set_num_threads(1)
    path = resolve_backbone("minilm")
    tok = AutoTokenizer.from_pretrained(path)
    baseline = build_baseline(path).eval()
    assert baseline.config.model_type == "bert" and baseline.config.hidden_size == 384
    topline = build_topline(path, {"hidden": 128}).eval()
    assert topline.has_pooler
    for model in (baseline, topline):
        p = predict_proba(model, tok, TEXTS, max_length=64)
        assert p.shape == (2,) and np.isfinite(p).all() and ((p > 0) & (p < 1)).all()
