"""2. inference: our engines (torch fp32, bf16 where native, dynamic int8; ONNX Runtime fp32 and
int8) against ``pipeline("text-classification")`` on the competition's testB.csv, in one run on
the same model, rows and batch size. The methods take turns chunk by chunk, for ``infer_rounds``
rounds, each keeping its best (timing.best_of); wall and process CPU seconds are both reported
(CPU seconds move least when other work shares the machine). Label agreement (t = 0.5) and the
largest probability difference are measured against torch fp32."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.engines import (
    APPROXIMATE,
    BATCH_SIZE,
    METHODS,
    PEER,
    REFERENCE,
    Methods,
    build_methods,
)
from benchmarks.flops import batch_work, infer_flops_per_sequence
from benchmarks.inference_model import inference_model_dir
from benchmarks.machine import cpu_facts
from benchmarks.results import Row, target_row
from benchmarks.timing import Totals, best_of, log
from benchmarks.workload import (
    encoder_shape,
    inference_texts,
    load_project_params,
    non_embedding_params,
)

B = "inference"
AGREEMENT = 0.995  # the bar an approximate engine must clear to count as a drop-in


@dataclass
class InferenceRun:
    """What the inference benchmark measured: each method's probabilities and timings."""

    model_dir: Path
    model_note: str
    data_note: str
    cpu: str  # hardware.cpu_capabilities().summary()
    texts: list[str]
    max_length: int
    chunk: int
    rounds: int
    device: Any
    model: Any
    tokenizer: Any
    methods: Methods
    probs: dict[str, Any]
    totals: dict[str, Totals]

    def agreement(self, name: str) -> tuple[float, float, int]:
        """(label agreement, max |prob difference|, rows that differ) against torch fp32."""
        import numpy as np

        ref, p = self.probs[REFERENCE], self.probs[name]
        differ = (ref >= 0.5) != (p >= 0.5)
        return float(1 - differ.mean()), float(np.max(np.abs(p - ref))), int(differ.sum())


def measure_inference(sizes: dict[str, int], tmp: Path) -> InferenceRun:
    import numpy as np

    from papercls.hardware import cpu_capabilities
    from papercls.inference.encoder import load_classifier

    cpu = cpu_capabilities().summary()
    log(f"inference: CPU {cpu}")
    params = load_project_params()
    max_length = int(params["baseline"]["max_length"])
    texts, data_note = inference_texts(sizes["infer"], params["preprocess"]["text_template"])
    model_dir, model_note = inference_model_dir(tmp, max_length, texts)
    model, tokenizer = load_classifier(model_dir)
    wanted = sizes.get("infer_methods") or METHODS
    methods = build_methods(model, tokenizer, model_dir, tmp, max_length, wanted)
    for fn in methods.run.values():
        fn(texts[:8])  # warm-up: first-call allocations, oneDNN kernel choice
    chunk, rounds = sizes["infer_chunk"], sizes.get("infer_rounds", 1)
    log(f"inference: {len(texts)} texts, chunks of {chunk}, {rounds} round(s): {list(methods.run)}")
    outputs, totals = best_of(methods.run, texts, chunk, rounds)
    return InferenceRun(
        model_dir=model_dir,
        model_note=model_note,
        data_note=data_note,
        cpu=cpu,
        texts=texts,
        max_length=max_length,
        chunk=chunk,
        rounds=rounds,
        device=next(model.parameters()).device,
        model=model,
        tokenizer=tokenizer,
        methods=methods,
        probs={name: np.concatenate(parts) for name, parts in outputs.items()},
        totals=totals,
    )


def forward_work(run: InferenceRun) -> tuple[Any, dict[str, Any]]:
    """Token lengths of the texts and the FLOPs of predict_proba's batches (longest first
    within each chunk)."""
    import numpy as np

    from papercls.inference.encoder import encode

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


def near_threshold(run: InferenceRun) -> float:
    """The share of rows whose torch fp32 probability is within 0.1 of 0.5: how much room an
    approximate engine has to flip labels."""
    import numpy as np

    return float(np.mean(np.abs(run.probs[REFERENCE] - 0.5) < 0.1))


def engine_rows(run: InferenceRun) -> list[Row]:
    """One speed row and one agreement row per method, skipped methods named."""
    n, peer = len(run.texts), run.totals[PEER]
    rows = [
        Row(B, "CPU", run.cpu.split(" (")[0], note=run.cpu[len(run.cpu.split(" (")[0]) :]),
        Row(
            B,
            "model",
            run.model_dir.name,
            note=f"{run.model_note}; {near_threshold(run):.0%} of rows within 0.1 of 0.5",
        ),
    ]
    for name, t in run.totals.items():
        rows.append(
            Row(
                B,
                f"{name} rows/s",
                n / t.wall,
                "rows/s",
                note=f"{peer.wall / t.wall:.2f}x pipeline; CPU time {peer.cpu / t.cpu:.2f}x; "
                f"load {t.load:.1f}",
            )
        )
        if name == REFERENCE:
            continue
        agree, dprob, differ = run.agreement(name)
        rows.append(
            target_row(
                B,
                f"{name} label agreement with torch fp32",
                agree,
                "",
                f">= {AGREEMENT}" if name in APPROXIMATE else "",
                note=f"max |dprob| {dprob:.1e}; {differ} of {n} differ",
            )
        )
    rows += [
        Row(B, f"{name} rows/s", "skipped", note=why) for name, why in run.methods.skipped.items()
    ]
    return rows


def _speedup(run: InferenceRun, name: str) -> tuple[float, float]:
    """(wall, CPU-time) speed-up of ``name`` over the pipeline."""
    t, peer = run.totals[name], run.totals[PEER]
    return peer.wall / t.wall, peer.cpu / t.cpu


def target_rows(run: InferenceRun) -> list[Row]:
    """The issue's targets: the fastest drop-in engine >= 2x pipeline, ONNX int8 >= 1.8x,
    ONNX fp32 not slower than torch fp32 and within 1e-4 of its probabilities."""
    ours = [m for m in run.totals if m != PEER]
    drop_in = [m for m in ours if m not in APPROXIMATE or run.agreement(m)[0] >= AGREEMENT]
    best = max(drop_in, key=lambda m: _speedup(run, m)[1])  # by CPU time: least moved by load
    wall, cpu = _speedup(run, best)
    rows = [
        target_row(
            B,
            "fastest engine >= 99.5% agreement, speed-up over pipeline (CPU time)",
            cpu,
            "x",
            ">= 2",
            note=f"{best}; wall {wall:.2f}x",
        ),
        target_row(
            B,
            "ours torch fp32 speed-up over pipeline (CPU time)",
            _speedup(run, REFERENCE)[1],
            "x",
            ">= 2",
            note=f"wall {_speedup(run, REFERENCE)[0]:.2f}x",
        ),
    ]
    if "onnx int8" in run.totals:
        wall, cpu = _speedup(run, "onnx int8")
        rows.append(
            target_row(
                B,
                "onnx int8 speed-up over pipeline (CPU time)",
                cpu,
                "x",
                ">= 1.8",
                note=f"wall {wall:.2f}x",
            )
        )
    if "onnx fp32" in run.totals:
        t, ref = run.totals["onnx fp32"], run.totals[REFERENCE]
        rows += [
            target_row(
                B,
                "onnx fp32 / torch fp32 speed (CPU time)",
                ref.cpu / t.cpu,
                "x",
                ">= 1",
                note=f"wall {ref.wall / t.wall:.2f}x",
            ),
            target_row(
                B,
                "onnx fp32 max |dprob| vs torch fp32",
                run.agreement("onnx fp32")[1],
                "",
                "<= 1e-4",
            ),
        ]
    return rows


def flop_rows(run: InferenceRun, work: dict[str, Any], mean_tokens: float) -> list[Row]:
    """torch fp32's forward FLOP rate against the fp32 peak: per wall second (the machine) and
    per CPU second (one core's share, against one core's peak: little moved by other load)."""
    facts = cpu_facts()
    peak, cores = facts["peak_fp32_flops"], int(facts["cores"])
    t = run.totals[REFERENCE]
    wall_rate, cpu_rate = work["padded_flops"] / t.wall, work["padded_flops"] / t.cpu
    return [
        Row(
            B,
            "torch fp32 forward FLOP/s / CPU fp32 peak",
            wall_rate / peak,
            "",
            note=f"{wall_rate / 1e9:.1f} GFLOP/s, {mean_tokens:.0f} tok/row",
        ),
        Row(
            B,
            "torch fp32 forward FLOP per CPU-s / one core's fp32 peak",
            cpu_rate / (peak / cores),
            "",
            note=f"{cpu_rate / 1e9:.1f} GFLOP per CPU-second",
        ),
    ]


def inference_details(run: InferenceRun, lengths, work: dict[str, Any]) -> dict[str, Any]:
    import numpy as np
    import torch

    methods = {}
    for name, t in run.totals.items():
        agree, dprob, differ = run.agreement(name)
        methods[name] = {
            **t.as_dict(),
            "label_agreement": agree,
            "max_abs_prob_diff": dprob,
            "rows_differ": differ,
            "positive_rate": float((run.probs[name] >= 0.5).mean()),
        }
    return {
        "model_dir": str(run.model_dir),
        "model": run.model_note,
        "data": run.data_note,
        "cpu_capabilities": run.cpu,
        "rows": len(run.texts),
        "chunk": run.chunk,
        "rounds": run.rounds,
        "batch_size": BATCH_SIZE,
        "max_length": run.max_length,
        "device": str(run.device),
        "threads": torch.get_num_threads(),
        "methods": methods,
        "skipped": run.methods.skipped,
        "onnx_export_seconds": run.methods.export_seconds,
        "int8_engine": torch.backends.quantized.engine,
        "rows_within_0.1_of_threshold": near_threshold(run),
        "mean_tokens_per_row": float(np.mean(lengths)),
        "rows_truncated_at_max_length": int((lengths >= run.max_length).sum()),
        "flops": {"formula_infer_per_sequence": "2*N*s + 4*L*d*s^2", **work},
    }


def bench_inference(sizes: dict[str, int], tmp: Path) -> tuple[list[Row], dict[str, Any]]:
    run = measure_inference(sizes, tmp)
    lengths, work = forward_work(run)
    details = inference_details(run, lengths, work)
    rows = engine_rows(run) + target_rows(run)
    rows += flop_rows(run, work, details["mean_tokens_per_row"])
    for name, t in run.totals.items():
        log(
            f"inference: {name} {len(run.texts) / t.wall:.1f} rows/s "
            f"({len(run.texts) / t.cpu:.1f} rows/CPU-s)"
        )
    return rows, details
