"""The timeline scene: one SectionItem per section, the ruler and the playhead, kept in step
with the document through DocumentSignals (orange-canvas-core's scene reacts to its model the
same way). Gestures may show a *preview* (where sections would be after a drag) without
touching the document; the document changes once, when the gesture ends.
"""

from __future__ import annotations

import itertools

from PySide6.QtCore import QPointF, QRectF, Signal
from PySide6.QtWidgets import QGraphicsScene

from melodex_studio.music.tempo import TempoGrid
from melodex_studio.project.project_model import Project
from melodex_studio.ui.context import StudioContext
from melodex_studio.ui.selection import BarRange
from melodex_studio.ui.timeline.geometry import TimelineGeometry
from melodex_studio.ui.timeline.playhead import PlayheadItem
from melodex_studio.ui.timeline.ruler import RulerItem
from melodex_studio.ui.timeline.section_item import SectionItem
from melodex_studio.ui.timeline.waveform import WaveformService

#: Empty bars shown after the song's end, so there is room to drag and add.
TRAILING_BARS = 24
MIN_VISIBLE_BARS = 64


class TimelineScene(QGraphicsScene):
    sig_layout_changed = Signal()

    def __init__(
        self,
        context: StudioContext,
        waveforms: WaveformService,
        geometry: TimelineGeometry | None = None,
    ) -> None:
        super().__init__()
        self.context = context
        self.waveforms = waveforms
        self.geometry = geometry or TimelineGeometry()
        self.items_by_id: dict[str, SectionItem] = {}
        self.ruler = RulerItem(self.geometry)
        self.playhead = PlayheadItem(self.geometry)
        self.addItem(self.ruler)
        self.addItem(self.playhead)
        self._visible_bars = MIN_VISIBLE_BARS
        self._previewing = False
        signals = context.signals
        signals.sig_project_changed.connect(self.sync)
        context.selection.sig_selection_changed.connect(self._sync_flags)
        context.selection.sig_current_changed.connect(self._sync_flags)
        context.selection.sig_bar_range_changed.connect(self._sync_bar_range)
        waveforms.sig_peaks_ready.connect(self._on_peaks_ready)
        self.sync()

    # -- model -> items -------------------------------------------------------------------------

    @property
    def project(self) -> Project:
        return self.context.document.project

    def sync(self) -> None:
        """Make the items match the project: add, remove and update by section id."""
        project = self.project
        grid = project.grid()
        alive = set()
        for section in project.sections:
            alive.add(section.id)
            seconds_per_bar = grid.seconds_per_bar_at(section.start_bar)  # its own tempo
            item = self.items_by_id.get(section.id)
            if item is None:
                item = SectionItem(section, self.geometry)
                item.seconds_per_bar = seconds_per_bar
                self.items_by_id[section.id] = item
                self.addItem(item)
            else:
                item.set_section(section, seconds_per_bar)
            item.set_key(project.section_key(section))
            item.set_timing(project.section_bpm(section), str(project.section_meter(section)))
            item.set_peaks(self.waveforms.peaks_for(section.active_take))
            item.set_invalid(False)
        for section_id in list(self.items_by_id):
            if section_id not in alive:
                self.removeItem(self.items_by_id.pop(section_id))
        self._previewing = False
        self._sync_flags()
        self._sync_bar_range()
        self._update_extent()

    def _sync_flags(self, *_args: object) -> None:
        selection = self.context.selection
        selected = set(selection.selected_ids)
        for section_id, item in self.items_by_id.items():
            item.set_flags(selected=section_id in selected,
                           current=section_id == selection.current_id)

    def _sync_bar_range(self, *_args: object) -> None:
        bar_range = self.context.selection.bar_range
        for section_id, item in self.items_by_id.items():
            if bar_range is not None and bar_range.section_id == section_id:
                item.set_bar_range((bar_range.start, bar_range.end))
            else:
                item.set_bar_range(None)

    def _on_peaks_ready(self, sha: str) -> None:
        for item in self.items_by_id.values():
            take = item.section.active_take
            if take is not None and take.audio == sha:
                item.set_peaks(self.waveforms.peaks_for(take))

    # -- layout ---------------------------------------------------------------------------------

    def total_bars(self) -> int:
        return max(self.project.length_bars + TRAILING_BARS, self._visible_bars)

    def set_visible_bars(self, bars: int) -> None:
        """The view reports how many bars fit, so the scene always fills it."""
        if bars != self._visible_bars:
            self._visible_bars = bars
            self._update_extent()

    def relayout(self) -> None:
        """After a zoom or a lane height change."""
        for item in self.items_by_id.values():
            item.relayout()
        self.playhead.relayout()
        self._update_extent()
        self.update()

    def _update_extent(self) -> None:
        geometry = self.geometry
        total = self.total_bars()
        grid = self.project.grid()
        changes = [0, *(bar for bar, *_ in grid.changes), total + 1]
        beats: list[int] = []
        for start, end in itertools.pairwise(changes):  # one count a bar, each bar's meter
            beats += [max(1, len(grid.meter_at(start).beat_starts_16ths()))] * (end - start)
        self.ruler.set_extent(total, self.project.length_bars, tuple(beats), timing_marks(grid))
        height = geometry.lane_bottom + 12
        self.playhead.set_height(height)
        self.setSceneRect(QRectF(0, 0, geometry.bar_to_x(total) + 40, height))
        self.sig_layout_changed.emit()

    # -- hit testing ----------------------------------------------------------------------------

    def section_item_at(self, pos: QPointF) -> SectionItem | None:
        geometry = self.geometry
        if not geometry.lane_top <= pos.y() <= geometry.lane_bottom:
            return None
        bar = geometry.x_to_bar(pos.x())
        for item in self.items_by_id.values():
            start, length = item.span
            if start <= bar < start + length:
                return item
        return None

    def in_ruler(self, pos: QPointF) -> bool:
        return 0 <= pos.y() < self.geometry.ruler_height

    # -- previews for gestures ------------------------------------------------------------------

    def show_preview(self, spans: dict[str, tuple[int, int]], invalid: set[str]) -> None:
        """Place items at `spans` (section id -> (start bar, length)) without editing."""
        self._previewing = True
        for section_id, item in self.items_by_id.items():
            section = item.section
            item.set_span(*spans.get(section_id, (section.start_bar, section.length_bars)))
            item.set_invalid(section_id in invalid)

    def show_preview_project(self, preview: Project, invalid: set[str] = frozenset()) -> None:
        self.show_preview(
            {section.id: (section.start_bar, section.length_bars) for section in preview.sections},
            set(invalid),
        )

    def clear_preview(self) -> None:
        if not self._previewing:
            return
        self._previewing = False
        for item in self.items_by_id.values():
            item.set_span(item.section.start_bar, item.section.length_bars)
            item.set_invalid(False)

    # -- bar ranges -----------------------------------------------------------------------------

    def bar_range_for(self, item: SectionItem, bar_a: int, bar_b: int) -> BarRange:
        """Bars between two bar indices of the song, clipped to the section, as a range
        relative to the section's start."""
        section = item.section
        low = min(bar_a, bar_b) - section.start_bar
        high = max(bar_a, bar_b) - section.start_bar + 1
        low = max(0, min(low, section.length_bars - 1))
        high = max(low + 1, min(high, section.length_bars))
        return BarRange(section.id, low, high)


def timing_marks(grid: TempoGrid) -> tuple[tuple[int, str], ...]:
    """(bar, text) where the tempo or the meter changes: "♩140", "3/4" or both."""
    marks = []
    tempo, meter = grid.bpm, grid.meter
    for bar, new_tempo, new_meter in grid.changes:
        parts = [f"\u2669{new_tempo:g}"] if new_tempo != tempo else []
        parts += [str(new_meter)] if new_meter != meter else []
        marks.append((bar, " ".join(parts)))
        tempo, meter = new_tempo, new_meter
    return tuple(marks)
