"""DVC stage: choose each model's decision threshold (metrics/thresholds.json, tuned.json);
register the tuned topline in the MLflow Model Registry (alias candidate, champion if better)."""

import json
import sys

from papercls.evaluate import run_tune_thresholds
from papercls.params import load_params, repo_root
from papercls.tracking import promote_if_better, register_candidate, stage_main, stage_run

REGISTERED = "topline"


def main() -> int:
    params = load_params()
    models = list((params.get("evaluate") or {}).get("models") or [])
    cfg = params.get("thresholds") or {}
    tcfg = params.get("tracking") or {}
    root = repo_root()
    meta_path = root / "data" / "prepared" / "meta.json"
    try:
        prior = json.loads(meta_path.read_text(encoding="utf-8")).get("prior")
    except FileNotFoundError:
        print(f"error: {meta_path} not found: run the preprocess stage first", file=sys.stderr)
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
            print(f"error: {exc}", file=sys.stderr)
            return 2
        tuned = {}
        for name in table:
            tuned[name] = json.loads((root / "metrics" / name / "tuned.json").read_text())
            run.log_metrics(
                {
                    f"{name}.threshold": table[name]["threshold"],
                    f"{name}.tuned_f1": tuned[name]["f1"],
                    f"{name}.best_f1": table[name]["best_f1"]["f1"],
                }
            )
        run.log_artifact(root / "metrics" / "thresholds.json")
        model_dir = root / "models" / REGISTERED
        if REGISTERED in table and not model_dir.exists():
            print(f"registry: {model_dir} not found; nothing registered")
        elif REGISTERED in table:
            name = str(tcfg.get("register_name") or "paper-classifier")
            f1 = float(tuned[REGISTERED]["f1"])
            version = register_candidate(run, model_dir, name, f1)
            promoted = promote_if_better(run.client, name, version, f1)
            print(f"registry: {name} v{version} candidate (F1 {f1:.4f}), champion: {promoted}")
    for name, entry in table.items():
        best = entry["best_f1"]
        print(
            f"{name}: {entry['method']} threshold={entry['threshold']:.4f} "
            f"(best-F1 {best['threshold']:.4f}, 95% CI {best['ci_low']}..{best['ci_high']})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(stage_main(main))
