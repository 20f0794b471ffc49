"""Mouse gestures on the timeline, one object per gesture (orange-canvas-core's interactions).

The view creates a gesture on press and feeds it moves and the release. Gestures never edit
the document while the mouse moves: they run the edit commands' pure `apply` on the current
project to preview the result (snapped to bars, red where it cannot go) and push the
commands once, on release, as one undo step.
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, Qt
from PySide6.QtWidgets import QApplication

from melodex_studio.project.commands import Command, MoveSection, ProjectEdit, ResizeSection
from melodex_studio.project.project_model import Project
from melodex_studio.ui.playback import LoopBars, PlaybackController
from melodex_studio.ui.timeline.scene import TimelineScene
from melodex_studio.ui.timeline.section_item import SectionItem


def preview_edits(project: Project, commands: list[ProjectEdit]) -> tuple[Project | None, str]:
    """The project after `commands` (pure: the document is untouched), or None and why not."""
    current = project
    try:
        for command in commands:
            current = command.apply(current)
    except ValueError as error:  # EditError and pydantic's ValidationError are ValueErrors
        return None, " ".join(str(error).split())
    return current, ""


class Gesture:
    """Base gesture: press starts it, moves update it, release or cancel ends it."""

    cursor: Qt.CursorShape | None = None

    def __init__(self, scene: TimelineScene, press_pos: QPointF) -> None:
        self.scene = scene
        self.press_pos = press_pos
        self.dragging = False

    def _passed_threshold(self, pos: QPointF) -> bool:
        if not self.dragging:
            distance = (pos - self.press_pos).manhattanLength()
            self.dragging = distance >= QApplication.startDragDistance()
        return self.dragging

    def move(self, pos: QPointF) -> None:
        pass

    def release(self, pos: QPointF) -> None:
        pass

    def cancel(self) -> None:
        self.scene.clear_preview()

    @property
    def status_text(self) -> str:
        return ""


class MoveSectionsGesture(Gesture):
    """Drag selected sections along the ruler, snapped to whole bars."""

    cursor = Qt.CursorShape.ClosedHandCursor

    def __init__(self, scene: TimelineScene, press_pos: QPointF, section_ids: list[str]) -> None:
        super().__init__(scene, press_pos)
        self.section_ids = section_ids
        self.delta = 0
        self.problem = ""
        self._anchor = scene.geometry.x_to_bar(press_pos.x())

    def commands(self) -> list[ProjectEdit]:
        project = self.scene.project
        sections = [project.section(sid) for sid in self.section_ids]
        # Move the leading section first so the group never overlaps itself on the way.
        sections.sort(key=lambda s: s.start_bar, reverse=self.delta > 0)
        return [MoveSection(s.id, s.start_bar + self.delta) for s in sections]

    def move(self, pos: QPointF) -> None:
        if not self._passed_threshold(pos):
            return
        project = self.scene.project
        earliest = min(project.section(sid).start_bar for sid in self.section_ids)
        delta = round(self.scene.geometry.x_to_bar(pos.x()) - self._anchor)
        self.delta = max(-earliest, delta)
        preview, self.problem = preview_edits(project, self.commands())
        if preview is not None:
            self.scene.show_preview_project(preview)
        else:
            spans = {}
            for sid in self.section_ids:
                section = project.section(sid)
                spans[sid] = (section.start_bar + self.delta, section.length_bars)
            self.scene.show_preview(spans, set(self.section_ids))

    def release(self, pos: QPointF) -> None:
        self.scene.clear_preview()
        if not self.dragging or self.delta == 0 or self.problem:
            return
        commands: list[Command] = list(self.commands())
        project = self.scene.project
        if len(commands) == 1:
            text = f"Move {project.section(self.section_ids[0]).name}"
        else:
            text = f"Move {len(commands)} sections"
        self.scene.context.undo.push_all(text, commands)

    @property
    def status_text(self) -> str:
        if self.problem:
            return self.problem
        return f"Move by {self.delta:+d} bars" if self.dragging else ""


class ResizeSectionGesture(Gesture):
    """Drag a section's right edge (later sections ripple) or left edge (the end stays)."""

    cursor = Qt.CursorShape.SizeHorCursor

    def __init__(self, scene: TimelineScene, press_pos: QPointF, item: SectionItem, edge: str):
        super().__init__(scene, press_pos)
        self.section_id = item.section_id
        self.edge = edge
        self.problem = ""
        self._commands: list[ProjectEdit] = []

    def _commands_for(self, pos: QPointF) -> list[ProjectEdit]:
        section = self.scene.project.section(self.section_id)
        bar = self.scene.geometry.snap_bar(pos.x())
        if self.edge == "right":
            length = max(1, bar - section.start_bar)
            if length == section.length_bars:
                return []
            return [ResizeSection(section.id, length, ripple=True)]
        start = min(bar, section.end_bar - 1)
        if start == section.start_bar:
            return []
        length = section.end_bar - start
        if start < section.start_bar:  # grow to the left: move first, then lengthen in place
            return [MoveSection(section.id, start), ResizeSection(section.id, length, ripple=False)]
        return [ResizeSection(section.id, length, ripple=False), MoveSection(section.id, start)]

    def move(self, pos: QPointF) -> None:
        if not self._passed_threshold(pos):
            return
        self._commands = self._commands_for(pos)
        preview, self.problem = preview_edits(self.scene.project, self._commands)
        if preview is not None:
            self.scene.show_preview_project(preview)
        else:
            self.scene.show_preview({}, {self.section_id})

    def release(self, pos: QPointF) -> None:
        self.scene.clear_preview()
        if not self.dragging or not self._commands or self.problem:
            return
        name = self.scene.project.section(self.section_id).name
        self.scene.context.undo.push_all(f"Resize {name}", list(self._commands))

    @property
    def status_text(self) -> str:
        if self.problem:
            return self.problem
        if not self._commands:
            return ""
        preview, _ = preview_edits(self.scene.project, self._commands)
        if preview is None:
            return ""
        section = preview.section(self.section_id)
        return f"{section.name}: {section.length_bars} bars"


class BarRangeGesture(Gesture):
    """Drag across the lower part of a section to choose bars (for repaint or loop)."""

    cursor = Qt.CursorShape.IBeamCursor

    def __init__(self, scene: TimelineScene, press_pos: QPointF, item: SectionItem) -> None:
        super().__init__(scene, press_pos)
        self.item = item
        self._anchor = scene.geometry.bar_at(press_pos.x())
        selection = scene.context.selection
        if item.section_id not in selection.selected_ids:
            selection.select_one(item.section_id)
        else:
            selection.select(selection.selected_ids, item.section_id)
        self._apply(press_pos)

    def _apply(self, pos: QPointF) -> None:
        bar = self.scene.geometry.bar_at(pos.x())
        self.scene.context.selection.set_bar_range(
            self.scene.bar_range_for(self.item, self._anchor, bar)
        )

    def move(self, pos: QPointF) -> None:
        self._passed_threshold(pos)
        self._apply(pos)

    def release(self, pos: QPointF) -> None:
        self._apply(pos)

    def cancel(self) -> None:
        self.scene.context.selection.set_bar_range(None)

    @property
    def status_text(self) -> str:
        bar_range = self.scene.context.selection.bar_range
        return f"Selected {bar_range.label()}" if bar_range else ""


class RubberBandGesture(Gesture):
    """Drag over empty lane space to select every section the band touches."""

    def __init__(self, scene: TimelineScene, press_pos: QPointF, additive: bool) -> None:
        super().__init__(scene, press_pos)
        selection = scene.context.selection
        self._base = selection.selected_ids if additive else ()
        if not additive:
            selection.clear()
        selection.set_bar_range(None)

    def move(self, pos: QPointF) -> None:
        if not self._passed_threshold(pos):
            return
        geometry = self.scene.geometry
        low = geometry.x_to_bar(min(pos.x(), self.press_pos.x()))
        high = geometry.x_to_bar(max(pos.x(), self.press_pos.x()))
        touched = [
            section.id
            for section in self.scene.project.sections
            if section.start_bar < high and low < section.end_bar
        ]
        self.scene.context.selection.select((*self._base, *touched))

    @property
    def status_text(self) -> str:
        count = len(self.scene.context.selection.selected_ids)
        return f"{count} sections selected" if self.dragging else ""


class RulerGesture(Gesture):
    """Click the ruler to move the playhead; drag along it to set (and switch on) the loop."""

    def __init__(self, scene: TimelineScene, press_pos: QPointF, playback: PlaybackController):
        super().__init__(scene, press_pos)
        self.playback = playback
        self._anchor = scene.geometry.snap_bar(press_pos.x())

    def _loop_for(self, pos: QPointF) -> LoopBars | None:
        bar = self.scene.geometry.snap_bar(pos.x())
        low, high = min(bar, self._anchor), max(bar, self._anchor)
        return LoopBars(low, high) if high > low else None

    def move(self, pos: QPointF) -> None:
        if self._passed_threshold(pos):
            loop = self._loop_for(pos)
            if loop is not None:
                self.playback.set_loop(loop, True)

    def release(self, pos: QPointF) -> None:
        if not self.dragging:
            self.playback.seek_bar(max(0.0, self.scene.geometry.x_to_bar(pos.x())))

    @property
    def status_text(self) -> str:
        loop = self.playback.loop
        return f"Loop {loop.label()}" if self.dragging and loop else ""
