"""Gain helpers and the equal-power crossfade curves shared by the mixer and take swaps.

Equal power (cos/sin) keeps the loudness steady when the two signals are uncorrelated, which is
what two takes of a section are. Curves are sampled at sample centres ((k + 0.5) / n), so a fade
of n samples never outputs exactly 0 or 1 and the fade-in and fade-out mirror each other.
"""

from __future__ import annotations

import math

import numpy as np

DEFAULT_CROSSFADE_SECONDS = 0.005


def db_to_gain(db: float) -> float:
    """Linear amplitude of a level in dB (0 dB -> 1.0)."""
    return 10.0 ** (db / 20.0)


def gain_to_db(gain: float) -> float:
    """Level in dB of a linear amplitude; silence is -inf."""
    return -math.inf if gain <= 0.0 else 20.0 * math.log10(gain)


def equal_power_fades(n_samples: int) -> tuple[np.ndarray, np.ndarray]:
    """(fade_out, fade_in) float32 curves of `n_samples`, with fade_out**2 + fade_in**2 == 1."""
    if n_samples < 0:
        raise ValueError(f"a fade cannot be {n_samples} samples long")
    phase = (np.arange(n_samples, dtype=np.float64) + 0.5) * (0.5 * math.pi / max(n_samples, 1))
    return np.cos(phase).astype(np.float32), np.sin(phase).astype(np.float32)


def seconds_to_samples(seconds: float, sample_rate: int) -> int:
    """A short duration (a crossfade) as whole samples, at least 1."""
    if seconds < 0.0:
        raise ValueError(f"a duration cannot be negative ({seconds} s)")
    return max(1, round(seconds * sample_rate))
