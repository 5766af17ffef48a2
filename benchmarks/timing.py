"""Timing on a shared machine: wall and process CPU seconds, the load average while measuring,
and methods taking turns chunk by chunk so that other work falls on all of them alike."""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def sync() -> None:
    """Wait for queued CUDA work (no-op on CPU), so that clocks read after it are honest."""
    import torch

    if torch.cuda.is_available():
        torch.cuda.synchronize()


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


class Measure:
    """Wall seconds, process CPU seconds (all threads) and the mean 1-minute load average of a
    with-block. On a shared machine, CPU seconds are the figure least moved by other work."""

    wall = cpu = load = 0.0

    def __enter__(self) -> Measure:
        sync()
        self._monitor = LoadMonitor(every=2.0).__enter__()
        self._t0, self._c0 = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        sync()
        self.wall = time.perf_counter() - self._t0
        self.cpu = time.process_time() - self._c0
        self._monitor.__exit__()
        self.load = self._monitor.summary()["mean"]

    def as_dict(self) -> dict[str, float]:
        return {"wall_seconds": self.wall, "cpu_seconds": self.cpu, "load_mean": self.load}


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


def best_of(
    methods: dict[str, Callable[[list[str]], Any]], texts: list[str], chunk: int, rounds: int
) -> tuple[dict[str, list[Any]], dict[str, Totals]]:
    """:func:`interleaved` ``rounds`` times: per method the least wall and the least CPU
    seconds over the rounds (the load average of its fastest round by wall time), and the
    outputs of the last round."""
    best: dict[str, Totals] = {}
    outputs: dict[str, list[Any]] = {}
    for _ in range(max(1, rounds)):
        outputs, totals = interleaved(methods, texts, chunk)
        for name, t in totals.items():
            b = best.get(name)
            if b is None:
                best[name] = t
                continue
            loads = t.loads if t.wall < b.wall else b.loads
            best[name] = Totals(wall=min(b.wall, t.wall), cpu=min(b.cpu, t.cpu), loads=loads)
    return outputs, best
