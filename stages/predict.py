"""DVC stage: submission.csv (uuid,label) from the chosen model's test probabilities."""

import sys

from papercls.config.params import load_params, repo_root
from papercls.inference.outputs import confined_output, distinct_outputs
from papercls.inference.predict import write_submission


def main() -> int:
    cfg = load_params().get("predict") or {}
    root = repo_root()
    try:
        outputs = {
            "predict.output": confined_output(
                root, cfg.get("output") or "submission.csv", "predict.output"
            ),
            "predict.probs_output": confined_output(
                root,
                cfg.get("probs_output") or "predictions/submission_probs.csv",
                "predict.probs_output",
            ),
        }
        distinct_outputs(outputs)
        info = write_submission(
            model=str(cfg.get("model") or "topline"),
            predictions_dir=root / "predictions",
            thresholds_file=root / "metrics" / "thresholds.json",
            prepared_test=root / "data" / "prepared" / "test.parquet",
            output=outputs["predict.output"],
            probs_output=outputs["predict.probs_output"],
        )
    except (FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(
        f"{info['output']}: {info['n']} rows, {info['positives']} medical "
        f"({info['positive_rate']:.3f}) with {info['model']} at threshold {info['threshold']:.4f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
