"""Load and save settings.json: a bad or newer file never stops the studio from starting,
and a save never leaves a half-written file."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
from pathlib import Path

from pydantic import ValidationError

from melodex_studio.settings.migrations import migrate
from melodex_studio.settings.model import SETTINGS_VERSION, Settings
from melodex_studio.settings.paths import config_dir

log = logging.getLogger(__name__)


def settings_path() -> Path:
    return config_dir() / "settings.json"


def load_settings(path: Path | None = None) -> Settings:
    """The saved settings, or defaults when the file is missing or unreadable (the problem is
    logged and the unreadable file is kept aside as settings.json.bad for inspection)."""
    path = path or settings_path()
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(raw, dict):
            raise ValueError("settings file does not hold an object")
        return Settings.model_validate(migrate(raw, SETTINGS_VERSION))
    except FileNotFoundError:
        return Settings()
    except (OSError, ValueError, ValidationError) as exc:
        log.warning("settings file %s is unreadable (%s); using defaults", path, exc)
        with contextlib.suppress(OSError):
            os.replace(path, path.with_suffix(".json.bad"))
        return Settings()


def save_settings(settings: Settings, path: Path | None = None) -> None:
    """Write atomically: a temp file in the same folder, fsync, rename."""
    path = path or settings_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(settings.model_dump(mode="json"), indent=2, sort_keys=True)
    fd, tmp = tempfile.mkstemp(prefix=".settings-", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
