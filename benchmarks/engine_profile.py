"""Where each inference engine spends its time (run by hand; not part of run.py).

    python -m benchmarks.engine_profile [--rows 64] [--top 6]

The inference benchmark's model (benchmarks.inference_model) predicts the first ``--rows``
rows of testB with torch fp32, torch bf16 (where native), ONNX Runtime fp32 and int8, each
under its profiler (torch.profiler; ONNX Runtime's session profiling), one batch of 64 at a
time as ``papercls predict`` runs. Printed per engine: its operators' share of the time,
largest first, so that a missed speed target can be traced to the operators that cost it.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from collections import Counter
from pathlib import Path

from benchmarks.engines import BATCH_SIZE


def torch_profile(model, tokenizer, texts: list[str], max_length: int, bf16: bool) -> Counter:
    """Self CPU microseconds per torch operator over one predict_proba call."""
    from torch.profiler import ProfilerActivity, profile

    from papercls.inference.encoder import predict_proba
    from papercls.inference.engine import precision_context

    with profile(activities=[ProfilerActivity.CPU]) as prof:
        with precision_context("bf16" if bf16 else "fp32", "cpu"):
            predict_proba(model, tokenizer, texts, max_length, BATCH_SIZE, False)
    return Counter({e.key: e.self_cpu_time_total for e in prof.key_averages()})


def onnx_profile(graph: Path, tokenizer, texts: list[str], max_length: int, tmp: Path) -> Counter:
    """Microseconds per ONNX operator type over one session_proba call."""
    import onnxruntime as ort

    from papercls.inference.onnx.runtime import session_proba

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.enable_profiling = True
    options.profile_file_prefix = str(tmp / graph.stem)
    session = ort.InferenceSession(str(graph), options, providers=["CPUExecutionProvider"])
    session_proba(session, tokenizer, texts, max_length, BATCH_SIZE, False)
    trace = json.loads(Path(session.end_profiling()).read_text())
    times: Counter = Counter()
    for event in trace:
        if event.get("cat") == "Node" and event.get("name", "").endswith("_kernel_time"):
            times[event["args"]["op_name"]] += event["dur"]
    return times


def shares(times: Counter, top: int) -> str:
    total = sum(times.values()) or 1
    parts = [f"{op} {100 * t / total:.0f}%" for op, t in times.most_common(top)]
    return f"{total / 1e6:.2f} s profiled: " + ", ".join(parts)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=64)
    p.add_argument("--top", type=int, default=6)
    args = p.parse_args(argv)
    from transformers import AutoTokenizer

    from benchmarks.inference_model import inference_model_dir
    from benchmarks.workload import inference_texts, load_project_params
    from papercls.hardware import cpu_capabilities
    from papercls.inference.encoder import load_classifier
    from papercls.inference.engine import native_bf16
    from papercls.inference.onnx.cache import ensure_export
    from papercls.inference.onnx.layout import INT8_FILE, MODEL_FILE

    print(f"CPU: {cpu_capabilities().summary()}")
    params = load_project_params()
    max_length = int(params["baseline"]["max_length"])
    texts, note = inference_texts(args.rows, params["preprocess"]["text_template"])
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        model_dir, model_note = inference_model_dir(tmp, max_length, texts)
        print(f"{note}; {model_note}; max_length {max_length}, batch {BATCH_SIZE}")
        model, tokenizer = load_classifier(model_dir, device="cpu")
        for _ in range(2):  # the first pass chooses kernels and allocates; the second counts
            out = {"torch fp32": torch_profile(model, tokenizer, texts, max_length, False)}
            if native_bf16("cpu"):
                out["torch bf16"] = torch_profile(model, tokenizer, texts, max_length, True)
        (leaf,) = ensure_export(model_dir, tmp / "onnx", int8=True)
        onnx_tok = AutoTokenizer.from_pretrained(leaf)
        for name, file in (("onnx fp32", MODEL_FILE), ("onnx int8", INT8_FILE)):
            onnx_profile(leaf / file, onnx_tok, texts[:8], max_length, tmp)  # warm-up
            out[name] = onnx_profile(leaf / file, onnx_tok, texts, max_length, tmp)
    for name, times in out.items():
        print(f"{name:<11} {shares(times, args.top)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
