"""Window geometry, dock layout and splitter positions, kept between sessions in an INI file
next to the studio's settings (QSettings; the preferences themselves are settings.json)."""

from __future__ import annotations

from PySide6.QtCore import QByteArray, QSettings
from PySide6.QtWidgets import QMainWindow

from melodex_studio.settings.paths import config_dir

#: Bump when the dock layout changes incompatibly: an old saved state is then ignored.
STATE_VERSION = 1


def window_settings() -> QSettings:
    path = config_dir() / "window.ini"
    path.parent.mkdir(parents=True, exist_ok=True)
    return QSettings(str(path), QSettings.Format.IniFormat)


def save_window_state(window: QMainWindow, extra: dict[str, object] | None = None) -> None:
    settings = window_settings()
    settings.setValue("main/geometry", window.saveGeometry())
    settings.setValue("main/state", window.saveState(STATE_VERSION))
    for key, value in (extra or {}).items():
        settings.setValue(f"main/{key}", value)
    settings.sync()


def restore_window_state(window: QMainWindow) -> dict[str, object]:
    """Restore geometry and docks; returns the extra values saved with them."""
    settings = window_settings()
    geometry = settings.value("main/geometry")
    state = settings.value("main/state")
    if isinstance(geometry, QByteArray):
        window.restoreGeometry(geometry)
    if isinstance(state, QByteArray):
        window.restoreState(state, STATE_VERSION)
    settings.beginGroup("main")
    extra = {key: settings.value(key) for key in settings.childKeys()
             if key not in ("geometry", "state")}
    settings.endGroup()
    return extra
