"""Where the built-in model lives, and what to say when it is not there (no torch needed)."""

from __future__ import annotations

import json
from pathlib import Path

import melodex_studio
from melodex_studio.worker.protocol import WorkerConfig

BUILTIN_MODEL_ID = "melodex-tiny"
#: The settings' name for Stable Audio Open, loaded from the folder the musician chose.
STABLE_AUDIO_MODEL_ID = "stable-audio-open"
#: The settings' name for MusicGen (any size), loaded from the folder the musician chose.
MUSICGEN_MODEL_ID = "musicgen"
#: The parts a model folder's config.json must describe before it can generate.
REQUIRED_COMPONENTS = ("codec", "structure", "renderer")


def builtin_model_dir() -> Path:
    """`models/melodex-tiny` next to the package (the repository or the unpacked bundle)."""
    return Path(melodex_studio.__file__).resolve().parent.parent / "models" / BUILTIN_MODEL_ID


def missing_components(model_dir: Path | None = None) -> list[str]:
    """The required parts config.json does not describe (all of them if it is missing or
    unreadable); file hashes are checked later, by the loaders."""
    path = (model_dir or builtin_model_dir()) / "config.json"
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return list(REQUIRED_COMPONENTS)
    if not isinstance(config, dict):
        return list(REQUIRED_COMPONENTS)
    return [name for name in REQUIRED_COMPONENTS if not isinstance(config.get(name), dict)]


def model_is_present(model_dir: Path | None = None) -> bool:
    return not missing_components(model_dir)


def missing_model_message(model_dir: Path | None = None) -> str:
    where = model_dir or builtin_model_dir()
    try:
        shown = where.relative_to(Path.cwd())
    except ValueError:
        shown = where
    missing = missing_components(model_dir)
    if len(missing) == len(REQUIRED_COMPONENTS) or not (where / "config.json").is_file():
        return (
            f"{shown} is missing (no usable config.json): the built-in model is not trained yet; "
            "build it with `melodex train ...` (see `melodex train --help`) or pass a model folder"
        )
    return (
        f"{shown} is missing its {', '.join(missing)}: train {'them' if len(missing) > 1 else 'it'}"
        f" with `melodex train {missing[0]}` or pass a complete model folder"
    )


def worker_config(model_id: str, stable_audio_dir: str | None, device: str, threads: int,
                  musicgen_dir: str | None = None, half_precision: bool = True) -> WorkerConfig:
    """The worker configuration for the model the preferences name: Stable Audio Open or
    MusicGen from its folder, else the built-in model."""
    compute = {"device": device, "threads": threads, "half_precision": half_precision}
    if model_id == STABLE_AUDIO_MODEL_ID:
        return WorkerConfig(model="stable-audio", model_dir=stable_audio_dir, **compute)
    if model_id == MUSICGEN_MODEL_ID:
        return WorkerConfig(model="musicgen", model_dir=musicgen_dir, **compute)
    return WorkerConfig(model="builtin", **compute)


def folder_worker_config(model_dir: Path | None, device: str, threads: int,
                         half_precision: bool = True) -> WorkerConfig:
    """The worker configuration for a model folder given by path (`--model-dir`): Stable Audio
    Open or MusicGen told apart by their config files, else a built-in model's folder (None:
    the shipped one)."""
    from melodex_studio.engine.backends.folders import is_musicgen_folder, is_stable_audio_folder

    compute = {"device": device, "threads": threads, "half_precision": half_precision}
    if is_stable_audio_folder(model_dir):
        return WorkerConfig(model="stable-audio", model_dir=str(model_dir), **compute)
    if is_musicgen_folder(model_dir):
        return WorkerConfig(model="musicgen", model_dir=str(model_dir), **compute)
    return WorkerConfig(model="builtin", model_dir=str(model_dir) if model_dir else None,
                        **compute)
