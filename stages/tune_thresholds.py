"""DVC stage: choose each model's decision threshold (metrics/thresholds.json, tuned.json)."""

import json
import sys

from papercls.evaluate import run_tune_thresholds
from papercls.params import load_params, repo_root


def main() -> int:
    params = load_params()
    models = list((params.get("evaluate") or {}).get("models") or [])
    cfg = params.get("thresholds") or {}
    root = repo_root()
    meta_path = root / "data" / "prepared" / "meta.json"
    try:
        prior = json.loads(meta_path.read_text(encoding="utf-8")).get("prior")
    except FileNotFoundError:
        print(f"error: {meta_path} not found: run the preprocess stage first", file=sys.stderr)
        return 2
    try:
        table = run_tune_thresholds(
            models, cfg, prior, predictions_dir=root / "predictions", metrics_dir=root / "metrics"
        )
    except (FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for name, entry in table.items():
        best = entry["best_f1"]
        print(
            f"{name}: {entry['method']} threshold={entry['threshold']:.4f} "
            f"(best-F1 {best['threshold']:.4f}, 95% CI {best['ci_low']}..{best['ci_high']})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
