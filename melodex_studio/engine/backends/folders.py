"""Which large model a folder on disk holds, read from its config files alone (no torch, so
the studio and the command line can tell before a worker starts)."""

from __future__ import annotations

import json
from pathlib import Path


def is_stable_audio_folder(folder: Path | str | None) -> bool:
    """A diffusers Stable Audio Open download (its model_index.json), not a built-in model."""
    return folder is not None and (Path(folder) / "model_index.json").is_file()


def folder_model_type(folder: Path | str | None) -> str | None:
    """The `model_type` a transformers folder's config.json names, if it is readable."""
    if folder is None:
        return None
    try:
        config = json.loads((Path(folder) / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    kind = config.get("model_type") if isinstance(config, dict) else None
    return kind if isinstance(kind, str) else None


def is_musicgen_folder(folder: Path | str | None) -> bool:
    """A folder whose config.json names a MusicGen model (what transformers saves)."""
    return folder_model_type(folder) == "musicgen"
