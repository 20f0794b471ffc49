"""Where the built-in model lives, and what to say when it is not there (no torch needed)."""

from __future__ import annotations

from pathlib import Path

import melodex_studio

BUILTIN_MODEL_ID = "melodex-tiny"


def builtin_model_dir() -> Path:
    """`models/melodex-tiny` next to the package (the repository or the unpacked bundle)."""
    return Path(melodex_studio.__file__).resolve().parent.parent / "models" / BUILTIN_MODEL_ID


def model_is_present(model_dir: Path | None = None) -> bool:
    return ((model_dir or builtin_model_dir()) / "config.json").is_file()


def missing_model_message(model_dir: Path | None = None) -> str:
    where = model_dir or builtin_model_dir()
    try:
        shown = where.relative_to(Path.cwd())
    except ValueError:
        shown = where
    return (
        f"{shown} is missing (no config.json): the built-in model is not trained yet; "
        "build it with `melodex train ...` (see `melodex train --help`) or pass a model folder"
    )
