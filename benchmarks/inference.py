"""2. inference: ``papercls.inference.predict_proba`` against ``pipeline("text-classification")``
on the competition's testB.csv, plus a dynamic int8 model on CPU; the methods take turns chunk
by chunk (timing.interleaved)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.config import ROOT
from benchmarks.flops import batch_work, infer_flops_per_sequence
from benchmarks.machine import cpu_facts
from benchmarks.results import Row, target_row
from benchmarks.timing import Totals, interleaved, log
from benchmarks.workload import (
    encoder_shape,
    inference_texts,
    load_project_params,
    non_embedding_params,
)

BATCH_SIZE = 64  # predict_proba's default and the train stage's eval_batch_size


def inference_model_dir(tmp: Path, max_length: int) -> tuple[Path, str]:
    """This checkout's trained baseline (after ``dvc repro``), else MiniLM with a freshly
    initialised 2-label head saved to ``tmp``."""
    candidate = ROOT / "models" / "baseline"
    if (candidate / "config.json").is_file():
        return candidate, f"trained model {candidate.relative_to(ROOT)}"
    folds = sorted(candidate.glob("fold_*/config.json"))
    if folds:
        return folds[0].parent, f"trained k-fold model {folds[0].parent.relative_to(ROOT)}"
    from transformers import AutoTokenizer, set_seed

    from papercls.backbone import resolve_backbone
    from papercls.models import build_baseline

    backbone = resolve_backbone("minilm")
    set_seed(0)
    out = tmp / "fresh-minilm"
    build_baseline(backbone).save_pretrained(out)
    tokenizer = AutoTokenizer.from_pretrained(backbone)
    tokenizer.model_max_length = max_length
    tokenizer.save_pretrained(out)
    return out, "MiniLM with a fresh (untrained) head: no trained baseline found"


@dataclass
class InferenceRun:
    """What the inference benchmark measured: each method's probabilities and timings."""

    model_dir: Path
    model_note: str
    data_note: str
    texts: list[str]
    max_length: int
    chunk: int
    device: Any
    model: Any
    tokenizer: Any
    probs: dict[str, Any]
    totals: dict[str, Totals]

    @property
    def on_cpu(self) -> bool:
        return self.device.type == "cpu"


def _methods(model, tokenizer, model_dir: Path, max_length: int) -> dict[str, Callable]:
    """ours (predict_proba), the transformers pipeline, and on CPU our int8 model."""
    import numpy as np
    from transformers import pipeline

    from papercls.inference import predict_proba, quantize_int8

    device = next(model.parameters()).device
    pipe = pipeline(
        "text-classification",
        model=str(model_dir),
        tokenizer=str(model_dir),
        device=device,
        truncation=True,
        max_length=max_length,
        batch_size=BATCH_SIZE,
    )
    positive = pipe.model.config.id2label[1]

    def ours(part: list[str]) -> np.ndarray:
        return predict_proba(model, tokenizer, part, max_length, BATCH_SIZE)

    def peer(part: list[str]) -> np.ndarray:
        out = pipe(part, top_k=None)
        return np.array([next(d["score"] for d in row if d["label"] == positive) for row in out])

    methods: dict[str, Callable[[list[str]], np.ndarray]] = {"ours": ours, "pipeline": peer}
    if device.type == "cpu":
        qmodel = quantize_int8(model)
        methods["int8"] = lambda part: predict_proba(
            qmodel, tokenizer, part, max_length, BATCH_SIZE
        )
    return methods


def measure_inference(sizes: dict[str, int], tmp: Path) -> InferenceRun:
    import numpy as np

    from papercls.inference import load_classifier

    params = load_project_params()
    max_length = int(params["baseline"]["max_length"])
    model_dir, model_note = inference_model_dir(tmp, max_length)
    texts, data_note = inference_texts(sizes["infer"], params["preprocess"]["text_template"])
    model, tokenizer = load_classifier(model_dir)
    methods = _methods(model, tokenizer, model_dir, max_length)
    for fn in methods.values():
        fn(texts[:8])  # warm-up
    chunk = sizes["infer_chunk"]
    log(f"inference: {len(texts)} texts in chunks of {chunk}, taking turns: {', '.join(methods)}")
    outputs, totals = interleaved(methods, texts, chunk)
    probs = {name: np.concatenate(parts) for name, parts in outputs.items()}
    n, t_ours, t_pipe = len(texts), totals["ours"], totals["pipeline"]
    log(f"inference: ours {n / t_ours.wall:.1f} rows/s, pipeline {n / t_pipe.wall:.1f} rows/s")
    return InferenceRun(
        model_dir=model_dir,
        model_note=model_note,
        data_note=data_note,
        texts=texts,
        max_length=max_length,
        chunk=chunk,
        device=next(model.parameters()).device,
        model=model,
        tokenizer=tokenizer,
        probs=probs,
        totals=totals,
    )


def forward_work(run: InferenceRun) -> tuple[Any, dict[str, Any]]:
    """Token lengths of the texts and the FLOPs of predict_proba's batches (longest first
    within each chunk)."""
    import numpy as np

    from papercls.inference import encode

    ids = encode(run.tokenizer, run.texts, run.max_length)["input_ids"]
    lengths = np.array([len(x) for x in ids])
    n_params = non_embedding_params(run.model)
    n_layers, hidden = encoder_shape(run.model)
    batches = []
    for start in range(0, len(run.texts), run.chunk):
        order = start + np.argsort(-lengths[start : start + run.chunk], kind="stable")
        batches += [order[i : i + BATCH_SIZE] for i in range(0, len(order), BATCH_SIZE)]
    work = batch_work(
        lengths, batches, lambda s: infer_flops_per_sequence(n_params, n_layers, hidden, s)
    )
    return lengths, work


def speed_rows(run: InferenceRun) -> list[Row]:
    import numpy as np

    n, t_ours, t_pipe, b = len(run.texts), run.totals["ours"], run.totals["pipeline"], "inference"
    trained = run.model_note.startswith("trained")
    agree = float(np.mean((run.probs["ours"] >= 0.5) == (run.probs["pipeline"] >= 0.5)))
    return [
        Row(b, "model", "trained" if trained else "fresh head", note=str(run.model_dir)),
        Row(
            b,
            "ours predict_proba rows/s",
            n / t_ours.wall,
            "rows/s",
            note=f"{n} rows, batch {BATCH_SIZE}, load {t_ours.load:.1f}",
        ),
        Row(
            b,
            "pipeline rows/s",
            n / t_pipe.wall,
            "rows/s",
            note=f"batch {BATCH_SIZE}, load {t_pipe.load:.1f}",
        ),
        target_row(b, "speed-up ours/pipeline", t_pipe.wall / t_ours.wall, "x", ">= 2"),
        Row(b, "speed-up ours/pipeline (CPU time)", t_pipe.cpu / t_ours.cpu, "x"),
        Row(b, "label agreement ours vs pipeline", agree, "", note="sanity"),
    ]


def cpu_rows(run: InferenceRun, work: dict[str, Any], mean_tokens: float) -> list[Row]:
    """The forward FLOP rate against the CPU's peak, and the int8 model's figures."""
    import numpy as np

    n, b = len(run.texts), "inference"
    t_ours, t_pipe, t_q = run.totals["ours"], run.totals["pipeline"], run.totals["int8"]
    labels, q_labels = run.probs["ours"] >= 0.5, run.probs["int8"] >= 0.5
    peak = cpu_facts()["peak_fp32_flops"]
    rate = work["padded_flops"] / t_ours.wall
    agree = float(np.mean(labels == q_labels))
    log(f"inference: int8 {n / t_q.wall:.1f} rows/s, agreement {agree:.4f}")
    return [
        Row(
            b,
            "ours forward FLOP/s / CPU peak",
            rate / peak,
            "",
            note=f"{rate / 1e9:.1f} GFLOP/s, {mean_tokens:.0f} tok/row",
        ),
        Row(
            b,
            "int8 dynamic rows/s",
            n / t_q.wall,
            "rows/s",
            note=f"{t_ours.wall / t_q.wall:.2f}x ours float (CPU time "
            f"{t_ours.cpu / t_q.cpu:.2f}x); load {t_q.load:.1f}",
        ),
        target_row(
            b,
            "int8 speed-up over pipeline",
            t_pipe.wall / t_q.wall,
            "x",
            ">= 2",
            note=f"CPU time {t_pipe.cpu / t_q.cpu:.2f}x",
        ),
        target_row(
            b,
            "int8 label agreement (t=0.5)",
            agree,
            "",
            ">= 0.995",
            note=f"{int((labels != q_labels).sum())} of {n} rows differ",
        ),
    ]


def inference_details(run: InferenceRun, lengths, work: dict[str, Any]) -> dict[str, Any]:
    import numpy as np
    import torch

    ours = run.probs["ours"]
    details: dict[str, Any] = {
        "model_dir": str(run.model_dir),
        "model": run.model_note,
        "data": run.data_note,
        "rows": len(run.texts),
        "chunk": run.chunk,
        "batch_size": BATCH_SIZE,
        "max_length": run.max_length,
        "device": str(run.device),
        **{name: t.as_dict() for name, t in run.totals.items()},
        "max_abs_prob_diff_pipeline": float(np.max(np.abs(ours - run.probs["pipeline"]))),
        "positive_rate_ours": float((ours >= 0.5).mean()),
        "mean_tokens_per_row": float(np.mean(lengths)),
        "rows_truncated_at_max_length": int((lengths >= run.max_length).sum()),
        "flops": {"formula_infer_per_sequence": "2*N*s + 4*L*d*s^2", **work},
    }
    if run.on_cpu:
        q_probs = run.probs["int8"]
        details.update(
            int8_max_abs_prob_diff=float(np.max(np.abs(q_probs - ours))),
            int8_positive_rate=float((q_probs >= 0.5).mean()),
            int8_engine=torch.backends.quantized.engine,
        )
    return details


def bench_inference(sizes: dict[str, int], tmp: Path) -> tuple[list[Row], dict[str, Any]]:
    run = measure_inference(sizes, tmp)
    lengths, work = forward_work(run)
    details = inference_details(run, lengths, work)
    rows = speed_rows(run)
    if run.on_cpu:
        rows += cpu_rows(run, work, details["mean_tokens_per_row"])
    else:
        rows.append(
            Row("inference", "int8 dynamic", "skipped", note="CPU-only (fbgemm/x86 kernels)")
        )
    return rows, details
