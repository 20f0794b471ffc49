"""A model folder counts as present only when config.json describes every part."""

from __future__ import annotations

import json
from pathlib import Path

from melodex_studio.worker.model_paths import (
    missing_components,
    missing_model_message,
    model_is_present,
)


def test_a_folder_needs_codec_structure_and_renderer(tmp_path: Path) -> None:
    assert missing_components(tmp_path) == ["codec", "structure", "renderer"]
    assert "is missing" in missing_model_message(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({"codec": {"files": {}}}))
    assert not model_is_present(tmp_path)
    assert missing_components(tmp_path) == ["structure", "renderer"]
    message = missing_model_message(tmp_path)
    assert "structure, renderer" in message and "melodex train structure" in message
    (tmp_path / "config.json").write_text(json.dumps(
        {"codec": {}, "structure": {}, "renderer": {}}))
    assert model_is_present(tmp_path)


def test_an_unreadable_config_counts_as_missing(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("[1, 2")
    assert not model_is_present(tmp_path)
    (tmp_path / "config.json").write_text("[1, 2]")
    assert missing_components(tmp_path) == ["codec", "structure", "renderer"]


def test_the_preferences_model_names_the_worker_configuration() -> None:
    from melodex_studio.worker.model_paths import (
        MUSICGEN_MODEL_ID,
        STABLE_AUDIO_MODEL_ID,
        worker_config,
    )

    config = worker_config(STABLE_AUDIO_MODEL_ID, "/models/sao", "cuda", 4)
    assert (config.model, config.model_dir, config.device, config.threads) == (
        "stable-audio", "/models/sao", "cuda", 4)
    builtin = worker_config("melodex-tiny", "/models/sao", "auto", 0)
    assert (builtin.model, builtin.model_dir) == ("builtin", None)
    musicgen = worker_config(MUSICGEN_MODEL_ID, "/models/sao", "cpu", 2, "/models/musicgen")
    assert (musicgen.model, musicgen.model_dir) == ("musicgen", "/models/musicgen")
    # Half precision on a GPU is the preference's, for every model.
    assert config.half_precision and builtin.half_precision
    for model_id in (STABLE_AUDIO_MODEL_ID, MUSICGEN_MODEL_ID, "melodex-tiny"):
        assert not worker_config(model_id, "/a", "cuda", 0, "/b", False).half_precision


def test_a_large_models_folder_is_told_apart_by_its_config_files(tmp_path: Path) -> None:
    from melodex_studio.engine.backends.folders import is_musicgen_folder, is_stable_audio_folder

    assert not is_musicgen_folder(tmp_path) and not is_stable_audio_folder(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "t5"}))
    assert not is_musicgen_folder(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "musicgen"}))
    assert is_musicgen_folder(tmp_path) and not is_stable_audio_folder(tmp_path)
    (tmp_path / "config.json").write_text("{broken")
    assert not is_musicgen_folder(tmp_path) and not is_musicgen_folder(None)
    (tmp_path / "model_index.json").write_text("{}")
    assert is_stable_audio_folder(tmp_path)


def test_a_model_folder_given_by_path_names_its_worker(tmp_path: Path) -> None:
    from melodex_studio.worker.model_paths import folder_worker_config

    assert folder_worker_config(None, "auto", 2).model == "builtin"
    assert folder_worker_config(None, "auto", 2).model_dir is None
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "musicgen"}))
    musicgen = folder_worker_config(tmp_path, "cuda", 4)
    assert (musicgen.model, musicgen.model_dir, musicgen.device) == ("musicgen", str(tmp_path),
                                                                     "cuda")
    (tmp_path / "model_index.json").write_text("{}")
    assert folder_worker_config(tmp_path, "cpu", 1).model == "stable-audio"
    (tmp_path / "model_index.json").unlink()
    (tmp_path / "config.json").write_text(json.dumps({"codec": {}}))
    assert folder_worker_config(tmp_path, "cpu", 1).model == "builtin"
    assert folder_worker_config(tmp_path, "cuda", 1).half_precision
    assert not folder_worker_config(tmp_path, "cuda", 1, half_precision=False).half_precision
