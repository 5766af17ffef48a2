"""Where a stage may write a file whose path comes from params.yaml (``predict.output``,
``predict.probs_output``).

The rule: the path, with symlinks and ``..`` resolved, is a ``.csv`` file inside the repository
and outside the folders that hold the project's code, inputs and other stages' outputs
(:data:`PROTECTED_DIRS`, and the per-model folders of ``predictions/``). So a param can never
make a stage replace a source file (``src/papercls/cli.py``, ``params.yaml``, ``dvc.yaml``)
or write outside the checkout; the stage's own git-tracked outputs (``submission.csv``,
``predictions/submission_probs.csv``) are allowed.
"""

from __future__ import annotations

from pathlib import Path

PROTECTED_DIRS = (
    ".git",
    ".dvc",
    "benchmarks",
    "data",
    "docs",
    "metrics",
    "mlartifacts",
    "models",
    "plots",
    "src",
    "stages",
    "tests",
)
SUFFIXES = (".csv",)
_SHARED_DIR = "predictions"  # its files may be written; its sub-folders belong to train stages


def confined_output(root: str | Path, value: object, key: str) -> Path:
    """``root / value``, checked against the module's rule; ValueError naming the params
    ``key`` otherwise. ``root``: the repository (the stage's workspace)."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{key}: expected the path of a .csv file, got {value!r}")
    root = Path(root).resolve()
    path = root / value
    resolved = path.resolve()
    try:
        parts = resolved.relative_to(root).parts
    except ValueError:
        raise ValueError(
            f"{key}: {value!r} resolves to {resolved}, outside the repository {root}; "
            "outputs stay inside the repository"
        ) from None
    protected = ", ".join(f"{d}/" for d in PROTECTED_DIRS)
    if parts and parts[0] in PROTECTED_DIRS:
        raise ValueError(
            f"{key}: {value!r} lies under {parts[0]}/; outputs may not be written under "
            f"{protected} or a sub-folder of {_SHARED_DIR}/ (code, inputs, other stages' outputs)"
        )
    if len(parts) > 2 and parts[0] == _SHARED_DIR:
        raise ValueError(
            f"{key}: {value!r} lies in a sub-folder of {_SHARED_DIR}/, which belongs to a "
            f"train stage; write {_SHARED_DIR}/<name>.csv or a file outside {protected}"
        )
    if resolved.suffix.lower() not in SUFFIXES:
        raise ValueError(f"{key}: {value!r} is not a .csv file; outputs are CSV files")
    if resolved.is_dir():
        raise ValueError(f"{key}: {value!r} is a directory, expected a .csv file")
    return path


def distinct_outputs(outputs: dict[str, Path]) -> None:
    """ValueError naming both keys when two outputs are the same file."""
    seen: dict[Path, str] = {}
    for key, path in outputs.items():
        resolved = path.resolve()
        if resolved in seen:
            raise ValueError(f"{key} and {seen[resolved]} name the same file {path.name!r}")
        seen[resolved] = key
