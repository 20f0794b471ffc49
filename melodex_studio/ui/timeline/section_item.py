"""One section on the timeline: a coloured block with its name, length, take count, the active
take's waveform, chord labels, render progress and the bar range chosen for a repaint.

Empty sections (no take yet) are hatched and outlined so "what still needs rendering" reads
at a glance; rendered ones are filled and show their waveform.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QFontMetricsF, QImage, QPainter, QPen
from PySide6.QtWidgets import QGraphicsItem, QGraphicsObject, QStyleOptionGraphicsItem, QWidget

from melodex_studio.music.key import Key
from melodex_studio.music.tempo import tempo_factor
from melodex_studio.project.section import Section
from melodex_studio.ui.theme import current_palette, section_colour
from melodex_studio.ui.timeline.geometry import TimelineGeometry
from melodex_studio.ui.timeline.render_overlay import (
    PreviewImage,
    paint_progress,
    preview_band,
    progress_rect,
)
from melodex_studio.ui.timeline.waveform import PEAKS_PER_SECOND, waveform_image

EDGE_GRAB_PX = 6.0
#: The lower part of a block where a drag selects bars instead of moving the section.
RANGE_ZONE_FRACTION = 0.34


class SectionItem(QGraphicsObject):
    """Positioned by the scene from the section's bars; paints itself from the section value."""

    def __init__(self, section: Section, geometry: TimelineGeometry) -> None:
        super().__init__()
        self.section = section
        self.geometry = geometry
        self.seconds_per_bar = 2.0
        self.key: Key | None = None  # the section's key: chord labels are spelled in it
        self.peaks: np.ndarray | None = None
        self.render_progress: float | None = None
        self.preview_peaks: np.ndarray | None = None  # rough decode while rendering
        self.preview_rate = 24000
        self.render_text = ""
        self.bar_range: tuple[int, int] | None = None
        self.selected = False
        self.current = False
        self.invalid = False
        self._span = (section.start_bar, section.length_bars)
        self._wave_cache: tuple[tuple, QImage] | None = None
        self._preview_image = PreviewImage()
        self.setAcceptHoverEvents(False)
        # paint() gets the exposed rect, so a repaint of a strip skips what lies outside it.
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemUsesExtendedStyleOption, True)
        self.setZValue(1)
        self.relayout()

    # -- state from the scene -----------------------------------------------------------------

    @property
    def section_id(self) -> str:
        return self.section.id

    def set_section(self, section: Section, seconds_per_bar: float) -> None:
        if section is self.section and seconds_per_bar == self.seconds_per_bar:
            return
        self.section = section
        self.seconds_per_bar = seconds_per_bar
        self._wave_cache = None
        self.set_span(section.start_bar, section.length_bars)
        self.update()

    def set_key(self, key: Key) -> None:
        if key != self.key:
            self.key = key
            self.update()

    def set_timing(self, bpm: float, meter: str) -> None:
        """The tempo and meter the section plays at now (its active take may predate them)."""
        if (bpm, meter) != self.timing:
            self.timing = (bpm, meter)
            self.update()

    timing: tuple[float, str] | None = None

    def set_span(self, start_bar: int, length_bars: int) -> None:
        """Where the block sits (the section's own bars, or a gesture's preview)."""
        if (start_bar, length_bars) != self._span:
            self._span = (start_bar, length_bars)
            self.relayout()

    @property
    def span(self) -> tuple[int, int]:
        return self._span

    def set_peaks(self, peaks: np.ndarray | None) -> None:
        if peaks is not self.peaks:
            self.peaks = peaks
            self._wave_cache = None
            self.update()

    def set_flags(self, *, selected: bool, current: bool) -> None:
        if (selected, current) != (self.selected, self.current):
            self.selected, self.current = selected, current
            self.setZValue(3 if selected else 1)
            self.update()

    def set_invalid(self, invalid: bool) -> None:
        if invalid != self.invalid:
            self.invalid = invalid
            self.update()

    def set_render_progress(self, fraction: float | None, text: str = "") -> None:
        """A tick repaints the progress strip only; starting or ending a render repaints the
        block (its "empty" hint comes and goes)."""
        if (fraction, text) == (self.render_progress, self.render_text):
            return
        started_or_ended = (fraction is None) != (self.render_progress is None)
        self.render_progress = fraction
        self.render_text = text
        if started_or_ended:
            self.update()
        else:
            self.update(progress_rect(self.body_rect()))

    def set_preview(self, peaks: np.ndarray | None, sample_rate: int = 24000) -> None:
        """Peaks of the render in progress (None when it ends); repaints the preview's band."""
        if peaks is None and self.preview_peaks is None:
            return
        self.preview_peaks, self.preview_rate = peaks, sample_rate
        self._preview_image.clear()
        self.update(preview_band(self.body_rect()))

    def set_bar_range(self, bar_range: tuple[int, int] | None) -> None:
        if bar_range != self.bar_range:
            self.bar_range = bar_range
            self.update()

    def relayout(self) -> None:
        self.prepareGeometryChange()
        self._wave_cache = None
        self.setPos(self.geometry.bar_to_x(self._span[0]), self.geometry.lane_top)

    # -- geometry -----------------------------------------------------------------------------

    def width(self) -> float:
        return self._span[1] * self.geometry.pixels_per_bar

    def boundingRect(self) -> QRectF:
        return QRectF(-1, -1, self.width() + 2, self.geometry.lane_height + 2)

    def body_rect(self) -> QRectF:
        """The block below its header strip, in item coordinates (as paint() lays it out)."""
        header = self.geometry.header_height
        return QRectF(0.5, 0.5 + header, self.width() - 1, self.geometry.lane_height - 1 - header)

    def zone_at(self, local_x: float, local_y: float) -> str:
        """What a press at this point of the block does: "left", "right" (resize), "range"
        (select bars) or "move"."""
        grab = min(EDGE_GRAB_PX, self.width() / 4)
        if local_x <= grab:
            return "left"
        if local_x >= self.width() - grab:
            return "right"
        if local_y >= self.geometry.lane_height * (1 - RANGE_ZONE_FRACTION):
            return "range"
        return "move"

    # -- painting -----------------------------------------------------------------------------

    def paint(
        self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None
    ) -> None:
        palette = current_palette()
        geometry = self.geometry
        section = self.section
        width, height = self.width(), geometry.lane_height
        rect = QRectF(0.5, 0.5, width - 1, height - 1)
        # Only the exposed part needs drawing: a progress tick exposes a thin strip.
        exposed = option.exposedRect if option is not None else QRectF()
        if exposed.isEmpty():
            exposed = self.boundingRect()
        colour = section_colour(section.kind)
        if section.muted:
            colour = QColor(colour.value(), colour.value(), colour.value()).darker(130)
        rendered = section.active_take is not None
        header = QRectF(rect.left(), rect.top(), rect.width(), geometry.header_height)
        body = QRectF(rect.left(), header.bottom(), rect.width(), rect.height() - header.height())
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)

        # Body: filled for rendered sections, hatched for empty ones.
        painter.setPen(Qt.PenStyle.NoPen)
        if rendered:
            # One opaque fill: the tint composited over the lane colour here, rather than two
            # stacked antialiased fills (half the rasterising, the same colour).
            painter.setBrush(_over(colour, 70, QColor(palette.bg1)))
            painter.drawRoundedRect(rect, 4, 4)
        else:
            painter.setBrush(QColor(palette.bg1))
            painter.drawRoundedRect(rect, 4, 4)
            hatch = QColor(colour)
            hatch.setAlpha(90)
            painter.setBrush(QBrush(hatch, Qt.BrushStyle.BDiagPattern))
            painter.drawRoundedRect(body, 3, 3)

        # Bar lines inside the block, so bar counting works inside a long section.
        ppb = geometry.pixels_per_bar
        if ppb >= 10:
            painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
            line = QColor(palette.text)
            line.setAlpha(22)
            painter.setPen(QPen(line, 1))
            first = max(1, int(exposed.left() // ppb))
            last = min(self._span[1] - 1, int(exposed.right() // ppb) + 1)
            for bar in range(first, last + 1):
                x = round(bar * ppb)
                painter.drawLine(x, int(body.top()), x, int(body.bottom()))
            painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)

        self._paint_waveform(painter, body, colour)
        if self.render_progress is not None and self.preview_peaks is not None:
            self._preview_image.paint(painter, body, palette, self.preview_peaks,
                                      self.preview_rate, self.seconds_per_bar, ppb, width)
        if exposed.top() <= body.top() + 18:  # chord labels sit at the top of the body
            self._paint_chords(painter, body, palette, exposed)
        self._paint_bar_range(painter, body, palette)

        if exposed.intersects(header):
            # Header strip with name, length and take badge.
            head_colour = QColor(colour)
            head_colour.setAlpha(235 if rendered else 120)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(head_colour)
            painter.drawRoundedRect(header, 4, 4)
            # Square off the header's lower corners so it sits flush on the body.
            painter.drawRect(QRectF(header.left(), header.center().y(), header.width(),
                                    header.height() / 2))
            self._paint_header_text(painter, header, palette, rendered)

        if not rendered and width > 120 and self.render_progress is None:
            painter.setPen(QColor(palette.text_dim))
            font = QFont(painter.font())
            font.setPointSizeF(8.5)
            painter.setFont(font)
            painter.drawText(body.adjusted(8, 4, -8, -4),
                             Qt.AlignmentFlag.AlignCenter, "empty · right-click › Generate")

        if self.render_progress is not None:
            paint_progress(painter, body, palette, self.render_progress, self.render_text)

        # Outline: dashed for empty, solid for rendered; white when selected, red when a
        # gesture would put it somewhere it cannot go.
        if self.invalid:
            pen = QPen(QColor(palette.error), 2)
        elif self.selected:
            pen = QPen(QColor(palette.text_bright), 2 if self.current else 1.5)
        else:
            outline = QColor(colour)
            outline.setAlpha(230 if rendered else 200)
            pen = QPen(outline, 1.2)
            if not rendered:
                pen.setStyle(Qt.PenStyle.DashLine)
        painter.setPen(pen)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawRoundedRect(rect, 4, 4)

    def _paint_header_text(
        self, painter: QPainter, header: QRectF, palette, rendered: bool
    ) -> None:
        section = self.section
        text_rect = header.adjusted(6, 0, -6, 0)
        badge_width = 0.0
        if section.takes:
            count = str(len(section.takes))
            font = QFont(painter.font())
            font.setPointSizeF(7.5)
            font.setBold(True)
            painter.setFont(font)
            metrics = QFontMetricsF(font)
            badge_width = max(16.0, metrics.horizontalAdvance(count) + 10)
            if text_rect.width() > badge_width + 10:
                badge = QRectF(text_rect.right() - badge_width, header.top() + 3,
                               badge_width, header.height() - 6)
                painter.setPen(Qt.PenStyle.NoPen)
                painter.setBrush(QColor(0, 0, 0, 120))
                painter.drawRoundedRect(badge, badge.height() / 2, badge.height() / 2)
                painter.setPen(QColor("#ffffff"))
                painter.drawText(badge, Qt.AlignmentFlag.AlignCenter, count)
                text_rect.setRight(badge.left() - 4)
        font = QFont(painter.font())
        font.setPointSizeF(9)
        font.setBold(True)
        painter.setFont(font)
        painter.setPen(QColor("#ffffff") if rendered else QColor(palette.text))
        metrics = QFontMetricsF(font)
        name = metrics.elidedText(section.name, Qt.TextElideMode.ElideRight, text_rect.width())
        left_middle = Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft
        painter.drawText(text_rect, left_middle, name)
        used = metrics.horizontalAdvance(name) + 8
        bars = header_detail(section, self.timing)
        small = QFont(font)
        small.setBold(False)
        small.setPointSizeF(8)
        if used + QFontMetricsF(small).horizontalAdvance(bars) < text_rect.width():
            painter.setFont(small)
            dim = QColor("#ffffff")
            dim.setAlpha(170)
            painter.setPen(dim)
            painter.drawText(text_rect.adjusted(used, 0, 0, 0),
                             Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft, bars)

    def _paint_waveform(self, painter: QPainter, body: QRectF, colour: QColor) -> None:
        take = self.section.active_take
        if take is None or self.peaks is None or len(self.peaks) == 0:
            return
        ppb = self.geometry.pixels_per_bar
        x0 = take.region_start_bar * ppb
        seconds = len(self.peaks) / _peaks_rate(self.peaks, take)
        if self.timing is not None:  # a take at another tempo plays stretched to the section's
            seconds /= tempo_factor(take.bpm, take.meter, *self.timing)
        width = seconds / self.seconds_per_bar * ppb
        width = min(width, self.width() - x0)
        if width <= 1:
            return
        height = body.height() * 0.88
        top = body.top() + (body.height() - height) / 2
        ratio = painter.device().devicePixelRatioF() if painter.device() else 1.0
        light_theme = QColor(current_palette().bg0).lightness() > 128
        wave = QColor(colour).darker(135) if light_theme else QColor(colour).lighter(160)
        wave.setAlpha(215)
        key = (id(self.peaks), round(width * ratio), round(height * ratio), wave.rgba())
        if self._wave_cache is None or self._wave_cache[0] != key:
            image = waveform_image(self.peaks, round(width * ratio), round(height * ratio), wave)
            image.setDevicePixelRatio(ratio)
            self._wave_cache = (key, image)
        painter.drawImage(QPointF(x0, top), self._wave_cache[1])

    def _paint_chords(self, painter: QPainter, body: QRectF, palette, exposed: QRectF) -> None:
        plan = self.section.plan
        ppb = self.geometry.pixels_per_bar
        if plan is None or ppb < 26:
            return
        font = QFont(painter.font())
        font.setPointSizeF(7.5)
        painter.setFont(font)
        metrics = QFontMetricsF(font)
        text = QColor(palette.text_bright)
        text.setAlpha(200)
        painter.setPen(text)
        previous = None
        for index, bar in enumerate(plan.bars[: self._span[1]]):
            if bar.chord is None or bar.chord == previous:
                previous = bar.chord
                continue
            previous = bar.chord
            x = index * ppb + 3
            if x > exposed.right() or x + ppb < exposed.left():
                continue
            name = bar.chord if self.key is None else bar.chord_in(self.key)
            label = metrics.elidedText(name, Qt.TextElideMode.ElideRight, ppb - 4)
            painter.drawText(QRectF(x, body.top() + 2, ppb - 4, 14),
                             Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop, label)

    def _paint_bar_range(self, painter: QPainter, body: QRectF, palette) -> None:
        if self.bar_range is None:
            return
        start, end = self.bar_range
        ppb = self.geometry.pixels_per_bar
        area = QRectF(start * ppb, body.top(), (end - start) * ppb, body.height())
        fill = QColor(palette.text_bright)
        fill.setAlpha(45)
        painter.setPen(QPen(QColor(palette.accent), 1.5))
        painter.setBrush(fill)
        painter.drawRect(area.adjusted(1, 1, -1, -1))
        font = QFont(painter.font())
        font.setPointSizeF(8)
        font.setBold(True)
        painter.setFont(font)
        painter.setPen(QColor(palette.accent))
        label = f"bar {start + 1}" if end - start == 1 else f"bars {start + 1}-{end}"
        # The label may be wider than a few zoomed-out bars: let it run past the range.
        text_width = QFontMetricsF(font).horizontalAdvance(label) + 8
        label_rect = QRectF(area.left() + 4, area.top(), max(area.width(), text_width),
                            area.height() - 4)
        painter.drawText(label_rect, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignBottom,
                         label)

def _over(colour: QColor, alpha: int, base: QColor) -> QColor:
    """`colour` at `alpha` (0-255) composited over the opaque `base`."""
    a = alpha / 255.0
    return QColor(round(colour.red() * a + base.red() * (1 - a)),
                  round(colour.green() * a + base.green() * (1 - a)),
                  round(colour.blue() * a + base.blue() * (1 - a)))


def _peaks_rate(peaks: np.ndarray, take) -> float:
    """Peak pairs per second for a take's audio (buckets are whole samples)."""
    bucket = max(1, round(take.audio_sample_rate / PEAKS_PER_SECOND))
    return take.audio_sample_rate / bucket


def header_detail(section: Section, timing: tuple[float, str] | None = None) -> str:
    """The small text after a section's name: its length, its own tempo, meter and key when it
    has them, and its level when it is not the plain one (so a tempo, meter or key change, a
    quiet or a muted section is seen without opening it). With the section's `timing` (bpm,
    meter), an active take rendered at another tempo or meter says so: it no longer fits its
    bars until the section is rendered again."""
    parts = [f"{section.length_bars} bars" if section.length_bars != 1 else "1 bar"]
    if section.bpm is not None:
        parts.append(f"{section.bpm:g} BPM")
    if section.meter is not None:
        parts.append(section.meter)
    if section.key is not None:
        parts.append(section.key)
    take = section.active_take
    if timing is not None and take is not None:
        if take.bpm is not None and take.bpm != timing[0]:
            # In its own meter it plays time-stretched to the section's tempo (`audio.stretch`).
            fits = take.meter is None or take.meter == timing[1]
            parts.append(f"take at {take.bpm:g} BPM" + (", stretched" if fits else ""))
        if take.meter is not None and take.meter != timing[1]:
            parts.append(f"take in {take.meter}")
    if section.muted:
        parts.append("muted")
    elif section.gain_db != 0.0:
        parts.append(f"{section.gain_db:+.1f} dB".replace("-", "\u2212"))
    return " · ".join(parts)
