"""The Edit menu's view of the pure undo History, with QUndoStack's API shape.

The History (project/history.py) already has QUndoStack's semantics: merging of drag steps,
macros, a clean mark and a limit. Mirroring it into a QUndoStack would keep two stacks in
step; instead this adapter exposes the same signals and `createUndoAction` /
`createRedoAction` so menus read "Undo Move Chorus", and it turns refused edits (EditError)
into a signal the status bar shows instead of an exception in a slot.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QAction, QKeySequence

from melodex_studio.project.commands import Command, EditError
from melodex_studio.project.document import Document
from melodex_studio.project.events import HistoryChanged
from melodex_studio.ui.events import DocumentSignals

log = logging.getLogger(__name__)


class UndoStackAdapter(QObject):
    """QUndoStack-shaped signals and actions over `document.history`."""

    sig_can_undo_changed = Signal(bool)
    sig_can_redo_changed = Signal(bool)
    sig_undo_text_changed = Signal(str)
    sig_redo_text_changed = Signal(str)
    sig_clean_changed = Signal(bool)
    sig_index_changed = Signal(int)
    sig_edit_refused = Signal(str)  # one line a musician can read

    def __init__(
        self, document: Document, signals: DocumentSignals, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self.document = document
        self._state = self._snapshot()
        signals.sig_history_changed.connect(self._on_history_changed)

    # -- QUndoStack-like reading --------------------------------------------------------------

    def canUndo(self) -> bool:
        return self.document.history.can_undo

    def canRedo(self) -> bool:
        return self.document.history.can_redo

    def undoText(self) -> str:
        return self.document.history.undo_text

    def redoText(self) -> str:
        return self.document.history.redo_text

    def isClean(self) -> bool:
        return self.document.history.is_clean

    def index(self) -> int:
        return self.document.history.index

    def count(self) -> int:
        return self.document.history.count

    # -- editing ------------------------------------------------------------------------------

    def push(self, command: Command) -> bool:
        """Execute and record `command`. A refused edit leaves the project as it was, emits
        `sig_edit_refused` and returns False."""
        try:
            self.document.history.push(command)
        except EditError as error:
            self.sig_edit_refused.emit(str(error))
            return False
        return True

    def push_all(self, text: str, commands: list[Command]) -> bool:
        """Several commands (or one) as one undo step named `text`; all or nothing."""
        try:
            with self.document.history.group(text):
                for command in commands:
                    self.document.history.push(command)
        except EditError as error:
            self.sig_edit_refused.emit(str(error))
            return False
        return True

    @contextmanager
    def group(self, text: str) -> Iterator[None]:
        with self.document.history.group(text):
            yield

    def undo(self) -> None:
        try:
            self.document.history.undo()
        except EditError as error:
            self.sig_edit_refused.emit(str(error))

    def redo(self) -> None:
        try:
            self.document.history.redo()
        except EditError as error:
            self.sig_edit_refused.emit(str(error))

    def setClean(self) -> None:
        self.document.history.mark_clean()

    # -- actions ------------------------------------------------------------------------------

    def createUndoAction(self, parent: QObject, prefix: str = "Undo") -> QAction:
        action = QAction(prefix, parent)
        action.setShortcuts(QKeySequence.StandardKey.Undo)
        action.triggered.connect(self.undo)
        self._bind(action, prefix, self.sig_can_undo_changed, self.sig_undo_text_changed,
                   self.canUndo, self.undoText)
        return action

    def createRedoAction(self, parent: QObject, prefix: str = "Redo") -> QAction:
        action = QAction(prefix, parent)
        # Ctrl+Shift+Z and Ctrl+Y both redo, whatever the platform's standard says.
        action.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
        action.triggered.connect(self.redo)
        self._bind(action, prefix, self.sig_can_redo_changed, self.sig_redo_text_changed,
                   self.canRedo, self.redoText)
        return action

    @staticmethod
    def _bind(action, prefix, enabled_signal, text_signal, enabled_now, text_now) -> None:
        def set_text(text: str) -> None:
            action.setText(f"{prefix} {text}" if text else prefix)

        enabled_signal.connect(action.setEnabled)
        text_signal.connect(set_text)
        action.setEnabled(enabled_now())
        set_text(text_now())

    # -- internals ----------------------------------------------------------------------------

    def _snapshot(self) -> tuple[bool, bool, str, str, bool, int]:
        h = self.document.history
        return (h.can_undo, h.can_redo, h.undo_text, h.redo_text, h.is_clean, h.index)

    def _on_history_changed(self, _event: HistoryChanged) -> None:
        old, new = self._state, self._snapshot()
        self._state = new
        if old[0] != new[0]:
            self.sig_can_undo_changed.emit(new[0])
        if old[1] != new[1]:
            self.sig_can_redo_changed.emit(new[1])
        if old[2] != new[2]:
            self.sig_undo_text_changed.emit(new[2])
        if old[3] != new[3]:
            self.sig_redo_text_changed.emit(new[3])
        if old[4] != new[4]:
            self.sig_clean_changed.emit(new[4])
        if old[5] != new[5]:
            self.sig_index_changed.emit(new[5])
