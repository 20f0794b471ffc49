"""Bar-synced buffer swaps: where a take change lands and the prepared request the callback applies.

Timing rule (documented for the UI and the tests):
- A swap lands on a bar line: the crossfade STARTS at the bar line's sample X and lasts
  `crossfade` samples (default 5 ms). Before X the old buffer plays untouched; samples
  [X, X + n) are old * cos + new * sin (equal power); from X + n on the new buffer plays.
- The bar line is the first one at least `crossfade + one callback block` after the playhead.
  So a swap requested within the crossfade window of a bar line (or so close to it that the
  audio callback might already be past it when it picks the request up) goes to the next one.
- While looping, a bar line the loop never reaches is replaced by the loop start: the swap
  lands when playback wraps. If the audio thread still finds the bar line behind it (the UI
  thread stalled), it moves the swap to the next bar line in `bar_lines`.

Everything here runs on the UI thread: the request carries the whole new buffer, the fade
curves and the scratch memory the callback mixes into, so the callback allocates nothing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from melodex_studio.audio.fades import equal_power_fades
from melodex_studio.music.tempo import TempoGrid


@dataclass(frozen=True, eq=False)
class SwapRequest:
    """A prepared switch to `buffer` at sample `switch_sample` (or as soon as the audio thread
    sees it, if `immediate`). Immutable once handed to the engine."""

    buffer: np.ndarray
    switch_sample: int
    fade_out: np.ndarray
    fade_in: np.ndarray
    scratch: np.ndarray
    bar_lines: tuple[int, ...]
    immediate: bool = False

    @property
    def crossfade_samples(self) -> int:
        return len(self.fade_in)


def build_swap_request(
    buffer: np.ndarray,
    switch_sample: int,
    crossfade_samples: int,
    bar_lines: tuple[int, ...] = (),
    immediate: bool = False,
) -> SwapRequest:
    """Everything the callback needs, allocated here: fades, scratch, a read-only buffer."""
    if crossfade_samples < 1:
        raise ValueError(f"a swap crossfade needs at least one sample, not {crossfade_samples}")
    data = np.asarray(buffer, dtype=np.float32)
    if data.ndim != 1:
        raise ValueError(f"playback buffers are mono (1-D), got shape {data.shape}")
    if data.flags.writeable:
        data = data.view()
        data.flags.writeable = False
    fade_out, fade_in = equal_power_fades(crossfade_samples)
    scratch = np.zeros((2, crossfade_samples), dtype=np.float32)
    return SwapRequest(data, int(switch_sample), fade_out, fade_in, scratch, bar_lines, immediate)


def bar_line_samples(grid: TempoGrid, length_samples: int) -> tuple[int, ...]:
    """Every bar line from bar 0 up to and including the first one at or after `length_samples`."""
    lines = [0]
    bar = 0
    while lines[-1] < length_samples:
        bar += 1
        lines.append(grid.bar_to_sample(bar))
    return tuple(lines)


def next_swap_sample(grid: TempoGrid, position: int, guard_samples: int) -> int:
    """The first bar line at least `guard_samples` after `position` (samples at the grid's rate)."""
    earliest = position + guard_samples
    bar = max(0, math.ceil(grid.sample_to_bar(earliest)) - 1)
    sample = grid.bar_to_sample(bar)
    while sample < earliest:
        bar += 1
        sample = grid.bar_to_sample(bar)
    return sample


def landing_sample(
    grid: TempoGrid,
    position: int,
    guard_samples: int,
    loop: tuple[int, int] | None,
) -> int:
    """Where a swap requested at `position` will land, taking a running loop into account."""
    sample = next_swap_sample(grid, position, guard_samples)
    if loop is not None:
        loop_start, loop_end = loop
        if loop_start <= position < loop_end and not loop_start <= sample < loop_end:
            return loop_start
    return sample
