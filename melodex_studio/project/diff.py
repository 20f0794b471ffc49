"""The events that turn one project value into another.

Commands only build the new Project; the events are computed here by comparing the two
values. So undo emits exactly the inverse of redo, and no command can forget an event.
Unchanged sections and takes are shared between the values, so the `is` checks make the
comparison cost proportional to what changed.
"""

from __future__ import annotations

from melodex_studio.project.events import (
    ActiveTakeChanged,
    Event,
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
from melodex_studio.project.project_model import Project
from melodex_studio.project.section import Section

_SECTION_FIELDS_WITH_OWN_EVENTS = frozenset({"takes", "active_take_id"})


def _changed_fields(old: object, new: object, names: list[str]) -> frozenset[str]:
    return frozenset(
        name
        for name in names
        if getattr(old, name) is not getattr(new, name) and getattr(old, name) != getattr(new, name)
    )


def project_events(old: Project, new: Project) -> list[Event]:
    """Events that, applied in order to a listener's view of `old`, describe `new`.

    Section indices follow Qt item-model rules: removals first (highest index first, indices
    as before each removal), then moves of kept sections, then insertions (lowest index first,
    indices as after each insertion). Then per-section take and field changes.
    """
    if old is new:
        return []
    if old.id != new.id:
        return [ProjectReplaced()]
    events: list[Event] = []
    project_fields = [name for name in Project.model_fields if name != "sections"]
    changed = _changed_fields(old, new, project_fields)
    if changed:
        events.append(ProjectFieldsChanged(changed))
    if old.sections is not new.sections:
        events.extend(section_list_events(old.sections, new.sections))
        old_by_id = {section.id: section for section in old.sections}
        for section in new.sections:
            before = old_by_id.get(section.id)
            if before is not None and before is not section:
                events.extend(section_events(before, section))
    return events


def section_list_events(old: tuple[Section, ...], new: tuple[Section, ...]) -> list[Event]:
    events: list[Event] = []
    new_ids = {section.id for section in new}
    old_ids = {section.id for section in old}
    order = [section.id for section in old]
    for index in range(len(order) - 1, -1, -1):
        if order[index] not in new_ids:
            events.append(SectionRemoved(order[index], index))
            del order[index]
    kept_in_new_order = [section.id for section in new if section.id in old_ids]
    position = {section_id: index for index, section_id in enumerate(order)}
    # The longest run already in order stays put; each other section moves once, to just
    # after its predecessor in the new order (dragging one section = one move event).
    staying = _longest_increasing_run(kept_in_new_order, position)
    for index, section_id in enumerate(kept_in_new_order):
        if section_id in staying:
            continue
        source = order.index(section_id)
        order.pop(source)
        target = order.index(kept_in_new_order[index - 1]) + 1 if index else 0
        order.insert(target, section_id)
        if target != source:
            events.append(SectionMoved(section_id, source, target))
    for index, section in enumerate(new):
        if section.id not in old_ids:
            events.append(SectionAdded(section.id, index))
    return events


def _longest_increasing_run(ids: list[str], position: dict[str, int]) -> set[str]:
    """The largest set of `ids` whose old positions already increase (patience sorting)."""
    tails: list[int] = []  # tails[k]: index into ids of the smallest tail of a run of k+1
    previous: list[int] = [-1] * len(ids)
    for index, section_id in enumerate(ids):
        value = position[section_id]
        low, high = 0, len(tails)
        while low < high:
            middle = (low + high) // 2
            if position[ids[tails[middle]]] < value:
                low = middle + 1
            else:
                high = middle
        previous[index] = tails[low - 1] if low else -1
        if low == len(tails):
            tails.append(index)
        else:
            tails[low] = index
    run: set[str] = set()
    index = tails[-1] if tails else -1
    while index >= 0:
        run.add(ids[index])
        index = previous[index]
    return run


def section_events(old: Section, new: Section) -> list[Event]:
    """Take removals, additions and changes, the active take, then the other fields."""
    events: list[Event] = []
    if old.takes is not new.takes:
        old_takes = {take.id: take for take in old.takes}
        new_ids = {take.id for take in new.takes}
        events.extend(TakeRemoved(new.id, take.id) for take in old.takes if take.id not in new_ids)
        for take in new.takes:
            before = old_takes.get(take.id)
            if before is None:
                events.append(TakeAdded(new.id, take.id))
            elif before is not take and before != take:
                events.append(TakeChanged(new.id, take.id))
    if old.active_take_id != new.active_take_id:
        events.append(ActiveTakeChanged(new.id, old.active_take_id, new.active_take_id))
    names = [name for name in Section.model_fields if name not in _SECTION_FIELDS_WITH_OWN_EVENTS]
    changed = _changed_fields(old, new, names)
    if changed:
        events.append(SectionChanged(new.id, changed))
    return events
