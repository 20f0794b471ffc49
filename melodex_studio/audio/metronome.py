"""The metronome: a click on every counted beat, accented on each bar's downbeat.

The clicks are not part of the mix (an export never contains them): the audio callback adds
them to the output block by block (`ClickTrack.mix_into`), reading a sorted list of click
positions the UI thread prepared. Counted beats come from the meter (`Meter.beat_starts_16ths`):
quarters in 4/4, dotted quarters in 6/8, 2+2+3 eighths in 7/8, so the click follows what a
musician counts, and positions come from the tempo grid, so they sit on the same samples as
the bar lines a take swap lands on.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass

import numpy as np

from melodex_studio.audio.fades import db_to_gain
from melodex_studio.music.tempo import TempoGrid

#: Click length: long enough to hear the pitch, short enough to stay out of the way of 16ths.
CLICK_SECONDS = 0.035
#: Downbeat and other beats an octave-ish apart, the way hardware metronomes tell them apart.
ACCENT_HZ = 1760.0
BEAT_HZ = 1175.0
DEFAULT_CLICK_GAIN_DB = -9.0
#: The beat click sits this much under the accent.
BEAT_ATTENUATION_DB = -5.0


def click_sound(sample_rate: int, frequency: float, gain: float) -> np.ndarray:
    """A short pitched click: a sine with a 1 ms raised-cosine attack and an exponential decay
    (time constant 6 ms), ending at exactly zero so it adds no step to the output."""
    n = max(8, round(CLICK_SECONDS * sample_rate))
    t = np.arange(n, dtype=np.float64) / sample_rate
    attack = max(1, round(0.001 * sample_rate))
    envelope = np.exp(-t / 0.006)
    envelope[:attack] *= 0.5 - 0.5 * np.cos(np.pi * np.arange(attack) / attack)
    envelope -= envelope[-1] * np.linspace(0.0, 1.0, n)  # reach zero at the last sample
    sound = (gain * envelope * np.sin(2.0 * np.pi * frequency * t)).astype(np.float32)
    sound.flags.writeable = False
    return sound


@dataclass(frozen=True, eq=False)
class ClickTrack:
    """Click start samples (sorted, at the output rate) with an accent flag each, and the two
    sounds, already scaled by the metronome gain."""

    positions: tuple[int, ...]
    accents: tuple[bool, ...]
    accent_sound: np.ndarray
    beat_sound: np.ndarray

    @classmethod
    def for_grid(
        cls, grid: TempoGrid, length_samples: int, gain_db: float = DEFAULT_CLICK_GAIN_DB
    ) -> ClickTrack:
        """Clicks for every counted beat of `grid` from sample 0 to `length_samples` (plus one
        bar, so a loop or song that ends on a bar line still hears its last downbeat)."""
        n_bars = math.ceil(grid.sample_to_bar(max(0, length_samples))) + 1
        positions: list[int] = []
        accents: list[bool] = []
        for bar in range(n_bars):
            downbeat = grid.bar_to_sixteenth(bar)
            for step in grid.meter_at(bar).beat_starts_16ths():  # each bar counts its meter
                positions.append(grid.sixteenth_to_sample(downbeat + step))
                accents.append(step == 0)
        gain = db_to_gain(gain_db)
        rate = grid.sample_rate
        return cls(
            positions=tuple(positions),
            accents=tuple(accents),
            accent_sound=click_sound(rate, ACCENT_HZ, gain),
            beat_sound=click_sound(rate, BEAT_HZ, gain * db_to_gain(BEAT_ATTENUATION_DB)),
        )

    @property
    def click_samples(self) -> int:
        return len(self.accent_sound)

    def mix_into(self, out: np.ndarray, written: int, pos: int, n: int) -> None:
        """Add the clicks sounding during samples [pos, pos + n) to `out[written:written + n]`
        (every channel). Runs in the audio callback: no arrays are allocated, only views."""
        positions = self.positions
        index = bisect.bisect_right(positions, pos - self.click_samples)
        end = pos + n
        while index < len(positions):
            start = positions[index]
            if start >= end:
                break
            sound = self.accent_sound if self.accents[index] else self.beat_sound
            lo, hi = max(pos, start), min(end, start + len(sound))
            if lo < hi:
                part = sound[lo - start : hi - start]
                # One channel at a time: a broadcast (n, 1) + (n, c) add would make numpy
                # allocate iteration buffers; strided 1-D adds do not.
                for channel in range(out.shape[1]):
                    target = out[written + lo - pos : written + hi - pos, channel]
                    np.add(target, part, out=target)
            index += 1
