"""Pure helpers of benchmarks/run.py (FLOP model, CPU peak, table formatting); no benchmark runs.

benchmarks/run.py imports only the standard library at module level, so loading it is fast.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

RUN_PY = Path(__file__).resolve().parents[2] / "benchmarks" / "run.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("papercls_benchmarks_run", RUN_PY)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.modules.pop(spec.name, None)


def test_flop_formulas(bench) -> None:
    # 6*N*s + 12*L*d*s^2 and 2*N*s + 4*L*d*s^2
    assert bench.train_flops_per_sequence(1000, 2, 8, 10) == 6 * 1000 * 10 + 12 * 2 * 8 * 100
    assert bench.infer_flops_per_sequence(1000, 2, 8, 10) == 2 * 1000 * 10 + 4 * 2 * 8 * 100
    # training is 3x inference when attention is negligible
    t = bench.train_flops_per_sequence(10**6, 1, 1, 1)
    i = bench.infer_flops_per_sequence(10**6, 1, 1, 1)
    assert t / i == pytest.approx(3.0, rel=1e-4)


def test_batch_work_counts_real_and_padded_tokens(bench) -> None:
    lengths = [3, 5, 2, 2]
    work = bench.batch_work(lengths, [[0, 1], [2, 3]], lambda s: float(s))
    assert work["real_tokens"] == 12
    assert work["padded_tokens"] == 2 * 5 + 2 * 2
    assert work["real_flops"] == 12.0
    assert work["padded_flops"] == 14.0
    quadratic = bench.batch_work(lengths, [[0, 1]], lambda s: float(s * s))
    assert quadratic["real_flops"] == 9 + 25
    assert quadratic["padded_flops"] == 2 * 25


def test_cpu_peak(bench) -> None:
    assert bench.fp32_flops_per_cycle(["avx", "avx2", "fma"])[0] == 32
    assert bench.fp32_flops_per_cycle(["avx2", "fma", "avx512f"])[0] == 64
    assert bench.fp32_flops_per_cycle(["avx"])[0] == 16
    assert bench.fp32_flops_per_cycle([])[0] == 8
    peak, how = bench.cpu_peak_flops(2, 2.5, ["avx2", "fma"])
    assert peak == pytest.approx(2 * 32 * 2.5e9)
    assert "2 cores" in how and "32 FLOP/cycle" in how


def test_check_targets(bench) -> None:
    assert bench.check(1.3, ">= 1.2") is True
    assert bench.check(1.1, ">= 1.2") is False
    assert bench.check(2.9, "< 3") is True
    assert bench.check(3.0, "< 3") is False
    assert bench.check(None, ">= 1") is None
    assert bench.check(1.0, "") is None


def test_fmt_value(bench) -> None:
    assert bench.fmt_value(None) == "-"
    assert bench.fmt_value(7) == "7"
    assert bench.fmt_value(1.23456) == "1.235"
    assert bench.fmt_value(123.456) == "123.5"
    assert bench.fmt_value(12345.6) == "12,346"
    assert bench.fmt_value(0.001234) == "1.23e-03"
    assert bench.fmt_value("skipped") == "skipped"


def test_tables(bench) -> None:
    rows = [
        bench.Row("training", "speed-up ours/peer", 1.5, "x", ">= 1.2", True),
        bench.Row("gpu", "bert-base", "skipped", note="no CUDA | device"),
    ]
    text = bench.format_table(rows).splitlines()
    assert text[0].split() == list(bench.HEADERS)
    assert set(text[1]) <= {"-", " "}
    assert len(text) == 4
    assert text[2].split()[-1] == "yes"
    assert text[2].index("1.5") + len("1.5") == text[3].index("skipped") + len("skipped")
    md = bench.markdown_table(rows).splitlines()
    assert md[0].startswith("| benchmark |") and md[1].startswith("|---")
    assert "no CUDA \\| device" in md[3]


def test_stages_run(bench) -> None:
    log = "Running stage 'tune_thresholds':\n> python x\nRunning stage 'predict':\n"
    assert bench.stages_run(log) == ["predict", "tune_thresholds"]
    assert bench.stages_run("Stage 'preprocess' didn't change, skipping") == []
