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


# ``papercls predict --output``: a .csv or .parquet file; one that exists is replaced only when
# it is a regular file outside the protected folders holding labels papercls predict wrote
# (or with --force).
PREDICT_SUFFIXES = (".csv", ".parquet")
PREDICT_HEADERS = (("uuid", "label"), ("uuid", "label", "prob"))


def _protected_folder(path: Path, root: Path) -> str | None:
    """The protected folder (``data/``, ``src/``, a sub-folder of ``predictions/``...) of the
    repository ``root`` that ``path`` (resolved) lies in, or None."""
    try:
        parts = path.resolve().relative_to(root.resolve()).parts
    except ValueError:
        return None
    if parts and parts[0] in PROTECTED_DIRS:
        return f"{parts[0]}/"
    if len(parts) > 2 and parts[0] == _SHARED_DIR:
        return f"{_SHARED_DIR}/{parts[1]}/"
    return None


def is_predict_output(path: Path) -> bool:
    """True when ``path`` holds labels as ``papercls predict`` writes them: a CSV whose header
    is ``uuid,label[,prob]``, or a Parquet file with those columns (by its suffix)."""
    try:
        if path.suffix.lower() == ".parquet":
            import pyarrow.parquet as pq

            names = tuple(pq.read_schema(path).names)
        else:
            with open(path, encoding="utf-8", newline="") as fh:
                names = tuple(fh.readline(4096).rstrip("\r\n").split(","))
    except Exception:  # noqa: BLE001  unreadable or another format: not an output
        return False
    return names in PREDICT_HEADERS


def check_predict_output(output: str | Path, root: Path, force: bool = False) -> None:
    """ValueError unless ``output`` (``papercls predict --output``) may be written: ``-``
    (standard output), or a ``.csv``/``.parquet`` path that is new, or an existing regular
    file outside the protected folders of the repository ``root`` that holds a previous output
    (any such file with ``force``). Symlinks, devices and FIFOs are refused: they would be
    replaced by a file."""
    if str(output) == "-":
        return
    out = Path(output)
    if out.is_symlink():
        raise ValueError(f"--output {out} is a symbolic link; give the path of a file to write")
    if out.exists() and not out.is_file() and not out.is_dir():
        raise ValueError(
            f"--output {out} is not a regular file (a device, FIFO or socket); "
            "use --output - to write to standard output"
        )
    if out.suffix.lower() not in PREDICT_SUFFIXES:
        raise ValueError(
            f"--output {out} is not a .csv or .parquet file; labels are written as CSV or "
            "Parquet (or to standard output with --output -)"
        )
    if not out.is_file():
        return
    folder = _protected_folder(out, root)
    if folder is not None:
        raise ValueError(
            f"--output {out} exists under {folder}, which holds the project's code, data, "
            "models or metrics; write the labels elsewhere"
        )
    if not force and not is_predict_output(out):
        raise ValueError(
            f"--output {out} exists and is not a previous output of papercls predict "
            f"(header uuid,label[,prob]); add --force to replace it"
        )
