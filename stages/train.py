"""DVC stage ``train@<name>``: fine-tune the baseline or topline encoder.

Usage: python stages/train.py baseline|topline
Reads the params.yaml sections ``<name>`` and ``inference`` (the engine of the held-out and
test predictions) and data/prepared/*.parquet; writes models/<name>/,
predictions/<name>/{heldout,test}.parquet and metrics/<name>/history.csv. One MLflow run.
With ``processes: N`` > 1 in the section the script restarts itself under torchrun with N
processes (unless a launcher started it); only the main process writes and logs.
"""

from __future__ import annotations

import sys
from pathlib import Path

from papercls.config.params import load_params, repo_root
from papercls.distributed import is_main_process, launched, relaunch, wait_for_everyone
from papercls.tracking import stage_main, stage_run
from papercls.tracking.serving import log_servable, prepared_template
from papercls.training.stage import run_training

NAMES = ("baseline", "topline")


def main(argv: list[str]) -> int:
    if len(argv) != 1 or argv[0] not in NAMES:
        print(f"usage: python stages/train.py {{{'|'.join(NAMES)}}}", file=sys.stderr)
        return 2
    name, root = argv[0], repo_root()
    params = load_params(root / "params.yaml")
    try:  # the logged model renders paper rows with the template the model is trained on
        template = prepared_template(root / "data" / "prepared")
    except (FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    processes = (params[name] or {}).get("processes", 1)
    if isinstance(processes, int) and processes > 1 and not launched():
        relaunch(processes, str(Path(__file__).resolve()), argv)
    if not is_main_process():  # trains its part; the main process writes and logs
        completed = _train(name, params, root, None).completed
        wait_for_everyone()  # until the main process is done: torchrun stops all at an exit 1
        return 0 if completed else 1
    logged = {name: params[name], "inference": params.get("inference")}
    with stage_run(f"train@{name}", {**logged, "tracking": params.get("tracking")}) as run:
        summary = _train(name, params, root, run.log_epoch)
        run.log_metrics(summary.metrics())
        if summary.history_csv is not None:  # not written by a run stopped to be resumed
            run.log_artifact(summary.history_csv)
        if summary.completed:  # labels at 0.5 here; tune_thresholds registers the tuned one
            kind = "custom" if name == "topline" else "transformers"
            log_servable(run, summary.model_dir, kind, template=template)
    print(summary.headline())
    wait_for_everyone()
    return 0 if summary.completed else 1


def _train(name: str, params: dict, root: Path, on_epoch_end):
    return run_training(
        name,
        params[name],
        prepared_dir=root / "data" / "prepared",
        models_dir=root / "models",
        predictions_dir=root / "predictions",
        metrics_dir=root / "metrics",
        on_epoch_end=on_epoch_end,
        inference=params.get("inference"),
    )


if __name__ == "__main__":
    sys.exit(stage_main(main, sys.argv[1:]))
