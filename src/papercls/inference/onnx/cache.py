"""The ONNX export of a saved model, made once and kept beside it.

``models/<name>/`` -> ``models/<name>.onnx/`` (a sibling, not inside: the model folder is a DVC
output, and a file added to it would make DVC rerun its training). Layout as
:func:`papercls.inference.onnx.export.export_onnx` writes it (``fold_<k>/`` for a k-fold model),
plus a ``source.json`` in each exported folder holding a digest of the model files it was made from.
An export whose digest no longer matches (the model was retrained) is made again; the int8
variant is added the first time it is asked for. ``source.json`` is written last, so an export
cut short is simply made again.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

from papercls.inference import encoder as inference
from papercls.inference.onnx.export import export_onnx
from papercls.inference.onnx.layout import INT8_FILE, MODEL_FILE

SUFFIX = ".onnx"
MARKER = "source.json"
FORMAT = 1  # raise when the export changes, so that older exports are made again


def cache_dir(model_dir: str | Path) -> Path:
    """Where the export of ``model_dir`` is kept: ``<model_dir>.onnx`` beside it."""
    model_dir = Path(model_dir)
    return model_dir.with_name(model_dir.name + SUFFIX)


def model_digest(model_dir: str | Path) -> str:
    """sha256 over the names and bytes of every file in one saved model folder."""
    root = Path(model_dir)
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        with path.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def _is_current(out: Path, digest: str, int8: bool) -> bool:
    try:
        marker = json.loads((out / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    wanted = [MODEL_FILE, INT8_FILE] if int8 else [MODEL_FILE]
    return (
        isinstance(marker, dict)
        and marker.get("format") == FORMAT
        and marker.get("source") == digest
        and all((out / name).is_file() for name in wanted)
    )


def _export_one(model_dir: Path, out: Path, int8: bool) -> None:
    from papercls.data.io import write_json

    digest = model_digest(model_dir)
    if _is_current(out, digest, int8):
        return
    export_onnx(model_dir, out, int8=int8)
    write_json({"format": FORMAT, "source": digest, "int8": int8}, out / MARKER)


def _prune(onnx_dir: Path, keep: set[Path]) -> None:
    """Remove fold folders (and a single-model export) that the model no longer has."""
    if onnx_dir in keep:
        return
    for name in (MODEL_FILE, INT8_FILE, MARKER):
        (onnx_dir / name).unlink(missing_ok=True)
    for sub in onnx_dir.glob("fold_*"):
        if sub not in keep and sub.is_dir():
            shutil.rmtree(sub, ignore_errors=True)


def ensure_export(
    model_dir: str | Path, onnx_dir: str | Path | None = None, int8: bool = False
) -> list[Path]:
    """The export folders (one per fold, in fold order) of the model(s) in ``model_dir``,
    exported now where missing or stale; ``onnx_dir`` None: :func:`cache_dir`. ``int8``: each
    folder also holds the int8 graph."""
    model_dir = Path(model_dir)
    onnx_dir = Path(onnx_dir) if onnx_dir is not None else cache_dir(model_dir)
    leaves = []
    for src in inference.model_dirs(model_dir):
        out = onnx_dir / src.relative_to(model_dir)
        _export_one(src, out, int8)
        leaves.append(out)
    _prune(onnx_dir, set(leaves))
    return leaves
