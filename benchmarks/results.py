"""Result rows: targets, number formatting, the text and markdown tables, results.json/.md."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from benchmarks.config import ALL_BENCHMARKS


@dataclass
class Row:
    bench: str
    figure: str
    value: float | int | str | None
    unit: str = ""
    target: str = ""  # e.g. ">= 1.2"; empty: informational
    met: bool | None = None  # None: no target, or not measured
    note: str = ""


def target_row(bench: str, figure: str, value: float, unit: str, target: str, **kw: Any) -> Row:
    """A row whose ``met`` is ``check(value, target)``."""
    return Row(bench, figure, value, unit, target, check(value, target), **kw)


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


def in_table_order(rows: Iterable[Row]) -> list[Row]:
    """Rows grouped by benchmark in :data:`ALL_BENCHMARKS` order (stable within a group)."""
    order = {name: i for i, name in enumerate(ALL_BENCHMARKS)}
    return sorted(rows, key=lambda r: order.get(r.bench, len(order)))


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


def results_markdown(rows: list[Row], meta: dict[str, Any]) -> str:
    """The text of results.md: command, machine, assumed CPU peak, the table, any errors."""
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
    return "\n".join(lines)


def write_results(
    out_dir: Path, rows: list[Row], meta: dict[str, Any], details: dict[str, Any]
) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    payload = {**meta, "rows": [asdict(r) for r in rows], "details": details}
    (out_dir / "results.json").write_text(json.dumps(payload, indent=1, default=str) + "\n")
    (out_dir / "results.md").write_text(results_markdown(rows, meta))
