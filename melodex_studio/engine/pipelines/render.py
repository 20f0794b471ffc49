"""Render a stretch of the song's latent timeline with the built-in renderer (`networks.dit`).

One pipeline serves every operation of design §3: generate (region = everything, no source),
regenerate / repaint / extend (region = the frames to write, source = the current latents
around them), vary (start from a stored x_t of a take, or from its final latent noised to
`strength`) and retake (a new seed). Read top to bottom: inputs -> noise -> conditioning ->
start state -> denoising loop (cancellable between steps, a callback after each) -> result.

Determinism: every random number is drawn once, up front, from a CPU ``torch.Generator``
seeded with `seed` (the same noise on CPU and CUDA); the sampler is stateless, so the result
is a function of the inputs and a checkpoint (x_k, k) resumes bit-identically.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor

from melodex_studio.engine.control_raster import (
    DEFAULT_FRAME_RATE,
    N_CONTROL_CHANNELS,
    control_raster,
)
from melodex_studio.engine.networks.dit import DiT, RenderConditioning
from melodex_studio.engine.plan_tokens import meter_id
from melodex_studio.engine.sampling import (
    APGConfig,
    CancelFlag,
    Guidance,
    Repaint,
    guided_velocity,
    is_cancelled,
    noised,
    sampler_step,
    seeded_noise,
    start_step_for_strength,
    timestep_schedule,
)
from melodex_studio.music.key import Key
from melodex_studio.music.plan import Plan
from melodex_studio.music.tempo import TempoGrid

DEFAULT_STEPS = 16  # the studio's default (`GenerationSettings.steps`)
StepCallback = Callable[[int, int, Tensor], None]


class RenderCancelled(RuntimeError):
    """Raised between steps when the job was cancelled; carries what was done so far, which
    is a valid checkpoint to resume from."""

    def __init__(self, step: int, latent: Tensor, checkpoints: dict[int, Tensor]) -> None:
        super().__init__(f"render cancelled after step {step}")
        self.step = step
        self.latent = latent
        self.checkpoints = checkpoints


@dataclass(frozen=True)
class RenderResult:
    """Tensors are CPU float32 [C, T]. `checkpoints[k]` is the state x_k after k steps (so it
    resumes with ``start_step=k, init_latent=checkpoints[k]``); `schedule[k]` is its t.
    `control` is the raster the render was conditioned on, what a codec with a plan adapter
    decodes the latents with."""

    initial_noise: Tensor
    checkpoints: dict[int, Tensor]
    final_latent: Tensor
    steps_run: int
    start_step: int
    schedule: list[float]
    control: Tensor


def render(
    model: DiT,
    plan: Plan | None,
    text_embedding: Tensor,
    grid: TempoGrid,
    key: Key,
    n_frames: int,
    *,
    plan_start_bar: int = 0,
    first_frame: int = 0,
    frame_rate: float = DEFAULT_FRAME_RATE,
    region_mask: Tensor | None = None,
    source_latents: Tensor | None = None,
    seed: int = 0,
    noise: Tensor | None = None,
    steps: int = DEFAULT_STEPS,
    guidance: float = 1.0,
    guidance_interval: tuple[float, float] = (0.0, 1.0),
    apg: APGConfig | None = None,
    sampler: str = "euler",
    shift: float = 1.0,
    start_step: int | None = None,
    strength: float | None = None,
    init_latent: Tensor | None = None,
    step_callback: StepCallback | None = None,
    preview_callback: StepCallback | None = None,
    cancel: CancelFlag = None,
    checkpoint_steps: Collection[int] | Literal["all"] | None = "all",
    bf16_on_cuda: bool = True,
    control: Tensor | None = None,
) -> RenderResult:
    """Denoise latents [16, n_frames] for song frames ``first_frame ..`` (the window).

    `region_mask` [n_frames] (True = write) defaults to every frame; frames outside it need
    `source_latents` and come back bit-identical. `guidance_interval` is in t (1 = noise).
    Start: `init_latent` at `start_step` (a stored checkpoint), else the source noised to
    `strength` (or to `start_step`'s t), else pure noise at step 0. `step_callback(step,
    total, x_step)` and `preview_callback(step, total, x0_estimate)` run after each step.
    `control` is `control_raster` of these same arguments when the caller has drawn it already
    (the worker decodes previews with it), so it is not drawn twice.
    """
    device = next(model.parameters()).device
    channels = model.config.latent_channels
    shape = (channels, n_frames)

    # 1. Inputs: which frames to write, and what the others hold.
    mask = torch.ones(n_frames, dtype=torch.bool) if region_mask is None else region_mask.bool()
    if tuple(mask.shape) != (n_frames,):
        raise ValueError(f"region mask must be [{n_frames}], got {tuple(mask.shape)}")
    if source_latents is not None and tuple(source_latents.shape) != shape:
        raise ValueError(f"source latents must be {list(shape)}, got {tuple(source_latents.shape)}")
    if source_latents is None and not bool(mask.all()):
        raise ValueError("frames outside the region need source latents")
    source = torch.zeros(shape) if source_latents is None else source_latents.float().cpu()

    # 2. All randomness, drawn once from the seed on the CPU (or given: a variation's).
    if noise is None:
        noise = seeded_noise(seed, shape)
    elif tuple(noise.shape) != shape:
        raise ValueError(f"noise must be {list(shape)}, got {tuple(noise.shape)}")
    noise = noise.float().cpu()

    # 3. Conditioning: the control raster from plan + grid, and the global inputs.
    if control is None:
        control = control_raster(plan, key, grid, n_frames, frame_rate, plan_start_bar,
                                 first_frame)
    elif tuple(control.shape) != (N_CONTROL_CHANNELS, n_frames):
        raise ValueError(f"control raster must be [{N_CONTROL_CHANNELS}, {n_frames}], got "
                         f"{tuple(control.shape)}")
    cond = RenderConditioning(
        control=control[None],
        region_mask=mask[None],
        source=source[None],
        text=text_embedding.reshape(1, -1).float().cpu(),
        bpm=torch.tensor([grid.bpm_at(plan_start_bar)], dtype=torch.float32),  # the section's
        key=torch.tensor([key.index]),
        meter=torch.tensor([meter_id(grid.meter_at(plan_start_bar))]),
        text_dropped=torch.zeros(1, dtype=torch.bool),
    ).to(device)
    doubled = cond.repeat(2)  # the conditional + unconditional batch of guided steps
    autocast = bf16_on_cuda and device.type == "cuda"

    def model_call(x: Tensor, t: Tensor, text_dropped: Tensor) -> Tensor:
        batch_cond = (cond if x.shape[0] == 1 else doubled).with_text_dropped(text_dropped)
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=autocast):
            return model(x, t, batch_cond).float()

    plan_guidance = Guidance(guidance, guidance_interval, apg)

    def velocity(x: Tensor, t: float) -> tuple[Tensor, Tensor]:
        return guided_velocity(model_call, x, t, plan_guidance)

    # 4. Where the trajectory starts.
    schedule = timestep_schedule(steps, shift)
    noise_d, source_d = noise[None].to(device), source[None].to(device)
    repaint = None if bool(mask.all()) else Repaint(mask[None].to(device), source_d, noise_d)
    if init_latent is not None:
        if start_step is None:
            raise ValueError("an init latent needs the step it was stored at (start_step)")
        if tuple(init_latent.shape) != shape:
            raise ValueError(f"init latent must be {list(shape)}, got {tuple(init_latent.shape)}")
        start = start_step
        x = init_latent.float()[None].to(device)
    else:
        if strength is not None:
            start = start_step_for_strength(schedule, strength)
        else:
            start = 0 if start_step is None else start_step
        if start > 0 and source_latents is None:
            raise ValueError("starting part-way (strength or start_step) needs source latents")
        x = noised(source_d, noise_d, schedule[start])
    if not 0 <= start <= steps:
        raise ValueError(f"start step {start} is outside 0..{steps}")
    if repaint is not None:
        x = repaint.apply(x, schedule[start])
    wanted = _checkpoint_set(checkpoint_steps, start, steps)
    checkpoints: dict[int, Tensor] = {}
    if start in wanted:
        checkpoints[start] = x[0].float().cpu().clone()

    # 5. The denoising loop: stateless steps, cancellable between them.
    with torch.inference_mode():
        for step in range(start, steps):
            if is_cancelled(cancel):
                raise RenderCancelled(step, x[0].float().cpu().clone(), checkpoints)
            x, denoised = sampler_step(velocity, x, step, schedule, sampler, repaint)
            if step + 1 in wanted:
                checkpoints[step + 1] = x[0].float().cpu().clone()
            if step_callback is not None:
                step_callback(step + 1, steps, x[0])
            if preview_callback is not None:
                preview_callback(step + 1, steps, denoised[0])

    # 6. The result (outside the region the last step already wrote the exact source).
    return RenderResult(
        initial_noise=noise,
        checkpoints=checkpoints,
        final_latent=x[0].float().cpu().clone(),
        steps_run=steps - start,
        start_step=start,
        schedule=schedule,
        control=control,
    )


def _checkpoint_set(
    requested: Collection[int] | Literal["all"] | None, start: int, steps: int
) -> set[int]:
    """`requested` "all" is every state but the noise and the final one (kept anyway): a
    resumed run's start too, so a variation has its own state at the step it branched at."""
    if requested is None:
        return set()
    if requested == "all":
        return set(range(max(start, 1), steps))
    chosen = {int(k) for k in requested}
    outside = sorted(k for k in chosen if not 0 <= k <= steps)
    if outside:
        raise ValueError(f"checkpoint steps {outside} are outside 0..{steps}")
    return {k for k in chosen if k >= start}

