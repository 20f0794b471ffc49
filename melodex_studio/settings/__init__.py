"""User preferences, versioned and stored in platformdirs locations."""

from melodex_studio.settings.model import (
    SETTINGS_VERSION,
    AudioSettings,
    InferenceSettings,
    Settings,
)
from melodex_studio.settings.store import load_settings, save_settings, settings_path

__all__ = [
    "SETTINGS_VERSION",
    "AudioSettings",
    "InferenceSettings",
    "Settings",
    "load_settings",
    "save_settings",
    "settings_path",
]
