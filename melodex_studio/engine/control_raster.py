"""The control raster: a plan on the tempo grid turned into per-latent-frame channels.

Deterministic and free of learned parts: it is the renderer's only view of time and harmony,
so tempo, bar lines and key hold because they are drawn here from the grid rather than hoped for
from the prompt. Every time position comes from `TempoGrid` (nobody else multiplies by 60/BPM),
and an event lands on the frame the grid rounds it to (`bar_to_frame`), the same frame every
other module uses for that bar or step.

Channel layout (`CONTROL_CHANNELS`, 51 channels):
- ``beat_sin, beat_cos, bar_sin, bar_cos``: phase inside the counted beat and the bar;
- ``downbeat, beat``: impulses on bar lines and on counted beats (7/8 counts 2+2+3);
- ``kick, snare, hats, other_drums``: drum onsets (snare includes clap; hats include ride;
  other is toms, crash, percussion);
- ``bass_onset, melody_onset``: note starts;
- ``bass_chroma_0..11, melody_chroma_0..11, chord_chroma_0..11``: sounding pitch classes
  (absolute, C = 0), held for the note's or bar's duration;
- ``energy, density``: the bar's values;
- ``in_plan``: 1 on frames the plan covers, 0 on context frames around it.
Impulses are 1.0 on the onset frame and decay by exp(-n / IMPULSE_DECAY_FRAMES) over the next
`IMPULSE_FRAMES - 1` frames; overlapping impulses take the maximum, so values stay in [0, 1].
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor

from melodex_studio.music.key import Key
from melodex_studio.music.plan import DrumVoice, Plan
from melodex_studio.music.tempo import TempoGrid

#: The codec's latent frame rate: 24 kHz audio, 1024 samples per latent frame.
DEFAULT_FRAME_RATE = 24_000 / 1024
IMPULSE_DECAY_FRAMES = 2.0
IMPULSE_FRAMES = 6

DRUM_CHANNEL_VOICES: dict[str, int] = {
    "kick": int(DrumVoice.KICK),
    "snare": int(DrumVoice.SNARE | DrumVoice.CLAP),
    "hats": int(DrumVoice.CLOSED_HAT | DrumVoice.OPEN_HAT | DrumVoice.RIDE),
    "other_drums": int(
        DrumVoice.LOW_TOM | DrumVoice.HIGH_TOM | DrumVoice.CRASH | DrumVoice.PERCUSSION
    ),
}

CONTROL_CHANNELS: tuple[str, ...] = (
    "beat_sin",
    "beat_cos",
    "bar_sin",
    "bar_cos",
    "downbeat",
    "beat",
    *DRUM_CHANNEL_VOICES,
    "bass_onset",
    "melody_onset",
    *(f"bass_chroma_{pc}" for pc in range(12)),
    *(f"melody_chroma_{pc}" for pc in range(12)),
    *(f"chord_chroma_{pc}" for pc in range(12)),
    "energy",
    "density",
    "in_plan",
)
N_CONTROL_CHANNELS = len(CONTROL_CHANNELS)
CHANNEL_INDEX = {name: index for index, name in enumerate(CONTROL_CHANNELS)}
_IMPULSE = np.exp(-np.arange(IMPULSE_FRAMES) / IMPULSE_DECAY_FRAMES).astype(np.float32)


def control_raster(
    plan: Plan | None,
    key: Key,
    grid: TempoGrid,
    n_frames: int,
    frame_rate: float = DEFAULT_FRAME_RATE,
    plan_start_bar: int = 0,
    first_frame: int = 0,
) -> Tensor:
    """Channels [N_CONTROL_CHANNELS, n_frames] (float32) for song frames
    ``first_frame .. first_frame + n_frames - 1``, with `plan` starting at song bar
    `plan_start_bar`. Without a plan only the grid channels (phases, downbeats, beats) are set.
    """
    if n_frames < 0:
        raise ValueError(f"a raster needs a frame count >= 0, got {n_frames}")
    raster = _Raster(grid, frame_rate, n_frames, first_frame)
    raster.draw_grid()
    if plan is not None:
        meter = grid.meter_at(plan_start_bar)
        if plan.steps_per_bar != meter.sixteenths_per_bar:
            raise ValueError(
                f"the plan has {plan.steps_per_bar} steps per bar but {meter} has "
                f"{meter.sixteenths_per_bar}"
            )
        raster.draw_plan(plan, key, plan_start_bar)
    return torch.from_numpy(raster.channels)


class _Raster:
    def __init__(self, grid: TempoGrid, frame_rate: float, n_frames: int, first_frame: int) -> None:
        self.grid = grid
        self.frame_rate = frame_rate
        self.n_frames = n_frames
        self.first_frame = first_frame
        self.channels = np.zeros((N_CONTROL_CHANNELS, n_frames), dtype=np.float32)

    # --- time -------------------------------------------------------------------------------

    def frame_of_step(self, global_step: float) -> int:
        """Window-relative frame of a 16th counted from the song start (`TempoGrid`)."""
        bar = self.grid.sixteenth_to_bar(global_step)
        return self.grid.bar_to_frame(bar, self.frame_rate) - self.first_frame

    def span(self, start_step: float, end_step: float) -> tuple[int, int]:
        """Window-clipped frame range [start, end) between two 16th steps."""
        start = max(0, self.frame_of_step(start_step))
        end = min(self.n_frames, self.frame_of_step(end_step))
        return start, end

    def bar_range(self) -> range:
        """Song bars that touch the window (with a bar of margin for rounding)."""
        first = self.grid.frame_to_bar(self.first_frame, self.frame_rate)
        last = self.grid.frame_to_bar(self.first_frame + self.n_frames, self.frame_rate)
        return range(max(0, math.floor(first) - 1), math.ceil(last) + 1)

    # --- drawing ----------------------------------------------------------------------------

    def impulse(self, channel: str, frame: int) -> None:
        row = self.channels[CHANNEL_INDEX[channel]]
        lo, hi = max(0, frame), min(self.n_frames, frame + IMPULSE_FRAMES)
        if lo < hi:
            row[lo:hi] = np.maximum(row[lo:hi], _IMPULSE[lo - frame : hi - frame])

    def fill(self, channel: str, start: int, end: int, value: float) -> None:
        if start < end:
            self.channels[CHANNEL_INDEX[channel], start:end] = value

    def draw_grid(self) -> None:
        frames = np.arange(self.first_frame, self.first_frame + self.n_frames, dtype=np.float64)
        bars = np.array([self.grid.frame_to_bar(f, self.frame_rate) for f in frames])
        bar_phase = bars - np.floor(bars)
        beat_phase = np.zeros_like(bar_phase)
        if len({segment.meter for segment in self.grid.segments}) == 1:
            groups = [(self.grid.meter, np.ones(len(bars), dtype=bool))]
        else:  # frames grouped by the meter of their bar
            meters = [self.grid.meter_at(bar) for bar in np.floor(bars)]
            groups = [(meter, np.array([m == meter for m in meters], dtype=bool))
                      for meter in set(meters)]
        for meter, rows in groups:
            steps = bar_phase[rows] * meter.sixteenths_per_bar
            starts = np.asarray(meter.beat_starts_16ths(), dtype=np.float64)
            lengths = np.asarray(meter.beat_lengths_16ths(), dtype=np.float64)
            beat = np.clip(np.searchsorted(starts, steps, side="right") - 1, 0, len(starts) - 1)
            beat_phase[rows] = (steps - starts[beat]) / lengths[beat]
        # Each phase as a point on a circle (conditioning channels, not audio): the end of a
        # beat or bar then sits next to its start.
        for name, phase in (("beat", beat_phase), ("bar", bar_phase)):
            self.channels[CHANNEL_INDEX[f"{name}_sin"]] = np.sin(2 * np.pi * phase)
            self.channels[CHANNEL_INDEX[f"{name}_cos"]] = np.cos(2 * np.pi * phase)
        for bar in self.bar_range():
            downbeat = self.grid.bar_to_sixteenth(bar)
            self.impulse("downbeat", self.frame_of_step(downbeat))
            for start in self.grid.meter_at(bar).beat_starts_16ths():
                self.impulse("beat", self.frame_of_step(downbeat + start))

    def draw_plan(self, plan: Plan, key: Key, start_bar: int) -> None:
        steps = plan.steps_per_bar  # the meter at `start_bar` (checked by `control_raster`)
        origin = self.grid.bar_to_sixteenth(start_bar)
        self.fill("in_plan", *self.span(origin, origin + plan.n_bars * steps), 1.0)
        for index, bar in enumerate(plan.bars):
            bar_step = origin + index * steps
            start, end = self.span(bar_step, bar_step + steps)
            self.fill("energy", start, end, bar.energy)
            self.fill("density", start, end, bar.density)
            chord = bar.chord_value()
            if chord is not None:
                for pitch_class in chord.pitch_classes:
                    self.fill(f"chord_chroma_{pitch_class}", start, end, 1.0)
            for step, mask in enumerate(bar.drums):
                for channel, voices in DRUM_CHANNEL_VOICES.items():
                    if mask & voices:
                        self.impulse(channel, self.frame_of_step(bar_step + step))
            for part, notes in (("bass", bar.bass), ("melody", bar.melody)):
                for note in notes:
                    onset = bar_step + note.step
                    self.impulse(f"{part}_onset", self.frame_of_step(onset))
                    sounding = self.span(onset, onset + note.length)
                    pitch_class = key.degree_to_pitch_class(note.degree)
                    self.fill(f"{part}_chroma_{pitch_class}", *sounding, 1.0)
