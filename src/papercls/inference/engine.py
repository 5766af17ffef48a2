"""The inference engine: which runtime and which numeric precision compute P(label 1) with an
encoder model. Chosen in one place for ``papercls predict`` (``--engine``, ``--precision``),
the train stages' held-out and test predictions (params.yaml ``inference``) and the benchmark.

engine     torch  PyTorch, the model as saved (the default)
           onnx   ONNX Runtime on the model's ONNX export, made once and kept beside the model
                  (``models/<name>.onnx/``, :mod:`papercls.inference.onnx.cache`)
precision  auto   bf16 where the hardware has native bf16 matrix instructions (CPU: AVX-512
                  BF16, AMX or ARM BF16, see :mod:`papercls.hardware`; CUDA: bf16 support),
                  fp32 elsewhere; the onnx engine: fp32 (ONNX Runtime has no bf16 CPU kernels
                  for these graphs)
           fp32   exact: the model's own float32 arithmetic, the same on every machine up to
                  float rounding
           bf16   torch only: bf16 autocast (matrix products in bf16, softmax and norms fp32)
           int8   torch: dynamic int8 of every ``nn.Linear`` (CPU); onnx: dynamic int8 with
                  per-channel weights on the fused graph (:mod:`papercls.inference.onnx.quantize`)

bf16 and int8 are approximate: probabilities move and a few labels can flip; the benchmark
(``benchmarks/inference.py``) measures the label agreement of each with fp32.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from papercls.hardware import auto_precision

ENGINES = ("torch", "onnx")
PRECISIONS = ("auto", "fp32", "bf16", "int8")
ONNX_PRECISIONS = ("fp32", "int8")
DEFAULT = {"engine": "torch", "precision": "fp32"}  # params.yaml inference, when absent


@dataclass(frozen=True)
class Engine:
    """A resolved choice: ``name`` torch|onnx, ``precision`` fp32|bf16|int8 (never auto);
    ``requested``: the precision as asked for (auto, or the same as ``precision``)."""

    name: str = "torch"
    precision: str = "fp32"
    requested: str = "fp32"

    def describe(self) -> str:
        auto = " (auto)" if self.requested == "auto" else ""
        return f"{self.name} {self.precision}{auto}"

    @property
    def is_default(self) -> bool:
        """Plain fp32 torch, or what auto gave: what a TF-IDF model is compatible with."""
        return self.name == "torch" and (self.precision == "fp32" or self.requested == "auto")


def _choice(key: str, value: Any, allowed: Sequence[str]) -> str:
    text = str(value).strip().lower() if isinstance(value, str) else None
    if text not in allowed:
        raise ValueError(f"{key} must be one of {', '.join(allowed)}; got {value!r}")
    return text


def native_bf16(device: Any = None, caps=None) -> bool:
    """bf16 matrix instructions in hardware on ``device`` (None: CUDA when available)."""
    return auto_precision(device, caps) == "bf16"


def resolve_engine(
    engine: str = "torch", precision: str = "fp32", caps=None, device: Any = None
) -> Engine:
    """Check ``engine`` and ``precision`` (ValueError naming the bad one) and resolve
    ``auto``: for torch as :func:`papercls.hardware.auto_precision` decides (bf16 where native
    on ``device``; ``caps``: a :class:`papercls.hardware.CpuCapabilities`, default this CPU;
    fp32 otherwise), fp32 for onnx."""
    name = _choice("engine", engine, ENGINES)
    asked = _choice("precision", precision, PRECISIONS)
    if name == "onnx" and asked not in ("auto", *ONNX_PRECISIONS):
        raise ValueError(
            f"precision {asked} is not available with engine onnx; "
            f"allowed: auto, {', '.join(ONNX_PRECISIONS)}"
        )
    resolved = asked
    if asked == "auto":
        resolved = auto_precision(device, caps) if name == "torch" else "fp32"
    return Engine(name, resolved, asked)


def from_params(section: dict[str, Any] | None, caps=None) -> Engine:
    """The engine of a params.yaml ``inference`` section (absent keys: :data:`DEFAULT`)."""
    section = {**DEFAULT, **(section or {})}
    return resolve_engine(section["engine"], section["precision"], caps)


@contextlib.contextmanager
def precision_context(precision: str, device: Any = None) -> Iterator[None]:
    """bf16 autocast on ``device`` (None: CUDA when available, else CPU) for ``bf16``;
    nothing for the other precisions."""
    if precision != "bf16":
        yield
        return
    import torch

    from papercls.inference.encoder import default_device

    device = torch.device(device) if device is not None else default_device()
    with torch.autocast(device.type, dtype=torch.bfloat16):
        yield


def predict_dir(
    model_dir: str | Path,
    texts: Sequence[str],
    engine: Engine | None = None,
    max_length: int | None = None,
    batch_size: int = 64,
    device: Any = None,
    progress: bool | None = None,
    onnx_dir: str | Path | None = None,
    threads: int | None = None,
) -> np.ndarray:
    """P(label 1) of ``texts`` from the encoder model(s) saved in ``model_dir`` (k-fold: the
    mean over the folds) with ``engine`` (None: torch fp32). onnx: the export in ``onnx_dir``
    (None: beside the model), made first where missing or stale; ``threads``: ONNX Runtime's
    intra-op threads (None: its default)."""
    engine = engine or Engine()
    if engine.name == "onnx":
        from papercls.inference.onnx.cache import ensure_export
        from papercls.inference.onnx.runtime import predict_dir_proba_onnx

        leaves = ensure_export(model_dir, onnx_dir, int8=engine.precision == "int8")
        total = sum(
            predict_dir_proba_onnx(
                leaf, texts, max_length, batch_size, engine.precision, progress, threads
            )
            for leaf in leaves
        )
        return np.asarray(total, dtype=np.float64) / len(leaves)
    from papercls.inference.encoder import predict_dir_proba

    int8 = engine.precision == "int8"
    with precision_context(engine.precision, device):
        return predict_dir_proba(
            model_dir, texts, max_length, batch_size, device, progress, int8=int8
        )
