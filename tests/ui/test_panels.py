"""Inspector, generation settings, takes list and plan editor, driven through their widgets."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from melodex_studio.music.key import Key
from tests.ui.conftest import add_rendered_take, settle

pytestmark = pytest.mark.qt


def select(window, name: str):
    section = window.context.project.section_by_name(name)
    window.context.selection.select_one(section.id)
    return section


def choose(combo, data: str) -> None:
    """Pick the entry holding `data` as a click would (`activated`, not only the index)."""
    combo.setCurrentIndex(combo.findData(data))
    combo.activated.emit(combo.currentIndex())


def test_typing_a_prompt_becomes_one_undoable_edit(qtbot, studio):
    select(studio, "Verse")
    prompt = studio.inspector.prompt_edit
    prompt.setFocus()
    qtbot.keyClicks(prompt, "dusty lo-fi keys")
    qtbot.keyClicks(prompt, ", lazy swing drums")
    qtbot.waitUntil(lambda: studio.context.project.section_by_name("Verse").prompt
                    == "dusty lo-fi keys, lazy swing drums", timeout=3000)
    assert studio.context.document.history.count == 1  # typing merged into one step
    assert studio.undo_action.text() == "Undo Edit prompt of Verse"
    studio.timeline.setFocus()
    studio.undo_action.trigger()
    assert studio.context.project.section_by_name("Verse").prompt == ""
    assert prompt.toPlainText() == ""


def test_switching_sections_saves_a_half_typed_prompt_to_its_own_section(qtbot, studio):
    select(studio, "Intro")
    prompt = studio.inspector.prompt_edit
    prompt.setFocus()
    qtbot.keyClicks(prompt, "warm pads")
    select(studio, "Chorus")  # before the typing pause commits
    project = studio.context.project
    assert project.section_by_name("Intro").prompt == "warm pads"
    assert project.section_by_name("Chorus").prompt == ""
    assert prompt.toPlainText() == ""


def test_rename_kind_energy_and_instruments(qtbot, studio):
    select(studio, "Verse")
    inspector = studio.inspector
    inspector.name_edit.setFocus()
    inspector.name_edit.selectAll()
    qtbot.keyClicks(inspector.name_edit, "Verse A")
    qtbot.keyClick(inspector.name_edit, Qt.Key.Key_Return)
    assert studio.context.project.sections[1].name == "Verse A"
    inspector.kind_combo.setCurrentIndex(inspector.kind_combo.findData("bridge"))
    inspector.kind_combo.activated.emit(inspector.kind_combo.currentIndex())
    assert studio.context.project.sections[1].kind == "bridge"
    inspector.energy_slider.setValue(80)
    inspector.energy_slider.setValue(85)
    assert studio.context.project.sections[1].energy == pytest.approx(0.85)
    inspector.instruments_edit.setText("rhodes, upright bass, rhodes")
    inspector.instruments_edit.editingFinished.emit()
    assert studio.context.project.sections[1].instrumentation == ("rhodes", "upright bass")
    texts = studio.context.document.history.texts()
    assert texts[0] == "Rename Verse to Verse A"
    assert sum(text.startswith("Change energy") for text in texts) == 1  # slider merged


def test_gain_and_mute_in_the_inspector(qtbot, studio):
    select(studio, "Chorus")
    inspector = studio.inspector
    inspector.gain_spin.setValue(-3.0)
    inspector.gain_spin.setValue(-4.5)
    inspector.mute_check.setChecked(True)
    chorus = studio.context.project.section_by_name("Chorus")
    assert (chorus.gain_db, chorus.muted) == (-4.5, True)
    assert studio.context.document.history.texts() == ["Change gain of Chorus", "Mute Chorus"]
    assert studio.studio_actions.mute.isChecked()  # the selection is that section
    select(studio, "Verse")
    assert (inspector.gain_spin.value(), inspector.mute_check.isChecked()) == (0.0, False)
    assert not studio.studio_actions.mute.isChecked()
    select(studio, "Chorus")
    assert (inspector.gain_spin.value(), inspector.mute_check.isChecked()) == (-4.5, True)
    studio.undo_action.trigger()
    assert not inspector.mute_check.isChecked() and not studio.studio_actions.mute.isChecked()
    studio.undo_action.trigger()
    assert inspector.gain_spin.value() == 0.0
    assert studio.context.project.section_by_name("Chorus").gain_db == 0.0


def test_a_section_key_from_the_inspector_moves_its_plan(qtbot, studio):
    from melodex_studio.music.plan import Plan, PlanBar
    from melodex_studio.project.commands import EditProjectFields, SetPlan
    from melodex_studio.ui.timeline.section_item import header_detail

    chorus = select(studio, "Chorus")
    steps = studio.context.project.steps_per_bar
    plan = Plan.empty(chorus.length_bars, steps).with_bar(0, PlanBar(chord="C",
                                                                    drums=(0,) * steps))
    studio.context.undo.push(SetPlan(chorus.id, plan))
    combo = studio.inspector.key_combo
    song_key = studio.context.project.key
    assert combo.currentIndex() == 0 and combo.itemText(0) == f"Song key ({song_key})"
    choose(combo, "D major")
    chorus = studio.context.project.section_by_name("Chorus")
    assert chorus.key == "D major"
    assert chorus.plan.chords()[0] == "F#m"  # C, III in A minor, becomes iii in D major
    assert "D major" in header_detail(chorus)
    studio.context.undo.push(EditProjectFields(key="E minor"))
    assert combo.itemText(0) == "Song key (E minor)"
    assert combo.currentData() == "D major"  # its own key stays
    studio.undo_action.trigger()
    studio.undo_action.trigger()
    assert combo.currentIndex() == 0
    assert studio.context.project.section_by_name("Chorus").plan == plan


def test_a_section_tempo_from_the_inspector_retimes_the_song(qtbot, studio):
    from melodex_studio.project.commands import EditProjectFields
    from melodex_studio.ui.timeline.section_item import header_detail

    chorus = select(studio, "Chorus")
    inspector = studio.inspector
    project = studio.context.project
    song_bpm = project.bpm
    assert not inspector.own_tempo_check.isChecked() and not inspector.tempo_spin.isEnabled()
    assert inspector.tempo_spin.value() == song_bpm
    inspector.own_tempo_check.setChecked(True)  # own, at the tempo it plays at now
    assert studio.context.project.section_by_name("Chorus").bpm == song_bpm
    assert inspector.tempo_spin.isEnabled()
    inspector.tempo_spin.setValue(song_bpm + 20)
    inspector.tempo_spin.setValue(song_bpm + 30)  # the arrows again: merged
    chorus = studio.context.project.section_by_name("Chorus")
    assert chorus.bpm == song_bpm + 30
    assert f"{song_bpm + 30:g} BPM" in header_detail(chorus)
    grid = studio.context.project.grid()
    assert grid.bpm_at(chorus.start_bar) == song_bpm + 30
    assert dict(studio.scene.ruler.timing_marks)[chorus.start_bar] == f"\u2669{song_bpm + 30:g}"
    transport = studio.transport_bar
    transport._show_position(chorus.start_bar + 0.5)  # the transport names it inside the chorus
    assert transport.timing_action.isVisible()
    assert transport.timing_label.text() == f"\u2669{song_bpm + 30:g}  4/4"
    transport._show_position(0.0)
    assert not transport.timing_action.isVisible()
    assert grid.bpm_at(max(0, chorus.start_bar - 1)) == song_bpm
    # The song's tempo moves the sections that follow it, not the chorus.
    studio.context.undo.push(EditProjectFields(bpm=song_bpm - 10))
    assert inspector.tempo_spin.value() == song_bpm + 30
    assert studio.context.project.grid().bpm_at(chorus.start_bar) == song_bpm + 30
    inspector.own_tempo_check.setChecked(False)
    assert not inspector.tempo_spin.isEnabled() and inspector.tempo_spin.value() == song_bpm - 10
    assert studio.context.project.section_by_name("Chorus").bpm is None
    assert studio.undo_action.text() == "Undo Chorus follows the song's tempo"
    studio.undo_action.trigger()
    studio.undo_action.trigger()
    assert studio.undo_action.text() == "Undo Change tempo of Chorus"  # own + arrows: one step
    studio.undo_action.trigger()
    assert studio.context.project == project
    assert not inspector.own_tempo_check.isChecked()


def test_a_section_meter_from_the_inspector(qtbot, studio):
    from melodex_studio.project.commands import EditProjectFields
    from melodex_studio.ui.timeline.section_item import header_detail

    chorus = select(studio, "Chorus")
    combo = studio.inspector.meter_combo
    song_meter = studio.context.project.meter
    assert combo.currentIndex() == 0 and combo.itemText(0) == f"Song meter ({song_meter})"
    choose(combo, "6/8")
    chorus = studio.context.project.section_by_name("Chorus")
    assert chorus.meter == "6/8" and "6/8" in header_detail(chorus)
    assert studio.context.project.grid().meter_at(chorus.start_bar).sixteenths_per_bar == 12
    assert studio.scene.ruler.beats[chorus.start_bar] == 2  # two dotted quarters a bar
    assert dict(studio.scene.ruler.timing_marks)[chorus.start_bar] == "6/8"
    studio.plan_editor.create_empty_plan()
    assert studio.context.project.section_by_name("Chorus").plan.steps_per_bar == 12
    studio.context.undo.push(EditProjectFields(meter="3/4"))
    assert combo.itemText(0) == "Song meter (3/4)" and combo.currentData() == "6/8"
    for _ in range(3):
        studio.undo_action.trigger()
    assert combo.currentIndex() == 0
    assert studio.context.project.section_by_name("Chorus").meter is None


def test_presets_follow_the_brief_and_expert_settings_edit(qtbot, studio):
    select(studio, "Chorus")
    box = studio.inspector.generation
    labels = [box.preset_combo.itemText(i) for i in range(box.preset_combo.count())]
    assert labels[:3] == ["Film score  (1–2)", "Social content  (3–5)", "Sound design  (7–10)"]
    box.preset_combo.setCurrentIndex(box.preset_combo.findData("film"))
    box.preset_combo.activated.emit(box.preset_combo.currentIndex())
    chorus = studio.context.project.section_by_name("Chorus")
    assert chorus.settings.preset == "film" and chorus.settings.guidance == 1.5
    assert box.guidance_spin.value() == pytest.approx(1.5)
    box.guidance_spin.setValue(6.0)
    assert "outside film score range" in box.guidance_note.text()
    box.expert.click()
    assert box.expert_body.isVisible()
    box.steps_spin.setValue(40)
    box.sampler_combo.setCurrentIndex(1)
    box.sampler_combo.activated.emit(1)
    box.seed_edit.setText("12345")
    box.seed_edit.editingFinished.emit()
    box.seed_lock.setChecked(True)
    settings = studio.context.project.section_by_name("Chorus").settings
    assert (settings.steps, settings.sampler, settings.seed, settings.seed_locked) == (
        40, "heun", 12345, True)
    box.interval_start.setValue(0.9)  # past the default end, 0.75
    assert box.interval_error.text()  # shown, not applied
    assert studio.context.project.section_by_name("Chorus").settings.guidance_interval == (
        0.0, 0.75)
    box.interval_end.setValue(1.0)
    assert not box.interval_error.text()
    assert studio.context.project.section_by_name("Chorus").settings.guidance_interval == (0.9, 1)
    box.interval_end.setValue(0.5)
    assert box.interval_error.text()
    assert studio.context.project.section_by_name("Chorus").settings.guidance_interval == (0.9, 1)


def test_takes_list_make_active_delete_and_vary_controls(qtbot, studio, monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    intro = select(studio, "Intro")
    first = add_rendered_take(studio, intro.id, seed=1, minutes=1)
    second = add_rendered_take(studio, intro.id, seed=2, minutes=2)
    settle(qtbot, studio)
    takes = studio.takes_panel
    assert takes.tree.topLevelItemCount() == 2
    assert studio.scene.items_by_id[intro.id].section.active_take_id == second.id
    takes.tree.setCurrentItem(takes.tree.topLevelItem(0))
    assert takes.activate_button.isEnabled()
    qtbot.mouseClick(takes.activate_button, Qt.MouseButton.LeftButton)
    assert studio.context.project.section(intro.id).active_take_id == first.id
    assert takes.vary_box.isVisible()
    takes.checkpoint_slider.setValue(2)
    assert takes.checkpoint_step() == 6
    assert "rough shape" in takes.checkpoint_slider.toolTip()
    assert "keeps" not in takes.checkpoint_label.text()
    assert not takes.vary_button.isEnabled()  # no worker in this window
    monkeypatch.setattr(QMessageBox, "question",
                        lambda *a, **k: QMessageBox.StandardButton.Yes)
    takes.tree.setCurrentItem(takes.tree.topLevelItem(0))
    qtbot.mouseClick(takes.delete_button, Qt.MouseButton.LeftButton)
    section = studio.context.project.section(intro.id)
    assert [t.id for t in section.takes] == [second.id]
    assert section.active_take_id == second.id
    # A MusicGen take's step is a point in time: the panel says how much of it stays.
    from melodex_studio.project.commands.takes import AddTake
    from melodex_studio.project.fields import new_id

    tokens = second.model_copy(update={"id": new_id(), "model_id": "musicgen"})
    assert studio.context.undo.push(AddTake(intro.id, tokens))
    settle(qtbot, studio)
    takes.tree.setCurrentItem(takes.tree.topLevelItem(1))
    takes.checkpoint_slider.setValue(2)
    total = tokens.settings.steps
    assert takes.checkpoint_label.text() == f"6/{total} · keeps {6 / total:.0%}"
    assert "up to this point" in takes.checkpoint_slider.toolTip()


def test_plan_editor_chord_edit_valid_invalid_and_undo(qtbot, studio):
    verse = select(studio, "Verse")
    editor = studio.plan_editor
    qtbot.mouseClick(editor.create_button, Qt.MouseButton.LeftButton)
    assert studio.context.project.section(verse.id).plan is not None
    assert editor.model.columnCount() == 8
    index = editor.model.index(0, 4)
    assert editor.model.setData(index, "f#min7")
    plan = studio.context.project.section(verse.id).plan
    assert plan.bars[4].chord == "F#m7"
    assert studio.undo_action.text() == "Undo Edit bar 5 of Verse"
    assert not editor.model.setData(index, "H7#")
    assert "H7#" in editor.error_label.text()
    assert studio.context.project.section(verse.id).plan.bars[4].chord == "F#m7"
    # Typing into the grid: edit, type, enter.
    from PySide6.QtWidgets import QLineEdit

    first = editor.model.index(0, 0)
    editor.table.setCurrentIndex(first)
    editor.table.edit(first)
    line = editor.table.viewport().findChild(QLineEdit)
    assert line is not None
    qtbot.keyClicks(line, "Am")
    qtbot.keyClick(line, Qt.Key.Key_Return)  # Qt commits the editor on the next loop turn
    qtbot.waitUntil(lambda: studio.context.project.section(verse.id).plan.bars[0].chord == "Am",
                    timeout=2000)
    studio.context.undo.undo()
    assert studio.context.project.section(verse.id).plan.bars[0].chord is None


def test_plan_editor_and_timeline_spell_chords_in_the_sections_key(qtbot, studio):
    from melodex_studio.project.commands import SetSectionKey

    verse = select(studio, "Verse")
    editor = studio.plan_editor
    qtbot.mouseClick(editor.create_button, Qt.MouseButton.LeftButton)
    assert editor.model.setData(editor.model.index(0, 0), "Dbm7")
    assert studio.context.project.section(verse.id).plan.bars[0].chord == "C#m7"  # stored
    assert editor.model.data(editor.model.index(0, 0)) == "C#m7"  # A minor writes sharps
    assert editor.model.setData(editor.model.index(0, 1), "C")  # III of A minor
    studio.context.undo.push(SetSectionKey(verse.id, "Eb minor"))
    plan = studio.context.project.section(verse.id).plan
    assert plan.bars[1].chord == "F#"  # III of Eb minor, stored by its canonical name
    assert editor.model.data(editor.model.index(0, 1)) == "Gb"  # as Eb minor writes it
    assert studio.scene.items_by_id[verse.id].key == Key.parse("Eb minor")


def test_plan_editor_imports_a_midi_sketch_as_one_undo_step(qtbot, studio, tmp_path):
    from melodex_studio.music.meter import Meter
    from melodex_studio.music.plan import Plan, PlanBar
    from melodex_studio.music.plan_midi import plan_to_midi_bytes

    verse = select(studio, "Verse")
    editor = studio.plan_editor
    assert editor.midi_button.isVisible()
    sketch = Plan(steps_per_bar=16, bars=(PlanBar(chord="Dm7", drums=(1,) + (0,) * 15),) * 8)
    path = tmp_path / "sketch.mid"
    path.write_bytes(plan_to_midi_bytes(sketch, Key.parse("A minor"), Meter(4, 4), 120.0))
    editor.import_midi(path)
    settle(qtbot, studio)
    assert studio.context.project.section(verse.id).plan == sketch
    assert studio.undo_action.text() == "Undo Import sketch.mid into the plan of Verse"
    assert editor.model.data(editor.model.index(0, 0)) == "Dm7"
    studio.undo_action.trigger()
    assert studio.context.project.section(verse.id).plan is None
    junk = tmp_path / "junk.mid"
    junk.write_bytes(b"no midi here")
    editor.import_midi(junk)
    settle(qtbot, studio)
    assert "cannot read junk.mid as a MIDI plan" in editor.error_label.text()
    assert studio.context.project.section(verse.id).plan is None
    editor.import_midi(tmp_path / "missing.mid")
    settle(qtbot, studio)
    assert "cannot read missing.mid" in editor.error_label.text()


def test_plan_editor_drum_steps_and_locks(qtbot, studio):
    from melodex_studio.music.plan import DrumVoice
    from melodex_studio.ui.panels.plan_model import ROW_INDEX

    verse = select(studio, "Verse")
    studio.plan_editor.create_empty_plan()
    editor = studio.plan_editor
    kick_row = ROW_INDEX["kick"]
    rect = editor.table.visualRect(editor.model.index(kick_row, 1))
    step_width = (rect.width() - 6) / 16
    x = round(rect.left() + 3 + step_width * 4.5)
    qtbot.mouseClick(editor.table.viewport(), Qt.MouseButton.LeftButton,
                     pos=rect.center().__class__(x, rect.center().y()))
    bar = studio.context.project.section(verse.id).plan.bars[1]
    assert bar.drums[4] & DrumVoice.KICK
    lock = editor.model.index(ROW_INDEX["lock"], 2)
    assert editor.model.setData(lock, Qt.CheckState.Checked.value, Qt.ItemDataRole.CheckStateRole)
    assert studio.context.project.section(verse.id).plan.locked_bars() == [2]


def test_a_takes_tooltip_says_how_it_was_rendered(qtbot, studio):
    intro = select(studio, "Intro")
    add_rendered_take(studio, intro.id, seed=7, bpm=132.0, key="D minor")
    add_rendered_take(studio, intro.id, seed=8)  # made before takes recorded tempo and key
    settle(qtbot, studio)
    tree = studio.takes_panel.tree
    recorded, older = (tree.topLevelItem(row).toolTip(1) for row in (0, 1))
    assert recorded.startswith("seed 7 · 8 steps · guidance ")
    assert " · 132 BPM · D minor · " in recorded
    assert "BPM" not in older and "minor" not in older
