"""The playhead: a line over the whole timeline with a marker in the ruler. Its position is
set from the transport's position, polled on a GUI timer (never pushed from the audio thread)."""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPen, QPolygonF
from PySide6.QtWidgets import QGraphicsItem, QStyleOptionGraphicsItem, QWidget

from melodex_studio.ui.theme import current_palette
from melodex_studio.ui.timeline.geometry import TimelineGeometry

HEAD_HALF_WIDTH = 6.0


class PlayheadItem(QGraphicsItem):
    def __init__(self, geometry: TimelineGeometry) -> None:
        super().__init__()
        self.geometry = geometry
        self.bar = 0.0
        self.height = 200.0
        self.setZValue(20)
        self.setAcceptedMouseButtons(Qt.MouseButton.NoButton)
        self.relayout()

    def set_bar(self, bar: float) -> None:
        if bar != self.bar:
            self.bar = bar
            self.setPos(self.geometry.bar_to_x(bar), 0)

    def set_height(self, height: float) -> None:
        if height != self.height:
            self.prepareGeometryChange()
            self.height = height

    def relayout(self) -> None:
        self.setPos(self.geometry.bar_to_x(self.bar), 0)

    def boundingRect(self) -> QRectF:
        return QRectF(-HEAD_HALF_WIDTH - 1, 0, 2 * HEAD_HALF_WIDTH + 2, self.height)

    def paint(
        self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None
    ) -> None:
        colour = QColor(current_palette().playhead)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        painter.setPen(QPen(colour, 1.5))
        painter.drawLine(QPointF(0, self.geometry.ruler_height - 6), QPointF(0, self.height))
        top = self.geometry.ruler_height - 12
        head = QPolygonF([QPointF(-HEAD_HALF_WIDTH, top), QPointF(HEAD_HALF_WIDTH, top),
                          QPointF(0, top + 9)])
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(colour)
        painter.drawPolygon(head)
