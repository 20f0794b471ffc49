"""A scheduled note and the metric accent shared by every part's velocities."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class NoteEvent:
    """A note from sample `start` to sample `end` (exclusive) on a MIDI key."""

    start: int
    end: int
    key: int
    velocity: float  # 0..1


def metric_accent(step: int, beat_starts: tuple[int, ...]) -> float:
    """1.0 on the downbeat, a little less on other beats, less on 8ths, least on 16ths."""
    if step == 0:
        return 1.0
    if step in beat_starts:
        return 0.9
    return 0.78 if step % 2 == 0 else 0.68
