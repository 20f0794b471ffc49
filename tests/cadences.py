"""Synthesised cadences in a known key, for the tests that listen for keys."""

from __future__ import annotations

import numpy as np

RATE = 24_000


def tone(midi: int, seconds: float, partials: int = 6) -> np.ndarray:
    """A note with falling harmonics (a plucked-string-like spectrum)."""
    t = np.arange(int(seconds * RATE)) / RATE
    f0 = 440.0 * 2.0 ** ((midi - 69) / 12.0)
    return sum(np.sin(2 * np.pi * f0 * k * t) / k**1.5 for k in range(1, partials + 1)
               if f0 * k < RATE / 2) * np.exp(-1.5 * t)


def progression(tonic: int, minor: bool, seconds_per_chord: float = 1.5) -> np.ndarray:
    """i-iv-V-i (minor) or I-IV-V-I (major) with the root in the bass, and a scale melody."""
    third = 3 if minor else 4
    chords = [(0, third, 7), (5, 5 + third, 12), (7, 11, 14), (0, third, 7)]
    scale = [0, 2, 3, 5, 7, 8, 10] if minor else [0, 2, 4, 5, 7, 9, 11]
    parts = []
    for index, chord in enumerate(chords):
        bass = tone(36 + tonic + chord[0], seconds_per_chord) * 1.5
        harmony = sum(tone(60 + tonic + interval, seconds_per_chord) for interval in chord)
        melody = np.concatenate([tone(72 + tonic + scale[(index * 2 + n) % 7],
                                       seconds_per_chord / 2) for n in range(2)])
        parts.append(bass + harmony + 0.7 * melody)
    audio = np.concatenate(parts)
    return (audio / np.abs(audio).max() * 0.5).astype(np.float32)
