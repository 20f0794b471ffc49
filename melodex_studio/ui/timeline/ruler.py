"""The bar ruler across the top of the timeline: bar numbers, beat ticks, the loop range and
the end of the song. Clicking it moves the playhead; dragging it sets the loop range (see
interactions.RulerGesture)."""

from __future__ import annotations

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QFont, QPainter, QPen
from PySide6.QtWidgets import QGraphicsObject, QStyleOptionGraphicsItem, QWidget

from melodex_studio.ui.theme import current_palette
from melodex_studio.ui.timeline.geometry import TimelineGeometry


class RulerItem(QGraphicsObject):
    def __init__(self, geometry: TimelineGeometry) -> None:
        super().__init__()
        self.geometry = geometry
        self.total_bars = 32
        self.song_bars = 0
        self.beats: tuple[int, ...] = (4,)  # counted beats of each bar (the last repeats)
        self.timing_marks: tuple[tuple[int, str], ...] = ()  # (bar, "♩140 3/4") at changes
        self.loop: tuple[int, int] | None = None
        self.loop_enabled = False
        self.setZValue(5)

    def set_extent(self, total_bars: int, song_bars: int, beats: tuple[int, ...],
                   timing_marks: tuple[tuple[int, str], ...] = ()) -> None:
        """The scene calls this after every edit; most edits (a take arriving, a prompt typed)
        leave the ruler as it is, and repainting the full-width ruler for them is wasted.
        `beats` counts the beats of each bar from bar 0 (a section in its own meter has its
        own); bars past its end have its last count. `timing_marks` name the tempo and meter
        where they change, as a DAW's tempo track does."""
        geometry = self.geometry
        extent = (total_bars, song_bars, beats, timing_marks, geometry.pixels_per_bar,
                  geometry.ruler_height)
        if extent == self._extent:
            return
        self._extent = extent
        self.prepareGeometryChange()
        self.total_bars, self.song_bars, self.beats = total_bars, song_bars, beats
        self.timing_marks = timing_marks
        self.update()

    _extent: tuple | None = None

    def set_loop(self, loop: tuple[int, int] | None, enabled: bool) -> None:
        if (loop, enabled) != (self.loop, self.loop_enabled):
            self.loop, self.loop_enabled = loop, enabled
            self.update()

    def boundingRect(self) -> QRectF:
        width = self.geometry.bar_to_x(self.total_bars) + 40
        return QRectF(0, 0, width, self.geometry.ruler_height)

    def paint(
        self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None
    ) -> None:
        palette = current_palette()
        geometry = self.geometry
        height = geometry.ruler_height
        exposed = option.exposedRect
        painter.fillRect(exposed, QColor(palette.bg2))
        painter.setPen(QPen(QColor(palette.bg0), 1))
        painter.drawLine(exposed.left(), height - 0.5, exposed.right(), height - 0.5)

        if self.loop is not None:
            start, end = self.loop
            band = QRectF(geometry.bar_to_x(start), height - 9,
                          geometry.bar_to_x(end) - geometry.bar_to_x(start), 8)
            colour = QColor(palette.loop)
            colour.setAlpha(230 if self.loop_enabled else 90)
            painter.fillRect(band, colour)

        first = max(0, int(geometry.x_to_bar(exposed.left())) - 1)
        last = min(self.total_bars, int(geometry.x_to_bar(exposed.right())) + 2)
        step = geometry.label_step_bars()
        ppb = geometry.pixels_per_bar
        font = QFont(painter.font())
        font.setPointSizeF(8)
        painter.setFont(font)
        beat_pen = QPen(QColor(palette.text_dim), 1)
        for bar in range(first, last + 1):
            x = round(geometry.bar_to_x(bar)) + 0.5
            past_end = bar > self.song_bars
            tick = QColor(palette.text_dim if past_end else palette.text)
            if bar % step == 0:
                painter.setPen(QPen(tick, 1))
                painter.drawLine(x, height * 0.35, x, height)
                painter.drawText(QRectF(x + 3, 1, 48, height * 0.5),
                                 Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                                 str(bar + 1))
            elif ppb >= 8:
                painter.setPen(beat_pen)
                painter.drawLine(x, height * 0.7, x, height)
            if ppb >= 48 and bar < last:
                painter.setPen(beat_pen)
                beats = self.beats[min(bar, len(self.beats) - 1)]
                for beat in range(1, beats):
                    bx = round(x + beat * ppb / beats)
                    painter.drawLine(bx, height * 0.82, bx, height)

        self._paint_timing_marks(painter, first, last)

        if self.song_bars > 0:
            end_x = geometry.bar_to_x(self.song_bars)
            painter.setPen(QPen(QColor(palette.accent), 2))
            painter.drawLine(end_x, 2, end_x, height)

    def _paint_timing_marks(self, painter: QPainter, first: int, last: int) -> None:
        """The new tempo and meter at each change, in the accent colour, as a tag in the
        ruler's lower half (the bar numbers keep the upper half)."""
        if not self.timing_marks:
            return
        geometry = self.geometry
        height = geometry.ruler_height
        palette = current_palette()
        metrics = painter.fontMetrics()
        for bar, text in self.timing_marks:
            if not first <= bar <= last:
                continue
            x = round(geometry.bar_to_x(bar)) + 0.5
            tag = QRectF(x + 1, height * 0.5, metrics.horizontalAdvance(text) + 6,
                         height * 0.5 - 1)
            painter.fillRect(tag, QColor(palette.bg2))
            painter.setPen(QPen(QColor(palette.accent), 1))
            painter.drawLine(x, 1, x, height)
            painter.drawText(tag.adjusted(3, 0, 0, 0),
                             Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, text)
