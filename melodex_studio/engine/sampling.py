"""Rectified-flow sampling: schedule, stateless Euler/Heun steps, guidance, repaint.

Conventions: ``x_t = (1 - t) * x0 + t * noise``, t runs from 1 (noise) to 0 (data), and the
network predicts the velocity ``v = dx_t/dt = noise - x0``, so ``x0 = x_t - t * v``.

Steps are *stateless*: step k maps ``(x_k, k)`` to ``x_{k+1}`` using only the schedule, the
network, and fixed inputs (conditioning, source, the take's initial noise). A stored x_k is
therefore a complete checkpoint: resuming from it gives bit-identical results.

Guidance interval: `Guidance.interval` is given in t (1 = noise). The project's settings name
the interval as progress through the trajectory (0 = noise, 1 = done); convert those with
`interval_from_progress`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

import torch
from torch import Tensor

SAMPLERS = ("euler", "heun")

#: (x [B, C, T], t [B], text_dropped [B] bool) -> velocity [B, C, T]
ModelCall = Callable[[Tensor, Tensor, Tensor], Tensor]
#: (x, t) -> (velocity, x0 estimate): a model call with guidance applied.
VelocityFn = Callable[[Tensor, float], tuple[Tensor, Tensor]]


def timestep_schedule(steps: int, shift: float = 1.0) -> list[float]:
    """``steps + 1`` times from 1.0 down to exactly 0.0. ``shift > 1`` spends more steps at high
    noise (``t' = s t / (1 + (s - 1) t)``, as in SD3), where the song's layout is decided."""
    if steps < 1:
        raise ValueError(f"a schedule needs at least one step, got {steps}")
    if shift <= 0:
        raise ValueError(f"the schedule shift must be positive, got {shift}")
    times = [1.0 - k / steps for k in range(steps + 1)]
    times = [shift * t / (1.0 + (shift - 1.0) * t) for t in times]
    times[0], times[-1] = 1.0, 0.0
    return times


def start_step_for_strength(schedule: list[float], strength: float) -> int:
    """First step whose time is at or below `strength`: strength 1 starts from pure noise
    (step 0), strength 0 runs no step at all and returns the source."""
    if not 0.0 <= strength <= 1.0:
        raise ValueError(f"strength must be within 0..1, got {strength}")
    return next(k for k, t in enumerate(schedule) if t <= strength + 1e-9)


def interval_from_progress(progress: tuple[float, float]) -> tuple[float, float]:
    """A guidance interval given as trajectory progress (0 = noise, 1 = done) in t instead."""
    low, high = progress
    return 1.0 - high, 1.0 - low


def seeded_noise(seed: int, shape: tuple[int, ...]) -> Tensor:
    """The initial noise of a render seeded `seed`: one float32 randn draw on the CPU (the same
    noise on CPU and CUDA). The worker draws it the same way to re-run a take's recorded noise
    and to give an imported recording the noise a render of its length would have."""
    generator = torch.Generator(device="cpu").manual_seed(int(seed))
    return torch.randn(shape, generator=generator, dtype=torch.float32)


def noised(source: Tensor, noise: Tensor, t: float) -> Tensor:
    """``(1 - t) * source + t * noise``, and at t = 0 exactly the source (bit for bit)."""
    if t == 0.0:
        return source.clone()
    return (1.0 - t) * source + t * noise


def renoised(state: Tensor, level: float, old_noise: Tensor, new_noise: Tensor) -> Tensor:
    """A state that holds `old_noise` at noise level `level` (t here, sigma for an EDM model),
    holding `new_noise` instead: ``state + level * (new - old)``. A variation keeps what its
    source's trajectory had decided by then and draws the rest anew."""
    return state + level * (new_noise - old_noise)


def training_pair(x0: Tensor, noise: Tensor, t: Tensor) -> tuple[Tensor, Tensor]:
    """(x_t, target velocity) for a batch at times t [B]: what the renderer is trained on, in
    the same convention the sampler integrates."""
    t = t.to(x0.dtype).view(-1, *([1] * (x0.dim() - 1)))
    return (1.0 - t) * x0 + t * noise, noise - x0


# --- guidance ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class APGConfig:
    """Adaptive projected guidance (Sadat et al. 2024) for high scales (sound design, 7-10):
    the guidance update on the x0 prediction is split into the part parallel to the
    conditional prediction (which mostly oversaturates: loudness spikes, harsh highs) and the
    orthogonal part; the parallel part is weighted by `eta`, and the update's RMS is clipped to
    `max_rms` (latents have unit variance, so 1.0 allows a change as large as the signal).
    No momentum: it would make the sampler stateful."""

    eta: float = 0.0
    max_rms: float = 1.0


@dataclass(frozen=True)
class Guidance:
    """Classifier-free guidance ``v = v_u + scale * (v_c - v_u)``, applied only while t lies in
    `interval`; elsewhere (and always at scale 1.0) only the conditional branch runs."""

    scale: float = 1.0
    interval: tuple[float, float] = (0.0, 1.0)
    apg: APGConfig | None = None

    def __post_init__(self) -> None:
        low, high = self.interval
        if not 0.0 <= low <= high <= 1.0:
            raise ValueError(f"guidance interval needs 0 <= low <= high <= 1, got {self.interval}")

    def active(self, t: float) -> bool:
        low, high = self.interval
        return self.scale != 1.0 and low <= t <= high


def guided_velocity(
    model: ModelCall, x: Tensor, t: float, guidance: Guidance
) -> tuple[Tensor, Tensor]:
    """Velocity and x0 estimate at (x, t). With guidance active, the conditional and
    unconditional branches run as one batch of 2B (text dropped in the second half)."""
    batch = x.shape[0]
    times = torch.full((batch,), t, dtype=torch.float32, device=x.device)
    keep = torch.zeros(batch, dtype=torch.bool, device=x.device)
    if not guidance.active(t):
        velocity = model(x, times, keep).to(x.dtype)
        return velocity, x - t * velocity
    both = model(torch.cat((x, x)), torch.cat((times, times)), torch.cat((keep, ~keep)))
    v_cond, v_uncond = both.to(x.dtype).chunk(2)
    if guidance.apg is None:
        velocity = v_uncond + guidance.scale * (v_cond - v_uncond)
        return velocity, x - t * velocity
    x0 = _apg_x0(x - t * v_cond, x - t * v_uncond, guidance.scale, guidance.apg)
    return (x - x0) / t, x0


def _apg_x0(x0_cond: Tensor, x0_uncond: Tensor, scale: float, config: APGConfig) -> Tensor:
    dims = tuple(range(1, x0_cond.dim()))
    update = x0_cond - x0_uncond
    rms = update.pow(2).mean(dim=dims, keepdim=True).sqrt()
    update = update * torch.clamp(config.max_rms / rms.clamp_min(1e-12), max=1.0)
    direction = torch.nn.functional.normalize(x0_cond.flatten(1), dim=1).view_as(x0_cond)
    parallel = (update * direction).sum(dim=dims, keepdim=True) * direction
    return x0_cond + (scale - 1.0) * (update - parallel + config.eta * parallel)


# --- repaint -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Repaint:
    """Frames outside `mask` [B, T] (True = generate) are replaced at every step by the source
    noised to the current t with the take's own initial noise, and by the exact source at
    t = 0, so everything outside the region ends bit-identical to the source."""

    mask: Tensor
    source: Tensor
    noise: Tensor

    def apply(self, x: Tensor, t: float) -> Tensor:
        return torch.where(self.mask[:, None, :], x, noised(self.source, self.noise, t))


# --- steppers ------------------------------------------------------------------------------------


class StepOutput(NamedTuple):
    latent: Tensor  # x_{k+1}
    denoised: Tensor  # the x0 estimate made at step k (for previews)


def sampler_step(
    velocity: VelocityFn,
    x: Tensor,
    step: int,
    schedule: list[float],
    sampler: str = "euler",
    repaint: Repaint | None = None,
) -> StepOutput:
    """One stateless step from ``(x_step, step)`` to ``x_{step + 1}``.

    Euler: ``x + (t_next - t) v(x, t)``. Heun: average of the slopes at both ends, with the
    end-point slope taken on the Euler prediction; the last step (to t = 0) is Euler, since the
    velocity at pure data is not defined by training.
    """
    if sampler not in SAMPLERS:
        raise ValueError(f"unknown sampler {sampler!r}; one of {', '.join(SAMPLERS)}")
    if not 0 <= step < len(schedule) - 1:
        raise ValueError(f"step {step} is outside 0..{len(schedule) - 2}")
    constrain = (lambda value, _: value) if repaint is None else repaint.apply
    t, t_next = schedule[step], schedule[step + 1]
    x = constrain(x, t)
    v, denoised = velocity(x, t)
    predicted = x + (t_next - t) * v
    if sampler == "heun" and t_next > 0.0:
        v_next, _ = velocity(constrain(predicted, t_next), t_next)
        predicted = x + (t_next - t) * 0.5 * (v + v_next)
    if repaint is not None:
        denoised = torch.where(repaint.mask[:, None, :], denoised, repaint.source)
    return StepOutput(constrain(predicted, t_next), denoised)


#: How a caller stops a running job between steps: an event to set, or a function asked.
CancelFlag = threading.Event | Callable[[], bool] | None


def is_cancelled(cancel: CancelFlag) -> bool:
    if cancel is None:
        return False
    if isinstance(cancel, threading.Event):
        return cancel.is_set()
    return bool(cancel())
