"""Document events as Qt signals, always delivered on the main thread.

The project's EventBus is pure Python; views connect to these `sig_` signals instead of
subscribing to the bus, so they get Qt's usual disconnect-on-destroy behaviour and never run
on a background thread (napari adapts its evented models the same way).
"""

from __future__ import annotations

import shiboken6
from PySide6.QtCore import QObject, Signal

from melodex_studio.project.document import Document
from melodex_studio.project.events import (
    ActiveTakeChanged,
    Event,
    HistoryChanged,
    ProjectFieldsChanged,
    ProjectReplaced,
    SectionAdded,
    SectionChanged,
    SectionMoved,
    SectionRemoved,
    TakeAdded,
    TakeChanged,
    TakeRemoved,
)
from melodex_studio.ui.tasks import is_main_thread, post_to_main


class DocumentSignals(QObject):
    """Qt signals for one Document's events. Every event also arrives on `sig_event`, and
    every event that changes the project (all but HistoryChanged) on `sig_project_changed`."""

    sig_event = Signal(object)
    sig_project_changed = Signal()
    sig_project_replaced = Signal()
    sig_project_fields_changed = Signal(object)  # frozenset[str] of field names
    sig_section_added = Signal(str, int)  # section id, index
    sig_section_removed = Signal(str, int)
    sig_section_moved = Signal(str, int, int)  # section id, old index, new index
    sig_section_changed = Signal(str, object)  # section id, frozenset[str] of field names
    sig_take_added = Signal(str, str)  # section id, take id
    sig_take_removed = Signal(str, str)
    sig_take_changed = Signal(str, str)
    sig_active_take_changed = Signal(str, object, object)  # section id, old take id, new take id
    sig_history_changed = Signal(object)  # HistoryChanged

    def __init__(self, document: Document, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.document = document
        self._subscription = document.events.subscribe(None, self._on_event)

    def detach(self) -> None:
        """Stop listening to the document (the window is closing)."""
        self._subscription.unsubscribe()

    def _on_event(self, event: Event) -> None:
        if not shiboken6.isValid(self):  # the Qt side is gone: stop listening
            self._subscription.unsubscribe()
            return
        if is_main_thread():
            self._dispatch(event)
        else:  # the bus is meant for the UI thread; if that is ever broken, stay correct
            post_to_main(lambda: self._dispatch(event))

    def _dispatch(self, event: Event) -> None:
        match event:
            case HistoryChanged():
                self.sig_history_changed.emit(event)
            case ProjectReplaced():
                self.sig_project_replaced.emit()
            case ProjectFieldsChanged(fields=fields):
                self.sig_project_fields_changed.emit(fields)
            case SectionAdded(section_id=sid, index=index):
                self.sig_section_added.emit(sid, index)
            case SectionRemoved(section_id=sid, index=index):
                self.sig_section_removed.emit(sid, index)
            case SectionMoved(section_id=sid, old_index=old, new_index=new):
                self.sig_section_moved.emit(sid, old, new)
            case SectionChanged(section_id=sid, fields=fields):
                self.sig_section_changed.emit(sid, fields)
            case TakeAdded(section_id=sid, take_id=tid):
                self.sig_take_added.emit(sid, tid)
            case TakeRemoved(section_id=sid, take_id=tid):
                self.sig_take_removed.emit(sid, tid)
            case TakeChanged(section_id=sid, take_id=tid):
                self.sig_take_changed.emit(sid, tid)
            case ActiveTakeChanged(section_id=sid, old=old, new=new):
                self.sig_active_take_changed.emit(sid, old, new)
        if not isinstance(event, HistoryChanged):
            self.sig_project_changed.emit()
        self.sig_event.emit(event)
