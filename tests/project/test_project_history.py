"""Undo history: push/undo/redo, merging, groups, limit, clean flag, and random edit runs."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from project_builders import Recorder, apply_events, make_take, song
from strategies import projects

from melodex_studio.project.commands import (
    AddTake,
    DeleteTake,
    DuplicateSection,
    EditError,
    EditPrompt,
    EditSectionSettings,
    MacroCommand,
    MoveSection,
    RemoveSection,
    RenameSection,
    ResizeSection,
    SetActiveTake,
)
from melodex_studio.project.document import Document
from melodex_studio.project.events import HistoryChanged, ProjectReplaced


def test_push_undo_redo_and_texts(document):
    history = document.history
    intro, verse, _ = document.project.sections
    assert (history.can_undo, history.can_redo, history.undo_text) == (False, False, "")
    history.push(EditPrompt(verse.id, "a"))
    history.push(MoveSection(intro.id, 30))
    assert history.texts() == ["Edit prompt of Verse", "Move Intro"]
    assert history.undo() and history.redo_text == "Move Intro"
    assert history.undo() and not history.can_undo
    assert history.undo() is False
    assert history.redo() and history.redo() and history.redo() is False
    assert history.index == history.count == 2


def test_push_drops_the_redo_tail(document):
    history = document.history
    verse = document.project.sections[1]
    history.push(EditPrompt(verse.id, "a"))
    history.push(RenameSection(verse.id, "V"))
    history.undo()
    history.push(EditSectionSettings(verse.id, muted=True))
    assert history.texts() == ["Edit prompt of Verse", "Mute Verse"]
    assert not history.can_redo


def test_noop_edits_record_nothing(document):
    verse = document.project.sections[1]
    document.history.push(MoveSection(verse.id, verse.start_bar))
    document.history.push(RenameSection(verse.id, "Verse"))
    assert document.history.count == 0


def test_drag_merges_and_a_drag_back_to_the_start_leaves_no_step(document):
    history = document.history
    chorus = document.project.sections[2]
    before = document.project
    for bar in (15, 16, 17):
        history.push(MoveSection(chorus.id, bar))
    assert history.count == 1 and document.project.sections[2].start_bar == 17
    history.push(MoveSection(chorus.id, 14))
    assert history.count == 0 and document.project == before
    history.push(MoveSection(chorus.id, 15))
    history.push(ResizeSection(chorus.id, 6))
    history.push(MoveSection(chorus.id, 16))
    assert history.count == 3  # a different command in between stops merging


def test_no_merge_into_the_saved_state(document):
    history = document.history
    verse = document.project.sections[1]
    history.push(EditPrompt(verse.id, "dus"))
    history.mark_clean()
    history.push(EditPrompt(verse.id, "dusty"))
    assert history.count == 2
    history.undo()
    assert history.is_clean and document.project.sections[1].prompt == "dus"


def test_clean_flag_follows_undo_redo(document):
    history = document.history
    verse = document.project.sections[1]
    assert history.is_clean
    history.push(EditPrompt(verse.id, "a"))
    assert not history.is_clean
    history.mark_clean()
    history.push(RenameSection(verse.id, "V"))
    assert not history.is_clean
    history.undo()
    assert history.is_clean
    history.undo()
    assert not history.is_clean
    history.redo()
    assert history.is_clean


def test_clean_state_in_a_dropped_redo_tail_is_unreachable(document):
    history = document.history
    verse = document.project.sections[1]
    history.push(EditPrompt(verse.id, "a"))
    history.mark_clean()
    history.undo()
    history.push(RenameSection(verse.id, "V"))
    history.undo()
    assert not history.is_clean  # back at the start, which was never saved


def test_limit_drops_the_oldest_steps(document):
    history = document.history
    verse = document.project.sections[1]
    history.limit = 3
    for index in range(5):
        history.push(EditSectionSettings(verse.id, seed=index, muted=index % 2 == 0))
        history.push(RenameSection(verse.id, f"V{index}"))
    assert history.count == 3
    while history.undo():
        pass
    # Ten steps were pushed; the last three (rename V3, settings 4, rename V4) remain.
    assert document.project.sections[1].name == "V2"
    assert not history.is_clean  # the clean start was dropped
    with pytest.raises(ValueError, match=">= 0"):
        history.limit = -1


def test_history_changed_events_describe_the_stack(document):
    recorder = Recorder(document)
    verse = document.project.sections[1]
    document.history.push(EditPrompt(verse.id, "a"))
    document.history.undo()
    states = [e for e in recorder.take() if isinstance(e, HistoryChanged)]
    assert states == [
        HistoryChanged(True, False, "Edit prompt of Verse", "", False),
        HistoryChanged(False, True, "", "Edit prompt of Verse", True),
    ]


def test_group_is_one_step_and_nested_groups_fold(document):
    history = document.history
    chorus = document.project.sections[2]
    before = document.project
    with history.group("Arrange chorus"):
        history.push(EditPrompt(chorus.id, "big"))
        with history.group("inner"):
            history.push(ResizeSection(chorus.id, 8))
            history.push(RenameSection(chorus.id, "Big Chorus"))
        assert history.in_group and not history.can_undo
        with pytest.raises(EditError, match="edit group 'Arrange chorus' is open"):
            history.undo()
    assert history.texts() == ["Arrange chorus"]
    (macro,) = history._commands
    assert isinstance(macro, MacroCommand) and len(macro.children) == 3
    after = document.project
    history.undo()
    assert document.project == before
    history.redo()
    assert document.project == after


def test_a_failing_group_rolls_back(document):
    history = document.history
    verse, chorus = document.project.sections[1:]
    history.push(EditPrompt(verse.id, "kept"))
    before = document.project
    with pytest.raises(EditError, match="would overlap"), history.group("Broken"):
        history.push(EditPrompt(chorus.id, "lost"))
        history.push(MoveSection(chorus.id, 0))
    assert document.project == before
    assert history.texts() == ["Edit prompt of Verse"] and not history.in_group


def test_empty_group_records_nothing(document):
    with document.history.group("Nothing"):
        pass
    assert document.history.count == 0


def test_macro_redo_is_all_or_nothing(document):
    verse = document.project.sections[1]
    before = document.project
    macro = MacroCommand("Bad", [EditPrompt(verse.id, "x"), MoveSection(verse.id, 0)])
    with pytest.raises(EditError):
        document.history.push(macro)
    assert document.project == before and document.history.count == 0


def test_clear_keeps_the_clean_flag_honest(document):
    history = document.history
    history.push(EditPrompt(document.project.sections[1].id, "a"))
    history.clear()
    assert history.count == 0 and not history.is_clean
    history.mark_clean()
    history.clear()
    assert history.is_clean


def test_load_replaces_the_project_and_starts_clean(document):
    recorder = Recorder(document)
    document.history.push(EditPrompt(document.project.sections[1].id, "a"))
    other = song()
    document.load(other)
    assert document.project is other
    assert ProjectReplaced() in recorder.take()
    assert document.history.count == 0 and document.history.is_clean


def test_a_failing_listener_keeps_history_in_step(document):
    def broken(event):
        raise RuntimeError("view bug")

    verse = document.project.sections[1]
    document.events.subscribe(None, broken)
    with pytest.raises(RuntimeError):
        document.history.push(EditPrompt(verse.id, "a"))
    assert document.project.sections[1].prompt == "a"
    assert document.history.count == 1


# -- random edit runs -----------------------------------------------------------------------


def random_command(data, project):
    """A command that may or may not be valid for `project`."""
    if not project.sections:
        return None
    section = data.draw(st.sampled_from(project.sections))
    kind = data.draw(st.sampled_from(("move", "resize", "remove", "dup", "prompt", "take")))
    if kind == "move":
        return MoveSection(section.id, data.draw(st.integers(0, 40)))
    if kind == "resize":
        ripple = data.draw(st.booleans())
        return ResizeSection(section.id, data.draw(st.integers(1, 6)), ripple=ripple)
    if kind == "remove":
        return RemoveSection(section.id)
    if kind == "dup":
        return DuplicateSection(section.id)
    if kind == "prompt":
        return EditPrompt(section.id, data.draw(st.sampled_from(("", "keys", "drums"))))
    if section.takes and data.draw(st.booleans()):
        take = data.draw(st.sampled_from(section.takes))
        return data.draw(
            st.sampled_from((DeleteTake(section.id, take.id), SetActiveTake(section.id, take.id)))
        )
    return AddTake(section.id, make_take(section.id, n_bars=section.length_bars))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(projects(max_sections=3, max_takes=2), st.data())
def test_any_edit_run_undoes_and_redoes_exactly(project, data):
    document = Document(project)
    recorder = Recorder(document)
    view = [section.id for section in project.sections]  # kept up to date from events only

    def view_follows() -> None:
        nonlocal view
        view = apply_events(view, recorder.take())
        assert view == [section.id for section in document.project.sections]

    states = [project]
    for _ in range(data.draw(st.integers(1, 8))):
        command = random_command(data, document.project)
        if command is None:
            break
        try:
            document.history.push(command)
        except EditError:
            assert document.project == states[-1]  # a refused edit changes nothing
            continue
        view_follows()
        if document.project != states[-1]:
            states.append(document.project)
    final = document.project
    while document.history.undo():
        view_follows()
    assert document.project == project
    while document.history.redo():
        view_follows()
    assert document.project == final
    assert document.history.count <= len(states) - 1
