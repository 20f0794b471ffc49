"""The event bus and the events computed between two project values."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from project_builders import apply_events, make_take

from melodex_studio.project.diff import project_events, section_list_events
from melodex_studio.project.events import (
    ActiveTakeChanged,
    EventBus,
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
from melodex_studio.project.models import Project, new_id


def test_subscribers_get_their_type_and_can_unsubscribe():
    bus = EventBus()
    everything, added = [], []
    bus.subscribe(None, everything.append)
    handle = bus.subscribe(SectionAdded, added.append)
    bus.emit(SectionAdded("a", 0))
    bus.emit(SectionRemoved("a", 0))
    assert added == [SectionAdded("a", 0)]
    assert everything == [SectionAdded("a", 0), SectionRemoved("a", 0)]
    handle()
    assert not handle.active
    bus.emit(SectionAdded("b", 1))
    assert added == [SectionAdded("a", 0)] and len(everything) == 3
    handle.unsubscribe()  # a second call is harmless
    assert len(bus) == 1


def test_a_failing_listener_does_not_starve_the_others():
    bus = EventBus()
    heard = []

    def broken(event):
        raise RuntimeError("listener bug")

    bus.subscribe(None, broken)
    bus.subscribe(None, heard.append)
    with pytest.raises(RuntimeError, match="listener bug"):
        bus.emit(ProjectReplaced())
    assert heard == [ProjectReplaced()]


def test_listeners_may_unsubscribe_while_handling():
    bus = EventBus()
    heard = []
    handles = []

    def once(event):
        heard.append(event)
        handles[0]()

    handles.append(bus.subscribe(None, once))
    bus.emit(ProjectReplaced())
    bus.emit(ProjectReplaced())
    assert heard == [ProjectReplaced()]


def test_subscribe_refuses_non_event_types():
    with pytest.raises(TypeError):
        EventBus().subscribe(int, print)  # type: ignore[arg-type]


def test_events_of_field_section_and_take_changes(project: Project):
    intro, verse, chorus = project.sections
    assert project_events(project, project) == []
    fresh = make_take(intro.id, minutes=9)
    relabelled = intro.takes[1].model_copy(update={"label": "warm"})
    new_intro = intro.model_validate(
        {
            **dict(intro),
            "takes": (relabelled, fresh),
            "active_take_id": fresh.id,
            "prompt": "new",
            "energy": 0.9,
        }
    )
    edited = project.updated(bpm=100, sections=(new_intro, verse, chorus))
    assert project_events(project, edited) == [
        ProjectFieldsChanged(frozenset({"bpm"})),
        TakeRemoved(intro.id, intro.takes[0].id),
        TakeChanged(intro.id, relabelled.id),
        TakeAdded(intro.id, fresh.id),
        ActiveTakeChanged(intro.id, intro.takes[0].id, fresh.id),
        SectionChanged(intro.id, frozenset({"prompt", "energy"})),
    ]
    other = project.updated(id=new_id())
    assert project_events(project, other) == [ProjectReplaced()]


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.sampled_from("abcdefgh"), unique=True, max_size=8),
    st.lists(st.sampled_from("abcdefgh"), unique=True, max_size=8),
)
def test_section_list_events_rebuild_any_new_order(old_ids, new_ids):
    as_sections = lambda ids: tuple(SimpleNamespace(id=i) for i in ids)  # noqa: E731
    events = section_list_events(as_sections(old_ids), as_sections(new_ids))
    assert apply_events(old_ids, events) == new_ids
    kept = [i for i in old_ids if i in new_ids]
    if kept == [i for i in new_ids if i in old_ids]:
        assert not any(isinstance(e, SectionMoved) for e in events)


def test_moving_one_section_is_one_move_event():
    as_sections = lambda ids: tuple(SimpleNamespace(id=i) for i in ids)  # noqa: E731
    events = section_list_events(as_sections("abcde"), as_sections("bcdea"))
    assert events == [SectionMoved("a", 0, 4)]
    events = section_list_events(as_sections("abcde"), as_sections("eabcd"))
    assert events == [SectionMoved("e", 4, 0)]
