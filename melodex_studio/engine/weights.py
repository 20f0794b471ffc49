"""Loading and writing model weights in ``models/<name>/``: safetensors + ``config.json``.

``config.json`` holds one key per component (``"codec"``, ``"renderer"``, ...). A component's
fragment lists its files with their sha256 under ``"files"``; every file is hashed before it is
read, so a truncated download or a swapped file fails loudly with a one-line ``ModelLoadError``
instead of producing noise. Nothing here unpickles: tensors come only from safetensors.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import Tensor, nn

CONFIG_NAME = "config.json"


class ModelLoadError(RuntimeError):
    """A model folder cannot be used; the message is one line a user can act on."""


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def read_model_config(model_dir: Path) -> dict[str, Any]:
    path = Path(model_dir) / CONFIG_NAME
    if not path.is_file():
        raise ModelLoadError(f"model config missing: {path}")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelLoadError(f"model config unreadable: {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise ModelLoadError(f"model config is not a JSON object: {path}")
    return data


def read_component_config(model_dir: Path, component: str) -> dict[str, Any]:
    data = read_model_config(model_dir)
    fragment = data.get(component)
    if not isinstance(fragment, dict):
        raise ModelLoadError(f"{Path(model_dir) / CONFIG_NAME} has no '{component}' section")
    return fragment


def tensors_digest(tensors: dict[str, Tensor], *extra: Tensor) -> str:
    """sha256 of tensors' float32 bytes in key order (then `extra`): an identity that does not
    depend on how or in which file they were stored."""
    digest = hashlib.sha256()
    named = [(name, tensors[name]) for name in sorted(tensors)] + [("", t) for t in extra]
    for name, tensor in named:
        digest.update(name.encode("utf-8"))
        digest.update(tensor.detach().to("cpu", torch.float32).contiguous().numpy().tobytes())
    return digest.hexdigest()


def check_latent_space(model_dir: Path) -> None:
    """Refuse a renderer trained in another codec's latent space (a codec or renderer file
    swapped in from another model): it would render latents this decoder reads as noise.
    Folders whose config does not record the spaces are not checked."""
    data = read_model_config(model_dir)
    codec, renderer = data.get("codec"), data.get("renderer")
    if not isinstance(codec, dict) or not isinstance(renderer, dict):
        return
    have, wanted = codec.get("latent_space"), renderer.get("latent_space")
    if have is not None and wanted is not None and have != wanted:
        raise ModelLoadError(
            f"{Path(model_dir) / CONFIG_NAME}: the renderer was trained in another codec's "
            f"latent space ({str(wanted)[:12]}, the codec here is {str(have)[:12]}); retrain "
            "the renderer with `melodex train renderer --export` or restore the matching codec")


def load_verified_tensors(
    model_dir: Path, filename: str, expected_sha256: str
) -> dict[str, Tensor]:
    """Hash ``model_dir/filename`` against ``expected_sha256``, then read it with safetensors."""
    path = Path(model_dir) / filename
    if not path.is_file():
        raise ModelLoadError(f"weights file missing: {path}")
    actual = file_sha256(path)
    if actual != expected_sha256:
        raise ModelLoadError(
            f"weights file corrupt or replaced: {path} has sha256 {actual[:12]}..., "
            f"config.json expects {str(expected_sha256)[:12]}..."
        )
    try:
        return load_file(str(path), device="cpu")
    except (SafetensorError, OSError, ValueError) as exc:
        raise ModelLoadError(f"weights file unreadable: {path}: {exc}") from exc


def load_component_weights(model_dir: Path, component: str) -> dict[str, dict[str, Tensor]]:
    """Every file listed under ``config.json[component]["files"]``, verified, keyed by file name."""
    fragment = read_component_config(model_dir, component)
    files = fragment.get("files")
    if not isinstance(files, dict) or not files:
        where = Path(model_dir) / CONFIG_NAME
        raise ModelLoadError(f"'{component}' section of {where} lists no files")
    loaded = {}
    for name, entry in files.items():
        sha = entry.get("sha256") if isinstance(entry, dict) else entry
        if not isinstance(sha, str):
            raise ModelLoadError(f"'{component}' entry for {name} has no sha256 in config.json")
        loaded[name] = load_verified_tensors(model_dir, name, sha)
    return loaded


def load_state_strict(module: nn.Module, tensors: dict[str, Tensor], source: str) -> None:
    """``load_state_dict(strict=True)`` with shape/key mismatches turned into ModelLoadError."""
    try:
        module.load_state_dict(tensors, strict=True)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()
        detail = " ".join(line.strip() for line in first[:3])
        raise ModelLoadError(f"weights in {source} do not fit the model config: {detail}") from exc


def save_tensors_atomic(path: Path, tensors: dict[str, Tensor]) -> str:
    """Write safetensors through a temporary file + rename; return the file's sha256."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    contiguous = {k: v.detach().contiguous().cpu() for k, v in tensors.items()}
    fd, tmp = tempfile.mkstemp(prefix=path.name, suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        save_file(contiguous, tmp)
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; shipped weights must be readable by all
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return file_sha256(path)


def write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name, suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=2, sort_keys=True)
            handle.write("\n")
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def merge_component_config(model_dir: Path, component: str, fragment: dict[str, Any]) -> None:
    """Set ``config.json[component] = fragment``, keeping every other key of the file."""
    path = Path(model_dir) / CONFIG_NAME
    data = read_model_config(model_dir) if path.exists() else {}
    data[component] = fragment
    write_json_atomic(path, data)


def state_dict_fp32(module: nn.Module) -> dict[str, Tensor]:
    return {k: v.detach().to(torch.float32) for k, v in module.state_dict().items()}
