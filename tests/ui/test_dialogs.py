"""Export (with progress, in the background) and preferences."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile
from PySide6.QtCore import Qt

from melodex_studio.music.plan import Plan
from melodex_studio.project.commands import SetPlan
from tests.ui.conftest import add_rendered_take, settle

pytestmark = pytest.mark.qt


def test_export_mixdown_sections_and_midi_with_progress(qtbot, studio, tmp_path):
    project = studio.context.project
    for seed, section in enumerate(project.sections, start=1):
        add_rendered_take(studio, section.id, seed=seed)
    verse = project.section_by_name("Verse")
    studio.context.undo.push(SetPlan(verse.id, Plan.empty(verse.length_bars, 16)))
    dialog = studio.show_export()
    target = tmp_path / "out" / "song.wav"
    target.parent.mkdir()
    dialog.path_edit.setText(str(target))
    dialog.format_combo.setCurrentIndex(dialog.format_combo.findText("FLAC 24-bit"))
    assert dialog.path_edit.text().endswith("song.flac")
    dialog.loudness_combo.setCurrentIndex(dialog.loudness_combo.findData(-16.0))
    dialog.sections_check.setChecked(True)
    dialog.midi_check.setChecked(True)
    seen = []
    dialog.progress.valueChanged.connect(seen.append)
    qtbot.mouseClick(dialog.export_button, Qt.MouseButton.LeftButton)
    settle(qtbot, studio)
    qtbot.waitUntil(lambda: dialog.report is not None, timeout=30000)
    report = dialog.report
    assert report.mixdown == target.with_suffix(".flac")
    names = sorted(p.name for p in target.parent.iterdir())
    assert names == ["song - 01 Intro.flac", "song - 02 Verse.flac", "song - 03 Chorus.flac",
                     "song.flac", "song.mid"]
    info = soundfile.info(str(report.mixdown))
    assert info.samplerate == 44100 and info.duration == pytest.approx(32.0, abs=0.05)
    assert report.loudness.output_lufs == pytest.approx(-16.0, abs=0.5)
    assert seen and seen[-1] == 1000 and len(seen) >= 2
    assert "Done" in dialog.result_label.text()
    dialog.close()


def test_export_without_renders_says_so(qtbot, studio, tmp_path):
    dialog = studio.show_export()
    dialog.path_edit.setText(str(tmp_path / "empty.wav"))
    dialog.start_export()
    settle(qtbot, studio)
    assert "no section has a rendered take" in dialog.result_label.text()
    assert not (tmp_path / "empty.wav").exists()
    dialog.close()


def test_preferences_apply_and_persist(qtbot, studio, user_dirs):
    from melodex_studio.settings import load_settings
    from melodex_studio.ui.dialogs.preferences import PreferencesDialog

    dialog = PreferencesDialog(studio.context.settings.value, ["Speakers", "Headphones"])
    qtbot.addWidget(dialog)
    dialog.device_combo.setCurrentIndex(dialog.device_combo.findData("Headphones"))
    dialog.buffer_spin.setValue(40)
    dialog.threads_spin.setValue(2)
    dialog.autosave_spin.setValue(60)
    dialog.theme_combo.setCurrentIndex(dialog.theme_combo.findData("light"))
    assert dialog.model_combo.findText("stable-audio-open") >= 0
    dialog.stable_audio_edit.setText("  /models/stable-audio-open-1.0 ")
    assert dialog.model_combo.findText("musicgen") >= 0
    dialog.musicgen_edit.setText("/models/musicgen-small")
    # Half precision is the GPU's: greyed out for the CPU, kept as the musician set it.
    assert dialog.half_check.isChecked() and dialog.half_check.isEnabled()
    dialog.compute_combo.setCurrentIndex(dialog.compute_combo.findData("cpu"))
    assert not dialog.half_check.isEnabled()
    dialog.compute_combo.setCurrentIndex(dialog.compute_combo.findData("cuda"))
    assert dialog.half_check.isEnabled()
    dialog.half_check.setChecked(False)
    new = dialog.settings()
    assert new.inference.stable_audio_dir == "/models/stable-audio-open-1.0"
    assert new.inference.device == "cuda" and not new.inference.bf16_on_cuda
    assert new.inference.musicgen_dir == "/models/musicgen-small"
    studio.apply_preferences(new)
    settle(qtbot, studio)
    saved = load_settings()
    assert saved.audio.output_device == "Headphones" and saved.audio.buffer_ms == 40
    assert saved.inference.threads == 2 and saved.autosave_interval_s == 60
    assert saved.theme == "light" and not saved.inference.bf16_on_cuda
    from melodex_studio.ui.theme import current_palette

    assert current_palette().name == "light"
    studio.apply_preferences(saved.model_copy(update={"theme": "dark"}))
    assert current_palette().name == "dark"


def test_metronome_level_from_preferences_applies_without_reopening_the_device(
    qtbot, studio, user_dirs
):
    from melodex_studio.audio.fades import db_to_gain
    from melodex_studio.ui.dialogs.preferences import PreferencesDialog

    playback = studio.playback
    transport = playback.transport
    studio.studio_actions.metronome.trigger()
    loud = float(np.abs(transport.engine.metronome.accent_sound).max())
    dialog = PreferencesDialog(studio.context.settings.value, [])
    qtbot.addWidget(dialog)
    dialog.metronome_spin.setValue(-21)
    reopened = []
    playback.open_device_async = lambda settings: reopened.append(settings)
    studio.apply_preferences(dialog.settings())
    assert studio.context.settings.value.audio.metronome_db == -21
    quiet = float(np.abs(transport.engine.metronome.accent_sound).max())
    assert quiet / loud == pytest.approx(db_to_gain(-21 - -9.0), rel=1e-3)  # 12 dB quieter
    assert reopened == []  # the stream keeps playing: only the clicks changed
    studio.studio_actions.metronome.trigger()
    assert transport.engine.metronome is None


def test_take_switch_fade_from_preferences_applies_to_the_next_switch(qtbot, studio, user_dirs):
    from melodex_studio.ui.dialogs.preferences import PreferencesDialog

    playback = studio.playback
    transport = playback.transport
    rate = transport.output_rate
    assert transport.crossfade_samples == round(0.005 * rate)  # the default 5 ms
    dialog = PreferencesDialog(studio.context.settings.value, [])
    qtbot.addWidget(dialog)
    dialog.swap_fade_spin.setValue(20)
    reopened = []
    playback.open_device_async = lambda settings: reopened.append(settings)
    studio.apply_preferences(dialog.settings())
    assert studio.context.settings.value.audio.swap_crossfade_ms == 20
    assert transport.crossfade_samples == round(0.020 * rate) and reopened == []
    # The next switch while playing fades over those samples, from a bar line on.
    transport.play()
    switch = transport.swap_at_next_bar(np.zeros(rate * 8, np.float32))
    assert switch > 0 and transport.engine.swap_pending
    assert transport.engine._swap_request.crossfade_samples == round(0.020 * rate)
    transport.stop()
    dialog.swap_fade_spin.setValue(0)  # "Cut": one sample
    assert dialog.swap_fade_spin.text() == "Cut"
    studio.apply_preferences(dialog.settings())
    assert transport.crossfade_samples == 1


def test_demo_song_opens_as_an_unsaved_copy(qtbot, studio):
    studio.studio_actions.open_demo.trigger()
    settle(qtbot, studio)
    project = studio.context.project
    assert project.title == "Night Drive" and len(project.sections) == 7
    assert all(section.plan is not None for section in project.sections)
    assert studio.files.path is None and studio.files.is_modified()
    assert studio.plan_editor.model.columnCount() == 0  # nothing selected yet
    studio.context.selection.select_one(project.sections[1].id)
    assert studio.plan_editor.model.index(0, 0).data() == "Am7"


def test_shortcuts_dialog_lists_the_actions(qtbot, studio):
    from melodex_studio.ui.dialogs.shortcuts import ShortcutsDialog

    dialog = ShortcutsDialog(studio.studio_actions.all_actions())
    qtbot.addWidget(dialog)
    rows = {dialog.table.item(r, 0).text(): dialog.table.item(r, 1).text()
            for r in range(dialog.table.rowCount())}
    assert rows["Play / Stop"] == "Space"
    assert rows["Loop Selection"] == "L"
    assert rows["Duplicate"] == "Ctrl+D"
    assert "Drag a section" in rows


def test_window_layout_and_zoom_survive_a_restart(qtbot, user_dirs):
    from melodex_studio.project.models import new_project
    from melodex_studio.settings import Settings
    from melodex_studio.ui.context import StudioContext
    from melodex_studio.ui.main_window import MainWindow

    def window():
        context = StudioContext.create(new_project("W", sections_spec="Intro:4"), Settings())
        return MainWindow(context, restore_layout=True), context

    first, context = window()
    first.resize(780, 540)
    first.show()
    first.timeline.set_zoom(77.0)
    first.plan_dock.hide()
    first.studio_actions.metronome.setChecked(True)  # transport switches are kept too
    first.studio_actions.audition_renders.setChecked(False)
    first.close()
    context.executor.shutdown()
    second, context = window()
    assert second.scene.geometry.pixels_per_bar == pytest.approx(77.0)
    assert second.studio_actions.metronome.isChecked() and second.playback.metronome
    assert not second.studio_actions.audition_renders.isChecked()
    assert not second.studio_actions.count_in.isChecked()
    assert second.size().width() == first.size().width()
    assert second.plan_dock.isHidden()
    second._close_confirmed = True
    second.close()
    context.executor.shutdown()
