"""Submission writing (the predict stage), and the threshold and template ``papercls predict``
uses (labelling any test-format file: ``predict_csv`` in stream.py, the CLI in predict_cli.py).

Labels are 1 where ``prob >= threshold``. Files are written atomically (``papercls.data.io``); the
stage's two files are renamed into place only once both are complete.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from papercls.data.io import atomic_path
from papercls.evaluation.metrics import predict_labels
from papercls.evaluation.threshold_file import read_threshold
from papercls.inference.classifier import predict_probs  # noqa: F401  (re-exported)

DEFAULT_TEMPLATE = "{title} {sep} {Keywords} {sep} {abstract}"


def _examples(values: list[str], k: int = 3) -> str:
    return ", ".join(repr(v) for v in values[:k]) + (", ..." if len(values) > k else "")


def align_to_test(
    probs: pd.DataFrame, test_uuids: list[str], source: str = "predictions", ref: str = "test"
) -> pd.DataFrame:
    """Return ``probs`` (uuid, prob) reordered to ``test_uuids``; raises ValueError unless both
    hold the same unique uuids (message names ``source`` and ``ref``)."""
    uuids = [str(u) for u in probs["uuid"].tolist()]
    ref_uuids = [str(u) for u in test_uuids]
    for what, values in ((source, uuids), (ref, ref_uuids)):
        series = pd.Series(values)
        dup = series.duplicated()
        if dup.any():
            raise ValueError(f"{what}: duplicate uuid(s) {_examples(series[dup].tolist())}")
    if len(uuids) != len(ref_uuids) or set(uuids) != set(ref_uuids):
        have, want = set(uuids), set(ref_uuids)
        missing = [u for u in ref_uuids if u not in have]
        extra = [u for u in uuids if u not in want]
        msg = f"{source} has {len(uuids)} rows but {ref} has {len(ref_uuids)}"
        if missing:
            msg += f"; {len(missing)} test uuid(s) without a prediction ({_examples(missing)})"
        if extra:
            msg += f"; {len(extra)} uuid(s) not in the test set ({_examples(extra)})"
        raise ValueError(f"uuid mismatch: {msg}")
    out = pd.DataFrame({"uuid": uuids, "prob": probs["prob"].to_numpy(dtype=np.float64)})
    return out.set_index("uuid").loc[ref_uuids].reset_index()


def write_submission(
    model: str = "topline",
    predictions_dir: str | Path = "predictions",
    thresholds_file: str | Path = "metrics/thresholds.json",
    prepared_test: str | Path = "data/prepared/test.parquet",
    output: str | Path = "submission.csv",
    probs_output: str | Path = "predictions/submission_probs.csv",
) -> dict[str, Any]:
    """Write ``output`` (uuid,label) and ``probs_output`` (uuid,prob,label): one row per test uuid
    in the prepared test order, labels from the model's tuned threshold. Returns a summary."""
    from papercls.evaluation.evaluate import load_test_probs, prediction_path

    pred_path = prediction_path(predictions_dir, model, "test")
    probs = load_test_probs(pred_path, model)
    threshold = read_threshold(thresholds_file, model)
    prepared_test = Path(prepared_test)
    if not prepared_test.exists():
        raise FileNotFoundError(f"prepared test file {prepared_test} not found: run preprocess")
    test_uuids = pd.read_parquet(prepared_test, columns=["uuid"])["uuid"].tolist()
    sub = align_to_test(probs, test_uuids, str(pred_path), str(prepared_test))
    sub["label"] = predict_labels(sub["prob"].to_numpy(), threshold)
    with atomic_path(output) as tmp_sub, atomic_path(probs_output) as tmp_probs:
        sub[["uuid", "label"]].to_csv(tmp_sub, index=False, lineterminator="\n")
        sub[["uuid", "prob", "label"]].to_csv(tmp_probs, index=False, lineterminator="\n")
    return {
        "model": model,
        "threshold": threshold,
        "n": len(sub),
        "positives": int(sub["label"].sum()),
        "positive_rate": float(sub["label"].mean()),
        "output": str(output),
        "probs_output": str(probs_output),
    }


def default_template() -> str:
    """The template the models were trained with: data/prepared/meta.json, else params.yaml's
    preprocess.text_template, else the project default."""
    from papercls.config.params import load_params, repo_root

    meta = repo_root() / "data" / "prepared" / "meta.json"
    try:
        template = json.loads(meta.read_text(encoding="utf-8")).get("template")
        if template:
            return str(template)
    except (OSError, ValueError):
        pass
    try:
        template = (load_params().get("preprocess") or {}).get("text_template")
        if template:
            return str(template)
    except (OSError, ValueError):
        pass
    return DEFAULT_TEMPLATE
