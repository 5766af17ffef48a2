"""The engine named in a summary line (``papercls predict``'s "wrote ..." line): a TF-IDF model
runs on no encoder engine, so no precision may be claimed for it ("torch bf16 (auto)" was
printed); an encoder gets its engine and the precision ``auto`` resolved to."""

from __future__ import annotations

import pytest

from papercls import hardware
from papercls.inference.classifier import describe_engine
from papercls.inference.engine import resolve_engine
from papercls.models.tfidf import TfidfClassifier

XEON = "model name\t: Intel Xeon\nflags\t\t: avx2 avx512f avx512_bf16 amx_bf16 amx_int8\n"


@pytest.fixture()
def bf16_auto():
    return resolve_engine("torch", "auto", hardware.detect(XEON, torch_features=None), "cpu")


def test_tfidf_model_claims_no_precision(tmp_path, bf16_auto):
    texts = ["patient clinical disease"] * 3 + ["galaxy quantum lattice"] * 3
    TfidfClassifier(max_features=50, ngram_max=1).fit(texts, [1] * 3 + [0] * 3).save(tmp_path)
    line = describe_engine(tmp_path, bf16_auto)
    assert "TF-IDF" in line
    for claim in ("bf16", "fp32", "int8", "(auto)", "torch", "onnx"):
        assert claim not in line, line


def test_encoder_model_names_its_engine(tmp_path, bf16_auto):
    (tmp_path / "config.json").write_text("{}", encoding="utf-8")
    assert describe_engine(tmp_path, bf16_auto) == "torch bf16 (auto)"
    assert describe_engine(tmp_path, None) == "torch fp32"
