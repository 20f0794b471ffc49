from __future__ import annotations

import json

import pytest

from melodex_studio.settings import SETTINGS_VERSION, Settings, load_settings, save_settings


def test_missing_file_gives_defaults(user_dirs):
    settings = load_settings()
    assert settings == Settings()
    assert settings.version == SETTINGS_VERSION


def test_save_then_load_round_trips(user_dirs):
    settings = Settings().with_recent_file("/a.mlx").with_recent_file("/b.mlx")
    settings = settings.model_copy(update={"theme": "light"})
    save_settings(settings)
    assert load_settings() == settings
    assert load_settings().recent_files == ("/b.mlx", "/a.mlx")


def test_recent_files_dedupe_and_cap():
    settings = Settings()
    for i in range(15):
        settings = settings.with_recent_file(f"/p{i}.mlx")
    settings = settings.with_recent_file("/p3.mlx")
    assert settings.recent_files[0] == "/p3.mlx"
    assert len(settings.recent_files) == 10
    assert settings.recent_files.count("/p3.mlx") == 1


def test_version_1_file_is_migrated(user_dirs, tmp_path):
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"version": 1, "device": "cpu", "threads": 2, "model": "x"}))
    settings = load_settings(path)
    assert settings.inference.device == "cpu"
    assert settings.inference.threads == 2
    assert settings.inference.model_id == "x"
    assert settings.version == SETTINGS_VERSION


@pytest.mark.parametrize("content", ["{not json", "[1, 2]", json.dumps({"theme": "neon"})])
def test_bad_file_falls_back_to_defaults_and_is_kept_aside(tmp_path, content):
    path = tmp_path / "settings.json"
    path.write_text(content)
    assert load_settings(path) == Settings()
    assert not path.exists()
    assert path.with_suffix(".json.bad").read_text() == content
