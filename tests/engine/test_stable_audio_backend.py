"""The Stable Audio Open backend on a tiny random diffusers folder built here (no download):
loading from disk, determinism, exact repaint and exact resume from a checkpoint."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import torch

from melodex_studio.engine.backends.stable_audio import StableAudioOpen
from melodex_studio.engine.pipelines.render import RenderCancelled
from melodex_studio.engine.weights import ModelLoadError
from tests.stable_audio_folder import write_tiny_stable_audio

FRAMES = 12


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return write_tiny_stable_audio(tmp_path_factory.mktemp("stable-audio"))


@pytest.fixture(scope="module")
def backend(folder: Path) -> StableAudioOpen:
    return StableAudioOpen.from_folder(folder)


def test_it_loads_from_a_local_folder_and_refuses_one_that_is_not(backend, tmp_path) -> None:
    assert (backend.sample_rate, backend.audio_channels, backend.latent_channels) == (16, 2, 3)
    assert backend.samples_per_frame == 2 and backend.frame_rate == 8.0
    assert backend.capabilities.repaint and backend.capabilities.resume
    assert not backend.capabilities.plan
    with pytest.raises(ModelLoadError, match=r"no model_index\.json"):
        StableAudioOpen.from_folder(tmp_path)
    (tmp_path / "model_index.json").write_text("{}")
    with pytest.raises(ModelLoadError, match="no tokenizer/ folder"):
        StableAudioOpen.from_folder(tmp_path)


def test_same_seed_same_latents_and_the_prompt_matters(backend) -> None:
    cond = backend.condition("dusty lo-fi keys", 0.0, 1.5)
    first = backend.render(cond, FRAMES, seed=3, steps=4, guidance=3.0)
    again = backend.render(cond, FRAMES, seed=3, steps=4, guidance=3.0)
    assert first.final_latent.shape == (3, FRAMES)
    assert torch.equal(first.final_latent, again.final_latent)
    assert sorted(first.checkpoints) == [0, 1, 2, 3, 4]
    assert torch.equal(first.checkpoints[4], first.final_latent)
    other_seed = backend.render(cond, FRAMES, seed=4, steps=4, guidance=3.0)
    assert not torch.equal(first.final_latent, other_seed.final_latent)
    other_prompt = backend.render(backend.condition("brass fanfare", 0.0, 1.5), FRAMES, seed=3,
                                  steps=4, guidance=3.0)
    assert not torch.equal(first.final_latent, other_prompt.final_latent)
    audio = backend.decode(first.final_latent)
    assert audio.shape == (2, FRAMES * 2) and bool(torch.isfinite(audio).all())
    assert backend.encode(audio).shape == (3, FRAMES)


def test_a_repaint_keeps_every_frame_outside_the_region_exactly(backend) -> None:
    cond = backend.condition("dusty lo-fi keys", 0.0, 1.5)
    source = backend.render(cond, FRAMES, seed=3, steps=4, guidance=3.0).final_latent
    mask = torch.zeros(FRAMES, dtype=torch.bool)
    mask[4:8] = True
    for sampler in ("euler", "heun"):
        repainted = backend.render(cond, FRAMES, seed=9, steps=4, guidance=3.0, sampler=sampler,
                                   region_mask=mask, source_latents=source).final_latent
        assert torch.equal(repainted[:, ~mask], source[:, ~mask])
        assert not torch.equal(repainted[:, mask], source[:, mask])
    with pytest.raises(ValueError, match="need source latents"):
        backend.render(cond, FRAMES, region_mask=mask)


def test_resuming_from_a_stored_step_reproduces_the_run_exactly(backend) -> None:
    cond = backend.condition("dusty lo-fi keys", 0.0, 1.5)
    whole = backend.render(cond, FRAMES, seed=5, steps=6, guidance=4.0,
                           guidance_interval=(0.0, 0.75), sampler="heun")
    resumed = backend.render(cond, FRAMES, seed=5, steps=6, guidance=4.0,
                             guidance_interval=(0.0, 0.75), sampler="heun", start_step=3,
                             init_latent=whole.checkpoints[3])
    assert resumed.start_step == 3 and resumed.steps_run == 3
    assert torch.equal(resumed.final_latent, whole.final_latent)
    # A variation at strength 0 is its source; at 1 it starts from noise.
    kept = backend.render(cond, FRAMES, seed=5, steps=6, strength=0.0,
                          source_latents=whole.final_latent)
    assert torch.equal(kept.final_latent, whole.final_latent)


def test_guidance_one_is_the_prompt_alone_and_a_cancel_stops_between_steps(backend) -> None:
    cond = backend.condition("dusty lo-fi keys", 0.0, 1.5)
    plain = backend.render(cond, FRAMES, seed=2, steps=3, guidance=1.0)
    outside = backend.render(cond, FRAMES, seed=2, steps=3, guidance=5.0,
                             guidance_interval=(0.9, 1.0))  # no step falls in the interval
    assert torch.equal(plain.final_latent, outside.final_latent)
    stop = threading.Event()
    seen = []

    def after(step: int, total: int, x0: torch.Tensor) -> None:
        seen.append(step)
        stop.set()

    with pytest.raises(RenderCancelled):
        backend.render(cond, FRAMES, seed=2, steps=3, step_callback=after, cancel=stop)
    assert seen == [1]


def test_half_precision_weights_load_as_float32(tmp_path) -> None:
    from diffusers import StableAudioDiTModel
    from transformers import T5EncoderModel

    folder = write_tiny_stable_audio(tmp_path / "half")
    for loader, part in ((T5EncoderModel, "text_encoder"), (StableAudioDiTModel, "transformer")):
        loader.from_pretrained(folder / part).half().save_pretrained(folder / part)
    backend = StableAudioOpen.from_folder(folder)
    assert backend.text_encoder.dtype == torch.float32 == backend.transformer.dtype
    cond = backend.condition("dusty lo-fi keys", 0.0, 1.5)
    assert backend.render(cond, FRAMES, seed=1, steps=2).final_latent.dtype == torch.float32
    (folder / "vae" / "config.json").write_text("{not json")
    with pytest.raises(ModelLoadError, match="cannot load vae"):
        StableAudioOpen.from_folder(folder)


def test_bfloat16_runs_the_networks_in_half_and_keeps_the_codec_and_the_state_float32(
        folder, backend) -> None:
    half = StableAudioOpen.from_folder(folder, dtype=torch.bfloat16)
    assert half.text_encoder.dtype == half.transformer.dtype == torch.bfloat16
    assert half.projection.dtype == torch.bfloat16 and half.vae.dtype == torch.float32
    cond = half.condition("dusty lo-fi keys", 0.0, 1.5)
    first = half.render(cond, FRAMES, seed=3, steps=4, guidance=3.0)
    again = half.render(cond, FRAMES, seed=3, steps=4, guidance=3.0)
    assert first.final_latent.dtype == torch.float32
    assert all(x.dtype == torch.float32 for x in first.checkpoints.values())
    assert torch.equal(first.final_latent, again.final_latent)  # deterministic in bf16 too
    # The same render as float32's, to bfloat16's rounding, and not bit for bit.
    full = backend.render(backend.condition("dusty lo-fi keys", 0.0, 1.5), FRAMES, seed=3,
                          steps=4, guidance=3.0).final_latent
    assert not torch.equal(first.final_latent, full)
    assert torch.corrcoef(torch.stack([first.final_latent.flatten(), full.flatten()]))[0, 1] > 0.99
    # A resume from a bf16 run's stored step continues it exactly.
    resumed = half.render(cond, FRAMES, seed=3, steps=4, guidance=3.0, start_step=2,
                          init_latent=first.checkpoints[2])
    assert torch.equal(resumed.final_latent, first.final_latent)
    assert half.decode(first.final_latent).dtype == torch.float32
