"""The undo history: a linear stack of commands with merging, groups, a limit and a clean mark.

Semantics follow QUndoStack so the Qt adapter in ui/ stays thin: pushing executes the command
and drops the redo tail; a command merges into the one below unless that one is the saved
(clean) state; the clean mark becomes unreachable when its step is dropped.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from melodex_studio.project.commands.base import Command, EditError, MacroCommand
from melodex_studio.project.events import HistoryChanged

if TYPE_CHECKING:
    from melodex_studio.project.document import Document

DEFAULT_HISTORY_LIMIT = 500


@dataclass
class _OpenGroup:
    text: str
    children: list[Command] = field(default_factory=list)


class History:
    """Undo/redo for one document. `limit` is the number of undo steps kept (0: no limit)."""

    def __init__(self, document: Document, *, limit: int = DEFAULT_HISTORY_LIMIT) -> None:
        if limit < 0:
            raise ValueError(f"history limit must be >= 0, got {limit}")
        self._document = document
        self._commands: list[Command] = []
        self._index = 0  # commands[:index] are done, commands[index:] can be redone
        self._clean_index: int | None = 0
        self._limit = limit
        self._groups: list[_OpenGroup] = []

    # -- state --------------------------------------------------------------------------------

    @property
    def can_undo(self) -> bool:
        return self._index > 0 and not self._groups

    @property
    def can_redo(self) -> bool:
        return self._index < len(self._commands) and not self._groups

    @property
    def undo_text(self) -> str:
        return self._commands[self._index - 1].text if self.can_undo else ""

    @property
    def redo_text(self) -> str:
        return self._commands[self._index].text if self.can_redo else ""

    @property
    def index(self) -> int:
        """How many steps are done (the position between undo and redo)."""
        return self._index

    @property
    def count(self) -> int:
        return len(self._commands)

    def texts(self) -> list[str]:
        """Every step's text, oldest first (for a history panel)."""
        return [command.text for command in self._commands]

    @property
    def is_clean(self) -> bool:
        """True when the document is as it was at the last `mark_clean` (the saved file)."""
        return self._clean_index == self._index

    @property
    def in_group(self) -> bool:
        return bool(self._groups)

    @property
    def limit(self) -> int:
        return self._limit

    @limit.setter
    def limit(self, value: int) -> None:
        if value < 0:
            raise ValueError(f"history limit must be >= 0, got {value}")
        self._limit = value
        self._trim()
        self._changed()

    # -- editing ------------------------------------------------------------------------------

    def push(self, command: Command) -> None:
        """Execute `command` and record it. If it raises, nothing is recorded and the document
        is unchanged; an edit that changes nothing records no step."""
        document = self._document
        before = document.project
        try:
            command.redo(document)
        except Exception:
            if document.project is not before:
                # The edit happened and a listener failed: keep history in step with the
                # document, then let the error surface.
                self._record(command)
            raise
        if command.is_obsolete():
            return
        self._record(command)

    def _record(self, command: Command) -> None:
        if self._groups:
            children = self._groups[-1].children
            if children and children[-1].merge_with(command):
                if children[-1].is_obsolete():
                    children.pop()
                return
            children.append(command)
            return
        del self._commands[self._index :]
        if self._clean_index is not None and self._clean_index > self._index:
            self._clean_index = None  # the saved state was in the redo tail: gone
        top = self._commands[-1] if self._commands else None
        if top is not None and self._index != self._clean_index and top.merge_with(command):
            if top.is_obsolete():
                self._commands.pop()
                self._index -= 1
        else:
            self._commands.append(command)
            self._index += 1
            self._trim()
        self._changed()

    @contextmanager
    def group(self, text: str) -> Iterator[None]:
        """Everything pushed inside becomes one undo step named `text` (nested groups fold
        into the outermost). If the block raises, its edits are rolled back."""
        group = _OpenGroup(text)
        self._groups.append(group)
        try:
            yield
        except BaseException:
            self._groups.pop()
            for child in reversed(group.children):
                child.undo(self._document)
            raise
        self._groups.pop()
        if not group.children:
            return
        if self._groups:
            self._groups[-1].children.extend(group.children)
            return
        macro = MacroCommand(text, group.children)
        if not macro.is_obsolete():
            self._record(macro)

    def undo(self) -> bool:
        """Undo one step; False if there was nothing to undo."""
        self._refuse_in_group("undo")
        if not self.can_undo:
            return False
        command = self._commands[self._index - 1]
        before = self._document.project
        try:
            command.undo(self._document)
        except Exception:
            if self._document.project is not before:
                self._index -= 1
                self._changed()
            raise
        self._index -= 1
        self._changed()
        return True

    def redo(self) -> bool:
        """Redo one step; False if there was nothing to redo."""
        self._refuse_in_group("redo")
        if not self.can_redo:
            return False
        command = self._commands[self._index]
        before = self._document.project
        try:
            command.redo(self._document)
        except Exception:
            if self._document.project is not before:
                self._index += 1
                self._changed()
            raise
        self._index += 1
        self._changed()
        return True

    def mark_clean(self) -> None:
        """The document was saved: this is the state `is_clean` compares against."""
        self._clean_index = self._index
        self._changed()

    def clear(self) -> None:
        """Forget every step; the document stays clean if it was clean."""
        self._refuse_in_group("clear the history")
        was_clean = self.is_clean
        self._commands.clear()
        self._index = 0
        self._clean_index = 0 if was_clean else None
        self._changed()

    # -- internals ----------------------------------------------------------------------------

    def _refuse_in_group(self, action: str) -> None:
        if self._groups:
            open_text = self._groups[-1].text
            raise EditError(f"cannot {action} while the edit group {open_text!r} is open")

    def _trim(self) -> None:
        if self._limit == 0 or len(self._commands) <= self._limit:
            return
        # Only done steps are dropped (pushing always leaves the redo tail empty).
        drop = min(len(self._commands) - self._limit, self._index)
        del self._commands[:drop]
        self._index -= drop
        if self._clean_index is not None:
            self._clean_index -= drop
            if self._clean_index < 0:
                self._clean_index = None

    def _changed(self) -> None:
        self._document.events.emit(
            HistoryChanged(
                can_undo=self.can_undo,
                can_redo=self.can_redo,
                undo_text=self.undo_text,
                redo_text=self.redo_text,
                is_clean=self.is_clean,
            )
        )
