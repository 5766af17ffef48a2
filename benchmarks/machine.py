"""The machine: CPU model, cores, vector flags, clock and assumed fp32 peak; library versions."""

from __future__ import annotations

import contextlib
import os
import platform
import re
import subprocess
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from benchmarks.config import ROOT


def fp32_flops_per_cycle(flags: Iterable[str]) -> tuple[int, str]:
    """Peak fp32 FLOPs per cycle and core from the CPU flags, assuming two vector FMA pipes
    (true of Intel Haswell..Sapphire Rapids server parts and AMD Zen 2..4; some AVX-512 parts
    have one 512-bit FMA pipe, which halves the figure)."""
    flags = set(flags)
    if "avx512f" in flags:
        return 64, "AVX-512: 2 FMA pipes x 16 fp32 lanes x 2 FLOPs"
    if "avx2" in flags and "fma" in flags:
        return 32, "AVX2+FMA: 2 FMA pipes x 8 fp32 lanes x 2 FLOPs"
    if "avx" in flags:
        return 16, "AVX: 1 add + 1 mul pipe x 8 fp32 lanes"
    return 8, "SSE: 1 add + 1 mul pipe x 4 fp32 lanes"


def cpu_peak_flops(cores: int, ghz: float, flags: Iterable[str]) -> tuple[float, str]:
    per_cycle, why = fp32_flops_per_cycle(flags)
    peak = cores * per_cycle * ghz * 1e9
    return peak, f"{cores} cores x {per_cycle} FLOP/cycle ({why}) x {ghz:.3f} GHz"


def _read_proc_cpuinfo(facts: dict[str, Any]) -> None:
    with contextlib.suppress(OSError):
        text = Path("/proc/cpuinfo").read_text()
        for key, field in (("model name", "model"), ("flags", "flags"), ("cpu MHz", "mhz")):
            m = re.search(rf"^{key}\s*:\s*(.+)$", text, re.M)
            if m:
                facts[field] = m.group(1).strip()
        if isinstance(facts["flags"], str):
            facts["flags"] = facts["flags"].split()
        if facts["mhz"] is not None:
            facts["mhz"] = float(facts["mhz"])
            facts["mhz_source"] = "/proc/cpuinfo cpu MHz"


def _read_lscpu(facts: dict[str, Any]) -> None:
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        out = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
        lscpu = dict(
            (k.strip(), v.strip()) for k, _, v in (ln.partition(":") for ln in out.splitlines())
        )
        facts["model"] = lscpu.get("Model name", facts["model"])
        facts["lscpu_cpus"] = lscpu.get("CPU(s)")
        facts["threads_per_core"] = lscpu.get("Thread(s) per core")
        facts["family_model"] = f"family {lscpu.get('CPU family')} model {lscpu.get('Model')}"
        if lscpu.get("CPU max MHz"):
            facts["mhz"] = float(lscpu["CPU max MHz"])
            facts["mhz_source"] = "lscpu CPU max MHz"


def cpu_facts() -> dict[str, Any]:
    """Model name, cores usable by this process, flags and clock (lscpu's max MHz when it
    reports one, else /proc/cpuinfo's current MHz)."""
    facts: dict[str, Any] = {
        "model": platform.processor() or platform.machine(),
        "cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "flags": [],
        "mhz": None,
        "mhz_source": None,
    }
    facts["cores"] = facts["cores"] or os.cpu_count() or 1
    _read_proc_cpuinfo(facts)
    _read_lscpu(facts)
    facts["mhz"] = facts["mhz"] or 2000.0
    facts["mhz_source"] = facts["mhz_source"] or "assumed 2 GHz (no clock reported)"
    peak, how = cpu_peak_flops(int(facts["cores"]), facts["mhz"] / 1000.0, facts["flags"])
    facts["peak_fp32_flops"] = peak
    facts["peak_formula"] = how
    keep = {"avx", "avx2", "fma", "avx512f", "avx512_bf16", "amx_bf16", "avx_vnni"}
    facts["flags"] = sorted(keep & set(facts["flags"]))
    return facts


def git_revision() -> str:
    try:
        rev = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
        return rev + ("+dirty" if dirty else "")
    except OSError:
        return "unknown"


def environment() -> dict[str, Any]:
    import torch
    import transformers

    cpu = cpu_facts()
    return {
        "cpu_model": cpu["model"],
        "cpu_family_model": cpu.get("family_model"),
        "cores": cpu["cores"],
        "cpu_flags": cpu["flags"],
        "clock_mhz": cpu["mhz"],
        "clock_source": cpu["mhz_source"],
        "peak_fp32_gflops": cpu["peak_fp32_flops"] / 1e9,
        "peak_formula": cpu["peak_formula"],
        "torch_threads": torch.get_num_threads(),
        "cuda": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "git": git_revision(),
    }
