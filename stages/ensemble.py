"""DVC stage ``ensemble``: combine the members' predictions (params.yaml section ``ensemble``)
into predictions/ensemble/{heldout,test}.parquet, a model like any other for evaluate,
tune_thresholds and predict."""

import sys

from papercls.config.params import load_params, repo_root
from papercls.evaluation.ensemble import ensemble_config, run_ensemble


def main() -> int:
    root = repo_root()
    try:
        cfg = ensemble_config(load_params(root / "params.yaml").get("ensemble"))
        files = run_ensemble(cfg, root / "predictions")
    except (FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"ensemble: {cfg.method} of {', '.join(cfg.members)} -> {files.heldout.parent}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
