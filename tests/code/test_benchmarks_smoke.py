"""Pure helpers of the benchmarks package (FLOP model, CPU peak, table formatting) and its
entry points; no benchmark runs.

The package imports only the standard library at module level, so loading it is fast.
"""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

ROOT = Path(__file__).resolve().parents[2]
HELPERS = ("flops", "machine", "results", "dvc_repo", "timing")


@pytest.fixture(scope="module")
def bench() -> SimpleNamespace:
    sys.path.insert(0, str(ROOT))
    try:
        return SimpleNamespace(
            **{name: importlib.import_module(f"benchmarks.{name}") for name in HELPERS}
        )
    finally:
        sys.path.remove(str(ROOT))


def test_flop_formulas(bench) -> None:
    # 6*N*s + 12*L*d*s^2 and 2*N*s + 4*L*d*s^2
    assert bench.flops.train_flops_per_sequence(1000, 2, 8, 10) == 6 * 1000 * 10 + 12 * 2 * 8 * 100
    assert bench.flops.infer_flops_per_sequence(1000, 2, 8, 10) == 2 * 1000 * 10 + 4 * 2 * 8 * 100
    # training is 3x inference when attention is negligible
    t = bench.flops.train_flops_per_sequence(10**6, 1, 1, 1)
    i = bench.flops.infer_flops_per_sequence(10**6, 1, 1, 1)
    assert t / i == pytest.approx(3.0, rel=1e-4)


def test_batch_work_counts_real_and_padded_tokens(bench) -> None:
    lengths = [3, 5, 2, 2]
    work = bench.flops.batch_work(lengths, [[0, 1], [2, 3]], lambda s: float(s))
    assert work["real_tokens"] == 12
    assert work["padded_tokens"] == 2 * 5 + 2 * 2
    assert work["real_flops"] == 12.0
    assert work["padded_flops"] == 14.0
    quadratic = bench.flops.batch_work(lengths, [[0, 1]], lambda s: float(s * s))
    assert quadratic["real_flops"] == 9 + 25
    assert quadratic["padded_flops"] == 2 * 25


def test_cpu_peak(bench) -> None:
    assert bench.machine.fp32_flops_per_cycle(["avx", "avx2", "fma"])[0] == 32
    assert bench.machine.fp32_flops_per_cycle(["avx2", "fma", "avx512f"])[0] == 64
    assert bench.machine.fp32_flops_per_cycle(["avx"])[0] == 16
    assert bench.machine.fp32_flops_per_cycle([])[0] == 8
    peak, how = bench.machine.cpu_peak_flops(2, 2.5, ["avx2", "fma"])
    assert peak == pytest.approx(2 * 32 * 2.5e9)
    assert "2 cores" in how and "32 FLOP/cycle" in how


def test_check_targets(bench) -> None:
    assert bench.results.check(1.3, ">= 1.2") is True
    assert bench.results.check(1.1, ">= 1.2") is False
    assert bench.results.check(2.9, "< 3") is True
    assert bench.results.check(3.0, "< 3") is False
    assert bench.results.check(None, ">= 1") is None
    assert bench.results.check(1.0, "") is None


def test_fmt_value(bench) -> None:
    assert bench.results.fmt_value(None) == "-"
    assert bench.results.fmt_value(7) == "7"
    assert bench.results.fmt_value(1.23456) == "1.235"
    assert bench.results.fmt_value(123.456) == "123.5"
    assert bench.results.fmt_value(12345.6) == "12,346"
    assert bench.results.fmt_value(0.001234) == "1.23e-03"
    assert bench.results.fmt_value("skipped") == "skipped"


def test_tables(bench) -> None:
    rows = [
        bench.results.Row("training", "speed-up ours/peer", 1.5, "x", ">= 1.2", True),
        bench.results.Row("gpu", "bert-base", "skipped", note="no CUDA | device"),
    ]
    text = bench.results.format_table(rows).splitlines()
    assert text[0].split() == list(bench.results.HEADERS)
    assert set(text[1]) <= {"-", " "}
    assert len(text) == 4
    assert text[2].split()[-1] == "yes"
    assert text[2].index("1.5") + len("1.5") == text[3].index("skipped") + len("skipped")
    md = bench.results.markdown_table(rows).splitlines()
    assert md[0].startswith("| benchmark |") and md[1].startswith("|---")
    assert "no CUDA \\| device" in md[3]


def test_best_of_keeps_each_methods_least_wall_and_cpu(bench, monkeypatch) -> None:
    # (wall, cpu, load) per call, in calling order: a, b in each round (one chunk per round;
    # the turns rotate per chunk within a round)
    clocks = iter([(3.0, 10.0, 1.0), (2.0, 1.0, 2.0), (1.0, 20.0, 3.0), (5.0, 0.5, 4.0)])

    def fake_timed(fn):
        m = bench.timing.Measure()
        m.wall, m.cpu, m.load = next(clocks)
        return fn(), m

    monkeypatch.setattr(bench.timing, "timed", fake_timed)
    methods = {"a": lambda part: len(part), "b": lambda part: -len(part)}
    outputs, best = bench.timing.best_of(methods, list("abcde"), chunk=5, rounds=2)
    assert outputs == {"a": [5], "b": [-5]}
    assert (best["a"].wall, best["a"].cpu, best["a"].load) == (1.0, 10.0, 3.0)
    assert (best["b"].wall, best["b"].cpu, best["b"].load) == (2.0, 0.5, 2.0)


def test_stages_run(bench) -> None:
    log = "Running stage 'tune_thresholds':\n> python x\nRunning stage 'predict':\n"
    assert bench.dvc_repo.stages_run(log) == ["predict", "tune_thresholds"]
    assert bench.dvc_repo.stages_run("Stage 'preprocess' didn't change, skipping") == []


def _python(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=120
    )


def test_entry_points_and_light_imports() -> None:
    script = _python("benchmarks/run.py", "--help")
    assert script.returncode == 0, script.stderr
    assert "--only" in script.stdout and "--quick" in script.stdout
    package = _python("-m", "benchmarks", "--help")
    assert package.returncode == 0, package.stderr
    assert "--infer-rows" in package.stdout and "--out-dir" in package.stdout
    bad = _python("-m", "benchmarks", "--only", "training,nope")
    assert bad.returncode == 2 and "unknown benchmark(s) ['nope']" in bad.stderr
    light = _python(
        "-c",
        "import sys, benchmarks.cli; print(sorted({'torch', 'transformers', "
        "'numpy', 'papercls'} & set(sys.modules)))",
    )
    assert light.returncode == 0, light.stderr
    assert light.stdout.strip() == "[]"


def test_recorded_work_counts_the_padding_a_collator_made() -> None:
    sys.path.insert(0, str(ROOT))
    try:
        from benchmarks.flops import recorded_work
    finally:
        sys.path.remove(str(ROOT))
    work = recorded_work([([3, 5], 8), ([2], 2)], lambda s: float(s * s))
    assert (work["real_tokens"], work["padded_tokens"]) == (10, 18)
    assert (work["real_flops"], work["padded_flops"]) == (9 + 25 + 4, 2 * 64 + 4)


@pytest.mark.parametrize("group_by_length", [False, True])
def test_peer_trainer_pads_to_max_length_or_groups_by_length(
    group_by_length, tmp_path, tiny_bert_dir, tiny_corpus, tiny_train_params,
    restore_torch_threads,
) -> None:
    """The peer as the run_classification recipe runs it pads every row to max length; with
    ``group_by_length`` the Trainer's length-grouped sampler and dynamic padding pad each
    batch only to its longest row (the Trainer's best for rows of varied length)."""
    sys.path.insert(0, str(ROOT))
    try:
        from benchmarks.peer_trainer import train_peer
    finally:
        sys.path.remove(str(ROOT))
    section = {**tiny_train_params, "max_length": 48, "batch_size": 2, "threads": 1}
    train, valid = tiny_corpus["train"].head(64), tiny_corpus["valid"].head(8)
    out = train_peer(section, str(tiny_bert_dir), train, valid, tmp_path / "peer", group_by_length)
    batches = out["train_batches"]
    assert out["group_by_length"] is group_by_length
    assert sum(len(lens) for lens, _ in batches) == len(train)  # one epoch, every row once
    assert all(max(lens) <= pad_to for lens, pad_to in batches)
    if group_by_length:
        assert all(pad_to == max(lens) for lens, pad_to in batches)
        # the Trainer's sampler: 4 random mega-batches of 16 rows, each sorted longest first
        # (but for its first row, where the longest row of all is swapped in)
        rows = [n for lens, _ in batches for n in lens]
        for k in range(0, len(rows), 16):
            assert rows[k + 1 : k + 16] == sorted(rows[k + 1 : k + 16], reverse=True), rows
        assert min(pad_to for _, pad_to in batches) < 48
    else:
        assert {pad_to for _, pad_to in batches} == {48}
    assert 0.0 <= out["valid_f1"] <= 1.0
