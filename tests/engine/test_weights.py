"""Weights load from models/<name>/ with sha256 checks and one-line ModelLoadErrors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from melodex_studio.engine.codec import AE_FILE, VOCODER_FILE, Codec
from melodex_studio.engine.weights import (
    ModelLoadError,
    file_sha256,
    load_verified_tensors,
    merge_component_config,
)
from melodex_studio.worker.model_paths import builtin_model_dir, model_is_present


@pytest.fixture
def model_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "melodex-tiny"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"renderer": {"keep": True}, "name": "x"}))
    codec = Codec.tiny_random(4)
    codec.set_latent_statistics(torch.linspace(-1, 1, 16), torch.linspace(0.5, 1.5, 16))
    codec.save_pretrained(folder)
    return folder


def _one_line_error(excinfo: pytest.ExceptionInfo[ModelLoadError]) -> str:
    message = str(excinfo.value)
    assert "\n" not in message
    return message


def test_round_trip_through_a_model_dir(model_dir: Path) -> None:
    original = Codec.tiny_random(4)
    original.set_latent_statistics(torch.linspace(-1, 1, 16), torch.linspace(0.5, 1.5, 16))
    loaded = Codec.from_pretrained(model_dir)
    audio = torch.randn(4096, generator=torch.Generator().manual_seed(0)) * 0.1
    assert torch.equal(loaded.encode(audio), original.encode(audio))
    latents = original.encode(audio)
    assert torch.equal(loaded.decode(latents), original.decode(latents))
    assert torch.equal(loaded.latent_std, original.latent_std)


def test_config_is_merged_not_clobbered(model_dir: Path) -> None:
    config = json.loads((model_dir / "config.json").read_text())
    assert config["renderer"] == {"keep": True} and config["name"] == "x"
    codec = config["codec"]
    assert codec["samples_per_latent_frame"] == 1024
    assert codec["latent_channels"] == 16 and len(codec["latent_mean"]) == 16
    for name in (AE_FILE, VOCODER_FILE):
        assert codec["files"][name]["sha256"] == file_sha256(model_dir / name)
    merge_component_config(model_dir, "structure", {"files": {}})
    config = json.loads((model_dir / "config.json").read_text())
    assert set(config) == {"renderer", "name", "codec", "structure"}


def test_corrupt_file_raises_clear_error(model_dir: Path) -> None:
    path = model_dir / VOCODER_FILE
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ModelLoadError) as excinfo:
        Codec.from_pretrained(model_dir)
    message = _one_line_error(excinfo)
    assert "corrupt" in message and VOCODER_FILE in message


def test_missing_file_raises_clear_error(model_dir: Path) -> None:
    (model_dir / AE_FILE).unlink()
    with pytest.raises(ModelLoadError) as excinfo:
        Codec.from_pretrained(model_dir)
    message = _one_line_error(excinfo)
    assert "missing" in message and AE_FILE in message


def test_missing_or_broken_config(tmp_path: Path, model_dir: Path) -> None:
    with pytest.raises(ModelLoadError, match="config missing"):
        Codec.from_pretrained(tmp_path / "nowhere")
    (model_dir / "config.json").write_text("{not json")
    with pytest.raises(ModelLoadError, match="unreadable") as excinfo:
        Codec.from_pretrained(model_dir)
    _one_line_error(excinfo)
    (model_dir / "config.json").write_text(json.dumps({"renderer": {}}))
    with pytest.raises(ModelLoadError, match="no 'codec' section"):
        Codec.from_pretrained(model_dir)


def test_weights_of_another_shape_are_refused(model_dir: Path) -> None:
    config = json.loads((model_dir / "config.json").read_text())
    config["codec"]["vocoder"]["dim"] = 32
    (model_dir / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelLoadError, match="do not fit") as excinfo:
        Codec.from_pretrained(model_dir)
    _one_line_error(excinfo)


@pytest.mark.parametrize(("name", "value"), [("phase_init", "guess"),
                                             ("phase_anchor_frames", 7),
                                             ("refine_iterations", -1)])
def test_vocoder_settings_it_cannot_use_fail_at_load(model_dir: Path, name: str,
                                                     value: object) -> None:
    config = json.loads((model_dir / "config.json").read_text())
    config["codec"]["vocoder"][name] = value
    (model_dir / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelLoadError, match=name) as excinfo:
        Codec.from_pretrained(model_dir)
    _one_line_error(excinfo)


def test_not_safetensors_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "bad.safetensors"
    path.write_bytes(b"\x80\x04this is a pickle, not safetensors")
    with pytest.raises(ModelLoadError, match="unreadable"):
        load_verified_tensors(tmp_path, "bad.safetensors", file_sha256(path))


def test_latent_space_follows_the_encoder_and_statistics_not_the_decoder() -> None:
    codec = Codec.tiny_random(4)
    first = codec.latent_space_id()
    with torch.no_grad():
        next(codec.autoencoder.decoder.parameters()).add_(1.0)
        next(codec.vocoder.parameters()).add_(1.0)
    assert codec.latent_space_id() == first
    codec.set_latent_statistics(codec.latent_mean + 0.5, codec.latent_std.clone())
    assert codec.latent_space_id() != first
    with torch.no_grad():
        next(codec.autoencoder.encoder.parameters()).add_(1e-3)
    assert len({first, codec.latent_space_id(), Codec.tiny_random(5).latent_space_id()}) == 3


def test_a_renderer_from_another_latent_space_is_refused(model_dir: Path) -> None:
    from melodex_studio.engine.networks.dit import DiT

    DiT.tiny_random(1).save_pretrained(model_dir, extra={"latent_space": "0" * 64})
    with pytest.raises(ModelLoadError, match="another codec's latent space") as excinfo:
        DiT.from_pretrained(model_dir)
    assert "melodex train renderer" in _one_line_error(excinfo)
    space = json.loads((model_dir / "config.json").read_text())["codec"]["latent_space"]
    assert space == Codec.from_pretrained(model_dir).latent_space_id()
    DiT.tiny_random(1).save_pretrained(model_dir, extra={"latent_space": space})
    assert isinstance(DiT.from_pretrained(model_dir), DiT)


@pytest.mark.skipif(not model_is_present(), reason="models/melodex-tiny is not complete")
def test_the_shipped_model_lists_verifies_and_fits_its_budget() -> None:
    # Issue budget: each weight file at most 16 MB, the whole model at most 48 MB; every
    # weight file in the folder is one config.json vouches for.
    folder = builtin_model_dir()
    config = json.loads((folder / "config.json").read_text())
    listed = {name: entry["sha256"] for part in config.values() if isinstance(part, dict)
              for name, entry in part.get("files", {}).items()}
    assert set(listed) == {p.name for p in folder.glob("*.safetensors")}
    sizes = [(folder / name).stat().st_size for name in listed]
    assert max(sizes) <= 16_000_000 and sum(sizes) <= 48_000_000
    assert all(file_sha256(folder / name) == sha for name, sha in listed.items())
