"""4. gpu: bert-base-uncased trained with mixed precision and predicting under bf16 autocast,
only on a CUDA machine (a "skipped" row elsewhere)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from benchmarks.config import ROOT
from benchmarks.results import Row
from benchmarks.timing import log, timed
from benchmarks.training import train_ours
from benchmarks.workload import inference_texts, load_project_params, sample_frames

FIGURE = "bert-base-uncased mixed precision"


def local_bert_base() -> str | None:
    """bert-base-uncased without any download: $PAPERCLS_BERT_BASE, models/backbones/, or the
    Hugging Face cache."""
    for candidate in (
        os.environ.get("PAPERCLS_BERT_BASE"),
        ROOT / "models" / "backbones" / "bert-base-uncased",
    ):
        if candidate and (Path(candidate) / "config.json").is_file():
            return str(candidate)
    try:
        from transformers import AutoConfig, AutoTokenizer

        AutoConfig.from_pretrained("bert-base-uncased", local_files_only=True)
        AutoTokenizer.from_pretrained("bert-base-uncased", local_files_only=True)
        return "bert-base-uncased"
    except Exception:
        return None


def measure_gpu(sizes: dict[str, int], tmp: Path, backbone: str) -> dict[str, Any]:
    """Train with ``mixed_precision: auto``, then time predict_proba under bf16 autocast."""
    import torch

    from papercls.inference.encoder import load_classifier, predict_proba

    params = load_project_params()
    section = {**params["baseline"], "backbone": backbone, "mixed_precision": "auto"}
    train_df, valid_df = sample_frames(params, sizes["train"], sizes["valid"])
    log(f"gpu: bert-base-uncased on {torch.cuda.get_device_name()} ...")
    ours = train_ours(section, backbone, train_df, valid_df, tmp / "gpu-bert")
    texts, data_note = inference_texts(sizes["infer"], params["preprocess"]["text_template"])
    model, tokenizer = load_classifier(tmp / "gpu-bert")
    max_length = int(section["max_length"])
    with torch.autocast("cuda", dtype=torch.bfloat16):
        predict_proba(model, tokenizer, texts[:8], max_length)
        _, m_inf = timed(lambda: predict_proba(model, tokenizer, texts, max_length))
    return {
        "ours": ours,
        "rows_train": len(train_df),
        "rows_infer": len(texts),
        "data_note": data_note,
        "inference": m_inf,
    }


def gpu_rows(m: dict[str, Any], device: str) -> list[Row]:
    ours, b = m["ours"], "gpu"
    return [
        Row(
            b,
            "bert-base train samples/s (mixed precision)",
            ours["samples_per_s"],
            "samples/s",
            note=device,
        ),
        Row(
            b,
            "bert-base train end-to-end samples/s",
            m["rows_train"] / ours["wall_seconds"],
            "samples/s",
            note="incl. tokenise, eval, save",
        ),
        Row(b, "bert-base valid F1", ours["valid_f1"], ""),
        Row(
            b,
            "bert-base predict rows/s (bf16 autocast)",
            m["rows_infer"] / m["inference"].wall,
            "rows/s",
            note=m["data_note"],
        ),
    ]


def bench_gpu(sizes: dict[str, int], tmp: Path) -> tuple[list[Row], dict[str, Any]]:
    import torch

    if not torch.cuda.is_available():
        note = "no CUDA device (torch.cuda.is_available() is False)"
        return [Row("gpu", FIGURE, "skipped", note=note)], {}
    backbone = local_bert_base()
    if backbone is None:
        note = "bert-base-uncased not available locally (no download)"
        return [Row("gpu", FIGURE, "skipped", note=note)], {}
    m = measure_gpu(sizes, tmp, backbone)
    device = torch.cuda.get_device_name()
    return gpu_rows(m, device), {
        "device": device,
        "backbone": backbone,
        "train_wall_seconds": m["ours"]["wall_seconds"],
        "inference": m["inference"].as_dict(),
    }
