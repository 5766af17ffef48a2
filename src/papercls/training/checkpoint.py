"""Checkpoints of the training loop: one ``<ckpt>/epoch-NNNN/`` folder per finished epoch.

A checkpoint holds the model's weights (``model.safetensors``), the best epoch's weights when
they are not the current ones (``best.safetensors``), the optimizer/scheduler/scaler state
(``torch.save``, read back with ``torch.load(weights_only=True)``) and ``state.json``: the
format, the fingerprint of what determines the weights, and the :class:`LoopState`. It is
written to a temporary folder and renamed into place, so an ``epoch-NNNN`` folder is always
complete; only the newest one is kept. A checkpoint whose fingerprint differs (other data,
params or model) is never resumed from.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from papercls.data.io import atomic_dir

# v2: best_score (the select_metric criterion) replaced best_f1 in the loop state
CHECKPOINT_FORMAT = "papercls-ckpt-v2"
_EPOCH_DIR = re.compile(r"^epoch-(\d{4,})$")
_STATE_FILE = "state.json"


@dataclass
class LoopState:
    """Where the training loop stands after ``epoch`` finished epochs (0: fresh start)."""

    epoch: int = 0
    global_step: int = 0  # optimizer updates so far
    history: list[dict[str, float]] = field(default_factory=list)
    best_epoch: int = 0  # 0: no epoch yet
    best_score: float | None = None  # the best epoch's select_metric value (None: no epoch yet)
    best_is_current: bool = False  # the last epoch was the best so far
    bad_epochs: int = 0  # epochs since the last improvement
    stop: bool = False  # early stopping has fired
    best_weights: dict[str, torch.Tensor] | None = field(default=None, repr=False)

    def to_json(self) -> dict[str, Any]:
        """The fields saved in state.json (all but the weights)."""
        return {f.name: getattr(self, f.name) for f in _json_fields()}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LoopState:
        return cls(**{f.name: data[f.name] for f in _json_fields()})


def _json_fields() -> list[dataclasses.Field]:
    return [f for f in dataclasses.fields(LoopState) if f.name != "best_weights"]


def cpu_state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """Detached CPU copies of the weights (no shared storage, so safetensors can write them)."""
    return {k: v.detach().to("cpu", copy=True).contiguous() for k, v in model.state_dict().items()}


def fingerprint(
    fields: dict[str, Any], model, train_rows: list[dict], valid_rows: list[dict], extra: dict
) -> str:
    """sha256 over what determines the trained weights: the training config ``fields``, the
    model class and config, ``extra`` (processes, precision, ...) and the tokenised rows."""
    h = hashlib.sha256()
    h.update(json.dumps(fields, sort_keys=True, default=str).encode())
    h.update(type(model).__name__.encode())
    cfg_dict = model.config.to_dict()
    cfg_dict.pop("_name_or_path", None)
    cfg_dict.pop("transformers_version", None)
    h.update(json.dumps(cfg_dict, sort_keys=True, default=str).encode())
    h.update(json.dumps(extra, sort_keys=True).encode())
    for rows in (train_rows, valid_rows):
        h.update(str(len(rows)).encode())
        for r in rows:
            h.update(np.asarray(r["input_ids"], dtype=np.int64).tobytes())
            h.update(b"|%d;" % r["labels"])
    return h.hexdigest()


def latest_checkpoint(ckpt_root: str | Path) -> Path | None:
    """The newest complete ``epoch-NNNN`` checkpoint (one with state.json), or None."""
    root = Path(ckpt_root)
    if not root.is_dir():
        return None
    found = []
    for p in root.iterdir():
        m = _EPOCH_DIR.match(p.name)
        if m and p.is_dir() and (p / _STATE_FILE).is_file():
            found.append((int(m.group(1)), p))
    return max(found)[1] if found else None


def write_checkpoint(
    root: Path,
    fingerprint: str,
    state: LoopState,
    model_state: dict[str, torch.Tensor],
    optimizer,
    scheduler,
    scaler,
) -> Path:
    """``root/epoch-<state.epoch>/`` (renamed into place when complete); older checkpoints and
    leftovers of killed writes are removed afterwards."""
    final = root / f"epoch-{state.epoch:04d}"
    with atomic_dir(final) as tmp:
        save_file(model_state, str(tmp / "model.safetensors"), metadata={"format": "pt"})
        if not state.best_is_current and state.best_weights is not None:
            save_file(state.best_weights, str(tmp / "best.safetensors"), metadata={"format": "pt"})
        torch.save(optimizer.state_dict(), tmp / "optimizer.pt")
        torch.save(scheduler.state_dict(), tmp / "scheduler.pt")
        if scaler is not None:
            torch.save(scaler.state_dict(), tmp / "scaler.pt")
        header = {"format": CHECKPOINT_FORMAT, "fingerprint": fingerprint}
        (tmp / _STATE_FILE).write_text(json.dumps({**header, **state.to_json()}, indent=1), "utf-8")
    for p in root.iterdir():
        if p != final and (_EPOCH_DIR.match(p.name) or p.name.startswith(".epoch-")):
            shutil.rmtree(p, ignore_errors=True)
    return final


def _torch_load(path: Path) -> Any:
    return torch.load(path, map_location="cpu", weights_only=True)


def read_checkpoint(
    ckpt: Path, fingerprint: str, model: torch.nn.Module, optimizer, scheduler, scaler
) -> LoopState | None:
    """Restore the weights and the optimizer/scheduler/scaler state from ``ckpt`` and return its
    loop state; None (nothing restored) when it has another format or fingerprint."""
    data = json.loads((ckpt / _STATE_FILE).read_text("utf-8"))
    if data.get("format") != CHECKPOINT_FORMAT or data.get("fingerprint") != fingerprint:
        return None
    model.load_state_dict(load_file(str(ckpt / "model.safetensors")))
    optimizer.load_state_dict(_torch_load(ckpt / "optimizer.pt"))
    scheduler.load_state_dict(_torch_load(ckpt / "scheduler.pt"))
    if scaler is not None and (ckpt / "scaler.pt").is_file():
        scaler.load_state_dict(_torch_load(ckpt / "scaler.pt"))
    state = LoopState.from_json(data)
    if state.best_is_current:
        state.best_weights = cpu_state(model)
    else:
        state.best_weights = load_file(str(ckpt / "best.safetensors"))
    return state
