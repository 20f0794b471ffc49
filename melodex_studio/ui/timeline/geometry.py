"""Where bars are on screen: the one mapping between bar positions and timeline pixels.

Seconds never appear here: bars are the timeline's unit, and the tempo grid (music/tempo.py)
converts them to seconds when the transport asks. Zoom changes `pixels_per_bar` and the items
lay themselves out again, so text and waveforms stay crisp at every zoom level.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

MIN_PIXELS_PER_BAR = 6.0
MAX_PIXELS_PER_BAR = 480.0
DEFAULT_PIXELS_PER_BAR = 40.0
ZOOM_STEP = 1.25


@dataclass
class TimelineGeometry:
    pixels_per_bar: float = DEFAULT_PIXELS_PER_BAR
    left_margin: float = 16.0
    ruler_height: float = 30.0
    lane_gap: float = 10.0
    lane_height: float = 150.0
    header_height: float = 20.0

    @property
    def lane_top(self) -> float:
        return self.ruler_height + self.lane_gap

    @property
    def lane_bottom(self) -> float:
        return self.lane_top + self.lane_height

    def bar_to_x(self, bar: float) -> float:
        return self.left_margin + bar * self.pixels_per_bar

    def x_to_bar(self, x: float) -> float:
        return (x - self.left_margin) / self.pixels_per_bar

    def snap_bar(self, x: float) -> int:
        """The bar line nearest to `x` (never before bar 0)."""
        return max(0, round(self.x_to_bar(x)))

    def bar_at(self, x: float) -> int:
        """The bar that contains `x` (the one whose body the pointer is over)."""
        return max(0, math.floor(self.x_to_bar(x)))

    def clamp_zoom(self, pixels_per_bar: float) -> float:
        return min(MAX_PIXELS_PER_BAR, max(MIN_PIXELS_PER_BAR, pixels_per_bar))

    def label_step_bars(self, min_pixels: float = 36.0) -> int:
        """Bars between two numbered ruler ticks: 1, 2, 4, 8, ... so labels never collide."""
        step = 1
        while step * self.pixels_per_bar < min_pixels and step < 1024:
            step *= 2
        return step
