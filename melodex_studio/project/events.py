"""Change events of the document and a tiny synchronous event bus (no Qt).

Events are small frozen values that name what changed; listeners read the new state from
`Document.project`, which is already replaced when an event arrives. A Qt adapter in ui/
turns them into signals and item-model notifications, the way napari adapts its evented
models (SectionAdded -> beginInsertRows/endInsertRows, SectionMoved -> beginMoveRows, ...).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Event:
    """Base of every document event."""


@dataclass(frozen=True, slots=True)
class ProjectReplaced(Event):
    """A different project was loaded (open, new, revert): rebuild every view."""


@dataclass(frozen=True, slots=True)
class ProjectFieldsChanged(Event):
    """Project-level fields changed (title, bpm, key, meter, master, ...)."""

    fields: frozenset[str]


@dataclass(frozen=True, slots=True)
class SectionAdded(Event):
    """A section now sits at `index` of `project.sections`."""

    section_id: str
    index: int


@dataclass(frozen=True, slots=True)
class SectionRemoved(Event):
    """The section that was at `index` is gone (indices as they were just before this event)."""

    section_id: str
    index: int


@dataclass(frozen=True, slots=True)
class SectionMoved(Event):
    """A kept section changed its place in the order (it moved past another on the ruler).
    Indices as in `list.insert(new_index, list.pop(old_index))`; Qt's beginMoveRows wants
    `new_index + 1` as destination when moving down."""

    section_id: str
    old_index: int
    new_index: int


@dataclass(frozen=True, slots=True)
class SectionChanged(Event):
    """Fields of a section changed. Take additions, removals and the active take have their
    own events, so `fields` never names "takes" or "active_take_id"."""

    section_id: str
    fields: frozenset[str]


@dataclass(frozen=True, slots=True)
class TakeAdded(Event):
    section_id: str
    take_id: str


@dataclass(frozen=True, slots=True)
class TakeRemoved(Event):
    section_id: str
    take_id: str


@dataclass(frozen=True, slots=True)
class TakeChanged(Event):
    """A take kept its id but a field changed (e.g. its label)."""

    section_id: str
    take_id: str


@dataclass(frozen=True, slots=True)
class ActiveTakeChanged(Event):
    section_id: str
    old: str | None
    new: str | None


@dataclass(frozen=True, slots=True)
class HistoryChanged(Event):
    """The undo history changed: what Undo/Redo would do now and whether the file is saved."""

    can_undo: bool
    can_redo: bool
    undo_text: str
    redo_text: str
    is_clean: bool


Listener = Callable[[Any], None]


class Subscription:
    """Returned by `EventBus.subscribe`; call it (or `.unsubscribe()`) to stop listening."""

    __slots__ = ("_bus", "_entry")

    def __init__(self, bus: EventBus, entry: tuple[type[Event] | None, Listener]) -> None:
        self._bus: EventBus | None = bus
        self._entry = entry

    def unsubscribe(self) -> None:
        if self._bus is not None:
            self._bus._remove(self._entry)
            self._bus = None

    __call__ = unsubscribe

    @property
    def active(self) -> bool:
        return self._bus is not None


class EventBus:
    """Synchronous publish/subscribe. Listeners run in subscription order on the emitting
    thread (the UI thread: the document is not shared across threads, its snapshots are).

    A listener that raises does not stop the others from hearing the event; the first error
    is raised again once every listener ran, so bugs are not swallowed.
    """

    def __init__(self) -> None:
        self._listeners: list[tuple[type[Event] | None, Listener]] = []

    def subscribe(
        self, event_type: type[Event] | None, callback: Listener
    ) -> Subscription:
        """Call `callback(event)` for events of `event_type` (subclasses included), or for
        every event when `event_type` is None."""
        if event_type is not None and not (
            isinstance(event_type, type) and issubclass(event_type, Event)
        ):
            raise TypeError(f"can only subscribe to Event types, not {event_type!r}")
        entry = (event_type, callback)
        self._listeners.append(entry)
        return Subscription(self, entry)

    def _remove(self, entry: tuple[type[Event] | None, Listener]) -> None:
        for index, candidate in enumerate(self._listeners):
            if candidate is entry:
                del self._listeners[index]
                return

    def emit(self, event: Event) -> None:
        first_error: BaseException | None = None
        # Iterate over a copy: listeners may subscribe or unsubscribe while handling.
        for event_type, callback in list(self._listeners):
            if event_type is not None and not isinstance(event, event_type):
                continue
            try:
                callback(event)
            except Exception as error:
                log.exception("listener %r failed on %r", callback, event)
                if first_error is None:
                    first_error = error
        if first_error is not None:
            raise first_error

    def emit_all(self, events: list[Event] | tuple[Event, ...]) -> None:
        for event in events:
            self.emit(event)

    def __len__(self) -> int:
        return len(self._listeners)
