"""DVC stage: choose each model's decision threshold (metrics/thresholds.json, tuned.json), and
score a labelled test set at 0.5 and at that threshold (test.json); log the topline as a model
that labels paper rows at its tuned threshold with the preprocess template, and register it in
the MLflow Model Registry (alias candidate, champion if better)."""

import sys

from papercls.config.params import load_params, repo_root
from papercls.evaluation.evaluate import load_prior, remove_unlisted, run_tune_thresholds
from papercls.tracking import stage_main, stage_run
from papercls.tracking.registry import DEFAULT_REGISTER_NAME, register_tuned
from papercls.tracking.serving import prepared_template

REGISTERED = "topline"


def main() -> int:
    params = load_params()
    models = list((params.get("evaluate") or {}).get("models") or [])
    cfg, tcfg = params.get("thresholds") or {}, params.get("tracking") or {}
    root = repo_root()
    try:
        prior = load_prior(root / "data" / "prepared" / "meta.json")
        template = prepared_template(root / "data" / "prepared")
    except (FileNotFoundError, ValueError) as exc:
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
                prepared_test=root / "data" / "prepared" / "test.parquet",
            )
        except (FileNotFoundError, ValueError) as exc:
            return run.fail(exc)  # the run ends FAILED
        remove_unlisted(models, root, ["metrics/{}/tuned.json", "metrics/{}/test.json"])
        run.log_metrics(table.run_metrics())
        run.log_artifact(root / "metrics" / "thresholds.json")
        for png in table.figures:
            run.log_artifact(png, artifact_path="figures")
        if REGISTERED in table:
            name = str(tcfg.get("register_name") or DEFAULT_REGISTER_NAME)
            f1, threshold = table.tuned[REGISTERED]["f1"], table[REGISTERED]["threshold"]
            model_dir = root / "models" / REGISTERED
            print(register_tuned(run, model_dir, name, f1, threshold=threshold, template=template))
    print("\n".join(f"tune_thresholds: {line}" for line in table.summary_lines()))
    return 0


if __name__ == "__main__":
    sys.exit(stage_main(main))
