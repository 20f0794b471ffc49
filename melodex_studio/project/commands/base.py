"""Edit commands: one small class per edit (orange-canvas-core style), composed by MacroCommand.

Commands here are snapshot commands: on first execution a command computes the new Project
from the current one with a pure `apply`, and keeps both values. Undo and redo just swap the
values back in, so undo restores the previous project exactly (==, and the same events), and
redo after undo never recomputes anything (ids made in a constructor stay the same, a render
is never re-run). Projects share unchanged parts, so a snapshot costs a few tuples.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Hashable, Sequence
from typing import TYPE_CHECKING

from pydantic import ValidationError

from melodex_studio.project.project_model import Project
from melodex_studio.project.section import Section

if TYPE_CHECKING:
    from melodex_studio.project.document import Document


class EditError(ValueError):
    """An edit that cannot be made; the message is one line a musician can read."""


def edit_error_from(error: ValidationError) -> EditError:
    """The first validation problem as one line, e.g. "bpm: Input should be ... 400"."""
    first = error.errors(include_url=False)[0]
    message = str(first["msg"]).removeprefix("Value error, ")
    where = ".".join(str(part) for part in first["loc"])
    text = f"{where}: {message}" if where else message
    return EditError(" ".join(text.split()))


def find_section(project: Project, section_id: str) -> Section:
    try:
        return project.section(section_id)
    except KeyError:
        raise EditError(f"the project has no section {section_id}") from None


class Command(ABC):
    """One undoable step. `text` is what the Undo menu shows ("Move Chorus")."""

    text: str = ""

    @abstractmethod
    def redo(self, document: Document) -> None: ...

    @abstractmethod
    def undo(self, document: Document) -> None: ...

    def merge_with(self, other: Command) -> bool:
        """Absorb `other` (executed right after this one) into this step; False if it can't."""
        return False

    def is_obsolete(self) -> bool:
        """True when undoing this step would change nothing (e.g. a drag back to the start)."""
        return False


class ProjectEdit(Command):
    """A command defined by a pure function Project -> Project.

    Subclasses implement `apply` (raise EditError for a refused edit; pydantic validation
    errors become EditError) and `describe` (the Undo text, from the project before the edit).
    Commands with equal, non-None `merge_key`s merge when pushed one after the other.
    """

    merge_key: Hashable | None = None

    def __init__(self) -> None:
        self._before: Project | None = None
        self._after: Project | None = None

    @abstractmethod
    def apply(self, project: Project) -> Project: ...

    @abstractmethod
    def describe(self, project: Project) -> str: ...

    @property
    def before(self) -> Project | None:
        return self._before

    @property
    def after(self) -> Project | None:
        return self._after

    def redo(self, document: Document) -> None:
        if self._after is None:
            before = document.project
            try:
                after = self.apply(before)
            except ValidationError as error:
                raise edit_error_from(error) from None
            if after == before:
                after = before  # a no-op edit: keep the very same value, emit nothing
            self.text = self.describe(before)
            self._before, self._after = before, after
        else:
            self._expect(document, self._before)
        document.replace(self._after)

    def undo(self, document: Document) -> None:
        if self._after is None or self._before is None:
            raise EditError(f"cannot undo {self.text or type(self).__name__}: it never ran")
        self._expect(document, self._after)
        document.replace(self._before)

    def _expect(self, document: Document, expected: Project | None) -> None:
        current = document.project
        if current is not expected and current != expected:
            raise EditError(
                f"cannot replay {self.text!r}: the project changed outside the undo history"
            )

    def merge_with(self, other: Command) -> bool:
        if (
            self.merge_key is None
            or type(other) is not type(self)
            or not isinstance(other, ProjectEdit)
            or other.merge_key != self.merge_key
            or other._before is None
            or other._before != self._after
        ):
            return False
        self._after = other._after
        return True

    def is_obsolete(self) -> bool:
        return self._after is not None and (
            self._before is self._after or self._before == self._after
        )


class MacroCommand(Command):
    """Several commands as one undo step; undo runs the children backwards."""

    def __init__(self, text: str, children: Sequence[Command]) -> None:
        self.text = text
        self.children: tuple[Command, ...] = tuple(children)

    def redo(self, document: Document) -> None:
        done: list[Command] = []
        try:
            for child in self.children:
                child.redo(document)
                done.append(child)
        except Exception:
            # All or nothing: a failing child leaves the document as the macro found it.
            for child in reversed(done):
                child.undo(document)
            raise

    def undo(self, document: Document) -> None:
        for child in reversed(self.children):
            child.undo(document)

    def is_obsolete(self) -> bool:
        return all(child.is_obsolete() for child in self.children)
