"""CPU capability detection and the precision "auto" resolves to (any CPU runs these)."""

from __future__ import annotations

import pytest

from papercls import hardware

XEON = """processor\t: 0
vendor_id\t: GenuineIntel
model name\t: Intel(R) Xeon(R) Platinum 8480+
flags\t\t: fpu sse2 avx avx2 avx512f avx512bw avx512_vnni avx512_bf16 amx_bf16 amx_tile amx_int8
processor\t: 1
model name\t: Intel(R) Xeon(R) Platinum 8480+
flags\t\t: fpu sse2 avx avx2 avx512f avx512bw avx512_vnni avx512_bf16 amx_bf16 amx_tile amx_int8
"""
EPYC = """processor\t: 0
vendor_id\t: AuthenticAMD
model name\t: AMD EPYC 7B12
flags\t\t: fpu sse2 avx avx2 fma bmi2
"""
GRAVITON = """processor\t: 0
BogoMIPS\t: 2100.00
Features\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp bf16 i8mm
"""


@pytest.mark.parametrize(
    "text, model, native",
    [(XEON, "Intel(R) Xeon(R) Platinum 8480+", True), (EPYC, "AMD EPYC 7B12", False)],
)
def test_cpuinfo_fallback(text, model, native):
    caps = hardware.detect(text, torch_features=None)
    assert caps.source == "cpuinfo" and caps.model == model
    assert caps.native_bf16 is native
    assert caps.features["avx2"] is True
    assert caps.features["amx_bf16"] is native and caps.features["avx512_f"] is native
    assert hardware.resolve_precision("auto", caps) == ("bf16" if native else "fp32")


def test_arm_bf16_feature_counts_as_native():
    caps = hardware.detect(GRAVITON, torch_features=None)
    assert caps.native_bf16 and not caps.features["avx2"]
    assert caps.model  # no "model name" line on ARM: a platform name stands in


def test_torch_report_wins_over_cpuinfo():
    # cpuinfo says AMX, torch (the library that would run bf16) says no: trust torch
    caps = hardware.detect(XEON, torch_features={"avx2": True, "cpu_name": "Intel Xeon"})
    assert caps.source == "torch" and not caps.native_bf16
    assert caps.model == "Intel(R) Xeon(R) Platinum 8480+"  # the fuller cpuinfo name
    caps = hardware.detect("", torch_features={"avx512_bf16": True, "cpu_name": "Intel Xeon"})
    assert caps.native_bf16 and caps.model == "Intel Xeon"
    assert "native bf16" in caps.summary() and "avx512_bf16" in caps.summary()


def test_explicit_precision_is_kept_and_bad_values_named():
    amd = hardware.detect(EPYC, torch_features=None)
    intel = hardware.detect(XEON, torch_features=None)
    assert hardware.resolve_precision("bf16", amd) == "bf16"  # asked for: emulated, but kept
    assert hardware.resolve_precision("fp32", intel) == "fp32"
    assert hardware.resolve_precision(" No ", intel) == "fp32"  # Accelerate's spelling of fp32
    with pytest.raises(ValueError, match="fp16"):
        hardware.resolve_precision("fp16", intel)


def test_this_machine_is_described_consistently():
    caps = hardware.cpu_capabilities()
    assert caps.model and caps.isa
    assert caps.native_bf16 == any(caps.features[k] for k in ("avx512_bf16", "amx_bf16", "bf16"))
    assert hardware.resolve_precision("auto") == ("bf16" if caps.native_bf16 else "fp32")
    assert set(caps.as_dict()) == {"model", "isa", "features", "native_bf16", "source"}


@pytest.mark.parametrize("bf16_gpu", [True, False])
def test_auto_is_decided_once_for_training_and_inference(bf16_gpu, monkeypatch):
    """A (mocked) GPU: auto is bf16 where it supports bf16; without, training's autocast takes
    fp16 and inference (which has no fp16) fp32; on the CPU the CPU decides, for both."""
    import torch

    from papercls.inference.engine import resolve_engine
    from papercls.training.setup import resolve_mixed_precision

    amd = hardware.detect(EPYC, torch_features=None)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: bf16_gpu)
    assert hardware.auto_precision(None, amd) == ("bf16" if bf16_gpu else "fp32")
    assert hardware.auto_precision(None, amd, fp16=True) == ("bf16" if bf16_gpu else "fp16")
    assert resolve_mixed_precision("auto", amd) == ("bf16" if bf16_gpu else "fp16")
    assert resolve_engine("torch", "auto", amd).precision == ("bf16" if bf16_gpu else "fp32")
    assert hardware.resolve_precision("auto", amd, device="cuda") == resolve_engine(
        "torch", "auto", amd, device="cuda"
    ).precision
    # the CPU named as the device: the CPU's capabilities decide, whatever the GPU has
    assert hardware.auto_precision("cpu", amd) == "fp32"
    assert resolve_engine("torch", "auto", amd, device="cpu").precision == "fp32"
    intel = hardware.detect(XEON, torch_features=None)
    assert resolve_engine("torch", "auto", intel, device="cpu").precision == "bf16"


def test_training_precision_spellings():
    """The params spell full precision fp32 (legacy no accepted); Accelerate wants no."""
    from papercls.training.setup import resolve_mixed_precision

    for given, accelerate in (("fp32", "no"), ("no", "no"), ("bf16", "bf16"), ("fp16", "fp16")):
        assert resolve_mixed_precision(given) == accelerate
    with pytest.raises(ValueError, match="int8"):
        resolve_mixed_precision("int8")
