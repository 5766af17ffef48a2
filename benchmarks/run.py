"""Benchmarks of papercls against plain transformers recipes (issue "Benchmarks").

Run by hand (not part of the test suite), from the repository root:

    python benchmarks/run.py            # full run (< 25 min on 2 CPU cores)
    python benchmarks/run.py --quick    # smaller sizes, a few minutes
    python benchmarks/run.py --only training,pipeline

It prints one table of figures with their targets and writes the same to
``benchmarks/results.json`` and ``benchmarks/results.md``.

1. training   our training loop (``papercls.training.train``, length-grouped batches, dynamic
              padding) against a plain ``transformers.Trainer`` fine-tune of the same backbone
              on the same rows (run_classification recipe: padding="max_length", default
              collator, random sampler); samples/s, validation F1 of both, and the fraction of
              the CPU's peak fp32 FLOP rate our training step reaches.
2. inference  ``papercls.inference.predict_proba`` against ``pipeline("text-classification")``
              on the competition's testB.csv, plus an optional dynamic int8 model.
3. pipeline   ``dvc repro`` with nothing changed, after a threshold-only change (which stages
              rerun), and the preprocess of a 100k-row generated corpus (time, peak memory).
4. gpu        bert-base-uncased with mixed precision, only on a CUDA machine.

FLOP model (stated in the output as well), per sequence of ``s`` tokens with ``N`` non-embedding
parameters, ``L`` layers and hidden size ``d``:
    training  (forward + backward): 6*N*s + 12*L*d*s^2
    inference (forward):            2*N*s +  4*L*d*s^2
The attention term counts both matmuls (Q.K^T and A.V, 2*s*d multiply-adds each per token and
layer, no causal mask); element-wise work (softmax, GELU, layer norm) is left out.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import math
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BENCH_DIR = ROOT / "benchmarks"
TESTB_CSV = ROOT.parent / "shared" / "data" / "competition" / "testB.csv"
ALL_BENCHMARKS = ("training", "inference", "pipeline", "gpu")  # order of the table
EXECUTION_ORDER = ("pipeline", "gpu", "inference", "training")  # quickest first

SIZES = {
    # rows used by each benchmark; --quick shrinks them
    # rounds: ours and the peer trainer take turns this many times (best of each kept);
    # infer_chunk: the inference methods take turns chunk by chunk (see interleaved()).
    "full": dict(
        train=400,
        valid=200,
        rounds=2,
        infer=2000,
        infer_chunk=250,
        corpus=100_000,
        corpus_test=2000,
        bootstrap_rows=6000,
        repeats=3,
    ),
    "quick": dict(
        train=96,
        valid=64,
        rounds=1,
        infer=256,
        infer_chunk=128,
        corpus=20_000,
        corpus_test=500,
        bootstrap_rows=2000,
        repeats=2,
    ),
}

# --------------------------------------------------------------------------------------------
# results table


@dataclass
class Row:
    bench: str
    figure: str
    value: float | int | str | None
    unit: str = ""
    target: str = ""  # e.g. ">= 1.2"; empty: informational
    met: bool | None = None  # None: no target, or not measured
    note: str = ""


_OPS: dict[str, Callable[[float, float], bool]] = {
    ">=": lambda a, b: a >= b,
    ">": lambda a, b: a > b,
    "<=": lambda a, b: a <= b,
    "<": lambda a, b: a < b,
}


def check(value: float | None, target: str) -> bool | None:
    """``check(1.3, ">= 1.2") -> True``; None when there is no value or no target."""
    if value is None or not target:
        return None
    op, _, threshold = target.partition(" ")
    return _OPS[op](float(value), float(threshold))


def fmt_value(value: Any) -> str:
    """Numbers with about four significant digits; ints unchanged; None as '-'."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        if value == 0:
            return "0"
        if abs(value) >= 1000:
            return f"{value:,.0f}"
        if abs(value) >= 0.01:
            return f"{value:.4g}" if abs(value) < 100 else f"{value:.1f}"
        return f"{value:.2e}"
    return str(value)


def fmt_met(met: bool | None) -> str:
    return {True: "yes", False: "NO", None: ""}[met]


HEADERS = ("benchmark", "figure", "value", "unit", "target", "met", "note")


def _cells(rows: Iterable[Row]) -> list[list[str]]:
    return [
        [r.bench, r.figure, fmt_value(r.value), r.unit, r.target, fmt_met(r.met), r.note]
        for r in rows
    ]


def format_table(rows: Sequence[Row]) -> str:
    """A plain-text table with aligned columns (numbers right-aligned)."""
    cells = _cells(rows)
    widths = [max([len(h)] + [len(c[i]) for c in cells]) for i, h in enumerate(HEADERS)]
    right = {2}

    def line(values: Sequence[str]) -> str:
        parts = [
            v.rjust(widths[i]) if i in right else v.ljust(widths[i]) for i, v in enumerate(values)
        ]
        return "  ".join(parts).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(HEADERS), rule, *(line(c) for c in cells)])


def markdown_table(rows: Sequence[Row]) -> str:
    def esc(s: str) -> str:
        return s.replace("|", "\\|")

    out = ["| " + " | ".join(HEADERS) + " |", "|" + "|".join(["---"] * len(HEADERS)) + "|"]
    out += ["| " + " | ".join(esc(c) for c in cells) + " |" for cells in _cells(rows)]
    return "\n".join(out)


# --------------------------------------------------------------------------------------------
# FLOP model and CPU peak (pure helpers)


def train_flops_per_sequence(n_params: int, n_layers: int, hidden: int, seq_len: int) -> float:
    """Forward + backward FLOPs of one sequence of ``seq_len`` tokens:
    6*N*s (matmuls with the weights) + 12*L*d*s^2 (attention scores and mixing)."""
    s = float(seq_len)
    return 6.0 * n_params * s + 12.0 * n_layers * hidden * s * s


def infer_flops_per_sequence(n_params: int, n_layers: int, hidden: int, seq_len: int) -> float:
    """Forward FLOPs of one sequence: 2*N*s + 4*L*d*s^2."""
    s = float(seq_len)
    return 2.0 * n_params * s + 4.0 * n_layers * hidden * s * s


def batch_work(
    lengths: Sequence[int],
    batches: Sequence[Sequence[int]],
    flops_per_sequence: Callable[[int], float],
) -> dict[str, float]:
    """Tokens and FLOPs of running ``batches`` (lists of row indices) padded to their longest
    row: ``real_*`` count each row at its own length, ``padded_*`` at the batch's length."""
    real_tokens = padded_tokens = 0
    real_flops = padded_flops = 0.0
    for batch in batches:
        lens = [int(lengths[i]) for i in batch]
        if not lens:
            continue
        pad_to = max(lens)
        real_tokens += sum(lens)
        padded_tokens += pad_to * len(lens)
        real_flops += sum(flops_per_sequence(n) for n in lens)
        padded_flops += len(lens) * flops_per_sequence(pad_to)
    return {
        "real_tokens": real_tokens,
        "padded_tokens": padded_tokens,
        "real_flops": real_flops,
        "padded_flops": padded_flops,
    }


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
    facts["mhz"] = facts["mhz"] or 2000.0
    facts["mhz_source"] = facts["mhz_source"] or "assumed 2 GHz (no clock reported)"
    peak, how = cpu_peak_flops(int(facts["cores"]), facts["mhz"] / 1000.0, facts["flags"])
    facts["peak_fp32_flops"] = peak
    facts["peak_formula"] = how
    keep = {"avx", "avx2", "fma", "avx512f", "avx512_bf16", "amx_bf16", "avx_vnni"}
    facts["flags"] = sorted(keep & set(facts["flags"]))
    return facts


# --------------------------------------------------------------------------------------------
# shared helpers


class Measure:
    """Wall seconds, process CPU seconds (all threads) and the mean 1-minute load average of a
    with-block. On a shared machine, CPU seconds are the figure least moved by other work."""

    wall = cpu = load = 0.0

    def __enter__(self) -> Measure:
        _sync()
        self._monitor = LoadMonitor(every=2.0).__enter__()
        self._t0, self._c0 = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        _sync()
        self.wall = time.perf_counter() - self._t0
        self.cpu = time.process_time() - self._c0
        self._monitor.__exit__()
        self.load = self._monitor.summary()["mean"]

    def as_dict(self) -> dict[str, float]:
        return {"wall_seconds": self.wall, "cpu_seconds": self.cpu, "load_mean": self.load}


class LoadMonitor:
    """Samples the 1-minute load average every few seconds in a daemon thread. This process
    alone accounts for about its torch thread count; more means other work shared the CPU."""

    def __init__(self, every: float = 5.0):
        import threading

        self.samples: list[float] = []
        self._stop = threading.Event()
        self._every = every
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append(os.getloadavg()[0])
            self._stop.wait(self._every)

    def __enter__(self) -> LoadMonitor:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def summary(self) -> dict[str, float]:
        xs = self.samples or [os.getloadavg()[0]]
        return {"mean": statistics.fmean(xs), "max": max(xs), "samples": len(xs)}


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def non_embedding_params(model) -> int:
    """Parameters outside the ``embeddings`` module (word/position/type tables, whose lookup
    costs no matmul)."""
    return sum(p.numel() for n, p in model.named_parameters() if ".embeddings." not in f".{n}")


def encoder_shape(model) -> tuple[int, int]:
    cfg = model.config
    return int(cfg.num_hidden_layers), int(cfg.hidden_size)


def f1_at_half(labels, probs) -> float:
    import numpy as np
    from sklearn.metrics import f1_score

    return float(f1_score(labels, (np.asarray(probs) >= 0.5).astype(int), zero_division=0))


def _sync() -> None:
    import torch

    if torch.cuda.is_available():
        torch.cuda.synchronize()


def load_project_params() -> dict[str, Any]:
    from papercls.params import load_params

    return load_params(ROOT / "params.yaml")


def sample_frames(params: dict[str, Any], n_train: int, n_valid: int):
    """The first ``n_train`` / ``n_valid`` rows of the project's own train/valid split of the
    bundled sample (data/sample/*.csv, preprocess template)."""
    from papercls.preprocess import prepare_frames

    frames = prepare_frames(
        ROOT / params["data"]["train"], ROOT / params["data"]["test"], params["preprocess"]
    )
    return (
        frames["train"].head(n_train).reset_index(drop=True),
        frames["valid"].head(n_valid).reset_index(drop=True),
    )


# --------------------------------------------------------------------------------------------
# 1. training


class _ClockSpy:
    """Stands in for the ``time`` module inside papercls.training during one ``train()`` call.
    Its loop timer calls ``perf_counter()`` at the start and end of each epoch's batches; the
    spy also notes the process CPU clock at those instants, so the loop's CPU seconds come from
    the same two points as its wall seconds."""

    def __init__(self) -> None:
        self.cpu_marks: list[float] = []

    def perf_counter(self) -> float:
        self.cpu_marks.append(time.process_time())
        return time.perf_counter()

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)

    def loop_cpu_seconds(self) -> float | None:
        marks = self.cpu_marks
        if not marks or len(marks) % 2:
            return None  # the loop timer changed: no figure rather than a wrong one
        return sum(b - a for a, b in zip(marks[::2], marks[1::2], strict=True))


def train_ours(section: dict[str, Any], backbone_dir: str, train_df, valid_df, out: Path):
    """Our loop, as the train stage runs it. Returns figures and the length-grouped batches it
    used (rebuilt from the same seeded sampler)."""
    import numpy as np
    from transformers import AutoTokenizer, set_seed

    import papercls.training as training_module
    from papercls.inference import encode
    from papercls.models import build_baseline
    from papercls.training import LengthGroupedBatchSampler, TrainConfig, train

    cfg = TrainConfig.from_params(
        section, epochs=1, progress=False, checkpoint_dir=str(out.parent / f"{out.name}.ckpt")
    )
    t0, c0 = time.perf_counter(), time.process_time()
    tokenizer = AutoTokenizer.from_pretrained(backbone_dir)
    set_seed(cfg.seed)
    model = build_baseline(backbone_dir)
    spy = _ClockSpy()
    training_module.time = spy
    try:
        result = train(model, tokenizer, train_df, valid_df, cfg, out)
    finally:
        training_module.time = time
    _sync()
    wall, cpu_s = time.perf_counter() - t0, time.process_time() - c0

    ids = encode(tokenizer, train_df["text"], cfg.max_length)["input_ids"]
    lengths = np.array([len(x) for x in ids])
    sampler = LengthGroupedBatchSampler(lengths, cfg.batch_size, seed=cfg.seed)
    sampler.set_epoch(0)
    return {
        "samples_per_s": result.train_samples_per_s,
        "loop_seconds": len(train_df) / result.train_samples_per_s,
        "loop_cpu_seconds": spy.loop_cpu_seconds(),
        "wall_seconds": wall,
        "cpu_seconds": cpu_s,
        "valid_f1": result.best_valid_f1,
        "lengths": lengths,
        "batches": sampler.batches(),
        "model": model,
        "cfg": cfg,
    }


def train_peer(section: dict[str, Any], backbone_dir: str, train_df, valid_df, out: Path):
    """A plain ``Trainer`` fine-tune as transformers' run_classification example does it:
    padding="max_length", ``default_data_collator``, random sampler (no length grouping),
    report_to="none"; same hyperparameters as ours. The loop is timed by a callback between
    epoch begin and end (as our loop times itself)."""
    import numpy as np
    import torch
    from transformers import (
        AutoModelForSequenceClassification,
        AutoTokenizer,
        Trainer,
        TrainerCallback,
        TrainingArguments,
        default_data_collator,
        set_seed,
    )

    from papercls.training import TrainConfig

    cfg = TrainConfig.from_params(section, epochs=1)
    cuda = torch.cuda.is_available()

    class EpochTimer(TrainerCallback):
        seconds = cpu_seconds = 0.0

        def on_epoch_begin(self, args, state, control, **kwargs):
            _sync()
            self.t0, self.c0 = time.perf_counter(), time.process_time()

        def on_epoch_end(self, args, state, control, **kwargs):
            _sync()
            self.seconds += time.perf_counter() - self.t0
            self.cpu_seconds += time.process_time() - self.c0

    def dataset(df):
        enc = tokenizer(
            df["text"].tolist(), padding="max_length", max_length=cfg.max_length, truncation=True
        )
        labels = df["label"].astype(int).tolist()
        return [{**{k: enc[k][i] for k in enc}, "label": labels[i]} for i in range(len(df))]

    t0, c0 = time.perf_counter(), time.process_time()
    tokenizer = AutoTokenizer.from_pretrained(backbone_dir)
    set_seed(cfg.seed)
    model = AutoModelForSequenceClassification.from_pretrained(backbone_dir, num_labels=2)
    train_ds, valid_ds = dataset(train_df), dataset(valid_df)
    args = TrainingArguments(
        output_dir=str(out),
        num_train_epochs=1,
        per_device_train_batch_size=cfg.batch_size,
        per_device_eval_batch_size=cfg.eval_batch_size,
        gradient_accumulation_steps=cfg.grad_accum,
        learning_rate=cfg.lr,
        weight_decay=cfg.weight_decay,
        warmup_steps=cfg.warmup_ratio,  # a float < 1 is a ratio in transformers 5
        max_grad_norm=cfg.max_grad_norm,
        lr_scheduler_type="linear",
        seed=cfg.seed,
        bf16=cuda and torch.cuda.is_bf16_supported(),
        use_cpu=not cuda,
        eval_strategy="no",
        save_strategy="no",
        logging_strategy="no",
        report_to="none",
        disable_tqdm=True,
        dataloader_num_workers=0,
    )
    timer = EpochTimer()
    trainer = Trainer(
        model=model,
        args=args,
        train_dataset=train_ds,
        data_collator=default_data_collator,
        callbacks=[timer],
    )
    metrics = trainer.train().metrics
    logits = trainer.predict(valid_ds).predictions
    trainer.save_model(str(out))
    tokenizer.save_pretrained(str(out))
    _sync()
    wall, cpu_s = time.perf_counter() - t0, time.process_time() - c0
    z = logits - logits.max(axis=1, keepdims=True)
    probs = np.exp(z[:, 1]) / np.exp(z).sum(axis=1)
    return {
        "samples_per_s": len(train_df) / timer.seconds,
        "trainer_samples_per_s": metrics.get("train_samples_per_second"),
        "loop_seconds": timer.seconds,
        "loop_cpu_seconds": timer.cpu_seconds,
        "wall_seconds": wall,
        "cpu_seconds": cpu_s,
        "valid_f1": f1_at_half(valid_df["label"].to_numpy(), probs),
    }


def bench_training(sizes: dict[str, int], tmp: Path) -> tuple[list[Row], dict[str, Any]]:
    import torch

    from papercls.backbone import resolve_backbone

    params = load_project_params()
    section = dict(params["baseline"])
    backbone_dir = resolve_backbone(section.get("backbone", "minilm"))
    train_df, valid_df = sample_frames(params, sizes["train"], sizes["valid"])
    runs: dict[str, list[dict[str, Any]]] = {"ours": [], "peer": []}
    for r in range(sizes["rounds"]):  # take turns; keep each one's best (least disturbed) run
        for name, fn in (("ours", train_ours), ("peer", train_peer)):
            log(f"training: {name} round {r + 1}/{sizes['rounds']} ({len(train_df)} rows) ...")
            with Measure() as m:
                run = fn(section, backbone_dir, train_df, valid_df, tmp / f"{name}-{r}")
            shutil.rmtree(tmp / f"{name}-{r}", ignore_errors=True)
            run["load_mean"] = m.load
            runs[name].append(run)
            log(f"training: {name} {run['samples_per_s']:.2f} samples/s (load {m.load:.1f})")
    ours = max(runs["ours"], key=lambda x: x["samples_per_s"])
    peer = max(runs["peer"], key=lambda x: x["samples_per_s"])

    cfg = ours["cfg"]
    n_params = non_embedding_params(ours["model"])
    n_layers, hidden = encoder_shape(ours["model"])

    def per_seq(s: int) -> float:
        return train_flops_per_sequence(n_params, n_layers, hidden, s)

    work = batch_work(ours["lengths"], ours["batches"], per_seq)
    n = len(train_df)
    peer_work = batch_work([cfg.max_length] * n, [range(n)], per_seq)  # all rows at max_length
    ratio = ours["samples_per_s"] / peer["samples_per_s"]
    f1_gap = ours["valid_f1"] - peer["valid_f1"]
    on_cpu = not torch.cuda.is_available()
    cpu = cpu_facts()
    peak = cpu["peak_fp32_flops"]
    loop = ours["loop_seconds"]
    ours_real = work["real_flops"] / loop
    ours_padded = work["padded_flops"] / loop
    peer_rate = peer_work["padded_flops"] / peer["loop_seconds"]
    b = "training"
    rows = [
        Row(
            b,
            f"ours samples/s (MiniLM, max_len {cfg.max_length})",
            ours["samples_per_s"],
            "samples/s",
            note=f"best of {len(runs['ours'])}; load {ours['load_mean']:.1f}",
        ),
        Row(
            b,
            "peer Trainer samples/s",
            peer["samples_per_s"],
            "samples/s",
            note=f"best of {len(runs['peer'])}; load {peer['load_mean']:.1f}",
        ),
        Row(b, "speed-up ours/peer", ratio, "x", ">= 1.2", check(ratio, ">= 1.2")),
        Row(
            b,
            "speed-up ours/peer (loop CPU time)",
            peer["loop_cpu_seconds"] / ours["loop_cpu_seconds"]
            if ours["loop_cpu_seconds"]
            else None,
            "x",
            note="process CPU s: less moved by other load",
        ),
        Row(b, "ours valid F1", ours["valid_f1"], "", note=f"{len(valid_df)} rows, t=0.5"),
        Row(b, "peer valid F1", peer["valid_f1"], "", note="same rows"),
        Row(b, "F1 ours - peer", f1_gap, "", ">= 0", check(f1_gap, ">= 0")),
        Row(
            b,
            "end-to-end fit ours/peer (wall)",
            peer["wall_seconds"] / ours["wall_seconds"],
            "x",
            note="incl. tokenise, eval, save",
        ),
        Row(
            b,
            "end-to-end fit ours/peer (CPU time)",
            peer["cpu_seconds"] / ours["cpu_seconds"],
            "x",
            note="process CPU s: robust to other load",
        ),
        Row(
            b,
            "ours real tokens / padded tokens",
            work["real_tokens"] / work["padded_tokens"],
            "",
            note=f"peer: {work['real_tokens'] / peer_work['padded_tokens']:.3f}",
        ),
    ]
    if on_cpu:
        rows += [
            Row(
                b,
                "ours useful FLOP/s / CPU peak",
                ours_real / peak,
                "",
                note=f"{ours_real / 1e9:.1f} of {peak / 1e9:.1f} GFLOP/s (real tokens)",
            ),
            Row(
                b,
                "ours computed FLOP/s / CPU peak",
                ours_padded / peak,
                "",
                note=f"{ours_padded / 1e9:.1f} GFLOP/s incl. padding",
            ),
            Row(
                b,
                "peer computed FLOP/s / CPU peak",
                peer_rate / peak,
                "",
                note=f"{peer_rate / 1e9:.1f} GFLOP/s incl. padding",
            ),
        ]
    details = {
        "rows_train": n,
        "rows_valid": len(valid_df),
        "backbone": str(section.get("backbone")),
        "config": {k: v for k, v in vars(cfg).items() if not k.startswith("_")},
        "ours_runs": [
            {k: v for k, v in run.items() if k not in ("lengths", "batches", "model", "cfg")}
            for run in runs["ours"]
        ],
        "peer_runs": runs["peer"],
        "flops": {
            "formula_train_per_sequence": "6*N*s + 12*L*d*s^2",
            "non_embedding_params_N": n_params,
            "layers_L": n_layers,
            "hidden_d": hidden,
            "ours": work,
            "peer": peer_work,
            "ours_useful_flops_per_s": ours_real,
            "ours_computed_flops_per_s": ours_padded,
            "peer_computed_flops_per_s": peer_rate,
            "mean_tokens_per_row": work["real_tokens"] / n,
            "rows_truncated_at_max_length": int((ours["lengths"] >= cfg.max_length).sum()),
        },
        "cpu": cpu,
    }
    return rows, details


# --------------------------------------------------------------------------------------------
# 2. inference


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


def inference_texts(n: int, template: str) -> tuple[list[str], str]:
    from papercls.schema import load_test
    from papercls.text import build_texts

    if TESTB_CSV.is_file():
        df = load_test(TESTB_CSV).head(n)
        return build_texts(df, template), f"{TESTB_CSV} ({len(df)} rows)"
    from papercls.sample import generate

    df = generate(n, seed=1, labelled=False)
    return build_texts(df, template), f"{TESTB_CSV} ABSENT: {n} generated rows instead"


def timed(fn: Callable[[], Any]) -> tuple[Any, Measure]:
    with Measure() as m:
        out = fn()
    return out, m


@dataclass
class Totals:
    """Wall and CPU seconds summed over the chunks one method ran, and their load averages."""

    wall: float = 0.0
    cpu: float = 0.0
    loads: list[float] | None = None

    def add(self, m: Measure) -> None:
        self.wall += m.wall
        self.cpu += m.cpu
        self.loads = [*(self.loads or []), m.load]

    @property
    def load(self) -> float:
        return statistics.fmean(self.loads) if self.loads else float("nan")

    def as_dict(self) -> dict[str, float]:
        return {"wall_seconds": self.wall, "cpu_seconds": self.cpu, "load_mean": self.load}


def interleaved(
    methods: dict[str, Callable[[list[str]], Any]], texts: list[str], chunk: int
) -> tuple[dict[str, list[Any]], dict[str, Totals]]:
    """Run every method over ``texts`` in chunks, taking turns chunk by chunk (the order
    rotating), so that load from other work on a shared machine falls on all of them alike.
    Returns each method's per-chunk outputs and its summed timings."""
    outputs: dict[str, list[Any]] = {name: [] for name in methods}
    totals = {name: Totals() for name in methods}
    names = list(methods)
    for k, start in enumerate(range(0, len(texts), chunk)):
        part = texts[start : start + chunk]
        for name in names[k % len(names) :] + names[: k % len(names)]:
            out, m = timed(lambda name=name, part=part: methods[name](part))
            outputs[name].append(out)
            totals[name].add(m)
    return outputs, totals


def bench_inference(sizes: dict[str, int], tmp: Path) -> tuple[list[Row], dict[str, Any]]:
    import numpy as np
    import torch
    from transformers import pipeline

    from papercls.inference import encode, load_classifier, predict_proba, quantize_int8

    params = load_project_params()
    max_length = int(params["baseline"]["max_length"])
    batch_size = 64  # predict_proba's default and the train stage's eval_batch_size
    model_dir, model_note = inference_model_dir(tmp, max_length)
    texts, data_note = inference_texts(sizes["infer"], params["preprocess"]["text_template"])
    n = len(texts)
    model, tokenizer = load_classifier(model_dir)
    device = next(model.parameters()).device
    pipe = pipeline(
        "text-classification",
        model=str(model_dir),
        tokenizer=str(model_dir),
        device=device,
        truncation=True,
        max_length=max_length,
        batch_size=batch_size,
    )
    positive = pipe.model.config.id2label[1]

    def ours(part: list[str]) -> np.ndarray:
        return predict_proba(model, tokenizer, part, max_length, batch_size)

    def peer(part: list[str]) -> np.ndarray:
        out = pipe(part, top_k=None)
        return np.array([next(d["score"] for d in row if d["label"] == positive) for row in out])

    methods: dict[str, Callable[[list[str]], np.ndarray]] = {"ours": ours, "pipeline": peer}
    on_cpu = device.type == "cpu"
    if on_cpu:
        qmodel = quantize_int8(model)
        methods["int8"] = lambda part: predict_proba(
            qmodel, tokenizer, part, max_length, batch_size
        )
    for fn in methods.values():
        fn(texts[:8])  # warm-up
    chunk = sizes["infer_chunk"]
    log(f"inference: {n} texts in chunks of {chunk}, taking turns: {', '.join(methods)}")
    outputs, totals = interleaved(methods, texts, chunk)
    probs = {name: np.concatenate(parts) for name, parts in outputs.items()}
    t_ours, t_pipe = totals["ours"], totals["pipeline"]
    log(f"inference: ours {n / t_ours.wall:.1f} rows/s, pipeline {n / t_pipe.wall:.1f} rows/s")

    ratio = t_pipe.wall / t_ours.wall
    labels = probs["ours"] >= 0.5
    b = "inference"
    rows = [
        Row(
            b,
            "model",
            "trained" if model_note.startswith("trained") else "fresh head",
            note=str(model_dir),
        ),
        Row(
            b,
            "ours predict_proba rows/s",
            n / t_ours.wall,
            "rows/s",
            note=f"{n} rows, batch {batch_size}, load {t_ours.load:.1f}",
        ),
        Row(
            b,
            "pipeline rows/s",
            n / t_pipe.wall,
            "rows/s",
            note=f"batch {batch_size}, load {t_pipe.load:.1f}",
        ),
        Row(b, "speed-up ours/pipeline", ratio, "x", ">= 2", check(ratio, ">= 2")),
        Row(b, "speed-up ours/pipeline (CPU time)", t_pipe.cpu / t_ours.cpu, "x"),
        Row(
            b,
            "label agreement ours vs pipeline",
            float(np.mean(labels == (probs["pipeline"] >= 0.5))),
            "",
            note="sanity",
        ),
    ]
    details: dict[str, Any] = {
        "model_dir": str(model_dir),
        "model": model_note,
        "data": data_note,
        "rows": n,
        "chunk": chunk,
        "batch_size": batch_size,
        "max_length": max_length,
        "device": str(device),
        **{name: t.as_dict() for name, t in totals.items()},
        "max_abs_prob_diff_pipeline": float(np.max(np.abs(probs["ours"] - probs["pipeline"]))),
        "positive_rate_ours": float(labels.mean()),
    }
    lengths = np.array([len(x) for x in encode(tokenizer, texts, max_length)["input_ids"]])
    details["mean_tokens_per_row"] = float(np.mean(lengths))
    details["rows_truncated_at_max_length"] = int((lengths >= max_length).sum())
    n_params = non_embedding_params(model)
    n_layers, hidden = encoder_shape(model)
    batches = []  # predict_proba's batches: longest first within each chunk
    for start in range(0, n, chunk):
        order = start + np.argsort(-lengths[start : start + chunk], kind="stable")
        batches += [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    work = batch_work(
        lengths, batches, lambda s: infer_flops_per_sequence(n_params, n_layers, hidden, s)
    )
    details["flops"] = {"formula_infer_per_sequence": "2*N*s + 4*L*d*s^2", **work}
    if on_cpu:
        peak = cpu_facts()["peak_fp32_flops"]
        rate = work["padded_flops"] / t_ours.wall
        rows.append(
            Row(
                b,
                "ours forward FLOP/s / CPU peak",
                rate / peak,
                "",
                note=f"{rate / 1e9:.1f} GFLOP/s, {details['mean_tokens_per_row']:.0f} tok/row",
            )
        )
        t_q, q_probs = totals["int8"], probs["int8"]
        agree = float(np.mean(labels == (q_probs >= 0.5)))
        log(f"inference: int8 {n / t_q.wall:.1f} rows/s, agreement {agree:.4f}")
        rows += [
            Row(
                b,
                "int8 dynamic rows/s",
                n / t_q.wall,
                "rows/s",
                note=f"{t_ours.wall / t_q.wall:.2f}x ours float (CPU time "
                f"{t_ours.cpu / t_q.cpu:.2f}x); load {t_q.load:.1f}",
            ),
            Row(
                b,
                "int8 speed-up over pipeline",
                t_pipe.wall / t_q.wall,
                "x",
                ">= 2",
                check(t_pipe.wall / t_q.wall, ">= 2"),
                note=f"CPU time {t_pipe.cpu / t_q.cpu:.2f}x",
            ),
            Row(
                b,
                "int8 label agreement (t=0.5)",
                agree,
                "",
                ">= 0.995",
                check(agree, ">= 0.995"),
                note=f"{int((labels != (q_probs >= 0.5)).sum())} of {n} rows differ",
            ),
        ]
        details.update(
            int8_max_abs_prob_diff=float(np.max(np.abs(q_probs - probs["ours"]))),
            int8_positive_rate=float((q_probs >= 0.5).mean()),
            int8_engine=torch.backends.quantized.engine,
        )
    else:
        rows.append(Row(b, "int8 dynamic", "skipped", note="CPU-only (fbgemm/x86 kernels)"))
    return rows, details


# --------------------------------------------------------------------------------------------
# 3. pipeline overhead


def _dvc_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    for key in ("MLFLOW_TRACKING_URI", "DVC_ROOT"):
        env.pop(key, None)
    return env


def run_cmd(cmd: list[str], cwd: Path, timeout: float = 1800) -> tuple[str, float]:
    """Run ``cmd``; return (stdout + stderr, seconds). Raises on a non-zero exit."""
    t0 = time.perf_counter()
    proc = subprocess.run(
        cmd, cwd=cwd, env=_dvc_env(), capture_output=True, text=True, timeout=timeout
    )
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(
            f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
        )
    return proc.stdout + proc.stderr, seconds


def stages_run(output: str) -> list[str]:
    """Stages that ``dvc repro`` ran, from its log."""
    return sorted(set(re.findall(r"Running stage '([^']+)'", output)))


def _is_reproduced(repo: Path) -> bool:
    """Every stage of its dvc.yaml is in its dvc.lock and the final output exists."""
    import yaml

    try:
        stages = yaml.safe_load((repo / "dvc.yaml").read_text())["stages"]
        locked = yaml.safe_load((repo / "dvc.lock").read_text())["stages"]
    except (OSError, KeyError, TypeError, yaml.YAMLError):
        return False
    names = set()
    for name, spec in stages.items():
        items = spec.get("foreach") if isinstance(spec, dict) else None
        names |= {f"{name}@{i}" for i in items} if isinstance(items, list) else {name}
    return names <= set(locked) and (repo / "submission.csv").is_file()


_COPY_SKIP = {
    ROOT / ".venv",
    ROOT / ".dvc" / "cache",
    ROOT / ".dvc" / "tmp",
    ROOT / "mlflow.db",
    ROOT / "mlartifacts",
}


def _link(src: str, dst: str) -> None:
    try:
        os.link(src, dst)
    except OSError:  # another file system
        shutil.copy2(src, dst)


def _skip_in_copy(directory: str, names: list[str]) -> set[str]:
    return {n for n in names if Path(directory) / n in _COPY_SKIP or n == "__pycache__"}


def make_tiny_repo(dest: Path) -> Path:
    """A git+DVC repo of the project's tracked pipeline files with a tiny config (MiniLM at
    max_length 32, 160 generated rows), as tests/pipeline/test_dvc_pipeline.py builds."""
    import yaml

    from papercls.sample import write_sample

    dest.mkdir(parents=True)
    for name in ("dvc.yaml", ".gitignore", ".dvcignore"):
        shutil.copy2(ROOT / name, dest / name)
    for name in ("stages", "src"):
        shutil.copytree(
            ROOT / name, dest / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info")
        )
    params = load_project_params()
    for name in ("baseline", "topline"):
        params[name].update(backbone="minilm", max_length=32, batch_size=16, epochs=1)
    params["tfidf"]["max_features"] = 2000
    params["thresholds"]["bootstrap"] = 50
    (dest / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    write_sample(dest / "data" / "sample", n_train=160, n_test=40, seed=7)
    for cmd in (
        ["git", "init", "-q", "-b", "main"],
        ["git", "config", "user.email", "bench@example.com"],
        ["git", "config", "user.name", "bench"],
        ["dvc", "init", "-q"],
        ["git", "add", "-A"],
        ["git", "commit", "-qm", "init"],
    ):
        run_cmd(cmd, dest)
    return dest


def pipeline_repo(tmp: Path) -> tuple[Path, str, dict[str, Any]]:
    """A throwaway, fully reproduced repo: a copy of this checkout when ``dvc repro`` has run
    here and nothing changed since (the full-size pipeline), else a tiny repo reproduced once
    here. The copy leaves out the virtual environment and the MLflow store; its DVC cache is
    hard-linked (cache files are read-only)."""
    info: dict[str, Any] = {}
    if _is_reproduced(ROOT):
        dest = tmp / "repo-copy"
        t0 = time.perf_counter()
        shutil.copytree(ROOT, dest, symlinks=True, ignore=_skip_in_copy)
        cache = ROOT / ".dvc" / "cache"
        if cache.is_dir():
            shutil.copytree(cache, dest / ".dvc" / "cache", symlinks=True, copy_function=_link)
        info["copy_seconds"] = time.perf_counter() - t0
        out, info["status_after_copy_seconds"] = run_cmd(["dvc", "status", "--json"], dest)
        status = json.loads(out[out.index("{") :]) if "{" in out else None
        if status == {}:
            return dest, "copy of this checkout (full-size run)", info
        info["checkout_status"] = status
        log("pipeline: this checkout is not up to date; building a tiny repo instead")
    dest = make_tiny_repo(tmp / "repo-tiny")
    log("pipeline: first dvc repro of the tiny repo ...")
    out, info["first_repro_seconds"] = run_cmd(["dvc", "repro"], dest)
    info["first_repro_stages"] = stages_run(out)
    run_cmd(["git", "add", "-A"], dest)
    run_cmd(["git", "commit", "-qm", "first run"], dest)
    return dest, "tiny repo (MiniLM, max_length 32, 160 rows) built here", info


# The child reports its own peak RSS (VmHWM of its address space). rusage's ru_maxrss is no use
# here: Linux carries the parent's peak over the fork/exec into the child's figure.
_PREPROCESS_CHILD = """
import json, re, sys, time
t0 = time.perf_counter()
from papercls.preprocess import run_preprocess
t1 = time.perf_counter()
meta = run_preprocess(sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4]))
t2 = time.perf_counter()
status = open("/proc/self/status").read()
hwm = int(re.search(r"^VmHWM:\\s+(\\d+) kB", status, re.M).group(1)) * 1024
print(json.dumps({"import_seconds": t1 - t0, "preprocess_seconds": t2 - t1,
                  "peak_rss_bytes": hwm, "meta": meta}))
"""


def run_child(cmd: list[str], cwd: Path) -> tuple[str, float]:
    """Run ``cmd`` as a child process; return (its stdout, wall seconds)."""
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=_dvc_env(), capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"{cmd[:3]} failed ({proc.returncode}):\n{proc.stdout}{proc.stderr}")
    return proc.stdout, seconds


def bench_preprocess(sizes: dict[str, int], tmp: Path) -> tuple[list[Row], dict[str, Any]]:
    from papercls.sample import generate

    n, n_test = sizes["corpus"], sizes["corpus_test"]
    data = tmp / "corpus"
    data.mkdir()
    log(f"pipeline: generating a {n:,}-row corpus ...")
    t0 = time.perf_counter()
    generate(n, seed=3).to_csv(data / "train.csv", index=False)
    generate(n_test, seed=3, labelled=False).to_csv(data / "test.csv", index=False)
    gen_seconds = time.perf_counter() - t0
    cfg = load_project_params()["preprocess"]
    cmd = [
        sys.executable,
        "-c",
        _PREPROCESS_CHILD,
        str(data / "train.csv"),
        str(data / "test.csv"),
        str(tmp / "prepared"),
        json.dumps(cfg),
    ]
    log("pipeline: preprocess in a child process ...")
    text, wall = run_child(cmd, tmp)
    child = json.loads(text.strip().splitlines()[-1])
    peak = child["peak_rss_bytes"]
    b = "pipeline"
    rows = [
        Row(
            b,
            f"preprocess {n:,} rows: process wall",
            wall,
            "s",
            "< 30",
            check(wall, "< 30"),
            note=f"run_preprocess itself {child['preprocess_seconds']:.1f} s",
        ),
        Row(
            b,
            f"preprocess {n:,} rows: peak RSS",
            peak / 2**30,
            "GiB",
            "< 2",
            check(peak / 2**30, "< 2"),
            note="VmHWM of the child process",
        ),
    ]
    details = {
        "rows": n,
        "test_rows": n_test,
        "csv_bytes": (data / "train.csv").stat().st_size,
        "generate_seconds": gen_seconds,
        "child": child,
        "child_wall_seconds": wall,
    }
    return rows, details


def bench_pipeline(sizes: dict[str, int], tmp: Path) -> tuple[list[Row], dict[str, Any]]:
    import yaml

    repo, repo_note, info = pipeline_repo(tmp)
    repo_kind = "full-size repo" if repo_note.startswith("copy") else "tiny repo"
    log(f"pipeline: {repo_note}; no-op dvc repro x{sizes['repeats']} ...")
    noop, noop_stages = [], []
    for _ in range(sizes["repeats"]):
        out, seconds = run_cmd(["dvc", "repro"], repo)
        noop.append(seconds)
        noop_stages += stages_run(out)
    noop_s = statistics.median(noop)
    floor_s = statistics.median(run_cmd(["dvc", "--version"], repo)[1] for _ in noop)

    params_path = repo / "params.yaml"
    params = yaml.safe_load(params_path.read_text())
    old = params["thresholds"]["method"]
    new = "prior" if old != "prior" else "fixed"
    params["thresholds"]["method"] = new
    params_path.write_text(yaml.safe_dump(params, sort_keys=False))
    log(f"pipeline: thresholds.method {old} -> {new}; dvc repro ...")
    out, change_s = run_cmd(["dvc", "repro"], repo)
    ran = stages_run(out)
    expected = ["predict", "tune_thresholds"]
    b = "pipeline"
    rows = [
        Row(
            b,
            "dvc repro, nothing changed",
            noop_s,
            "s",
            "< 3",
            check(noop_s, "< 3"),
            note=f"median of {len(noop)}, {repo_kind}; "
            + ("no stage ran" if not noop_stages else f"ran {noop_stages}"),
        ),
        Row(b, "dvc start-up floor (dvc --version)", floor_s, "s", note="python + dvc CLI import"),
        Row(
            b,
            f"dvc repro after thresholds.method={new}",
            change_s,
            "s",
            note="ran: " + ", ".join(ran),
        ),
        Row(
            b,
            "stages rerun after threshold change",
            ", ".join(ran) or "none",
            "",
            ", ".join(expected),
            ran == expected,
        ),
    ]
    details = {
        "repo": repo_note,
        **info,
        "noop_seconds": noop,
        "dvc_version_seconds": floor_s,
        "noop_stages_ran": noop_stages,
        "threshold_change": {"from": old, "to": new, "seconds": change_s, "stages_ran": ran},
    }
    pre_rows, pre_details = bench_preprocess(sizes, tmp)
    details["preprocess"] = pre_details
    boot_rows, details["bootstrap"] = bench_bootstrap(sizes)
    return rows + pre_rows + boot_rows, details


def bench_bootstrap(sizes: dict[str, int]) -> tuple[list[Row], dict[str, Any]]:
    """The best-F1 bootstrap of tune_thresholds (1000 resamples) on a k-fold-sized
    prediction set."""
    import numpy as np

    from papercls.thresholds import bootstrap_best_f1

    n = sizes["bootstrap_rows"]
    rng = np.random.default_rng(9)
    y = rng.integers(0, 2, n)
    p = np.clip(0.5 * y + rng.normal(0.25, 0.2, n), 0, 1)
    seconds = []
    for _ in range(sizes["repeats"]):
        t0 = time.perf_counter()
        bootstrap_best_f1(y, p, n=1000, seed=1)
        seconds.append(time.perf_counter() - t0)
    best = min(seconds)
    row = Row(
        "pipeline",
        f"threshold bootstrap, 1000 resamples of {n:,} rows",
        best,
        "s",
        note=f"best of {len(seconds)}",
    )
    return [row], {"rows": n, "seconds": seconds}


# --------------------------------------------------------------------------------------------
# 4. GPU


def local_bert_base() -> str | None:
    """bert-base-uncased without any download: $PAPERCLS_BERT_BASE, models/backbones/, or the
    Hugging Face cache."""
    for candidate in (
        os.environ.get("PAPERCLS_BERT_BASE"),
        ROOT / "models" / "backbones" / "bert-base-uncased",
    ):
        if candidate and (Path(candidate) / "config.json").is_file():
            return str(candidate)
    try:
        from transformers import AutoConfig, AutoTokenizer

        AutoConfig.from_pretrained("bert-base-uncased", local_files_only=True)
        AutoTokenizer.from_pretrained("bert-base-uncased", local_files_only=True)
        return "bert-base-uncased"
    except Exception:
        return None


def bench_gpu(sizes: dict[str, int], tmp: Path) -> tuple[list[Row], dict[str, Any]]:
    import torch

    b = "gpu"
    if not torch.cuda.is_available():
        return [
            Row(
                b,
                "bert-base-uncased mixed precision",
                "skipped",
                note="no CUDA device (torch.cuda.is_available() is False)",
            )
        ], {}
    backbone = local_bert_base()
    if backbone is None:
        return [
            Row(
                b,
                "bert-base-uncased mixed precision",
                "skipped",
                note="bert-base-uncased not available locally (no download)",
            )
        ], {}
    params = load_project_params()
    section = {**params["baseline"], "backbone": backbone, "mixed_precision": "auto"}
    train_df, valid_df = sample_frames(params, sizes["train"], sizes["valid"])
    log(f"gpu: bert-base-uncased on {torch.cuda.get_device_name()} ...")
    ours = train_ours(section, backbone, train_df, valid_df, tmp / "gpu-bert")
    from papercls.inference import load_classifier, predict_proba

    texts, data_note = inference_texts(sizes["infer"], params["preprocess"]["text_template"])
    model, tokenizer = load_classifier(tmp / "gpu-bert")
    max_length = int(section["max_length"])
    with torch.autocast("cuda", dtype=torch.bfloat16):
        predict_proba(model, tokenizer, texts[:8], max_length)
        _, m_inf = timed(lambda: predict_proba(model, tokenizer, texts, max_length))
    rows = [
        Row(
            b,
            "bert-base train samples/s (mixed precision)",
            ours["samples_per_s"],
            "samples/s",
            note=torch.cuda.get_device_name(),
        ),
        Row(
            b,
            "bert-base train end-to-end samples/s",
            len(train_df) / ours["wall_seconds"],
            "samples/s",
            note="incl. tokenise, eval, save",
        ),
        Row(b, "bert-base valid F1", ours["valid_f1"], ""),
        Row(
            b,
            "bert-base predict rows/s (bf16 autocast)",
            len(texts) / m_inf.wall,
            "rows/s",
            note=data_note,
        ),
    ]
    return rows, {
        "device": torch.cuda.get_device_name(),
        "backbone": backbone,
        "train_wall_seconds": ours["wall_seconds"],
        "inference": m_inf.as_dict(),
    }


# --------------------------------------------------------------------------------------------
# main

BENCHMARKS: dict[str, Callable[[dict[str, int], Path], tuple[list[Row], dict[str, Any]]]] = {
    "training": bench_training,
    "inference": bench_inference,
    "pipeline": bench_pipeline,
    "gpu": bench_gpu,
}


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


def write_results(
    out_dir: Path, rows: list[Row], meta: dict[str, Any], details: dict[str, Any]
) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    payload = {**meta, "rows": [asdict(r) for r in rows], "details": details}
    (out_dir / "results.json").write_text(json.dumps(payload, indent=1, default=str) + "\n")
    env = meta["environment"]
    lines = [
        "# papercls benchmarks",
        "",
        f"`{meta['command']}` — {meta['started_utc']}, {meta['duration_s']:.0f} s, "
        f"git {env['git']}",
        "",
        f"Benchmarks completed: {', '.join(meta.get('completed', [])) or 'none'}.",
        "",
        f"Machine: {env['cpu_model']}, {env['cores']} cores ({', '.join(env['cpu_flags'])}), "
        f"{env['torch_threads']} torch threads, CUDA: {env['cuda'] or 'none'}; "
        f"torch {env['torch']}, transformers {env['transformers']}.",
        f"Assumed CPU peak: {env['peak_fp32_gflops']:.1f} GFLOP/s fp32 = {env['peak_formula']} "
        f"(clock: {env['clock_source']}).",
        "FLOPs per sequence of s tokens: training 6*N*s + 12*L*d*s^2, N = non-embedding "
        "parameters, L layers, hidden d.",
        "",
        markdown_table(rows),
        "",
    ]
    if meta.get("errors"):
        lines += ["Errors:", ""] + [f"- {k}: {v}" for k, v in meta["errors"].items()] + [""]
    (out_dir / "results.md").write_text("\n".join(lines))


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="small sizes: a few minutes in all")
    p.add_argument(
        "--only",
        default=",".join(ALL_BENCHMARKS),
        help=f"comma-separated subset of {','.join(ALL_BENCHMARKS)}",
    )
    p.add_argument(
        "--out-dir",
        type=Path,
        default=BENCH_DIR,
        help="where results.json and results.md go (default: benchmarks/)",
    )
    p.add_argument(
        "--infer-rows", type=int, default=None, help="testB rows for the inference benchmark"
    )
    p.add_argument("--keep-tmp", action="store_true", help="keep the scratch directory")
    args = p.parse_args(argv)
    args.only = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = set(args.only) - set(ALL_BENCHMARKS)
    if unknown:
        p.error(f"unknown benchmark(s) {sorted(unknown)}")
    return args


class Interrupted(Exception):
    """SIGTERM: stop, but still write what has been measured."""


def _on_sigterm(signum: int, frame: object) -> None:
    raise Interrupted(f"signal {signum}")


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    sizes = dict(SIZES["quick" if args.quick else "full"])
    if args.infer_rows:
        sizes["infer"] = args.infer_rows
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    signal.signal(signal.SIGTERM, _on_sigterm)
    started = dt.datetime.now(dt.UTC)
    t0 = time.perf_counter()
    env = environment()
    log(
        f"{env['cpu_model']}, {env['cores']} cores, peak {env['peak_fp32_gflops']:.1f} GFLOP/s "
        f"({env['peak_formula']}); sizes {sizes}"
    )
    rows: list[Row] = []
    details: dict[str, Any] = {"sizes": sizes}
    errors: dict[str, str] = {}
    meta = {
        "command": " ".join(["python", "benchmarks/run.py", *(argv or sys.argv[1:])]),
        "quick": args.quick,
        "started_utc": started.isoformat(timespec="seconds"),
        "duration_s": 0.0,
        "environment": env,
        "errors": errors,
        "completed": [],
    }

    def save() -> None:  # after every benchmark, so that an interrupted run leaves its figures
        order = {name: i for i, name in enumerate(ALL_BENCHMARKS)}
        meta["duration_s"] = time.perf_counter() - t0
        ordered = sorted(rows, key=lambda r: order.get(r.bench, len(order)))
        write_results(args.out_dir, ordered, meta, details)

    tmp = Path(tempfile.mkdtemp(prefix="papercls-bench-"))
    try:
        # quickest first: a run cut short still has the pipeline figures
        for name in sorted(args.only, key=EXECUTION_ORDER.index):
            scratch = tmp / name
            scratch.mkdir()
            t1 = time.perf_counter()
            monitor = LoadMonitor()
            try:
                with monitor:
                    bench_rows, bench_details = BENCHMARKS[name](sizes, scratch)
            except Exception as exc:  # one failing benchmark must not hide the others
                errors[name] = f"{type(exc).__name__}: {exc}"
                log(f"{name} FAILED: {errors[name]}")
                bench_rows, bench_details = (
                    [Row(name, "error", type(exc).__name__, note=str(exc)[:80], met=False)],
                    {},
                )
                if isinstance(exc, Interrupted):
                    rows.extend(bench_rows)
                    raise
            bench_details["seconds"] = time.perf_counter() - t1
            load = bench_details["load_average_1min"] = monitor.summary()
            if name != "gpu" or bench_details.get("device"):
                bench_rows.append(
                    Row(
                        name,
                        "machine load average (1 min), mean/max",
                        f"{load['mean']:.1f}/{load['max']:.1f}",
                        note=f"~{env['torch_threads']} is this script alone",
                    )
                )
            rows.extend(bench_rows)
            details[name] = bench_details
            meta["completed"].append(name)
            save()
            log(f"{name} done in {bench_details['seconds']:.0f} s")
    except Interrupted:
        log("interrupted: writing what was measured")
    finally:
        save()
        if args.keep_tmp:
            log(f"scratch kept at {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    order = {name: i for i, name in enumerate(ALL_BENCHMARKS)}
    print()
    print(format_table(sorted(rows, key=lambda r: order.get(r.bench, len(order)))))
    print()
    print(f"peak assumed: {env['peak_fp32_gflops']:.1f} GFLOP/s = {env['peak_formula']}")
    print(
        "training FLOPs per sequence of s tokens: 6*N*s + 12*L*d*s^2 "
        "(N non-embedding params, L layers, d hidden)"
    )
    print(
        f"wrote {args.out_dir / 'results.json'} and {args.out_dir / 'results.md'} "
        f"({meta['duration_s']:.0f} s)"
    )
    return 1 if errors else 0  # a missed target is a result, not a failure


if __name__ == "__main__":
    sys.exit(main())
