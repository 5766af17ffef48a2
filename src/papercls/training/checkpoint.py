"""Checkpoints of the training loop: one ``<ckpt>/epoch-NNNN/`` folder per finished epoch.

A checkpoint holds the model's weights (``model.safetensors``), the best epoch's weights when
they are not the current ones (``best.safetensors``), the optimizer/scheduler/scaler state
(``torch.save``, read back with ``torch.load(weights_only=True)``) and ``state.json``: the
format, the fingerprint of what determines the weights, and the :class:`LoopState`. It is
written to a temporary folder and renamed into place, so an ``epoch-NNNN`` folder is always
complete; only the newest one is kept. A checkpoint whose fingerprint differs (other data,
params or model) is never resumed from; neither is one that cannot be read back
(:class:`CheckpointDamaged`: truncated or tampered files).
"""

from __future__ import annotations

import copy
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


class CheckpointDamaged(ValueError):
    """A checkpoint that cannot be read back: a truncated, tampered or missing file (a
    ``torch.load`` that refuses a pickle, a safetensors file cut short, a bad state.json) or
    weights that do not fit the model. Nothing of it has been restored."""

    def __init__(self, ckpt: Path, reason: str) -> None:
        self.ckpt = Path(ckpt)
        self.reason = reason
        super().__init__(f"checkpoint {ckpt} cannot be read back: {reason}")


def _torch_load(path: Path) -> Any:
    return torch.load(path, map_location="cpu", weights_only=True)


def _load_parts(ckpt: Path, data: dict[str, Any], scaler) -> dict[str, Any]:
    """Every file of ``ckpt`` read into memory (nothing applied yet)."""
    parts: dict[str, Any] = {"state": LoopState.from_json(data)}
    parts["model"] = load_file(str(ckpt / "model.safetensors"))
    parts["optimizer"] = _torch_load(ckpt / "optimizer.pt")
    parts["scheduler"] = _torch_load(ckpt / "scheduler.pt")
    if scaler is not None and (ckpt / "scaler.pt").is_file():
        parts["scaler"] = _torch_load(ckpt / "scaler.pt")
    if not parts["state"].best_is_current:
        parts["best"] = load_file(str(ckpt / "best.safetensors"))
    return parts


def _apply(parts: dict[str, Any], model, optimizer, scheduler, scaler) -> None:
    """Load ``parts`` into the live objects; on any failure they are put back as they were,
    and the error is raised."""
    targets = {"model": model, "optimizer": optimizer, "scheduler": scheduler, "scaler": scaler}
    before = {
        k: copy.deepcopy(t.state_dict()) for k, t in targets.items() if k in parts and k != "model"
    }
    before["model"] = cpu_state(model)  # CPU copies, not a second set on the accelerator
    try:
        for key, target in targets.items():
            if key in parts:
                target.load_state_dict(parts[key])
    except BaseException:
        for key, saved in before.items():
            targets[key].load_state_dict(saved)
        raise


def read_checkpoint(
    ckpt: Path, fingerprint: str, model: torch.nn.Module, optimizer, scheduler, scaler
) -> LoopState | None:
    """Restore the weights and the optimizer/scheduler/scaler state from ``ckpt`` and return its
    loop state; None (nothing restored) when it has another format or fingerprint.
    :class:`CheckpointDamaged` (nothing restored) when a file of it cannot be read back or does
    not fit the model."""
    try:
        data = json.loads((ckpt / _STATE_FILE).read_text("utf-8"))
        if not isinstance(data, dict):
            raise ValueError("state.json is not a JSON object")
        if data.get("format") != CHECKPOINT_FORMAT or data.get("fingerprint") != fingerprint:
            return None
        parts = _load_parts(ckpt, data, scaler)
        _apply(parts, model, optimizer, scheduler, scaler)
    except Exception as exc:  # UnpicklingError, SafetensorError, OSError, KeyError, ...
        first_line = (str(exc).strip().splitlines() or [""])[0][:300]
        raise CheckpointDamaged(ckpt, f"{type(exc).__name__}: {first_line}") from None
    state = parts["state"]
    state.best_weights = cpu_state(model) if state.best_is_current else parts["best"]
    return state
