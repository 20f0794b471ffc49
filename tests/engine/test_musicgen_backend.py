"""The MusicGen backend on tiny random transformers folders built here (no download): our token
loop against transformers' own `generate`, determinism, continuation and exact resume from a
token-prefix checkpoint."""

from __future__ import annotations

import threading

import pytest
import torch

from melodex_studio.engine.backends.folders import is_musicgen_folder
from melodex_studio.engine.backends.musicgen import MusicGen, pick
from melodex_studio.engine.pipelines.render import RenderCancelled
from melodex_studio.engine.sampling import seeded_noise
from melodex_studio.engine.weights import ModelLoadError
from tests.musicgen_folder import write_tiny_musicgen

FRAMES = 24


@pytest.fixture(scope="module")
def backend(tmp_path_factory) -> MusicGen:
    return MusicGen.from_folder(write_tiny_musicgen(tmp_path_factory.mktemp("musicgen")))


def transformers_codes(model: MusicGen, prompt: str, frames: int, guidance: float,
                       before: torch.Tensor | None = None) -> torch.Tensor:
    """The codes transformers' stock greedy `generate` writes (continuing the codes `before`,
    its audio prompt), caught on their way to EnCodec."""
    caught: list[torch.Tensor] = []
    decode = model.model.audio_encoder.decode

    def catch(codes: torch.Tensor, *args, **kwargs):
        caught.append(codes[0, 0].clone())
        return decode(codes, *args, **kwargs)

    model.model.audio_encoder.decode = catch
    try:
        inputs = model.tokenizer([prompt], return_tensors="pt")
        known = 0 if before is None else before.shape[1]
        start = torch.full((model.codebooks, 1), model.pad)
        prompt_ids = start if before is None else torch.cat([start, before.long()], dim=1)
        model.model.generate(**inputs, decoder_input_ids=prompt_ids, do_sample=False,
                             guidance_scale=guidance,
                             max_new_tokens=frames - known + max(model.delays))
    finally:
        model.model.audio_encoder.decode = decode
    if len(caught) == 2:  # stereo: left and right decoded apart, interleaved in the model
        return torch.stack(caught, dim=1).reshape(-1, caught[0].shape[-1])[:, :frames]
    return caught[0][:, :frames]


@pytest.mark.parametrize("stereo", [False, True])
def test_our_token_loop_writes_what_transformers_generate_writes(tmp_path, stereo) -> None:
    model = MusicGen.from_folder(write_tiny_musicgen(tmp_path, codebooks=8 if stereo else 4,
                                                     stereo=stereo, do_sample=False))
    assert model.delays == ([0, 0, 1, 1, 2, 2, 3, 3] if stereo else [0, 1, 2, 3])
    cond = model.condition("dusty lo-fi keys")
    for guidance in (1.0, 3.0):
        ours = model.render(cond, FRAMES, steps=4, guidance=guidance).final_latent
        assert torch.equal(ours.long(), transformers_codes(model, "dusty lo-fi keys", FRAMES,
                                                           guidance))
        # A continuation of 9 frames of other music: transformers' audio-prompt path.
        before = model.render(cond, FRAMES, seed=1, steps=4, temperature=1.0,
                              top_k=0).final_latent
        mask = torch.arange(FRAMES) >= 9
        continued = model.render(cond, FRAMES, steps=4, guidance=guidance, region_mask=mask,
                                 source_latents=before).final_latent
        assert torch.equal(continued.long(), transformers_codes(
            model, "dusty lo-fi keys", FRAMES, guidance, before[:, :9]))
    audio = model.decode(ours)
    assert audio.shape == (2 if stereo else 1, FRAMES * 80) and bool(torch.isfinite(audio).all())
    # A recording becomes codes of the same grid (a stereo model's left and right the same).
    codes = model.encode(audio)
    assert codes.shape == (model.codebooks, FRAMES) and torch.equal(codes, codes.round())
    assert bool(((codes >= 0) & (codes < 16)).all())
    if stereo:
        assert torch.equal(codes[0::2], codes[1::2])


def test_it_loads_from_a_local_folder_and_refuses_one_that_is_not(backend, tmp_path) -> None:
    assert (backend.sample_rate, backend.frame_rate, backend.samples_per_frame) == (8000, 100.0, 80)
    assert backend.latent_channels == 4 and (backend.top_k, backend.temperature) == (8, 1.0)
    caps = backend.capabilities
    assert caps.extend and caps.resume and not caps.repaint and not caps.plan
    assert not is_musicgen_folder(tmp_path)
    with pytest.raises(ModelLoadError, match="not a MusicGen folder"):
        MusicGen.from_folder(tmp_path)
    (tmp_path / "config.json").write_text('{"model_type": "musicgen_melody"}')
    with pytest.raises(ModelLoadError, match="MusicGen Melody"):
        MusicGen.from_folder(tmp_path)
    broken = write_tiny_musicgen(tmp_path / "broken")
    (broken / "model.safetensors").write_bytes(b"not weights")
    with pytest.raises(ModelLoadError, match="cannot load MusicGen"):
        MusicGen.from_folder(broken)


def test_same_seed_same_codes_and_the_seed_and_prompt_matter(backend) -> None:
    cond = backend.condition("dusty lo-fi keys")
    first = backend.render(cond, FRAMES, seed=3, steps=4)
    codes = first.final_latent
    assert codes.shape == (4, FRAMES) and bool(((codes >= 0) & (codes < 16)).all())
    assert torch.equal(codes, backend.render(cond, FRAMES, seed=3, steps=4).final_latent)
    assert torch.equal(first.initial_noise, seeded_noise(3, (4, FRAMES)))
    # The recorded noise is the whole of the randomness: a re-run from it is the same take.
    assert torch.equal(codes, backend.render(cond, FRAMES, seed=99, noise=first.initial_noise,
                                             steps=4).final_latent)
    assert not torch.equal(codes, backend.render(cond, FRAMES, seed=4, steps=4).final_latent)
    other = backend.render(backend.condition("brass fanfare"), FRAMES, seed=3, steps=4)
    assert not torch.equal(codes, other.final_latent)
    long_prompt = backend.condition("lo-fi " * 200)  # past the text encoder's length: cut
    assert long_prompt.states.shape[1] == 64  # the tiny tokenizer's model_max_length


def test_checkpoints_are_token_prefixes_and_resuming_reproduces_the_run(backend) -> None:
    cond = backend.condition("dusty lo-fi keys")
    steps = 6
    run = backend.render(cond, FRAMES, seed=5, steps=steps, guidance_interval=(0.0, 0.5))
    assert sorted(run.checkpoints) == list(range(steps + 1))
    assert torch.equal(run.checkpoints[steps], run.final_latent)
    for step, state in run.checkpoints.items():
        known = FRAMES * step // steps
        assert torch.equal(state[:, :known], run.final_latent[:, :known])
        assert bool((state[:, known:] == -1).all())
    for step in (0, 1, 3, 5, 6):
        resumed = backend.render(cond, FRAMES, seed=5, steps=steps, start_step=step,
                                 init_latent=run.checkpoints[step], guidance_interval=(0.0, 0.5))
        assert torch.equal(resumed.final_latent, run.final_latent), step
        assert resumed.steps_run == steps - step and sorted(resumed.checkpoints)[0] == step
    # Another seed from the same prefix: the prefix stays, the rest is new.
    varied = backend.render(cond, FRAMES, seed=6, steps=steps, start_step=3,
                            init_latent=run.checkpoints[3], guidance_interval=(0.0, 0.5))
    assert torch.equal(varied.final_latent[:, :12], run.final_latent[:, :12])
    assert not torch.equal(varied.final_latent[:, 12:], run.final_latent[:, 12:])
    with pytest.raises(ValueError, match="holds no codes"):
        backend.render(cond, FRAMES, seed=5, steps=steps, start_step=3,
                       init_latent=run.checkpoints[1])


@pytest.mark.parametrize("stereo", [False, True])
def test_a_region_between_neighbours_resumes_exactly_from_every_step(tmp_path, stereo) -> None:
    model = MusicGen.from_folder(write_tiny_musicgen(tmp_path, codebooks=8 if stereo else 4,
                                                     stereo=stereo))
    cond = model.condition("warm pads")
    source = model.render(cond, FRAMES, seed=1, steps=4).final_latent
    mask = (torch.arange(FRAMES) >= 7) & (torch.arange(FRAMES) < 19)
    run = model.render(cond, FRAMES, seed=2, steps=5, region_mask=mask, source_latents=source)
    for step, state in run.checkpoints.items():
        resumed = model.render(cond, FRAMES, seed=2, steps=5, region_mask=mask,
                               source_latents=source, start_step=step, init_latent=state)
        assert torch.equal(resumed.final_latent, run.final_latent), step


def test_a_regions_end_leads_into_what_follows_and_nothing_else_hears_it(backend) -> None:
    cond = backend.condition("warm pads")
    source = backend.render(cond, FRAMES, seed=1, steps=4).final_latent
    other_after = source.clone()
    other_after[:, 16:] = backend.render(cond, FRAMES, seed=3, steps=4).final_latent[:, 16:]
    mask = (torch.arange(FRAMES) >= 8) & (torch.arange(FRAMES) < 16)
    one = backend.render(cond, FRAMES, seed=7, steps=4, region_mask=mask, source_latents=source)
    two = backend.render(cond, FRAMES, seed=7, steps=4, region_mask=mask,
                         source_latents=other_after)
    lag = max(backend.delays)
    # Codebook 0 of every frame, and every codebook up to the last `lag` frames, is written
    # before the music after the region is read; the finer codebooks of the last frames
    # hear how the next section begins.
    assert torch.equal(one.final_latent[0, 8:16], two.final_latent[0, 8:16])
    assert torch.equal(one.final_latent[:, 8 : 16 - lag], two.final_latent[:, 8 : 16 - lag])
    assert not torch.equal(one.final_latent[1:, 16 - lag : 16], two.final_latent[1:, 16 - lag : 16])


def test_a_continuation_keeps_the_frames_around_its_region_and_hears_what_came_before(
        backend) -> None:
    cond = backend.condition("dusty lo-fi keys")
    source = backend.render(cond, FRAMES, seed=1, steps=4).final_latent
    other = backend.render(cond, FRAMES, seed=2, steps=4).final_latent
    mask = torch.zeros(FRAMES, dtype=torch.bool)
    mask[8:16] = True  # a section between two kept neighbours
    result = backend.render(cond, FRAMES, seed=7, steps=4, region_mask=mask,
                            source_latents=source)
    assert torch.equal(result.final_latent[:, ~mask], source[:, ~mask])
    assert not torch.equal(result.final_latent[:, mask], source[:, mask])
    other_before = source.clone()
    other_before[:, :8] = other[:, :8]  # the same music after the region, other music before
    after_other = backend.render(cond, FRAMES, seed=7, steps=4, region_mask=mask,
                                 source_latents=other_before)
    assert not torch.equal(after_other.final_latent[0, 8:16], result.final_latent[0, 8:16])
    # A variation of a take from step 2 of 4 keeps the first half of its region.
    varied = backend.render(cond, FRAMES, seed=9, steps=4, region_mask=mask,
                            source_latents=result.final_latent, strength=0.5)
    assert torch.equal(varied.final_latent[:, :12], result.final_latent[:, :12])
    gap = mask.clone()
    gap[10:12] = False
    with pytest.raises(ValueError, match="one stretch"):
        backend.render(cond, FRAMES, steps=4, region_mask=gap, source_latents=source)
    with pytest.raises(ValueError, match="need source latents"):
        backend.render(cond, FRAMES, steps=4, region_mask=mask)
    with pytest.raises(ValueError, match="not MusicGen codes"):  # another model's latent
        backend.render(cond, FRAMES, steps=4, region_mask=mask, source_latents=source + 0.25)


def test_a_cancel_stops_between_positions_with_a_checkpoint_that_resumes(backend) -> None:
    cond = backend.condition("dusty lo-fi keys")
    run = backend.render(cond, FRAMES, seed=5, steps=4)
    stop = threading.Event()
    seen = []

    def on_step(step: int, steps: int, state: torch.Tensor) -> None:
        seen.append(step)
        assert bool((state[:, FRAMES * step // steps:] == -1).all())
        if step == 2:
            stop.set()

    with pytest.raises(RenderCancelled) as cancelled:
        backend.render(cond, FRAMES, seed=5, steps=4, step_callback=on_step, cancel=stop)
    assert seen == [1, 2] and cancelled.value.step == 2
    resumed = backend.render(cond, FRAMES, seed=5, steps=4, start_step=2,
                             init_latent=cancelled.value.latent)
    assert torch.equal(resumed.final_latent, run.final_latent)


def test_a_checkpoint_decodes_with_its_unwritten_end_silent(backend) -> None:
    run = backend.render(backend.condition("dusty lo-fi keys"), FRAMES, seed=5, steps=4)
    audio = backend.decode(run.checkpoints[2])
    assert audio.shape == (1, FRAMES * 80)
    assert bool((audio[:, 12 * 80 :] == 0).all()) and bool(audio[:, : 12 * 80].abs().sum() > 0)
    for hostile in (run.final_latent + 0.5, run.final_latent * 1e6,
                    torch.full_like(run.final_latent, float("nan"))):
        with pytest.raises(ValueError, match="not MusicGen codes"):
            backend.decode(hostile)


def test_the_draw_is_the_inverse_cdf_among_the_best_codes() -> None:
    logits = torch.tensor([[0.0, 2.0, 1.0, -1.0]])
    assert pick(logits, torch.tensor([0.5]), 0.0, 0).tolist() == [1]  # greedy
    # Top 2 are ids 1 and 2 with weights e^2 : e^1; u below the first's share picks it.
    share = 1 / (1 + torch.e ** -1)
    assert pick(logits, torch.tensor([share - 0.01]), 1.0, 2).tolist() == [1]
    assert pick(logits, torch.tensor([share + 0.01]), 1.0, 2).tolist() == [2]
    assert pick(logits, torch.tensor([0.999]), 1.0, 2).tolist() == [2]  # never past the top 2


def test_a_folder_without_generation_settings_samples_as_musicgen_does(tmp_path) -> None:
    folder = write_tiny_musicgen(tmp_path, do_sample=False)
    (folder / "generation_config.json").unlink()
    model = MusicGen.from_folder(folder)
    assert (model.top_k, model.temperature, model.default_guidance) == (250, 1.0, 3.0)


def test_a_render_longer_than_a_pass_continues_pass_after_pass_and_resumes_exactly(
        tmp_path) -> None:
    model = MusicGen.from_folder(write_tiny_musicgen(tmp_path))
    model.pass_frames, model.context_frames = 16, 6  # as 30 s and 10 s are to the real model
    cond = model.condition("warm pads")
    frames = 40
    run = model.render(cond, frames, seed=3, steps=5)
    codes = run.final_latent
    assert bool(((codes >= 0) & (codes < 16)).all())
    assert torch.equal(codes, model.render(cond, frames, seed=3, steps=5).final_latent)
    # Passes write [0, 16), [16, 26), [26, 36), [36, 40); each continues the 6 frames before
    # its part as a sequence of its own: exactly a one-pass render of that stretch.
    for first, part_start, part_end in ((10, 16, 26), (20, 26, 36), (30, 36, 40)):
        stop = part_end
        mask = torch.zeros(stop - first, dtype=torch.bool)
        mask[part_start - first :] = True
        alone = model.render(cond, stop - first, noise=run.initial_noise[:, first:stop], steps=5,
                             region_mask=mask, source_latents=codes[:, first:stop].clone())
        assert torch.equal(alone.final_latent, codes[:, first:stop]), part_start
    for step, state in run.checkpoints.items():
        assert bool((state[:, frames * step // 5 :] == -1).all())
        resumed = model.render(cond, frames, seed=3, steps=5, start_step=step, init_latent=state)
        assert torch.equal(resumed.final_latent, codes), step


def test_bfloat16_runs_the_decoder_in_half_as_transformers_would_and_keeps_encodec_float32(
        tmp_path) -> None:
    folder = write_tiny_musicgen(tmp_path, do_sample=False)
    model = MusicGen.from_folder(folder, dtype=torch.bfloat16)
    assert model.model.decoder.dtype == model.model.text_encoder.dtype == torch.bfloat16
    assert model.model.audio_encoder.dtype == torch.float32
    # EnCodec's weights were read in float32, never rounded through bf16.
    full = MusicGen.from_folder(folder)
    for name, weight in full.model.audio_encoder.state_dict().items():
        assert torch.equal(weight, model.model.audio_encoder.state_dict()[name]), name
    cond = model.condition("dusty lo-fi keys")
    assert cond.states.dtype == torch.bfloat16
    # Greedy codes equal those of transformers' generate on the same bf16 networks.
    ours = model.render(cond, FRAMES, steps=4, guidance=3.0).final_latent
    assert ours.dtype == torch.float32
    assert torch.equal(ours.long(), transformers_codes(model, "dusty lo-fi keys", FRAMES, 3.0))
    # Sampled: the same seed, the same codes; a stored step resumes exactly.
    run = model.render(cond, FRAMES, seed=5, steps=4, temperature=1.0, top_k=0)
    again = model.render(cond, FRAMES, seed=5, steps=4, temperature=1.0, top_k=0)
    assert torch.equal(run.final_latent, again.final_latent)
    resumed = model.render(cond, FRAMES, seed=5, steps=4, temperature=1.0, top_k=0,
                           start_step=2, init_latent=run.checkpoints[2])
    assert torch.equal(resumed.final_latent, run.final_latent)
    assert model.decode(run.final_latent).dtype == torch.float32
