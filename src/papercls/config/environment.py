"""What valid params must also find on this machine, checked by the check_params stage before
DVC removes any output (``papercls check-params`` does the same):

* each encoder's ``backbone`` loads without the network: ``minilm``, a local model directory, or
  a hub id already in the Hugging Face cache (:func:`papercls.models.backbone.backbone_problem`);
* ``thresholds.expected_count`` is at most the number of rows of ``data.test`` (skipped when the
  file cannot be read: the preprocess stage names what is wrong with it);
* with ``tracking.fail_on_unavailable: true`` and an http(s) ``MLFLOW_TRACKING_URI``, the server
  answers its health check (a few seconds at most).

Relative paths are taken from ``base``, the folder of params.yaml (the repository root). Only
light imports: no torch, pandas or mlflow.
"""

from __future__ import annotations

import csv
from pathlib import Path

from papercls.config.messages import Problem
from papercls.config.schema import Params


def _backbones(params: Params, base: Path) -> list[Problem]:
    from papercls.models.backbone import backbone_problem

    out: list[Problem] = []
    for name in ("baseline", "topline"):
        why = backbone_problem(getattr(params, name).backbone, base)
        if why:
            out.append((f"{name}.backbone", why))
    return out


def count_rows(path: Path) -> int | None:
    """The data rows of a CSV (blank lines skipped, as pandas does), or None when it cannot be
    read as UTF-8 CSV."""
    try:
        with open(path, encoding="utf-8-sig", newline="") as fh:
            rows = sum(1 for row in csv.reader(fh) if row)
    except (OSError, UnicodeDecodeError, csv.Error):
        return None
    return max(rows - 1, 0)  # the header


def _expected_count(params: Params, base: Path) -> list[Problem]:
    count = params.thresholds.expected_count if params.thresholds else None
    if count is None:
        return []
    rows = count_rows(base / params.data.test)
    if rows is None or count <= rows:
        return []
    return [
        (
            "thresholds.expected_count",
            f"got {count}, more than the {rows} rows of data.test ({params.data.test}); "
            f"expected an integer in [0, {rows}] or null",
        )
    ]


def _tracking(params: Params) -> list[Problem]:
    if not params.tracking.fail_on_unavailable:
        return []
    from papercls.tracking.uri import is_remote, probe, redact_uri, tracking_uri

    uri = tracking_uri()
    why = probe(uri) if is_remote(uri) else None
    if why is None:
        return []
    return [
        (
            "tracking.fail_on_unavailable",
            f"true, and the MLflow tracking server {redact_uri(uri)} (MLFLOW_TRACKING_URI) is "
            f"unreachable ({why}); start it, unset MLFLOW_TRACKING_URI to log to the "
            "repository's SQLite database, or set tracking.fail_on_unavailable: false",
        )
    ]


def check_environment(params: Params, base: str | Path = ".") -> list[Problem]:
    """Every problem of valid ``params`` on this machine; [] when the stages can start."""
    base = Path(base)
    return _backbones(params, base) + _expected_count(params, base) + _tracking(params)
