"""The codec's plan adapter: starts as the plain decoder, is used only with a raster, decodes
windows like a full decode, and saves and loads with the codec (tiny random weights)."""

from __future__ import annotations

import dataclasses
import json
from itertools import pairwise
from pathlib import Path

import pytest
import torch
from adapted_codec import adapted_codec, raster

from melodex_studio.engine.codec import PLAN_ADAPTER_FILE, Codec
from melodex_studio.engine.control_raster import N_CONTROL_CHANNELS
from melodex_studio.engine.weights import ModelLoadError, file_sha256


def latents(frames: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(1, 16, frames, generator=torch.Generator().manual_seed(seed))


def test_a_new_adapter_decodes_exactly_like_the_plain_decoder() -> None:
    codec = adapted_codec(trained=False)
    z, control = latents(24), raster(24)
    assert torch.equal(codec.decode_to_mel(z, control=control), codec.decode_to_mel(z))


def test_the_adapter_is_used_with_a_raster_and_only_then() -> None:
    codec = adapted_codec()
    plain = Codec(dataclasses.replace(codec.config, plan_adapter=None))
    plain.load_state_dict(codec.state_dict(), strict=False)
    z, control = latents(24), raster(24)
    with_plan = codec.decode_to_mel(z, control=control)
    assert torch.equal(codec.decode_to_mel(z), plain.decode_to_mel(z))
    assert (with_plan - codec.decode_to_mel(z)).abs().max() > 1e-3
    other = control.clone()
    other[N_CONTROL_CHANNELS - 13 : N_CONTROL_CHANNELS - 1] = other[
        N_CONTROL_CHANNELS - 13 : N_CONTROL_CHANNELS - 1].roll(5, dims=0)
    assert (codec.decode_to_mel(z, control=other) - with_plan).abs().max() > 1e-4
    # A codec without an adapter ignores a raster rather than failing.
    assert torch.equal(plain.decode_to_mel(z, control=control), plain.decode_to_mel(z))


def test_a_raster_that_does_not_fit_is_refused() -> None:
    codec = adapted_codec()
    with pytest.raises(ValueError, match="control raster"):
        codec.decode_to_mel(latents(24), control=raster(20))
    with pytest.raises(ValueError, match="control raster"):
        codec.decode_window(latents(24), 4, 8, control=raster(20))


def test_windows_with_the_plan_stitch_to_the_full_decode() -> None:
    codec = adapted_codec()
    z, control = latents(48, seed=1), raster(48)
    full = codec.decode(z, control=control)
    edges = [0, 9, 20, 31, 48]
    stitched = torch.cat([codec.decode_window(z, a, b, control=control)
                          for a, b in pairwise(edges)], dim=-1)
    assert (stitched - full).abs().max() < 1e-4 * full.abs().max()


def test_the_raster_reaches_no_further_than_the_declared_receptive_field() -> None:
    # What `Codec.context_frames` adds for the adapter: a raster frame may change the decoded
    # log-mel up to (decoder + adapter) latent frames away, and does reach past the decoder's.
    codec = adapted_codec()
    assert codec.plan_adapter is not None
    z, control = latents(90, seed=2), raster(90)
    nudged = control.clone()
    nudged[:, 45] += 1.0
    diff = (codec.decode_to_mel(z, control=nudged) - codec.decode_to_mel(z, control=control))
    changed = torch.nonzero(diff.abs()[0].amax(dim=0) > 1e-6).flatten() / 4  # latent frames
    decoder = codec.autoencoder.decoder.receptive_field_latent_frames
    reach = decoder + codec.plan_adapter.receptive_field_latent_frames
    assert 45 - reach <= changed.min() and changed.max() < 46 + reach
    assert changed.min() < 45 - decoder or changed.max() >= 46 + decoder


def test_the_adapter_saves_verifies_and_loads_with_the_codec(tmp_path: Path) -> None:
    codec = adapted_codec()
    codec.save_pretrained(tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())["codec"]
    assert config["plan_adapter"]["width"] == 8
    assert config["files"][PLAN_ADAPTER_FILE]["sha256"] == file_sha256(tmp_path / PLAN_ADAPTER_FILE)
    loaded = Codec.from_pretrained(tmp_path)
    z, control = latents(16), raster(16)
    assert torch.equal(loaded.decode(z, control=control), codec.decode(z, control=control))
    # A raster layout the adapter was not trained on is refused at load time.
    config["plan_adapter"]["control_channels"] = N_CONTROL_CHANNELS + 1
    data = json.loads((tmp_path / "config.json").read_text())
    data["codec"] = config
    (tmp_path / "config.json").write_text(json.dumps(data))
    with pytest.raises(ModelLoadError, match="control"):
        Codec.from_pretrained(tmp_path)
