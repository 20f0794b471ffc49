"""The tempo grid: THE one place that converts musical time (bars, beats, 16ths) to seconds,
samples and latent frames and back. Nobody else multiplies by 60/BPM.

Conventions:
- BPM counts quarter notes per minute in every meter (as most DAWs do): at 120 BPM a 4/4 bar
  lasts 2 s, a 6/8 bar 1.5 s and a 7/8 bar 1.75 s.
- Bars, beats and 16ths are 0-based floats from the song start: bar 0 is what musicians call
  bar 1; `BarBeatPosition` is the 1-based display form ("5.3.1").
- Continuous time -> an integer index (sample or frame) uses one rounding rule everywhere,
  round half up: ``floor(x + 0.5)``. Bar positions go to samples/frames directly from the bar
  (not through rounded seconds), so bar lines land on the same index in every module, and
  adjacent `bar_span_samples` tile exactly because both use `bar_to_sample`.
- Index -> time is exact division (no rounding), so ``bar_to_sample(sample_to_bar(n)) == n``.
- Frame rates may be fractional (24000 / 1024 = 23.4375 latent frames per second).

The grid is built from segments that each start on a bar line: `bpm` in `meter` from bar 0,
then each of `changes` ((bar, bpm) or (bar, bpm, meter), bar lines in increasing order) from
its bar on. A section with a tempo or meter of its own is such a change (`Project.grid`).
Every conversion walks the segments, so a position after a change is exact, not accumulated
step by step. A 16th is a quarter note / 4 in every meter, so a count of 16ths from the song
start (`sixteenth_*`) is musical time across meter changes; bar b, step s of a one-meter song is
16th b * steps_per_bar + s.
"""

from __future__ import annotations

import bisect
import math
import numbers
from dataclasses import dataclass, field, replace

from melodex_studio.music.meter import Meter

MIN_BPM = 20.0
MAX_BPM = 400.0
MIN_SAMPLE_RATE = 8_000
MAX_SAMPLE_RATE = 384_000
# Float noise below this (in 16ths) must not push a position onto the previous 16th in display.
_DISPLAY_EPSILON = 1e-6


def round_half_up(value: float) -> int:
    """The studio's one rounding rule from continuous time to an index: floor(x + 0.5)."""
    return math.floor(value + 0.5)


@dataclass(frozen=True)
class TempoSegment:
    """A stretch of constant tempo and meter from bar `start_bar` (an integer bar line), the
    `start_sixteenth`-th 16th of the song, to the next one."""

    start_bar: int
    bpm: float
    start_seconds: float
    meter: Meter
    start_sixteenth: int = 0

    def seconds_per_bar(self, quarter_notes_per_bar: float | None = None) -> float:
        quarters = self.meter.quarter_notes_per_bar if quarter_notes_per_bar is None else (
            quarter_notes_per_bar)
        return quarters * 60.0 / self.bpm

    @property
    def steps_per_bar(self) -> int:
        return self.meter.sixteenths_per_bar


@dataclass(frozen=True)
class BarBeatPosition:
    """A position for display: 0-based bar, counted beat and 16th inside the beat."""

    bar: int
    beat: int
    tick: int

    def __str__(self) -> str:
        """1-based, as a musician reads a DAW counter: "5.3.1" is bar 5, beat 3, first 16th."""
        return f"{self.bar + 1}.{self.beat + 1}.{self.tick + 1}"


@dataclass(frozen=True)
class TempoGrid:
    """Tempo (quarter notes per minute), meter and sample rate of a song."""

    bpm: float
    meter: Meter
    sample_rate: int
    changes: tuple[tuple[int, float, Meter], ...] = ()
    _segments: tuple[TempoSegment, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if isinstance(self.meter, str):
            object.__setattr__(self, "meter", Meter.parse(self.meter))
        if not isinstance(self.meter, Meter):
            raise TypeError(f"meter must be a Meter, not {type(self.meter).__name__}")
        object.__setattr__(self, "bpm", _checked_bpm(self.bpm))
        object.__setattr__(self, "sample_rate", _checked_sample_rate(self.sample_rate))
        changes = _checked_changes(self.changes, self.meter)
        object.__setattr__(self, "changes", changes)
        segments = [TempoSegment(0, self.bpm, 0.0, self.meter)]
        for bar, bpm, meter in changes:
            before = segments[-1]
            seconds = before.start_seconds + (bar - before.start_bar) * before.seconds_per_bar()
            sixteenth = before.start_sixteenth + (bar - before.start_bar) * before.steps_per_bar
            segments.append(TempoSegment(bar, bpm, seconds, meter, sixteenth))
        object.__setattr__(self, "_segments", tuple(segments))

    def with_bpm(self, bpm: float) -> TempoGrid:
        return replace(self, bpm=bpm)

    def with_sample_rate(self, sample_rate: int) -> TempoGrid:
        return replace(self, sample_rate=sample_rate)

    def with_meter(self, meter: Meter) -> TempoGrid:
        return replace(self, meter=meter)

    @property
    def segments(self) -> tuple[TempoSegment, ...]:
        """The stretches of constant tempo, the first from bar 0 (for a MIDI tempo map)."""
        return self._segments

    def bpm_at(self, bar: float) -> float:
        """The tempo in force at `bar` (a change on a bar line applies from that bar on)."""
        return self._segment_at_bar(bar).bpm

    def meter_at(self, bar: float) -> Meter:
        """The meter in force at `bar`."""
        return self._segment_at_bar(bar).meter

    def seconds_per_bar_at(self, bar: float) -> float:
        """The length of the bar that starts at `bar`, at the tempo and meter in force there."""
        return self._segment_at_bar(bar).seconds_per_bar()

    # --- lengths ------------------------------------------------------------------------

    # The lengths below are those at the first tempo and meter (`bpm`, `meter`); with changes,
    # ask `seconds_per_bar_at` and `meter_at`, or convert positions.

    @property
    def seconds_per_quarter(self) -> float:
        return 60.0 / self.bpm

    @property
    def seconds_per_sixteenth(self) -> float:
        return 15.0 / self.bpm

    @property
    def seconds_per_bar(self) -> float:
        return self._segments[0].seconds_per_bar()

    @property
    def samples_per_bar(self) -> float:
        """Exact (fractional) samples in one bar at the first tempo; use `bar_span_samples`
        for integer spans."""
        return self.seconds_per_bar * self.sample_rate

    @property
    def steps_per_bar(self) -> int:
        """16th steps per bar (the plan grid)."""
        return self.meter.sixteenths_per_bar

    # --- bars and beats <-> seconds ------------------------------------------------------

    def _segment_at_bar(self, bar: float) -> TempoSegment:
        # Bars before the first segment (pre-roll, negative bars) extrapolate its tempo.
        starts = [segment.start_bar for segment in self._segments]
        return self._segments[max(0, bisect.bisect_right(starts, bar) - 1)]

    def _segment_at_seconds(self, seconds: float) -> TempoSegment:
        starts = [segment.start_seconds for segment in self._segments]
        return self._segments[max(0, bisect.bisect_right(starts, seconds) - 1)]

    def _segment_at_sixteenth(self, sixteenth: float) -> TempoSegment:
        starts = [segment.start_sixteenth for segment in self._segments]
        return self._segments[max(0, bisect.bisect_right(starts, sixteenth) - 1)]

    def bar_to_seconds(self, bar: float) -> float:
        segment = self._segment_at_bar(bar)
        return segment.start_seconds + (bar - segment.start_bar) * segment.seconds_per_bar()

    def seconds_to_bar(self, seconds: float) -> float:
        segment = self._segment_at_seconds(seconds)
        return segment.start_bar + (seconds - segment.start_seconds) / segment.seconds_per_bar()

    def bar_to_sixteenth(self, bar: float) -> float:
        """The 16th of the song at `bar` (an int for a whole bar given as an int)."""
        segment = self._segment_at_bar(bar)
        return segment.start_sixteenth + (bar - segment.start_bar) * segment.steps_per_bar

    def sixteenth_to_bar(self, sixteenth: float) -> float:
        # One division from the segment's start: bar lines and steps land exactly where a
        # one-meter song's b * steps + s put them.
        segment = self._segment_at_sixteenth(sixteenth)
        return segment.start_bar + (sixteenth - segment.start_sixteenth) / segment.steps_per_bar

    def beat_to_seconds(self, quarter_beats: float) -> float:
        """Seconds at a position counted in quarter notes from the song start."""
        return self.sixteenth_to_seconds(quarter_beats * 4)

    def seconds_to_beat(self, seconds: float) -> float:
        """Position in quarter notes from the song start."""
        return self.seconds_to_sixteenth(seconds) / 4

    def sixteenth_to_seconds(self, sixteenth: float) -> float:
        """Seconds at a 16th counted from the song start (in a one-meter song bar b, step s is
        b*steps + s)."""
        return self.bar_to_seconds(self.sixteenth_to_bar(sixteenth))

    def seconds_to_sixteenth(self, seconds: float) -> float:
        return self.bar_to_sixteenth(self.seconds_to_bar(seconds))

    # --- samples ------------------------------------------------------------------------

    def _bar_to_index_float(self, bar: float, rate: float) -> float:
        # One multiplication and one division from the bar: a bar line whose exact position
        # is a whole (or half) index is computed exactly, so every module agrees on it.
        segment = self._segment_at_bar(bar)
        units_per_quarter_minute = 60.0 * segment.meter.quarter_notes_per_bar * rate
        offset = (bar - segment.start_bar) * units_per_quarter_minute / segment.bpm
        return segment.start_seconds * rate + offset

    def bar_to_sample(self, bar: float) -> int:
        return round_half_up(self._bar_to_index_float(bar, self.sample_rate))

    def seconds_to_sample(self, seconds: float) -> int:
        return round_half_up(seconds * self.sample_rate)

    def sixteenth_to_sample(self, sixteenth: float) -> int:
        return self.bar_to_sample(self.sixteenth_to_bar(sixteenth))

    def sample_to_seconds(self, sample: float) -> float:
        return sample / self.sample_rate

    def sample_to_bar(self, sample: float) -> float:
        return self.seconds_to_bar(sample / self.sample_rate)

    def bar_span_samples(self, start_bar: int, n_bars: int) -> tuple[int, int]:
        """Half-open sample range [start, end) of `n_bars` bars from bar `start_bar`."""
        start_bar, n_bars = _checked_span(start_bar, n_bars)
        return self.bar_to_sample(start_bar), self.bar_to_sample(start_bar + n_bars)

    # --- latent frames ------------------------------------------------------------------

    def bar_to_frame(self, bar: float, frame_rate: float) -> int:
        return round_half_up(self._bar_to_index_float(bar, _checked_frame_rate(frame_rate)))

    def frame_to_bar(self, frame: float, frame_rate: float) -> float:
        return self.seconds_to_bar(frame / _checked_frame_rate(frame_rate))

    def seconds_to_frame(self, seconds: float, frame_rate: float) -> int:
        return round_half_up(seconds * _checked_frame_rate(frame_rate))

    def frame_to_seconds(self, frame: float, frame_rate: float) -> float:
        return frame / _checked_frame_rate(frame_rate)

    def bar_span_frames(self, start_bar: int, n_bars: int, frame_rate: float) -> tuple[int, int]:
        """Half-open frame range [start, end) of `n_bars` bars from bar `start_bar`."""
        start_bar, n_bars = _checked_span(start_bar, n_bars)
        return (
            self.bar_to_frame(start_bar, frame_rate),
            self.bar_to_frame(start_bar + n_bars, frame_rate),
        )

    # --- display ------------------------------------------------------------------------

    def position(self, seconds: float) -> BarBeatPosition:
        """Bar, counted beat and 16th-in-beat at `seconds`, for a transport counter. A position
        within half a sample before a 16th counts as that 16th: a bar line rounded to its
        sample (`bar_to_sample`) reads as the bar it starts."""
        seconds += 0.5 / self.sample_rate
        sixteenth = math.floor(self.seconds_to_sixteenth(seconds) + _DISPLAY_EPSILON)
        segment = self._segment_at_sixteenth(sixteenth)
        bars, step = divmod(sixteenth - segment.start_sixteenth, segment.steps_per_bar)
        meter = segment.meter
        beat = meter.beat_of_step(step)
        return BarBeatPosition(segment.start_bar + bars, beat,
                               step - meter.beat_starts_16ths()[beat])


def _checked_bpm(bpm: float) -> float:
    if isinstance(bpm, bool) or not isinstance(bpm, numbers.Real):
        raise TypeError(f"tempo must be a number of BPM, not {bpm!r}")
    value = float(bpm)
    if not (math.isfinite(value) and MIN_BPM <= value <= MAX_BPM):
        raise ValueError(f"tempo {bpm} BPM is outside {MIN_BPM:g}..{MAX_BPM:g} BPM")
    return value


def _checked_changes(changes: object, meter: Meter) -> tuple[tuple[int, float, Meter], ...]:
    """(bar, bpm, meter) changes; a change given as (bar, bpm) keeps the meter before it."""
    checked: list[tuple[int, float, Meter]] = []
    for change in tuple(changes):  # type: ignore[arg-type]
        bar, bpm, *rest = change
        if len(rest) > 1:
            raise ValueError(f"a tempo change is (bar, bpm) or (bar, bpm, meter), not {change!r}")
        meter = Meter.parse(rest[0]) if rest and isinstance(rest[0], str) else (
            rest[0] if rest else meter)
        if not isinstance(meter, Meter):
            raise TypeError(f"meter must be a Meter, not {type(meter).__name__}")
        if isinstance(bar, float) and bar.is_integer():
            bar = int(bar)
        if isinstance(bar, bool) or not isinstance(bar, numbers.Integral) or bar < 0:
            raise ValueError(f"a tempo change must start on a bar line, not at bar {bar!r}")
        if checked and bar <= checked[-1][0]:
            raise ValueError(f"tempo changes must be in increasing bar order ({bar} after "
                             f"{checked[-1][0]})")
        if bar == 0:
            raise ValueError("a tempo change at bar 0 is the grid's own tempo: pass it as bpm")
        checked.append((int(bar), _checked_bpm(bpm), meter))
    return tuple(checked)


def _checked_sample_rate(sample_rate: int) -> int:
    if isinstance(sample_rate, float) and sample_rate.is_integer():
        sample_rate = int(sample_rate)
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, numbers.Integral):
        raise TypeError(f"sample rate must be a whole number of Hz, not {sample_rate!r}")
    if not MIN_SAMPLE_RATE <= sample_rate <= MAX_SAMPLE_RATE:
        raise ValueError(
            f"sample rate {sample_rate} Hz is outside {MIN_SAMPLE_RATE}..{MAX_SAMPLE_RATE} Hz"
        )
    return int(sample_rate)


def _checked_frame_rate(frame_rate: float) -> float:
    value = float(frame_rate)
    if not (math.isfinite(value) and value > 0.0):
        raise ValueError(f"frame rate {frame_rate} must be a positive number of frames per second")
    return value


def _checked_span(start_bar: int, n_bars: int) -> tuple[int, int]:
    if isinstance(start_bar, float) and start_bar.is_integer():
        start_bar = int(start_bar)
    if isinstance(n_bars, float) and n_bars.is_integer():
        n_bars = int(n_bars)
    if not isinstance(start_bar, numbers.Integral) or not isinstance(n_bars, numbers.Integral):
        raise TypeError(f"a bar span needs whole bars, not {start_bar!r} + {n_bars!r}")
    if start_bar < 0 or n_bars < 0:
        raise ValueError(f"bar span {start_bar} + {n_bars} must not be negative")
    return int(start_bar), int(n_bars)


def tempo_factor(rendered_bpm: float | None, rendered_meter: str | None, bpm: float,
                 meter: str) -> float:
    """How much faster a section at `bpm` in `meter` plays than its take was rendered (1.0:
    as it is; `audio.stretch`). A take rendered in another meter keeps its own bars:
    stretching cannot line them up."""
    if (rendered_bpm is None or rendered_bpm == bpm
            or (rendered_meter is not None and rendered_meter != meter)):
        return 1.0
    return bpm / rendered_bpm
