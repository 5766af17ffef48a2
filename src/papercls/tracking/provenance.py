"""What a run records about its origin: git and DVC tags, data hashes, loggable params.

Paths are scrubbed (repository roots become ".", the home directory "~"), URIs redacted
(no password, no token) and params whose key looks like a secret are dropped, so that nothing
machine- or user-specific or secret is logged.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from papercls.config.params import flatten, repo_root
from papercls.tracking.uri import main_repo_root, redact_text, workspace_root

logger = logging.getLogger(__name__)

UNKNOWN = "unknown"
_MAX_PARAM_LEN = 6000
_SECRET_KEY = re.compile(r"(?i)(passw|secret|token|api[_-]?key|credential|private[_-]?key)")


def _git(cwd: Path, *args: str) -> str | None:
    try:
        out = subprocess.run(
            ["git", *args],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip()


def git_commit(cwd: Path | None = None) -> str:
    return _git(cwd or workspace_root(), "rev-parse", "HEAD") or UNKNOWN


def git_dirty(cwd: Path | None = None) -> str:
    """Whether tracked files differ from HEAD: "true" / "false", or "unknown" outside git.
    ``dvc.lock``, rewritten by every stage of a ``dvc repro``, is left out."""
    out = _git(
        cwd or workspace_root(),
        "status",
        "--porcelain",
        "--untracked-files=no",
        "--",
        ".",
        ":(exclude)dvc.lock",
    )
    if out is None:
        return UNKNOWN
    return "true" if out else "false"


def data_hashes(root: Path | None = None) -> dict[str, str]:
    """From ``dvc.lock``'s ``preprocess`` stage: ``data.hash`` (md5 of the ``data/prepared``
    output) and ``data.raw_hash`` (md5 over the md5s of its non-code deps, i.e. the raw CSVs).
    "unknown" when the lock file or entry is missing."""
    out = {"data.hash": UNKNOWN, "data.raw_hash": UNKNOWN}
    lock = (root or workspace_root()) / "dvc.lock"
    try:
        stage = (yaml.safe_load(lock.read_text(encoding="utf-8")) or {})["stages"]["preprocess"]
    except (OSError, KeyError, TypeError, yaml.YAMLError):
        return out
    for o in stage.get("outs") or []:
        if isinstance(o, dict) and str(o.get("path", "")).rstrip("/") == "data/prepared":
            out["data.hash"] = str(o.get("md5") or UNKNOWN)
    raw = sorted(
        (str(d["path"]), str(d.get("md5", "")))
        for d in stage.get("deps") or []
        if isinstance(d, dict) and "path" in d and not str(d["path"]).endswith(".py")
    )
    if raw:
        out["data.raw_hash"] = hashlib.md5(
            "\n".join(f"{p} {m}" for p, m in raw).encode(), usedforsecurity=False
        ).hexdigest()
    return out


def path_prefixes() -> list[tuple[str, str]]:
    """(absolute prefix, replacement), longest first: repository roots -> ".", home -> "~"."""
    pairs: dict[str, str] = {}
    for root in {repo_root(), main_repo_root(), workspace_root()}:
        pairs[str(root)] = "."
    home = os.path.expanduser("~")
    if home and home not in ("/", "~"):
        pairs[str(Path(home).resolve())] = "~"
        pairs[home] = "~"
    return sorted(pairs.items(), key=lambda kv: -len(kv[0]))


def scrub(text: str, prefixes: list[tuple[str, str]] | None = None) -> str:
    """Absolute repository paths become relative ("."), the home directory becomes "~"; URIs
    lose their credentials and secret query values, known secrets become "***"
    (:func:`~papercls.tracking.uri.redact_text`)."""
    text = redact_text(text)
    for prefix, repl in prefixes if prefixes is not None else path_prefixes():
        if len(prefix) > 1 and prefix in text:
            # whole path components only: HOME=/root must not touch /rootfs
            text = re.sub(re.escape(prefix) + r"(?![\w.-])", repl.replace("\\", r"\\"), text)
    return text


def _param_value(v: Any) -> str:
    s = v if isinstance(v, str) else json.dumps(v, default=str)
    return s[:_MAX_PARAM_LEN]


def loggable_params(params: Mapping[str, Any]) -> dict[str, str]:
    """Flattened ``params`` as MLflow param strings; keys that look like secrets are dropped,
    paths are scrubbed."""
    prefixes = path_prefixes()
    out: dict[str, str] = {}
    for k, v in flatten(dict(params)).items():
        if _SECRET_KEY.search(k):
            logger.warning("not logging param %r: looks like a secret", k)
            continue
        out[scrub(k, prefixes)] = scrub(_param_value(v), prefixes)
    return out


def run_tags(stage: str) -> dict[str, str]:
    """Tags of a stage run: git commit / dirty flag, DVC stage and experiment, data hashes."""
    ws = workspace_root()
    commit = git_commit(ws)
    tags = {
        "git.commit": commit,
        "mlflow.source.git.commit": commit,
        "git.dirty": git_dirty(ws),
        "dvc.stage": stage,
        "mlflow.source.name": f"dvc:{stage}",
        "mlflow.source.type": "LOCAL",
        **data_hashes(ws),
    }
    if os.environ.get("DVC_EXP_NAME"):
        tags["dvc.exp_name"] = os.environ["DVC_EXP_NAME"]
    if os.environ.get("DVC_EXP_BASELINE_REV"):
        tags["dvc.exp_baseline_rev"] = os.environ["DVC_EXP_BASELINE_REV"]
    prefixes = path_prefixes()
    return {k: scrub(str(v), prefixes) for k, v in tags.items()}
