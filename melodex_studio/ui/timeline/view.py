"""The timeline view: zoom and scroll, bar grid, and mouse presses routed to gesture objects.

Wheel scrolls along the song; Ctrl+wheel zooms around the pointer; the lane grows with the
window so waveforms get the room there is.
"""

from __future__ import annotations

from PySide6.QtCore import QPoint, QPointF, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import (
    QColor,
    QContextMenuEvent,
    QDragEnterEvent,
    QDragMoveEvent,
    QDropEvent,
    QMouseEvent,
    QPainter,
    QPen,
    QWheelEvent,
)
from PySide6.QtWidgets import QFrame, QGraphicsView, QWidget

from melodex_studio.ui.playback import PlaybackController
from melodex_studio.ui.theme import current_palette
from melodex_studio.ui.timeline.geometry import ZOOM_STEP
from melodex_studio.ui.timeline.interactions import (
    BarRangeGesture,
    Gesture,
    MoveSectionsGesture,
    ResizeSectionGesture,
    RubberBandGesture,
    RulerGesture,
)
from melodex_studio.ui.timeline.scene import TimelineScene

#: Files a musician may drop on a section to import them (what libsndfile reads).
RECORDING_SUFFIXES = (".wav", ".wave", ".flac", ".aif", ".aiff", ".ogg", ".mp3")

MIN_LANE_HEIGHT = 90.0
FOLLOW_MARGIN_FRACTION = 0.1


class TimelineView(QGraphicsView):
    sig_context_menu = Signal(object, int, QPoint)  # section id or None, bar, global position
    sig_status = Signal(str)  # what the current gesture would do
    sig_rename_requested = Signal(str)
    sig_add_section_requested = Signal(int)  # at bar
    sig_zoom_changed = Signal(float)  # pixels per bar
    sig_audio_dropped = Signal(str, str, int)  # section id, recording, bar of the section

    def __init__(
        self, scene: TimelineScene, playback: PlaybackController, parent: QWidget | None = None
    ) -> None:
        super().__init__(scene, parent)
        self.timeline = scene
        self.playback = playback
        self.gesture: Gesture | None = None
        self.setObjectName("timelineView")
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        self.setRenderHints(QPainter.RenderHint.Antialiasing | QPainter.RenderHint.TextAntialiasing)
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.SmartViewportUpdate)
        self.setMouseTracking(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setAccessibleName("Arrangement timeline")
        self.setToolTip("")
        self.setAcceptDrops(True)  # a recording dropped on a section is imported into it
        playback.sig_position_changed.connect(self._on_position)
        scene.context.signals.sig_project_replaced.connect(self._show_new_project)
        playback.sig_loop_changed.connect(self._on_loop)
        scene.setBackgroundBrush(QColor(current_palette().bg0))

    # -- coordinates ----------------------------------------------------------------------------

    @property
    def geometry_(self):
        return self.timeline.geometry

    def scene_pos(self, event: QMouseEvent) -> QPointF:
        return self.mapToScene(event.position().toPoint())

    def visible_bar_range(self) -> tuple[float, float]:
        rect = self.mapToScene(self.viewport().rect()).boundingRect()
        return self.geometry_.x_to_bar(rect.left()), self.geometry_.x_to_bar(rect.right())

    def scroll_to_bar(self, bar: float, fraction: float = 0.0) -> None:
        """Scroll so `bar` sits at `fraction` of the visible width."""
        x = self.geometry_.bar_to_x(bar) - fraction * self.viewport().width()
        self.horizontalScrollBar().setValue(round(x))

    def scroll_home(self) -> None:
        self.horizontalScrollBar().setValue(0)

    def _show_new_project(self) -> None:
        """An opened song is shown whole if it does not fit; after the layout settles."""
        QTimer.singleShot(0, self._fit_if_wider)

    def _fit_if_wider(self) -> None:
        bars = self.timeline.project.length_bars + 2
        usable = self.viewport().width() - 2 * self.geometry_.left_margin
        if bars * self.geometry_.pixels_per_bar > usable:
            self.zoom_to_fit()
        self.scroll_home()

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if not self._shown_once:
            self._shown_once = True
            self.scroll_home()

    _shown_once = False

    # -- zoom -----------------------------------------------------------------------------------

    def set_zoom(self, pixels_per_bar: float, anchor_view_x: float | None = None) -> None:
        geometry = self.geometry_
        new = geometry.clamp_zoom(pixels_per_bar)
        if abs(new - geometry.pixels_per_bar) < 1e-6:
            return
        if anchor_view_x is None:
            anchor_view_x = self.viewport().width() / 2
        anchor_bar = geometry.x_to_bar(self.mapToScene(QPoint(round(anchor_view_x), 0)).x())
        geometry.pixels_per_bar = new
        self._update_visible_bars()
        self.timeline.relayout()
        self.horizontalScrollBar().setValue(round(geometry.bar_to_x(anchor_bar) - anchor_view_x))
        self.sig_zoom_changed.emit(new)

    def zoom_in(self) -> None:
        self.set_zoom(self.geometry_.pixels_per_bar * ZOOM_STEP)

    def zoom_out(self) -> None:
        self.set_zoom(self.geometry_.pixels_per_bar / ZOOM_STEP)

    def zoom_to_fit(self) -> None:
        bars = max(8, self.timeline.project.length_bars + 2)
        usable = self.viewport().width() - 2 * self.geometry_.left_margin
        self.set_zoom(usable / bars, 0)
        self.horizontalScrollBar().setValue(0)

    # -- events ---------------------------------------------------------------------------------

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        geometry = self.geometry_
        height = self.viewport().height() - geometry.lane_top - 14
        geometry.lane_height = max(MIN_LANE_HEIGHT, height)
        self._update_visible_bars()
        self.timeline.relayout()

    def _update_visible_bars(self) -> None:
        self.timeline.set_visible_bars(
            int(self.viewport().width() / self.geometry_.pixels_per_bar) + 2
        )

    def wheelEvent(self, event: QWheelEvent) -> None:
        delta = event.angleDelta()
        if event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            steps = delta.y() / 120.0
            if steps:
                self.set_zoom(self.geometry_.pixels_per_bar * (ZOOM_STEP**steps),
                              event.position().x())
            event.accept()
            return
        amount = delta.x() if delta.x() else delta.y()
        bar = self.horizontalScrollBar()
        bar.setValue(bar.value() - round(amount * 0.8))
        event.accept()

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() != Qt.MouseButton.LeftButton:
            super().mousePressEvent(event)
            return
        self.setFocus(Qt.FocusReason.MouseFocusReason)
        pos = self.scene_pos(event)
        self.gesture = self._gesture_for(pos, event.modifiers())
        if self.gesture is not None and self.gesture.cursor is not None:
            self.viewport().setCursor(self.gesture.cursor)
        event.accept()

    def _gesture_for(self, pos: QPointF, modifiers: Qt.KeyboardModifier) -> Gesture | None:
        scene = self.timeline
        selection = scene.context.selection
        additive = bool(modifiers & (Qt.KeyboardModifier.ControlModifier |
                                     Qt.KeyboardModifier.ShiftModifier))
        if scene.in_ruler(pos):
            return RulerGesture(scene, pos, self.playback)
        item = scene.section_item_at(pos)
        if item is None:
            return RubberBandGesture(scene, pos, additive)
        local = item.mapFromScene(pos)
        zone = item.zone_at(local.x(), local.y())
        if zone in ("left", "right"):
            selection.select_one(item.section_id)
            return ResizeSectionGesture(scene, pos, item, zone)
        if zone == "range" and not additive:
            return BarRangeGesture(scene, pos, item)
        if modifiers & Qt.KeyboardModifier.ControlModifier:
            selection.toggle(item.section_id)
            return None
        if modifiers & Qt.KeyboardModifier.ShiftModifier:
            selection.select((*selection.selected_ids, item.section_id), item.section_id)
        elif item.section_id not in selection.selected_ids:
            selection.select_one(item.section_id)
        else:
            selection.select(selection.selected_ids, item.section_id)
        selection.set_bar_range(None)
        return MoveSectionsGesture(scene, pos, list(selection.selected_ids))

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        pos = self.scene_pos(event)
        if self.gesture is not None:
            self.gesture.move(pos)
            self.sig_status.emit(self.gesture.status_text)
        else:
            self._update_hover_cursor(pos)
        event.accept()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if self.gesture is not None and event.button() == Qt.MouseButton.LeftButton:
            gesture, self.gesture = self.gesture, None
            gesture.release(self.scene_pos(event))
            self.sig_status.emit("")
            self._update_hover_cursor(self.scene_pos(event))
        event.accept()

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        pos = self.scene_pos(event)
        item = self.timeline.section_item_at(pos)
        if item is not None:
            local = item.mapFromScene(pos)
            if local.y() <= self.geometry_.header_height + 4:
                self.sig_rename_requested.emit(item.section_id)
        elif not self.timeline.in_ruler(pos):
            self.sig_add_section_requested.emit(self.geometry_.snap_bar(pos.x()))
        event.accept()

    def keyPressEvent(self, event) -> None:
        if event.key() == Qt.Key.Key_Escape and self.gesture is not None:
            self.gesture.cancel()
            self.gesture = None
            self.viewport().unsetCursor()
            self.sig_status.emit("")
            event.accept()
            return
        if event.key() == Qt.Key.Key_Escape:
            self.timeline.context.selection.set_bar_range(None)
        super().keyPressEvent(event)

    # -- a recording dropped on a section ------------------------------------------------------

    @staticmethod
    def _recording_file(event: QDragEnterEvent | QDropEvent) -> str | None:
        urls = [url for url in event.mimeData().urls() if url.isLocalFile()]
        if len(urls) == 1 and urls[0].toLocalFile().lower().endswith(RECORDING_SUFFIXES):
            return urls[0].toLocalFile()
        return None

    def _dropped_recording(
        self, event: QDragMoveEvent | QDropEvent
    ) -> tuple[str, str, int] | None:
        """(section id, file, bar of the section under the pointer) when `event` carries one
        audio file over a section block: the recording will start at that bar."""
        path = self._recording_file(event)
        if path is None:
            return None
        pos = self.mapToScene(event.position().toPoint())
        item = self.timeline.section_item_at(pos)
        if item is None:
            return None
        section = item.section
        bar = min(max(0, self.geometry_.bar_at(pos.x()) - section.start_bar),
                  section.length_bars - 1)
        return item.section_id, path, bar

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if self._recording_file(event) is not None:
            event.acceptProposedAction()  # where it may land is decided while it moves
        else:
            event.ignore()  # a project file goes on to the window, which opens it

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:
        target = self._dropped_recording(event)
        if target is None:
            event.ignore()
            return
        event.acceptProposedAction()
        name = self.timeline.context.project.section(target[0]).name
        self.sig_status.emit(f"Drop to import the recording into {name}, from its bar "
                             f"{target[2] + 1}")

    def dropEvent(self, event: QDropEvent) -> None:
        target = self._dropped_recording(event)
        if target is None:
            event.ignore()
            return
        event.acceptProposedAction()
        self.sig_audio_dropped.emit(*target)

    def contextMenuEvent(self, event: QContextMenuEvent) -> None:
        pos = self.mapToScene(event.pos())
        item = self.timeline.section_item_at(pos)
        selection = self.timeline.context.selection
        section_id = None
        if item is not None:
            section_id = item.section_id
            if section_id not in selection.selected_ids:
                selection.select_one(section_id)
            else:
                selection.select(selection.selected_ids, section_id)
        self.sig_context_menu.emit(section_id, self.geometry_.snap_bar(pos.x()), event.globalPos())
        event.accept()

    def _update_hover_cursor(self, pos: QPointF) -> None:
        item = self.timeline.section_item_at(pos)
        if item is None:
            self.viewport().unsetCursor()
            return
        local = item.mapFromScene(pos)
        zone = item.zone_at(local.x(), local.y())
        cursors = {
            "left": Qt.CursorShape.SizeHorCursor,
            "right": Qt.CursorShape.SizeHorCursor,
            "range": Qt.CursorShape.IBeamCursor,
            "move": Qt.CursorShape.OpenHandCursor,
        }
        self.viewport().setCursor(cursors[zone])

    # -- playhead and loop ----------------------------------------------------------------------

    def _on_position(self, bar: float) -> None:
        self.timeline.playhead.set_bar(bar)
        if self.playback.playing and self.playback.follow and self.gesture is None:
            low, high = self.visible_bar_range()
            span = high - low
            if bar > high - span * FOLLOW_MARGIN_FRACTION or bar < low:
                self.scroll_to_bar(bar, FOLLOW_MARGIN_FRACTION)

    def _on_loop(self, loop, enabled: bool) -> None:
        self.timeline.ruler.set_loop(None if loop is None else (loop.start, loop.end), enabled)
        self.viewport().update()

    # -- background grid ------------------------------------------------------------------------

    def drawBackground(self, painter: QPainter, rect: QRectF) -> None:
        palette = current_palette()
        geometry = self.geometry_
        painter.fillRect(rect, QColor(palette.bg0))
        song_end = geometry.bar_to_x(self.timeline.project.length_bars)
        if rect.right() > song_end:
            painter.fillRect(QRectF(max(rect.left(), song_end), rect.top(),
                                    rect.right() - max(rect.left(), song_end), rect.height()),
                             QColor(0, 0, 0, 60))
        loop = self.playback.loop
        if loop is not None:
            band = QColor(palette.loop)
            band.setAlpha(28 if self.playback.loop_enabled else 10)
            painter.fillRect(QRectF(geometry.bar_to_x(loop.start), geometry.ruler_height,
                                    geometry.bar_to_x(loop.end) - geometry.bar_to_x(loop.start),
                                    rect.bottom()), band)
        first = max(0, int(geometry.x_to_bar(rect.left())))
        last = int(geometry.x_to_bar(rect.right())) + 1
        step = max(1, geometry.label_step_bars(12.0))
        top, bottom = geometry.ruler_height, rect.bottom()
        bar_pen = QPen(QColor(palette.grid_bar), 1)
        phrase_pen = QPen(QColor(palette.grid_phrase), 1)
        for bar in range(first - first % step, last + 1, step):
            x = round(geometry.bar_to_x(bar)) + 0.5
            painter.setPen(phrase_pen if bar % (4 * step) == 0 else bar_pen)
            painter.drawLine(QPointF(x, top), QPointF(x, bottom))
