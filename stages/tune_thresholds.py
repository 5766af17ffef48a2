"""DVC stage: choose each model's decision threshold (metrics/thresholds.json, tuned.json);
register the tuned topline in the MLflow Model Registry (alias candidate, champion if better)."""

import sys

from papercls.evaluate import load_prior, run_tune_thresholds
from papercls.params import load_params, repo_root
from papercls.tracking import DEFAULT_REGISTER_NAME, register_tuned, stage_main, stage_run

REGISTERED = "topline"


def main() -> int:
    params = load_params()
    models = list((params.get("evaluate") or {}).get("models") or [])
    cfg, tcfg = params.get("thresholds") or {}, params.get("tracking") or {}
    root = repo_root()
    try:
        prior = load_prior(root / "data" / "prepared" / "meta.json")
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    sections = {"thresholds": cfg, "evaluate": {"models": models}, "tracking": tcfg}
    with stage_run("tune_thresholds", sections) as run:
        try:
            table = run_tune_thresholds(
                models,
                cfg,
                prior,
                predictions_dir=root / "predictions",
                metrics_dir=root / "metrics",
            )
        except (FileNotFoundError, ValueError) as exc:
            return run.fail(exc)  # the run ends FAILED
        run.log_metrics(table.run_metrics())
        run.log_artifact(root / "metrics" / "thresholds.json")
        if REGISTERED in table:
            name = str(tcfg.get("register_name") or DEFAULT_REGISTER_NAME)
            f1 = table.tuned[REGISTERED]["f1"]
            print(register_tuned(run, root / "models" / REGISTERED, name, f1))
    print("\n".join(table.summary_lines()))
    return 0


if __name__ == "__main__":
    sys.exit(stage_main(main))
