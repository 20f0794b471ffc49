"""Splicing newly decoded audio into a take's existing audio.

The zone: a new region [a, b) (samples of the section) replaces the old audio inside it, and
the `crossfade` samples just OUTSIDE each edge, [a - crossfade, a) and [b, b + crossfade)
(clipped to the section), blend from the old audio to the new with a linear ramp. Every other
sample is the old sample, bit for bit. The ramp lies outside the region because there the new
decode is of the *same* latents as before (only the decoder's view of its neighbours changed),
so the two signals are nearly identical and an equal-gain ramp cannot dip or click; inside the
region the audio is entirely new. `SPLICE_CROSSFADE_SECONDS` (20 ms, under the 50 ms bound the
design allows) is long enough to hide a decoder edge and short enough to stay inaudible.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

SPLICE_CROSSFADE_SECONDS = 0.020


def crossfade_samples(sample_rate: int) -> int:
    return max(1, round(SPLICE_CROSSFADE_SECONDS * sample_rate))


def splice_weights(length: int, regions: Sequence[tuple[int, int]], crossfade: int) -> np.ndarray:
    """Per-sample weight of the new audio: 1 inside the regions, ramps in the zones around
    them, exactly 0 elsewhere. Ramps sample centres, so they never reach 0 or 1 themselves."""
    weights = np.zeros(length, dtype=np.float64)
    for start, end in regions:
        if not 0 <= start < end <= length:
            raise ValueError(f"splice region [{start}, {end}) is outside 0..{length}")
        weights[start:end] = 1.0
        lo = max(0, start - crossfade)
        rising = (np.arange(lo, start) - (start - crossfade) + 0.5) / crossfade
        weights[lo:start] = np.maximum(weights[lo:start], rising)
        hi = min(length, end + crossfade)
        falling = 1.0 - (np.arange(end, hi) - end + 0.5) / crossfade
        weights[end:hi] = np.maximum(weights[end:hi], falling)
    return weights


def splice_audio(
    old: np.ndarray, new: np.ndarray, regions: Sequence[tuple[int, int]], crossfade: int
) -> np.ndarray:
    """`old` with `new` spliced into `regions` (see the module docstring for the zone)."""
    if old.shape != new.shape or old.ndim != 1:
        raise ValueError(
            f"splice needs two mono signals of one length, got {old.shape}, {new.shape}"
        )
    weights = splice_weights(len(old), regions, crossfade)
    old32 = old.astype(np.float32, copy=False)
    new32 = new.astype(np.float32, copy=False)
    blended = (old32 * (1.0 - weights) + new32 * weights).astype(np.float32)
    # np.where picks the untouched samples straight from `old`: not a single bit changes there.
    return np.where(weights == 0.0, old32, np.where(weights == 1.0, new32, blended))


def changed_zone(length: int, regions: Sequence[tuple[int, int]], crossfade: int) -> np.ndarray:
    """Boolean mask of the samples a splice may change: the regions plus their crossfades."""
    return splice_weights(length, regions, crossfade) > 0.0
