"""DVC stage: figures at threshold 0.5 and curve files for every model, plus a summary table."""

import sys

from papercls.config.params import load_params, repo_root
from papercls.console import figure
from papercls.evaluation.evaluate import remove_unlisted, run_evaluate
from papercls.tracking import stage_main, stage_run

FIGURES = ("f1", "precision", "recall", "accuracy", "roc_auc", "pr_auc")


def main() -> int:
    params = load_params()
    cfg = params.get("evaluate") or {}
    root = repo_root()
    with stage_run("evaluate", {"evaluate": cfg, "tracking": params.get("tracking")}) as run:
        try:
            results = run_evaluate(
                list(cfg.get("models") or []),
                predictions_dir=root / "predictions",
                metrics_dir=root / "metrics",
                plots_dir=root / "plots",
                threshold=float(cfg.get("threshold", 0.5)),
                max_points=int(cfg.get("max_points", 200)),
            )
        except (FileNotFoundError, ValueError) as exc:
            return run.fail(exc)  # the run ends FAILED
        remove_unlisted(list(results), root, ["metrics/{}/eval.json", "plots/{}"])
        for name, m in results.items():
            run.log_metrics({f"{name}.{k}": m[k] for k in FIGURES if m.get(k) is not None})
            run.log_artifact(root / "metrics" / name / "eval.json", artifact_path=f"metrics/{name}")
            run.log_artifacts(root / "plots" / name, artifact_path=f"plots/{name}")
        run.log_artifact(root / "metrics" / "summary.md")
        for png in results.figures:
            run.log_artifact(png, artifact_path="figures")
    for name, m in results.items():
        print(
            f"evaluate: {name} F1 {figure(m['f1'])}, ROC-AUC {figure(m.get('roc_auc'))}, "
            f"PR-AUC {figure(m.get('pr_auc'))} at threshold {figure(m['threshold'])} "
            f"({m['n']} held-out rows)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(stage_main(main))
