"""Step-by-step upgrades of settings files written by older versions.

Each migration takes the raw dict of version N and returns the dict of version N+1. They
run on plain dicts before validation, so a field that no longer exists can still be read.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Raw = dict[str, Any]


def _v1_to_v2(raw: Raw) -> Raw:
    """Version 1 kept `device`, `threads` and `model` at the top level; version 2 groups them
    under `inference` and names the model field `model_id`."""
    out = dict(raw)
    inference = dict(out.get("inference") or {})
    for old, new in (("device", "device"), ("threads", "threads"), ("model", "model_id")):
        if old in out:
            inference.setdefault(new, out.pop(old))
    if inference:
        out["inference"] = inference
    out["version"] = 2
    return out


MIGRATIONS: dict[int, Callable[[Raw], Raw]] = {1: _v1_to_v2}


def migrate(raw: Raw, target: int) -> Raw:
    """Upgrade `raw` to `target`; a file from a newer version is returned unchanged so the
    validator can say what is wrong instead of silently dropping fields."""
    version = int(raw.get("version", 1))
    while version < target:
        step = MIGRATIONS.get(version)
        if step is None:
            raise ValueError(f"no migration from settings version {version}")
        raw = step(raw)
        version = int(raw["version"])
    return raw
