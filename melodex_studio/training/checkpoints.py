"""Crash-safe checkpoint folders for the training loops (safetensors files + ``state.json``).

A new checkpoint is written completely beside the old one and renamed into place, so a
training run killed at any moment leaves a complete checkpoint (the new one, or the old one
as ``<name>.old`` between the two renames) to resume from.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from safetensors.torch import save_file
from torch import Tensor

from melodex_studio.engine.weights import write_json_atomic


def write_checkpoint(target: Path, files: dict[str, dict[str, Tensor]],
                     state: dict[str, Any]) -> None:
    """Write ``files`` (file name -> tensors) and ``state.json`` as the folder ``target``."""
    staging = target.with_name(target.name + ".tmp")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    for name, tensors in files.items():
        save_file({k: v.detach().cpu().contiguous() for k, v in tensors.items()},
                  str(staging / name))
    write_json_atomic(staging / "state.json", state)
    old = target.with_name(target.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if target.exists():
        target.rename(old)
    staging.rename(target)
    shutil.rmtree(old, ignore_errors=True)
