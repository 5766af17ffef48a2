"""params.yaml access and the repository root."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml


def repo_root() -> Path:
    """The root of the workspace being run: the nearest folder holding dvc.yaml at or above the
    working directory (DVC runs stages there, also in the temporary copies that
    `dvc exp run --temp/--queue` makes), else DVC_ROOT, else the nearest git root, else the
    working directory. DVC_ROOT alone is not enough: in those temporary runs it names the
    original repository, not the copy whose params.yaml carries the experiment's values."""
    here = Path.cwd().resolve()
    for d in (here, *here.parents):
        if (d / "dvc.yaml").exists():
            return d
    env = os.environ.get("DVC_ROOT")
    if env:
        return Path(env).resolve()
    for d in (here, *here.parents):
        if (d / ".git").exists():
            return d
    return here


def load_params(path: str | Path | None = None) -> dict[str, Any]:
    path = Path(path) if path else repo_root() / "params.yaml"
    with open(path, encoding="utf-8") as fh:
        params = yaml.safe_load(fh) or {}
    if not isinstance(params, dict):
        raise ValueError(f"{path}: expected a mapping at the top level")
    return params


def flatten(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """{"a": {"b": 1}} -> {"a.b": 1}; lists stay values."""
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(flatten(v, key + "."))
        else:
            out[key] = v
    return out


def section(params: dict[str, Any], name: str) -> dict[str, Any]:
    """A copy of the ``name`` section; ``params`` may be the whole params.yaml or the section
    itself."""
    if isinstance(params.get(name), dict):
        return dict(params[name])
    return dict(params)
