"""Latents -> audio with the codec: a full decode, a window, and a cheap preview during a render.

The preview exists so a musician hears where a render is going before it finishes (design §1.3):
from the step callback's x_t it estimates the clean latent x0 and decodes only a window of it.
"""

from __future__ import annotations

from typing import Protocol

from torch import Tensor


class LatentDecoder(Protocol):
    """What this module needs of `engine.codec.Codec`."""

    def decode(self, latents: Tensor, *, first_frame: int = 0,
               control: Tensor | None = None, preview: bool = False) -> Tensor: ...

    def decode_window(
        self, latents: Tensor, start_frame: int, end_frame: int, overlap_frames: int | None = None,
        *, first_frame: int = 0, control: Tensor | None = None, preview: bool = False,
    ) -> Tensor: ...


def decode(
    codec: LatentDecoder,
    latents: Tensor,
    window: tuple[int, int] | None = None,
    overlap_frames: int | None = None,
    first_frame: int = 0,
    control: Tensor | None = None,
    preview: bool = False,
) -> Tensor:
    """Audio of latents [16, T] (-> [T * 1024]) or [B, 16, T] (-> [B, T * 1024]) whose frame 0
    is song frame `first_frame`. `control` is the plan's control raster over the same frames
    ([channels, T], what the render was conditioned on): a codec with a plan adapter decodes
    the plan's pitches sharper with it; without it the latents alone are decoded.

    With `window` = (start_frame, end_frame) only those frames are decoded (with the codec's
    context frames on each side, so the window matches a full decode): audio
    [(end - start) * 1024]. Splicing a repainted region back is a window decode.

    `preview` decodes with the vocoder's short refinement (`Vocoder.forward`): about 60 % of
    the cost, rougher; for listening while a render runs, never for a take."""
    single = latents.dim() == 2
    batch = latents[None] if single else latents
    if window is None:
        audio = codec.decode(batch, first_frame=first_frame, control=control, preview=preview)
    else:
        start, end = window
        audio = codec.decode_window(batch, start, end, overlap_frames, first_frame=first_frame,
                                    control=control, preview=preview)
    return audio[0] if single else audio


def estimate_clean_latent(x_t: Tensor, t: float, velocity: Tensor | None = None) -> Tensor:
    """The x0 a step is heading for. With the step's velocity: ``x_t - t * v`` (exact for the
    model's own prediction). Without: the least-squares estimate for unit-variance latents,
    ``(1 - t) x_t / ((1 - t)^2 + t^2)``, which fades the noise out instead of playing it."""
    if not 0.0 <= t <= 1.0:
        raise ValueError(f"t must be within 0..1, got {t}")
    if velocity is not None:
        return x_t - t * velocity
    return x_t * ((1.0 - t) / ((1.0 - t) ** 2 + t**2))


def preview_decode(
    codec: LatentDecoder,
    x_t: Tensor,
    t: float,
    velocity: Tensor | None = None,
    window: tuple[int, int] | None = None,
    control: Tensor | None = None,
) -> Tensor:
    """Rough audio of where a render at (x_t, t) is heading, decoded the cheap way (`decode`'s
    `preview`); pass the render's x0 estimate (its `preview_callback`) with t = 0 for the best
    preview, and a `window` to decode only the part being listened to (cost is proportional to
    the window)."""
    clean = estimate_clean_latent(x_t, t, velocity)
    return decode(codec, clean, window=window, control=control, preview=True)
