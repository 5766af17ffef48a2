"""3. pipeline: ``dvc repro`` with nothing changed and after a threshold-only change (which
stages rerun), then the preprocess of a large generated corpus (benchmarks.preprocess_scale)
and the threshold bootstrap (benchmarks.thresholds_bootstrap)."""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

from benchmarks.dvc_repo import pipeline_repo, run_cmd, stages_run
from benchmarks.preprocess_scale import bench_preprocess
from benchmarks.results import Row, target_row
from benchmarks.thresholds_bootstrap import bench_bootstrap
from benchmarks.timing import log

EXPECTED_AFTER_THRESHOLD_CHANGE = ["check_params", "predict", "tune_thresholds"]


def _switch_threshold_method(repo: Path) -> tuple[str, str]:
    """Change ``thresholds.method`` in the repo's params.yaml; return (old, new)."""
    import yaml

    params_path = repo / "params.yaml"
    params = yaml.safe_load(params_path.read_text())
    old = params["thresholds"]["method"]
    new = "prior" if old != "prior" else "fixed"
    params["thresholds"]["method"] = new
    params_path.write_text(yaml.safe_dump(params, sort_keys=False))
    return old, new


def measure_dvc(sizes: dict[str, int], tmp: Path) -> dict[str, Any]:
    """No-op ``dvc repro`` (median of ``repeats``), the dvc start-up floor, and a repro after a
    threshold-only change. Returns the details of the benchmark (JSON-ready)."""
    repo, repo_note, info = pipeline_repo(tmp)
    log(f"pipeline: {repo_note}; no-op dvc repro x{sizes['repeats']} ...")
    noop, noop_stages = [], []
    for _ in range(sizes["repeats"]):
        out, seconds = run_cmd(["dvc", "repro"], repo)
        noop.append(seconds)
        noop_stages += stages_run(out)
    floor_s = statistics.median(run_cmd(["dvc", "--version"], repo)[1] for _ in noop)
    old, new = _switch_threshold_method(repo)
    log(f"pipeline: thresholds.method {old} -> {new}; dvc repro ...")
    out, change_s = run_cmd(["dvc", "repro"], repo)
    ran = stages_run(out)
    return {
        "repo": repo_note,
        **info,
        "noop_seconds": noop,
        "dvc_version_seconds": floor_s,
        "noop_stages_ran": noop_stages,
        "threshold_change": {"from": old, "to": new, "seconds": change_s, "stages_ran": ran},
    }


def dvc_rows(m: dict[str, Any]) -> list[Row]:
    repo_kind = "full-size repo" if m["repo"].startswith("copy") else "tiny repo"
    noop, noop_stages = m["noop_seconds"], m["noop_stages_ran"]
    noop_s = statistics.median(noop)
    change = m["threshold_change"]
    ran, expected = change["stages_ran"], EXPECTED_AFTER_THRESHOLD_CHANGE
    b = "pipeline"
    return [
        target_row(
            b,
            "dvc repro, nothing changed",
            noop_s,
            "s",
            "< 3",
            note=f"median of {len(noop)}, {repo_kind}; "
            + ("no stage ran" if not noop_stages else f"ran {noop_stages}"),
        ),
        Row(
            b,
            "dvc start-up floor (dvc --version)",
            m["dvc_version_seconds"],
            "s",
            note="python + dvc CLI import",
        ),
        Row(
            b,
            f"dvc repro after thresholds.method={change['to']}",
            change["seconds"],
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


def bench_pipeline(sizes: dict[str, int], tmp: Path) -> tuple[list[Row], dict[str, Any]]:
    details = measure_dvc(sizes, tmp)
    rows = dvc_rows(details)
    pre_rows, details["preprocess"] = bench_preprocess(sizes, tmp)
    boot_rows, details["bootstrap"] = bench_bootstrap(sizes)
    return rows + pre_rows + boot_rows, details
