"""The best-F1 bootstrap of tune_thresholds (part of the pipeline benchmark)."""

from __future__ import annotations

import time
from typing import Any

from benchmarks.results import Row


def measure_bootstrap(n: int, repeats: int) -> list[float]:
    """Seconds of ``bootstrap_best_f1`` (1000 resamples) on ``n`` synthetic predictions,
    ``repeats`` times."""
    import numpy as np

    from papercls.evaluation.thresholds import bootstrap_best_f1

    rng = np.random.default_rng(9)
    y = rng.integers(0, 2, n)
    p = np.clip(0.5 * y + rng.normal(0.25, 0.2, n), 0, 1)
    seconds = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        bootstrap_best_f1(y, p, n=1000, seed=1)
        seconds.append(time.perf_counter() - t0)
    return seconds


def bench_bootstrap(sizes: dict[str, int]) -> tuple[list[Row], dict[str, Any]]:
    """The bootstrap on a k-fold-sized prediction set; the best of the repeats."""
    n = sizes["bootstrap_rows"]
    seconds = measure_bootstrap(n, sizes["repeats"])
    row = Row(
        "pipeline",
        f"threshold bootstrap, 1000 resamples of {n:,} rows",
        min(seconds),
        "s",
        note=f"best of {len(seconds)}",
    )
    return [row], {"rows": n, "seconds": seconds}
