"""The open document: the current Project value, its event bus and its undo history.

The project itself is immutable; the Document is the one mutable cell that points at the
current value. Edits go through commands pushed on `history`, which call `replace`; a save
thread takes `document.project` (a snapshot that can never change under it).
"""

from __future__ import annotations

from collections.abc import Sequence

from melodex_studio.project.diff import project_events
from melodex_studio.project.events import Event, EventBus, ProjectReplaced
from melodex_studio.project.history import DEFAULT_HISTORY_LIMIT, History
from melodex_studio.project.project_model import Project


class Document:
    """Owns the current project value. UI-thread only; share `project` snapshots instead."""

    def __init__(self, project: Project, *, history_limit: int = DEFAULT_HISTORY_LIMIT) -> None:
        self._project = project
        self._revision = 0
        self.events = EventBus()
        self.history = History(self, limit=history_limit)

    @property
    def project(self) -> Project:
        return self._project

    @property
    def revision(self) -> int:
        """Counts every replacement: autosave compares it to know whether anything changed."""
        return self._revision

    def replace(self, project: Project, events: Sequence[Event] | None = None) -> list[Event]:
        """Make `project` current and emit what changed (computed unless `events` is given).
        Returns the events emitted. Replacing a value with itself emits nothing."""
        if not isinstance(project, Project):
            raise TypeError(f"a document holds a Project, not {type(project).__name__}")
        old = self._project
        if project is old:
            return []
        emitted = list(events) if events is not None else project_events(old, project)
        self._project = project
        self._revision += 1
        self.events.emit_all(emitted)
        return emitted

    def load(self, project: Project) -> None:
        """Swap in a different project (open, revert): the history starts over, clean."""
        self.history.clear()
        self.replace(project, [ProjectReplaced()])
        self.history.mark_clean()
