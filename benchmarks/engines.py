"""The inference methods the benchmark times, each a function ``texts -> P(label 1)``: ours with
every engine and precision of :mod:`papercls.inference.engine` that this machine runs, and
transformers' ``pipeline("text-classification")``, all with the same batch size. Models are
loaded, quantised and exported before timing starts."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BATCH_SIZE = 64  # predict_proba's default and the train stage's eval_batch_size
REFERENCE = "torch fp32"  # what agreement is measured against
PEER = "pipeline"
APPROXIMATE = ("torch bf16", "torch int8", "onnx int8")  # the 99.5% agreement bar applies
METHODS = (REFERENCE, "torch bf16", "torch int8", "onnx fp32", "onnx int8", PEER)


@dataclass
class Methods:
    """``run``: name -> function, in running order; ``skipped``: name -> why not run;
    ``export_seconds``: the ONNX export (fp32 + int8) of the model."""

    run: dict[str, Callable[[list[str]], Any]] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    export_seconds: float | None = None
    wanted: tuple[str, ...] = METHODS  # --infer-methods; torch fp32 and pipeline always run

    def want(self, name: str) -> bool:
        if name in self.wanted or name in (REFERENCE, PEER):
            return True
        self.skipped[name] = "not asked for (--infer-methods)"
        return False


def _pipeline(model_dir: Path, device, max_length: int) -> Callable[[list[str]], Any]:
    import numpy as np
    from transformers import pipeline

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

    def peer(part: list[str]) -> np.ndarray:
        out = pipe(part, top_k=None)
        return np.array([next(d["score"] for d in row if d["label"] == positive) for row in out])

    return peer


def _torch_methods(model, tokenizer, max_length: int, methods: Methods) -> None:
    from papercls.inference.encoder import predict_proba, quantize_int8
    from papercls.inference.engine import native_bf16, precision_context

    device = next(model.parameters()).device

    def run(m, precision: str) -> Callable[[list[str]], Any]:
        def fn(part: list[str]):
            with precision_context(precision, device):
                return predict_proba(m, tokenizer, part, max_length, BATCH_SIZE, False)

        return fn

    methods.run[REFERENCE] = run(model, "fp32")
    if not methods.want("torch bf16"):
        pass
    elif native_bf16(device):
        methods.run["torch bf16"] = run(model, "bf16")
    else:
        methods.skipped["torch bf16"] = "no native bf16 here (emulated bf16 is slower than fp32)"
    if not methods.want("torch int8"):
        pass
    elif device.type == "cpu":
        methods.run["torch int8"] = run(quantize_int8(model), "fp32")
    else:
        methods.skipped["torch int8"] = "CPU only (fbgemm/x86 kernels)"


def _onnx_methods(model_dir: Path, tmp: Path, max_length: int, methods: Methods) -> None:
    import torch
    from transformers import AutoTokenizer

    from papercls.inference.onnx.cache import ensure_export
    from papercls.inference.onnx.layout import INT8_FILE, MODEL_FILE
    from papercls.inference.onnx.runtime import make_session, session_proba

    names = [n for n in ("onnx fp32", "onnx int8") if methods.want(n)]
    if not names:
        return
    t0 = time.perf_counter()
    (leaf,) = ensure_export(model_dir, tmp / "onnx", int8=True)
    methods.export_seconds = time.perf_counter() - t0
    tokenizer = AutoTokenizer.from_pretrained(leaf)
    threads = torch.get_num_threads()  # the same cores as torch
    for name in names:
        session = make_session(leaf / (MODEL_FILE if name == "onnx fp32" else INT8_FILE), threads)

        def fn(part: list[str], session=session):
            return session_proba(session, tokenizer, part, max_length, BATCH_SIZE, False)

        methods.run[name] = fn


def build_methods(
    model, tokenizer, model_dir: Path, tmp: Path, max_length: int, wanted=METHODS
) -> Methods:
    """Every method of ``wanted`` this machine runs: torch fp32/bf16/int8, ONNX Runtime
    fp32/int8 (on CPU) and the transformers pipeline."""
    methods = Methods(wanted=tuple(wanted))
    _torch_methods(model, tokenizer, max_length, methods)
    device = next(model.parameters()).device
    if device.type == "cpu":
        _onnx_methods(model_dir, tmp, max_length, methods)
    else:
        for name in ("onnx fp32", "onnx int8"):
            if methods.want(name):
                methods.skipped[name] = "CPU engine only"
    methods.run[PEER] = _pipeline(model_dir, device, max_length)
    return methods
