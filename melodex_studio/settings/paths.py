"""Where the studio keeps user files: platformdirs locations, overridable by environment
variables so tests and portable installs never touch the real home folder."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP_NAME = "MelodexStudio"
APP_AUTHOR = "Melodex"


def _dir(env: str, default: str) -> Path:
    override = os.environ.get(env)
    path = Path(override) if override else Path(default)
    return path


def data_dir() -> Path:
    """User data: the recovery journal lives here."""
    return _dir("MELODEX_DATA_DIR", platformdirs.user_data_dir(APP_NAME, APP_AUTHOR))


def config_dir() -> Path:
    """User preferences (settings.json)."""
    return _dir("MELODEX_CONFIG_DIR", platformdirs.user_config_dir(APP_NAME, APP_AUTHOR))


def cache_dir() -> Path:
    """Disposable files: corpus cache, worker tensor hand-off, render cache."""
    return _dir("MELODEX_CACHE_DIR", platformdirs.user_cache_dir(APP_NAME, APP_AUTHOR))


def recovery_dir() -> Path:
    return data_dir() / "recovery"
