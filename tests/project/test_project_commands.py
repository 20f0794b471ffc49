"""Edit commands: what each one does, and that undo/redo restore exact values and events."""

from __future__ import annotations

import pytest
from project_builders import Recorder, make_take

from melodex_studio.music.meter import Meter
from melodex_studio.music.plan import Plan, PlanBar
from melodex_studio.music.tempo import TempoGrid
from melodex_studio.project.commands import (
    AddSection,
    AddTake,
    Command,
    DeleteTake,
    DuplicateSection,
    EditError,
    EditPlanBar,
    EditProjectFields,
    EditPrompt,
    EditSectionSettings,
    MoveSection,
    RemoveSection,
    RenameSection,
    RenameTake,
    ResizeSection,
    SetActiveTake,
    SetPlan,
    SetSectionKey,
    SetSectionMeter,
)
from melodex_studio.project.document import Document
from melodex_studio.project.events import (
    ActiveTakeChanged,
    HistoryChanged,
    ProjectFieldsChanged,
    SectionAdded,
    SectionChanged,
    SectionMoved,
    SectionRemoved,
    TakeAdded,
    TakeRemoved,
)
from melodex_studio.project.models import Project, Section, TakeOperation, new_id


def layout(project: Project) -> list[tuple[str, int, int]]:
    return [(s.name, s.start_bar, s.length_bars) for s in project.sections]


def edits(events):
    return [e for e in events if not isinstance(e, HistoryChanged)]


def roundtrip(document: Document, recorder: Recorder, command: Command) -> list:
    """Push, undo, redo; check exact values and mirrored events. Returns the redo events."""
    before = document.project
    recorder.take()
    document.history.push(command)
    after = document.project
    pushed = edits(recorder.take())
    assert document.history.undo()
    assert document.project == before
    undone = edits(recorder.take())
    assert document.history.redo()
    assert document.project == after
    assert edits(recorder.take()) == pushed
    assert document.history.undo()
    assert edits(recorder.take()) == undone
    assert document.history.redo()
    recorder.take()
    return pushed


def new_section(name: str, start: int, length: int) -> Section:
    return Section(id=new_id(), name=name, start_bar=start, length_bars=length)


# -- arrangement -------------------------------------------------------------------------------


def test_add_section_in_a_gap_that_fits_moves_nothing(document, recorder):
    bridge = new_section("Bridge", 4, 2)
    events = roundtrip(document, recorder, AddSection(bridge))
    assert layout(document.project) == [
        ("Intro", 0, 4),
        ("Bridge", 4, 2),
        ("Verse", 6, 8),
        ("Chorus", 14, 4),
    ]
    assert events == [SectionAdded(bridge.id, 1)]
    assert document.history.undo_text == "Add Bridge"


def test_add_section_ripples_later_sections_just_enough(document, recorder):
    bridge = new_section("Bridge", 0, 5)
    roundtrip(document, recorder, AddSection(bridge, at_bar=4))
    # Verse needed to move 3 bars right; Chorus keeps its distance to Verse.
    assert layout(document.project) == [
        ("Intro", 0, 4),
        ("Bridge", 4, 5),
        ("Verse", 9, 8),
        ("Chorus", 17, 4),
    ]


def test_add_section_inside_another_is_refused(document):
    before = document.project
    with pytest.raises(EditError, match=r"bar 3 is inside 'Intro' \(bars 1-4\)"):
        document.history.push(AddSection(new_section("Bridge", 2, 2)))
    assert document.project is before and document.history.count == 0


def test_add_section_with_a_taken_name_is_refused(document):
    with pytest.raises(EditError, match="two sections are named 'Verse'"):
        document.history.push(AddSection(new_section("verse", 30, 2)))


def test_remove_section_ripples_left_by_its_length(document, recorder):
    verse = document.project.sections[1]
    events = roundtrip(document, recorder, RemoveSection(verse.id))
    assert layout(document.project) == [("Intro", 0, 4), ("Chorus", 6, 4)]
    assert events[0] == SectionRemoved(verse.id, 1)
    assert document.history.undo_text == "Remove Verse"


def test_move_section_refuses_overlap_with_a_clear_message(document):
    verse = document.project.sections[1]
    before = document.project
    with pytest.raises(EditError, match=r"would overlap 'Chorus' \(bars 15-18\)"):
        document.history.push(MoveSection(verse.id, 8))
    assert document.project is before


def test_move_section_past_another_reorders(document, recorder):
    intro = document.project.sections[0]
    events = roundtrip(document, recorder, MoveSection(intro.id, 20))
    assert [s.name for s in document.project.sections] == ["Verse", "Chorus", "Intro"]
    assert SectionMoved(intro.id, 0, 2) in events
    assert SectionChanged(intro.id, frozenset({"start_bar"})) in events


def test_resize_section_ripples_and_pads_the_plan(document, recorder):
    intro = document.project.sections[0]
    roundtrip(document, recorder, ResizeSection(intro.id, 6))
    grown = document.project.sections[0]
    assert layout(document.project) == [("Intro", 0, 6), ("Verse", 8, 8), ("Chorus", 16, 4)]
    assert grown.plan.n_bars == 6 and grown.plan.bars[4] == PlanBar(drums=(0,) * 16)
    assert grown.takes == intro.takes and grown.active_take_id == intro.active_take_id
    document.history.push(ResizeSection(intro.id, 2))
    assert layout(document.project) == [("Intro", 0, 2), ("Verse", 4, 8), ("Chorus", 12, 4)]
    assert document.project.sections[0].plan.bars == intro.plan.bars[:2]


def test_resize_without_ripple_refuses_to_grow_into_a_neighbour(document):
    verse = document.project.sections[1]
    with pytest.raises(EditError, match=r"'Chorus' \(bars 15-18\) is in the way"):
        document.history.push(ResizeSection(verse.id, 9, ripple=False))
    document.history.push(ResizeSection(verse.id, 3, ripple=False))
    assert layout(document.project)[2] == ("Chorus", 14, 4)


def test_resize_to_zero_bars_is_an_edit_error(document):
    with pytest.raises(EditError, match="length_bars: Input should be greater than or equal"):
        document.history.push(ResizeSection(document.project.sections[0].id, 0))


def test_duplicate_copies_the_active_take_only(document, recorder):
    intro = document.project.sections[0]
    command = DuplicateSection(intro.id)
    roundtrip(document, recorder, command)
    assert layout(document.project) == [
        ("Intro", 0, 4),
        ("Intro 2", 4, 4),
        ("Verse", 8, 8),
        ("Chorus", 16, 4),
    ]
    copy = document.project.sections[1]
    assert copy.id == command.new_section_id != intro.id
    assert (copy.prompt, copy.settings, copy.plan) == (intro.prompt, intro.settings, intro.plan)
    (take,) = copy.takes
    original = intro.active_take
    assert take.id == command.new_take_id != original.id
    assert (take.section_id, take.parent_id) == (copy.id, original.id)
    assert take.blob_refs() == original.blob_refs()
    assert copy.active_take_id == take.id
    assert document.history.undo_text == "Duplicate Intro"


def test_duplicate_of_a_section_without_takes(document):
    chorus = document.project.sections[2]
    document.history.push(DuplicateSection(chorus.id, name="Last Chorus"))
    copy = document.project.section_by_name("Last Chorus")
    assert copy.takes == () and copy.active_take_id is None and copy.start_bar == 18


# -- section content ---------------------------------------------------------------------------


def test_rename_section(document, recorder):
    verse = document.project.sections[1]
    events = roundtrip(document, recorder, RenameSection(verse.id, "  Verse A "))
    assert document.project.sections[1].name == "Verse A"
    assert events == [SectionChanged(verse.id, frozenset({"name"}))]
    assert document.history.undo_text == "Rename Verse to Verse A"
    with pytest.raises(EditError, match="two sections are named 'Intro'"):
        document.history.push(RenameSection(verse.id, "INTRO"))


def test_edit_prompt_merges_while_typing(document):
    verse = document.project.sections[1]
    before = document.project
    for text in ("d", "du", "dus", "dusty keys"):
        document.history.push(EditPrompt(verse.id, text))
    assert document.history.count == 1
    assert document.history.undo_text == "Edit prompt of Verse"
    assert document.project.sections[1].prompt == "dusty keys"
    document.history.undo()
    assert document.project == before
    with pytest.raises(EditError, match="at most 2000 characters"):
        document.history.push(EditPrompt(verse.id, "x" * 2001))


def test_edit_settings_generation_and_section_fields(document, recorder):
    chorus = document.project.sections[2]
    events = roundtrip(
        document,
        recorder,
        EditSectionSettings(chorus.id, steps=40, sampler="heun", energy=0.9, muted=True),
    )
    edited = document.project.sections[2]
    assert (edited.settings.steps, edited.settings.sampler) == (40, "heun")
    assert (edited.energy, edited.muted) == (0.9, True)
    assert edited.settings.seed == chorus.settings.seed
    assert events == [SectionChanged(chorus.id, frozenset({"settings", "energy", "muted"}))]
    assert document.history.undo_text == "Edit settings of Chorus"


def test_choosing_a_preset_moves_guidance_to_its_default(document):
    chorus = document.project.sections[2]
    document.history.push(EditSectionSettings(chorus.id, preset="film"))
    assert document.project.sections[2].settings.guidance == 1.5
    document.history.push(EditSectionSettings(chorus.id, preset="custom"))
    assert document.project.sections[2].settings.guidance == 1.5
    document.history.push(EditSectionSettings(chorus.id, preset="sound_design", guidance=9.0))
    assert document.project.sections[2].settings.guidance == 9.0


def test_settings_slider_drag_merges_and_texts_name_the_field(document):
    chorus = document.project.sections[2]
    for value in (5.0, 6.0, 7.5):
        document.history.push(EditSectionSettings(chorus.id, guidance=value))
    assert document.history.count == 1
    assert document.history.undo_text == "Change guidance of Chorus"
    document.history.push(EditSectionSettings(chorus.id, muted=True))
    assert (document.history.count, document.history.undo_text) == (2, "Mute Chorus")


def test_mute_presses_stay_separate_steps_and_gain_drags_merge(document):
    chorus = document.project.sections[2]
    document.history.push(EditSectionSettings(chorus.id, muted=True))
    document.history.push(EditSectionSettings(chorus.id, muted=False))
    assert document.history.count == 2  # merged, mute + unmute would leave no step at all
    assert document.history.undo_text == "Unmute Chorus"
    document.history.push(EditSectionSettings(chorus.id, seed_locked=True))
    document.history.push(EditSectionSettings(chorus.id, seed_locked=False))
    assert document.history.count == 4  # a lock switched on and off again: two steps too
    document.history.undo()
    document.history.undo()
    document.history.undo()
    assert document.project.sections[2].muted
    for value in (-1.5, -3.0, -6.0):
        document.history.push(EditSectionSettings(chorus.id, gain_db=value))
    assert document.history.count == 2  # the redo tail went; three gain steps became one
    assert document.history.undo_text == "Change gain of Chorus"
    assert document.project.sections[2].gain_db == -6.0
    document.history.undo()
    assert document.project.sections[2].gain_db == 0.0


def test_invalid_settings_are_refused(document):
    chorus = document.project.sections[2]
    with pytest.raises(EditError, match="'tempo' is not a section setting"):
        EditSectionSettings(chorus.id, tempo=3)
    with pytest.raises(EditError, match="guidance: Input should be less than or equal to 20"):
        document.history.push(EditSectionSettings(chorus.id, guidance=25))
    with pytest.raises(EditError, match="0 <= start < end <= 1"):
        document.history.push(EditSectionSettings(chorus.id, guidance_interval=(0.5, 0.2)))
    assert document.history.count == 0


def test_set_plan_and_edit_a_bar(document, recorder):
    chorus = document.project.sections[2]
    with pytest.raises(EditError, match="'Chorus' has no plan yet"):
        document.history.push(EditPlanBar(chorus.id, 0, PlanBar(drums=(0,) * 16)))
    with pytest.raises(EditError, match="is 4 bars long but its plan has 3 bars"):
        document.history.push(SetPlan(chorus.id, Plan.empty(3, 16)))
    roundtrip(document, recorder, SetPlan(chorus.id, Plan.empty(4, 16)))
    assert document.history.undo_text == "Plan Chorus"
    bar = PlanBar(chord="Am7", energy=0.8, drums=(1, 0, 4, 0) * 4)
    events = roundtrip(document, recorder, EditPlanBar(chorus.id, 2, bar))
    assert document.project.sections[2].plan.bars[2] == bar
    assert document.project.sections[2].plan.bars[1] == PlanBar(drums=(0,) * 16)
    assert events == [SectionChanged(chorus.id, frozenset({"plan"}))]
    assert document.history.undo_text == "Edit bar 3 of Chorus"
    with pytest.raises(EditError, match="bar 5 is outside 'Chorus'"):
        document.history.push(EditPlanBar(chorus.id, 4, bar))
    with pytest.raises(EditError, match="12 drum steps"):
        document.history.push(EditPlanBar(chorus.id, 0, PlanBar(drums=(0,) * 12)))
    roundtrip(document, recorder, SetPlan(chorus.id, None))
    assert document.history.undo_text == "Clear plan of Chorus"


# -- takes -------------------------------------------------------------------------------------


def test_add_take_makes_it_active_and_undo_restores_the_old_one(document, recorder):
    intro = document.project.sections[0]
    take = make_take(intro.id, minutes=30, operation=TakeOperation.REGENERATE)
    events = roundtrip(document, recorder, AddTake(intro.id, take))
    assert document.project.sections[0].active_take_id == take.id
    assert events == [
        TakeAdded(intro.id, take.id),
        ActiveTakeChanged(intro.id, intro.active_take_id, take.id),
    ]
    assert document.history.undo_text == "Regenerate Intro"
    document.history.undo()
    assert document.project.sections[0].active_take_id == intro.active_take_id
    assert take.id not in document.project.sections[0].take_ids()


def test_add_take_without_activating(document):
    intro = document.project.sections[0]
    take = make_take(intro.id, minutes=30)
    document.history.push(AddTake(intro.id, take, make_active=False))
    assert document.project.sections[0].active_take_id == intro.active_take_id
    assert document.project.sections[0].takes[-1] == take


def test_add_take_checks_its_section_and_id(document):
    intro, verse, _ = document.project.sections
    with pytest.raises(EditError, match="belongs to section"):
        AddTake(verse.id, make_take(intro.id))
    copied = intro.takes[0].model_copy(update={"section_id": verse.id})
    with pytest.raises(EditError, match="appears in more than one place"):
        document.history.push(AddTake(verse.id, copied))


def test_delete_active_take_falls_back_to_the_newest(document, recorder):
    intro = document.project.sections[0]
    newest = make_take(intro.id, minutes=50)
    older = make_take(intro.id, minutes=40)
    document.history.push(AddTake(intro.id, newest, make_active=False))
    document.history.push(AddTake(intro.id, older))
    events = roundtrip(document, recorder, DeleteTake(intro.id, older.id))
    assert document.project.sections[0].active_take_id == newest.id
    assert events == [
        TakeRemoved(intro.id, older.id),
        ActiveTakeChanged(intro.id, older.id, newest.id),
    ]
    assert document.history.undo_text.startswith("Delete take")


def test_delete_inactive_and_last_takes(document):
    intro = document.project.sections[0]
    first, second = intro.takes
    document.history.push(DeleteTake(intro.id, second.id))
    assert document.project.sections[0].active_take_id == first.id
    document.history.push(DeleteTake(intro.id, first.id))
    assert document.project.sections[0].takes == ()
    assert document.project.sections[0].active_take_id is None
    with pytest.raises(EditError, match="has no take"):
        document.history.push(DeleteTake(intro.id, first.id))


def test_switching_takes_merges_into_one_step(document, recorder):
    intro = document.project.sections[0]
    first, second = intro.takes
    roundtrip(document, recorder, SetActiveTake(intro.id, second.id))
    document.history.push(SetActiveTake(intro.id, first.id))
    document.history.push(SetActiveTake(intro.id, None))
    assert document.history.count == 1
    assert document.project.sections[0].active_take_id is None
    document.history.undo()
    assert document.project.sections[0].active_take_id == first.id
    with pytest.raises(EditError, match="has no take"):
        document.history.push(SetActiveTake(intro.id, new_id()))


def test_rename_take(document, recorder):
    intro = document.project.sections[0]
    take = intro.takes[1]
    roundtrip(document, recorder, RenameTake(intro.id, take.id, " warmer "))
    assert document.project.sections[0].takes[1].label == "warmer"
    document.history.push(RenameTake(intro.id, take.id, ""))
    assert document.project.sections[0].takes[1].label is None


# -- project fields ----------------------------------------------------------------------------


def test_edit_project_fields(document, recorder):
    events = roundtrip(document, recorder, EditProjectFields(bpm=110, key="c#m", title="Song"))
    project = document.project
    assert (project.bpm, project.key, project.title) == (110.0, "C# minor", "Song")
    assert events == [ProjectFieldsChanged(frozenset({"bpm", "key", "title"}))]
    assert document.history.undo_text == "Edit project settings"


def test_tempo_edits_merge_and_bad_values_are_refused(document):
    for bpm in (97, 98, 99):
        document.history.push(EditProjectFields(bpm=bpm))
    assert (document.history.count, document.history.undo_text) == (1, "Change tempo")
    with pytest.raises(EditError, match="bpm: Input should be less than or equal to 400"):
        document.history.push(EditProjectFields(bpm=999))
    with pytest.raises(EditError, match="'H major' is not a key"):
        document.history.push(EditProjectFields(key="H major"))
    with pytest.raises(EditError, match="is not a time signature"):
        document.history.push(EditProjectFields(meter="x"))
    with pytest.raises(EditError, match="'sample_rate' is not an editable"):
        EditProjectFields(sample_rate=48000)
    assert document.project.bpm == 99.0


def test_meter_change_clears_plans_that_no_longer_fit(document, recorder):
    intro = document.project.sections[0]
    events = roundtrip(document, recorder, EditProjectFields(meter="3/4"))
    assert document.project.meter == "3/4"
    assert document.project.sections[0].plan is None
    assert SectionChanged(intro.id, frozenset({"plan"})) in events
    document.history.undo()
    assert document.project.sections[0].plan == intro.plan


def test_master_edits_take_a_mapping(document):
    document.history.push(EditProjectFields(master={"loudness_target_lufs": -16}))
    assert document.project.master.loudness_target_lufs == -16.0
    assert document.project.master.true_peak_dbtp == -1.0
    assert document.history.undo_text == "Edit master"
    with pytest.raises(EditError, match="true_peak_dbtp"):
        document.history.push(EditProjectFields(master={"true_peak_dbtp": 3}))
    for value in (-1.0, -2.5):  # the master gain field's arrows: one step
        document.history.push(EditProjectFields(master={"gain_db": value}))
    assert document.history.count == 2
    assert document.history.undo_text == "Change master gain"
    assert document.project.master.gain_db == -2.5
    assert document.project.master.loudness_target_lufs == -16.0  # the other fields stay


def test_edits_of_a_missing_section_are_edit_errors(document):
    missing = new_id()
    for command in (
        RemoveSection(missing),
        MoveSection(missing, 3),
        EditPrompt(missing, "x"),
        DeleteTake(missing, new_id()),
    ):
        with pytest.raises(EditError, match="the project has no section"):
            document.history.push(command)
    assert document.history.count == 0


def _chords(project: Project, name: str) -> list[str | None]:
    return project.section_by_name(name).plan.chords()


def test_a_section_key_moves_its_plan_and_undo_restores_it(document):
    verse = document.project.sections[1]
    plan = Plan.empty(8, 16).with_bar(0, PlanBar(chord="Am7", drums=(0,) * 16))
    plan = plan.with_bar(1, PlanBar(chord="F", drums=(0,) * 16, locked=True))
    document.history.push(SetPlan(verse.id, plan))
    document.history.push(SetSectionKey(verse.id, "b minor"))
    moved = document.project.sections[1]
    assert moved.key == "B minor"
    assert document.project.section_key(moved).name == "B minor"
    assert moved.plan.chords()[:2] == ["Bm7", "G"]
    assert moved.plan.bars[1].locked  # a lock guards against re-planning, not key changes
    assert document.history.undo_text == "Change key of Verse to B minor"
    document.history.push(SetSectionKey(verse.id, None))  # back to the song's key
    assert document.project.sections[1].key is None
    assert _chords(document.project, "Verse")[:2] == ["Am7", "F"]
    assert document.history.undo_text == "Verse follows the song's key"
    document.history.undo()
    document.history.undo()
    assert document.project.sections[1].plan == plan
    with pytest.raises(EditError, match="H minor"):
        SetSectionKey(verse.id, "H minor")


def test_a_song_key_change_moves_the_plans_that_follow_it(document):
    intro, verse, _ = document.project.sections
    document.history.push(SetPlan(intro.id, Plan.empty(4, 16).with_bar(
        0, PlanBar(chord="Dm", drums=(0,) * 16))))
    document.history.push(SetPlan(verse.id, Plan.empty(8, 16).with_bar(
        0, PlanBar(chord="Dm", drums=(0,) * 16))))
    document.history.push(SetSectionKey(verse.id, "A minor"))  # its own key, same as the song's
    document.history.push(EditProjectFields(key="C minor"))
    assert document.project.key == "C minor"
    assert _chords(document.project, "Intro")[0] == "Fm"  # iv stays iv, a minor third up
    assert _chords(document.project, "Verse")[0] == "Dm"  # a key of its own: untouched
    assert document.project.section_by_name("Chorus").plan is None
    document.history.undo()
    assert (document.project.key, _chords(document.project, "Intro")[0]) == ("A minor", "Dm")
    document.history.push(EditProjectFields(key="B minor"))
    steps = document.history.count
    document.history.push(EditProjectFields(key="A minor"))
    assert document.history.count == steps + 1  # a key chosen and chosen back: two steps
    assert document.history.undo_text == "Change key"


def test_a_section_tempo_changes_the_song_grid_from_its_first_bar_to_its_last(document):
    # 96 BPM: a 4/4 bar lasts 2.5 s. Intro 0-4, a gap, Verse 6-14, Chorus 14-18.
    intro, verse, chorus = document.project.sections
    document.history.push(EditSectionSettings(verse.id, bpm=144.0))
    document.history.push(EditSectionSettings(verse.id, bpm=150.0))  # the arrows: one step
    assert (document.history.count, document.history.undo_text) == (1, "Change tempo of Verse")
    project = document.project
    assert project.tempo_changes() == ((6, 150.0, "4/4"), (14, 96.0, "4/4"))
    grid = project.grid()
    assert grid.bar_to_seconds(14) == pytest.approx(15.0 + 8 * 1.6)  # 8 bars of 1.6 s
    assert grid.bar_span_samples(14, 4)[1] - grid.bar_span_samples(14, 4)[0] == 10 * 44100
    assert project.section_bpm(project.sections[1]) == 150.0
    assert project.section_bpm(project.sections[2]) == 96.0
    # The chorus at the verse's tempo: one change, none back at the song's end.
    document.history.push(EditSectionSettings(chorus.id, bpm=150.0))
    assert document.project.tempo_changes() == ((6, 150.0, "4/4"),)
    # The intro at its own tempo from bar 0: the grid starts at it; the gap is at the song's.
    document.history.push(EditSectionSettings(intro.id, bpm=80.0))
    assert document.project.grid().bpm == 80.0
    assert document.project.tempo_changes() == ((4, 96.0, "4/4"), (6, 150.0, "4/4"))
    # Back to the song's tempo is a step of its own (merged, it would say nothing).
    document.history.push(EditSectionSettings(verse.id, bpm=None))
    assert document.history.undo_text == "Verse follows the song's tempo"
    assert document.project.tempo_changes() == ((4, 96.0, "4/4"), (14, 150.0, "4/4"))
    for _ in range(4):
        document.history.undo()
    assert document.project == project.model_copy(update={"sections": (intro, verse, chorus)})
    assert document.project.grid() == TempoGrid(96.0, Meter(4, 4), 44100)
    with pytest.raises(EditError, match="bpm"):
        document.history.push(EditSectionSettings(verse.id, bpm=500.0))


def test_a_section_meter_clears_a_plan_that_no_longer_fits_and_retimes_the_song(document):
    # 96 BPM in 4/4: Intro 0-4 (planned), a gap, Verse 6-14, Chorus 14-18.
    intro = document.project.sections[0]
    plan = intro.plan
    document.history.push(SetSectionMeter(intro.id, "7/8"))  # 14 16ths: the plan cannot stay
    assert document.history.undo_text == "Change meter of Intro to 7/8"
    intro = document.project.sections[0]
    assert (intro.meter, intro.plan) == ("7/8", None)
    grid = document.project.grid()
    assert (grid.meter, grid.changes) == (Meter(7, 8), ((4, 96.0, Meter(4, 4)),))
    assert grid.bar_to_seconds(6) == pytest.approx(4 * 3.5 * 0.625 + 2 * 2.5)  # 7/8 then gap
    document.history.push(SetPlan(intro.id, Plan.empty(4, 14)))
    # A song meter change clears what follows the song, not a section in its own meter.
    verse = document.project.sections[1]
    document.history.push(SetPlan(verse.id, Plan.empty(8, 16)))
    document.history.push(EditProjectFields(meter="3/4"))
    assert document.project.sections[0].plan == Plan.empty(4, 14)
    assert document.project.sections[1].plan is None
    document.history.undo()
    document.history.push(SetSectionMeter(intro.id, None))
    assert document.history.undo_text == "Intro follows the song's meter"
    assert document.project.sections[0].plan is None  # 14 steps do not fit 4/4
    for _ in range(4):
        document.history.undo()
    assert document.project.sections[0].meter is None
    assert document.project.sections[0].plan == plan
    # 6/8 has the 12 steps of 3/4: from one to the other a plan stays.
    chorus = document.project.sections[2]
    document.history.push(SetSectionMeter(chorus.id, "3/4"))
    document.history.push(SetPlan(chorus.id, Plan.empty(4, 12)))
    document.history.push(SetSectionMeter(chorus.id, "6/8"))
    assert document.project.sections[2].plan == Plan.empty(4, 12)
    with pytest.raises(EditError, match="meter"):
        document.history.push(SetSectionMeter(intro.id, "11/8"))
    with pytest.raises(EditError, match="5/8 is not supported"):
        document.history.push(SetSectionMeter(intro.id, "5/8"))
