"""What the CPU offers, and the numeric precision that follows from it.

bf16 pays off on a CPU only where it has native bf16 matrix instructions (x86: AVX-512 BF16 or
AMX; ARM: the BF16 extension); elsewhere torch emulates it and fp32 is both faster and exact.
torch's own CPU probe (``torch.cpu.get_capabilities()``) is asked first; ``/proc/cpuinfo`` flags
are the fallback where torch does not report them.
"""

from __future__ import annotations

import platform
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

PRECISIONS = ("auto", "fp32", "bf16")
_ALIASES = {"no": "fp32"}  # Accelerate's (and older params') spelling of fp32
CPUINFO = Path("/proc/cpuinfo")
# capability names as torch.cpu.get_capabilities() spells them
_BF16_FEATURES = ("avx512_bf16", "amx_bf16", "bf16")  # x86 AVX-512 BF16, AMX, ARM BF16
_REPORTED = ("avx2", "avx512_f", "avx512_bf16", "amx_bf16", "amx_int8", "avx512_vnni", "bf16")
_FLAG_NAMES = {"avx512_f": "avx512f"}  # where /proc/cpuinfo spells a flag differently


@dataclass(frozen=True)
class CpuCapabilities:
    """``model``: the CPU's name; ``isa``: torch's vector level ("AVX2", "AVX512", ...);
    ``features``: the feature flags that matter here, True where present; ``native_bf16``:
    bf16 matrix instructions in hardware; ``source``: "torch" or "cpuinfo"."""

    model: str
    isa: str
    features: dict[str, bool]
    native_bf16: bool
    source: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self) -> str:
        """One line for logs and benchmark headers."""
        present = [name for name, on in self.features.items() if on]
        bf16 = "native bf16" if self.native_bf16 else "no native bf16"
        return f"{self.model} ({self.isa}; {', '.join(present) or 'no listed features'}; {bf16})"


def _cpuinfo_fields(text: str) -> tuple[str | None, set[str]]:
    """The first ``model name`` and the first ``flags`` (x86) or ``Features`` (ARM) line."""
    model, flags = None, None
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip().lower()
        if key == "model name" and model is None:
            model = value.strip()
        elif key in ("flags", "features") and flags is None:
            flags = set(value.split())
    return model, flags or set()


def _torch_features() -> dict[str, Any] | None:
    try:
        import torch

        return dict(torch.cpu.get_capabilities())
    except (ImportError, AttributeError, RuntimeError):  # older torch, or no cpuinfo support
        return None


def _torch_isa() -> str:
    try:
        import torch

        return str(torch.backends.cpu.get_cpu_capability())
    except (ImportError, AttributeError, RuntimeError):
        return "unknown"


def detect(cpuinfo_text: str | None = None, torch_features: dict | None = None) -> CpuCapabilities:
    """:func:`cpu_capabilities` from given sources (for tests): ``torch_features`` as
    ``torch.cpu.get_capabilities()`` returns them (None: use the flags of ``cpuinfo_text``)."""
    model, flags = _cpuinfo_fields(cpuinfo_text or "")
    if torch_features is not None:
        features = {k: bool(torch_features.get(k, False)) for k in _REPORTED}
        source = "torch"
        model = model or str(torch_features.get("cpu_name") or "")
    else:
        features = {k: _FLAG_NAMES.get(k, k) in flags for k in _REPORTED}
        source = "cpuinfo"
    native = any(features.get(k, False) for k in _BF16_FEATURES)
    return CpuCapabilities(
        model=model or platform.processor() or platform.machine() or "unknown CPU",
        isa=_torch_isa(),
        features=features,
        native_bf16=native,
        source=source,
    )


def cpu_capabilities() -> CpuCapabilities:
    """This machine's CPU: model name, torch's vector level, bf16/AMX/VNNI flags."""
    try:
        text = CPUINFO.read_text(encoding="utf-8", errors="replace")
    except OSError:  # not Linux
        text = ""
    return detect(text, _torch_features())


def auto_precision(
    device: Any = "cpu", caps: CpuCapabilities | None = None, fp16: bool = False
) -> str:
    """What the precision ``auto`` stands for on ``device`` (None: CUDA when available, else
    the CPU): on CUDA bf16 where the GPU supports it, else fp16 where the caller can use it
    (``fp16``: training's autocast) and fp32 otherwise; on a CPU bf16 only where it is native
    (``caps``, default :func:`cpu_capabilities`), else fp32. The one place this is decided."""
    import torch

    device = torch.device(device) if device is not None else None
    if device is None and torch.cuda.is_available():
        device = torch.device("cuda")
    if device is not None and device.type == "cuda":
        if torch.cuda.is_bf16_supported():
            return "bf16"
        return "fp16" if fp16 else "fp32"
    caps = caps if caps is not None else cpu_capabilities()
    return "bf16" if caps.native_bf16 else "fp32"


def resolve_precision(
    precision: str,
    caps: CpuCapabilities | None = None,
    device: Any = "cpu",
    allowed: tuple[str, ...] = PRECISIONS,
) -> str:
    """The precision a ``precision`` param asks for: "auto" resolved by :func:`auto_precision`
    on ``device`` (fp16 there only where ``allowed`` has it); "fp32" (or "no", Accelerate's
    spelling) and the other ``allowed`` values are kept as given. ValueError for the rest."""
    value = str(precision).strip().lower()
    value = _ALIASES.get(value, value)
    if value not in allowed:
        raise ValueError(f"precision must be one of {list(allowed)}, got {precision!r}")
    if value != "auto":
        return value
    return auto_precision(device, caps, fp16="fp16" in allowed)
