"""Test-wide setup: headless Qt, no network, no sound card, deterministic hashing."""

from __future__ import annotations

import os

# Without a display Qt aborts the interpreter unless told to render offscreen.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# Nothing may reach a model hub: weights come from models/ or from tiny configs built in tests.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    derandomize=True,
)
settings.register_profile("dev", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("ci" if os.environ.get("CI") else "dev")


@pytest.fixture
def user_dirs(tmp_path, monkeypatch):
    """Point every platformdirs location of the studio at a temporary folder."""
    monkeypatch.setenv("MELODEX_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("MELODEX_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("MELODEX_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path
