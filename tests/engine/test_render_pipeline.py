"""The render pipeline, sampler and renderer network on tiny random components: determinism,
exact repaint, exact resume, guidance 1.0, strength, cancellation, locality, decoding."""

from __future__ import annotations

import threading

import pytest
import torch
import torch.nn.functional as F

from melodex_studio.engine.codec import Codec
from melodex_studio.engine.control_raster import control_raster
from melodex_studio.engine.networks.dit import DiT, DiTConfig, RenderConditioning, count_parameters
from melodex_studio.engine.networks.layers import local_attention, local_attention_bias
from melodex_studio.engine.pipelines.decode import decode, estimate_clean_latent, preview_decode
from melodex_studio.engine.pipelines.render import RenderCancelled, render
from melodex_studio.engine.sampling import (
    APGConfig,
    Guidance,
    guided_velocity,
    interval_from_progress,
    sampler_step,
    start_step_for_strength,
    timestep_schedule,
    training_pair,
)
from melodex_studio.music.key import Key
from melodex_studio.music.meter import Meter
from melodex_studio.music.plan import Plan, PlanBar, PlanNote
from melodex_studio.music.tempo import TempoGrid

FRAMES = 48
KEY = Key.parse("E minor")
GRID = TempoGrid(120.0, Meter.parse("4/4"), 24_000)
BAR = PlanBar(chord="Em", drums=(1, 0, 4, 0) * 4, bass=(PlanNote(step=0, length=8, degree=0),))
PLAN = Plan(steps_per_bar=16, bars=(BAR, BAR.model_copy(update={"chord": "C"})))


@pytest.fixture(autouse=True)
def one_torch_thread():
    """Tiny models gain nothing from threads; on a busy shared CPU a second one only waits."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def model() -> DiT:
    return DiT.tiny_random(seed=2)


@pytest.fixture(scope="module")
def source() -> torch.Tensor:
    return torch.randn(16, FRAMES, generator=torch.Generator().manual_seed(9))


TEXT = F.normalize(torch.randn(384, generator=torch.Generator().manual_seed(4)), dim=0)


def run(model: DiT, **overrides: object):
    arguments: dict[str, object] = {"seed": 1, "steps": 6, "guidance": 3.0}
    return render(model, PLAN, TEXT, GRID, KEY, FRAMES, **(arguments | overrides))  # type: ignore[arg-type]


def region(start: int, end: int) -> torch.Tensor:
    mask = torch.zeros(FRAMES, dtype=torch.bool)
    mask[start:end] = True
    return mask


def test_same_seed_same_tensors(model: DiT) -> None:
    first, again, other = run(model), run(model), run(model, seed=2)
    assert torch.equal(first.final_latent, again.final_latent)
    assert torch.equal(first.initial_noise, again.initial_noise)
    assert first.checkpoints.keys() == again.checkpoints.keys() == {1, 2, 3, 4, 5}
    assert all(torch.equal(first.checkpoints[k], again.checkpoints[k]) for k in first.checkpoints)
    assert not torch.equal(first.final_latent, other.final_latent)
    assert first.final_latent.shape == (16, FRAMES) and first.steps_run == 6
    assert torch.isfinite(first.final_latent).all()
    # the noise is the seed's CPU normal draw, whatever device renders
    assert torch.equal(
        first.initial_noise, torch.randn(16, FRAMES, generator=torch.Generator().manual_seed(1))
    )


def test_the_result_carries_the_raster_it_was_conditioned_on(model: DiT) -> None:
    # What the worker, the evaluation and the benchmark decode with (the codec's plan adapter).
    result = run(model)
    assert torch.equal(result.control, control_raster(PLAN, KEY, GRID, FRAMES))
    shifted = run(model, plan_start_bar=1)
    assert torch.equal(shifted.control, control_raster(PLAN, KEY, GRID, FRAMES, plan_start_bar=1))
    assert not torch.equal(shifted.control, result.control)


def test_a_raster_drawn_by_the_caller_renders_the_same_and_must_fit(model: DiT) -> None:
    raster = control_raster(PLAN, KEY, GRID, FRAMES)
    drawn_here, passed = run(model), run(model, control=raster)
    assert torch.equal(drawn_here.final_latent, passed.final_latent)
    assert passed.control is raster  # not drawn again
    with pytest.raises(ValueError, match="control raster must be"):
        run(model, control=raster[:, :-1])


@pytest.mark.parametrize("sampler", ["euler", "heun"])
def test_repaint_keeps_every_frame_outside_the_region(
    model: DiT, source: torch.Tensor, sampler: str
) -> None:
    mask = region(12, 30)
    result = run(model, region_mask=mask, source_latents=source, sampler=sampler)
    assert torch.equal(result.final_latent[:, ~mask], source[:, ~mask])
    assert not torch.allclose(result.final_latent[:, mask], source[:, mask])
    for step, latent in result.checkpoints.items():
        t = result.schedule[step]
        expected = (1 - t) * source[:, ~mask] + t * result.initial_noise[:, ~mask]
        assert torch.equal(latent[:, ~mask], expected)


@pytest.mark.parametrize("sampler", ["euler", "heun"])
def test_resuming_from_a_checkpoint_is_exact(
    model: DiT, source: torch.Tensor, sampler: str
) -> None:
    common = {
        "region_mask": region(0, 40),
        "source_latents": source,
        "sampler": sampler,
        "shift": 2.0,
    }
    full = run(model, **common)
    for step in (1, 3, 5):
        resumed = run(model, **common, start_step=step, init_latent=full.checkpoints[step])
        assert resumed.steps_run == 6 - step
        assert torch.equal(resumed.final_latent, full.final_latent)
        assert all(
            torch.equal(resumed.checkpoints[k], full.checkpoints[k]) for k in resumed.checkpoints
        )


class BatchSpy:
    def __init__(self, model: DiT) -> None:
        self.batches: list[int] = []
        self.handle = model.register_forward_pre_hook(
            lambda _, args: self.batches.append(args[0].shape[0])
        )


def test_guidance_one_is_the_conditional_path(model: DiT) -> None:
    spy = BatchSpy(model)
    try:
        plain = run(model, guidance=1.0)
        assert spy.batches == [1] * 6  # the unconditional branch never runs
        spy.batches.clear()
        outside = run(model, guidance=7.0, guidance_interval=(0.0, 0.0))
        assert spy.batches == [1] * 6
        spy.batches.clear()
        guided = run(model, guidance=7.0, guidance_interval=(0.4, 1.0))
        times = timestep_schedule(6)[:-1]
        assert spy.batches == [2 if 0.4 <= t <= 1.0 else 1 for t in times]
    finally:
        spy.handle.remove()
    assert torch.equal(plain.final_latent, outside.final_latent)
    assert not torch.allclose(plain.final_latent, guided.final_latent)


def test_training_target_and_sampler_agree() -> None:
    """With an oracle velocity (the training target), Euler lands exactly on the data."""
    x0, noise = torch.randn(2, 16, 12), torch.randn(2, 16, 12)
    x_t, target = training_pair(x0, noise, torch.full((2,), 1.0))
    assert torch.equal(x_t, noise)

    def oracle(x: torch.Tensor, t: float) -> tuple[torch.Tensor, torch.Tensor]:
        return target, x - t * target

    for sampler in ("euler", "heun"):
        schedule = timestep_schedule(4, shift=3.0)
        x = noise
        for step in range(4):
            x, denoised = sampler_step(oracle, x, step, schedule, sampler)
            assert torch.allclose(denoised, x0, atol=1e-5)
        assert torch.allclose(x, x0, atol=1e-5)


def test_guided_velocity_formula_and_apg() -> None:
    def toy(x: torch.Tensor, t: torch.Tensor, dropped: torch.Tensor) -> torch.Tensor:
        return torch.where(dropped[:, None, None], x * 0.5, x * 2.0 + 1.0)

    x = torch.randn(1, 16, 10)
    v, x0 = guided_velocity(toy, x, 0.5, Guidance(3.0))
    expected = x * 0.5 + 3.0 * (x * 2.0 + 1.0 - x * 0.5)
    assert torch.allclose(v, expected) and torch.allclose(x0, x - 0.5 * expected)
    v_apg, _ = guided_velocity(toy, x, 0.5, Guidance(9.0, apg=APGConfig(eta=0.0, max_rms=0.1)))
    v_cfg, _ = guided_velocity(toy, x, 0.5, Guidance(9.0))
    v_cond = x * 2.0 + 1.0
    # APG keeps the update small: much closer to the conditional velocity than plain CFG
    assert (v_apg - v_cond).norm() < 0.25 * (v_cfg - v_cond).norm()
    assert interval_from_progress((0.0, 0.25)) == (0.75, 1.0)


def test_high_guidance_with_apg_renders(model: DiT) -> None:
    plain = run(model, guidance=9.0)
    apg = run(model, guidance=9.0, apg=APGConfig(eta=0.0, max_rms=0.5))
    assert torch.isfinite(apg.final_latent).all()
    assert not torch.equal(plain.final_latent, apg.final_latent)


def test_strength(model: DiT, source: torch.Tensor) -> None:
    untouched = run(model, source_latents=source, strength=0.0)
    assert untouched.steps_run == 0
    assert torch.equal(untouched.final_latent, source)
    fresh = run(model, seed=3)
    from_noise = run(model, seed=3, source_latents=source, strength=1.0)
    assert torch.equal(fresh.final_latent, from_noise.final_latent)
    varied = run(model, source_latents=source, strength=0.5)
    schedule = timestep_schedule(6)
    assert varied.start_step == start_step_for_strength(schedule, 0.5) == 3
    assert varied.steps_run == 3


def test_cancel_stops_between_steps_and_the_partial_run_resumes(model: DiT) -> None:
    full = run(model)
    cancel = threading.Event()
    seen: list[tuple[int, int]] = []

    def on_step(step: int, total: int, latent: torch.Tensor) -> None:
        seen.append((step, total))
        if step == 2:
            cancel.set()

    with pytest.raises(RenderCancelled) as stopped:
        run(model, step_callback=on_step, cancel=cancel)
    assert seen == [(1, 6), (2, 6)]
    assert stopped.value.step == 2 and set(stopped.value.checkpoints) == {1, 2}
    resumed = run(model, start_step=2, init_latent=stopped.value.latent)
    assert torch.equal(resumed.final_latent, full.final_latent)
    with pytest.raises(RenderCancelled):
        run(model, cancel=lambda: True)


def test_checkpoint_selection_and_preview(model: DiT) -> None:
    previews: list[torch.Tensor] = []
    result = run(
        model, checkpoint_steps={0, 2, 6}, preview_callback=lambda s, n, x0: previews.append(x0)
    )
    assert set(result.checkpoints) == {0, 2, 6}
    assert torch.equal(result.checkpoints[6], result.final_latent)
    assert len(previews) == 6 and previews[-1].shape == (16, FRAMES)
    assert run(model, checkpoint_steps=None).checkpoints == {}
    with pytest.raises(ValueError):
        run(model, checkpoint_steps={9})


def test_renderer_attention_is_local(model: DiT) -> None:
    config = model.config
    frames = 96
    generator = torch.Generator().manual_seed(0)
    cond = RenderConditioning(
        control=torch.randn(1, config.control_channels, frames, generator=generator),
        region_mask=torch.ones(1, frames, dtype=torch.bool),
        source=torch.zeros(1, 16, frames),
        text=TEXT[None],
        bpm=torch.tensor([100.0]),
        key=torch.tensor([3]),
        meter=torch.tensor([0]),
        text_dropped=torch.tensor([False]),
    )
    x = torch.randn(1, 16, frames, generator=generator)
    t = torch.tensor([0.7])
    with torch.no_grad():
        before = model(x, t, cond)
        changed = x.clone()
        changed[..., 70:] += 5.0
        after = model(changed, t, cond)
    reach = config.n_layers * config.attention_radius_frames + config.patch_size
    assert torch.allclose(before[..., : 70 - reach], after[..., : 70 - reach], atol=1e-6)
    assert not torch.allclose(before[..., 70:], after[..., 70:])


def test_local_attention_equals_banded_full_attention() -> None:
    for length, block, radius in ((37, 8, 4), (5, 8, 4), (100, 7, 3)):
        q, k, v = (torch.randn(2, 3, length, 8) for _ in range(3))
        local = local_attention(
            q, k, v, block, radius, local_attention_bias(length, block, radius, q.device)
        )
        index = torch.arange(length)
        band = (index[:, None] - index[None, :]).abs() <= radius
        assert torch.allclose(
            local, F.scaled_dot_product_attention(q, k, v, attn_mask=band), atol=1e-5
        )


def test_shipping_config_size() -> None:
    assert count_parameters(DiT(DiTConfig())) <= 10_000_000


def test_decode_full_window_and_preview(model: DiT) -> None:
    codec = Codec.tiny_random(seed=0)
    latents = run(model).final_latent
    audio = decode(codec, latents)
    assert audio.shape == (FRAMES * 1024,)
    window = decode(codec, latents, window=(10, 20))
    assert window.shape == (10 * 1024,)
    assert torch.allclose(window, audio[10 * 1024 : 20 * 1024], atol=1e-4)
    x_t = torch.randn(16, FRAMES)
    velocity = torch.randn(16, FRAMES)
    preview = preview_decode(codec, x_t, 0.4, velocity=velocity, window=(0, 8))
    clean = x_t - 0.4 * velocity
    cheap = decode(codec, clean, window=(0, 8), preview=True)
    assert torch.allclose(preview, cheap, atol=1e-5)  # the cheap decode of the x0 estimate
    full = decode(codec, clean, window=(0, 8))
    assert (cheap - full).abs().max() > 1e-3 * full.abs().max()  # not the take's decode
    # A preview window is the same span of a whole preview decode.
    whole = decode(codec, clean, preview=True)
    assert torch.allclose(decode(codec, clean, window=(10, 20), preview=True),
                          whole[10 * 1024 : 20 * 1024], atol=1e-4)
    assert torch.equal(estimate_clean_latent(x_t, 0.0), x_t)
    assert estimate_clean_latent(x_t, 1.0).abs().max() == 0.0


def test_a_window_of_a_song_decodes_like_the_song() -> None:
    """A repaint decodes only its render window; said where the window starts in the song, the
    vocoder's phase grid lines up and its audio is the song's (what makes a splice seamless)."""
    codec = Codec.tiny_random(seed=0)
    song = torch.randn(16, 120, generator=torch.Generator().manual_seed(5))
    whole = decode(codec, song)
    start = 37  # not on the vocoder's anchor grid
    window = song[:, start:]
    placed = decode(codec, window, window=(50, 60), first_frame=start)
    expected = whole[(start + 50) * 1024 : (start + 60) * 1024]
    assert (placed - expected).abs().max() < 1e-3 * expected.abs().max()
    # Decoded as if it started the song, the same latents come out with other phases.
    unplaced = decode(codec, window, window=(50, 60))
    assert (unplaced - expected).abs().max() > 1e-2 * expected.abs().max()


def test_the_render_default_is_the_studio_default() -> None:
    """The engine may not import the project model, so the default steps live twice."""
    from melodex_studio.engine.pipelines.render import DEFAULT_STEPS
    from melodex_studio.project.generation import GenerationSettings

    assert GenerationSettings().steps == DEFAULT_STEPS
