"""The mixer: turns an `Arrangement` into one float32 playback/export buffer.

Placement rule (what "seamless" means here):
- each clip starts at its grid sample and plays its audio as is, times its gain;
- where a clip's audio runs past the start of the next clip, the two overlap for at most
  `crossfade_samples` samples with an equal-power crossfade that starts at the next clip's first
  sample; after that the earlier clip is cut. Where clips do not overlap nothing is faded;
- gaps are silence; a muted clip keeps its place (the clip before it still ends there);
- the master gain multiplies the sum.

Every output sample is computed by the same elementwise operations in the same order whether
the whole song or one span is rendered, so an incremental update (`Mixer.update`) is bit for bit
identical to a full render. That is also why a float WAV export with loudness off equals the
render exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from melodex_studio.audio.arrangement import Arrangement, ArrangementClip
from melodex_studio.audio.fades import DEFAULT_CROSSFADE_SECONDS, equal_power_fades


@dataclass(frozen=True)
class ClipLayout:
    """Where one clip sounds: samples [start, stop), its fade-in length at `start` (overlap with
    the previous clip's tail) and its fade-out length ending at `stop` (overlap with the next)."""

    start: int
    stop: int
    fade_in: int
    fade_out: int


@dataclass(frozen=True, eq=False)
class MixUpdate:
    """The result of re-rendering: the new buffer (a new array; the old one may still be playing)
    and the span [start, stop) that differs from the previous buffer (empty when nothing did)."""

    buffer: np.ndarray
    start: int
    stop: int

    @property
    def changed(self) -> bool:
        return self.stop > self.start


@lru_cache(maxsize=64)
def _fade_tables(n_samples: int) -> tuple[np.ndarray, np.ndarray]:
    fade_out, fade_in = equal_power_fades(n_samples)
    fade_out.flags.writeable = False
    fade_in.flags.writeable = False
    return fade_out, fade_in


def layout_clips(clips: tuple[ArrangementClip, ...], crossfade_samples: int) -> list[ClipLayout]:
    """Each clip's audible span and fades (clips sorted by start, as `Arrangement` keeps them)."""
    layouts: list[ClipLayout] = []
    fade_in = 0
    for index, clip in enumerate(clips):
        start, stop, fade_out = clip.start_sample, clip.end_sample, 0
        next_fade_in = 0
        if index + 1 < len(clips):
            next_start = clips[index + 1].start_sample
            if stop > next_start:
                overlap = min(stop - next_start, crossfade_samples, len(clips[index + 1].audio))
                stop, fade_out, next_fade_in = next_start + overlap, overlap, overlap
        layouts.append(ClipLayout(start, stop, min(fade_in, stop - start), fade_out))
        fade_in = next_fade_in
    return layouts


def render_length(arrangement: Arrangement, layouts: list[ClipLayout]) -> int:
    """The song length from the grid, extended if the last clip rings past it."""
    return max([arrangement.length_samples, *(layout.stop for layout in layouts)])


def render_span(
    out: np.ndarray,
    lo: int,
    hi: int,
    arrangement: Arrangement,
    layouts: list[ClipLayout],
) -> None:
    """Render samples [lo, hi) of `arrangement` into `out[lo:hi]` (other samples untouched)."""
    out[lo:hi] = 0.0
    for clip, layout in zip(arrangement.clips, layouts, strict=True):
        a, b = max(lo, layout.start), min(hi, layout.stop)
        if a >= b:
            continue
        offset = clip.start_sample
        segment = clip.audio[a - offset : b - offset] * np.float32(clip.effective_gain)
        if layout.fade_in:
            _apply_fade(segment, a, b, layout.start, _fade_tables(layout.fade_in)[1])
        if layout.fade_out:
            fade_start = layout.stop - layout.fade_out
            _apply_fade(segment, a, b, fade_start, _fade_tables(layout.fade_out)[0])
        out[a:b] += segment
    if arrangement.master_gain != 1.0:
        out[lo:hi] *= np.float32(arrangement.master_gain)


def _apply_fade(segment: np.ndarray, a: int, b: int, fade_start: int, curve: np.ndarray) -> None:
    # The fade covers [fade_start, fade_start + len(curve)); the segment covers [a, b).
    lo, hi = max(a, fade_start), min(b, fade_start + len(curve))
    if lo < hi:
        segment[lo - a : hi - a] *= curve[lo - fade_start : hi - fade_start]


def render_arrangement(
    arrangement: Arrangement, crossfade_seconds: float = DEFAULT_CROSSFADE_SECONDS
) -> np.ndarray:
    """The whole arrangement as one mono float32 array (a fresh array each call)."""
    return Mixer(arrangement, crossfade_seconds).buffer.copy()


class Mixer:
    """Holds the current arrangement and its rendered buffer; re-renders only what changes.

    Not thread-safe: one (non-audio) thread owns it. Buffers it hands out are never written
    again, so the transport can play one while the mixer prepares the next.
    """

    def __init__(
        self, arrangement: Arrangement, crossfade_seconds: float = DEFAULT_CROSSFADE_SECONDS
    ) -> None:
        if crossfade_seconds < 0.0:
            raise ValueError(f"crossfade cannot be negative ({crossfade_seconds} s)")
        self.crossfade_seconds = crossfade_seconds
        self._arrangement = arrangement
        self._layouts = layout_clips(arrangement.clips, self._crossfade_samples(arrangement))
        self._buffer = np.zeros(render_length(arrangement, self._layouts), dtype=np.float32)
        render_span(self._buffer, 0, len(self._buffer), arrangement, self._layouts)
        self._buffer.flags.writeable = False

    def _crossfade_samples(self, arrangement: Arrangement) -> int:
        return max(1, round(self.crossfade_seconds * arrangement.sample_rate))

    @property
    def arrangement(self) -> Arrangement:
        return self._arrangement

    @property
    def buffer(self) -> np.ndarray:
        """The current render (read-only)."""
        return self._buffer

    @property
    def sample_rate(self) -> int:
        return self._arrangement.sample_rate

    def update(self, arrangement: Arrangement) -> MixUpdate:
        """Switch to `arrangement`, re-rendering only the spans whose clips or fades changed.

        A different sample rate or master gain renders everything. Returns a new buffer unless
        nothing changed (then the current buffer and an empty span).
        """
        old, old_layouts = self._arrangement, self._layouts
        layouts = layout_clips(arrangement.clips, self._crossfade_samples(arrangement))
        length = render_length(arrangement, layouts)
        if arrangement.sample_rate != old.sample_rate or (
            arrangement.master_gain != old.master_gain
        ):
            lo, hi = 0, length
        else:
            lo, hi = _dirty_span(old, old_layouts, arrangement, layouts)
            if length != len(self._buffer):
                lo, hi = min(lo, length, len(self._buffer)), length
        self._arrangement, self._layouts = arrangement, layouts
        if lo >= hi and length == len(self._buffer):
            return MixUpdate(self._buffer, 0, 0)
        buffer = np.zeros(length, dtype=np.float32)
        keep = min(length, len(self._buffer))
        buffer[:keep] = self._buffer[:keep]
        hi = min(hi, length)
        render_span(buffer, lo, hi, arrangement, layouts)
        buffer.flags.writeable = False
        self._buffer = buffer
        return MixUpdate(buffer, lo, hi)


def _dirty_span(
    old: Arrangement,
    old_layouts: list[ClipLayout],
    new: Arrangement,
    new_layouts: list[ClipLayout],
) -> tuple[int, int]:
    """The smallest span covering every sample a changed clip or a changed fade touches."""
    before = {c.section_id: (c, lay) for c, lay in zip(old.clips, old_layouts, strict=True)}
    after = {c.section_id: (c, lay) for c, lay in zip(new.clips, new_layouts, strict=True)}
    lo, hi = np.iinfo(np.int64).max, 0
    for section_id in before.keys() | after.keys():
        was, now = before.get(section_id), after.get(section_id)
        if was is not None and now is not None and was[0].same_sound(now[0]) and was[1] == now[1]:
            continue
        for entry in (was, now):
            if entry is not None:
                lo, hi = min(lo, entry[1].start), max(hi, entry[1].stop)
    return (int(lo), hi) if hi > 0 else (0, 0)
