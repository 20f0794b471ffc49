"""Transport controls through the window, on a null audio device with a fast clock."""

from __future__ import annotations

import numpy as np
import pytest

from melodex_studio.project.commands import SetActiveTake
from tests.ui.conftest import add_rendered_take, settle

pytestmark = pytest.mark.qt


def test_play_moves_the_playhead_and_stop_returns_it(qtbot, studio):
    intro = studio.context.project.section_by_name("Intro")
    add_rendered_take(studio, intro.id)
    settle(qtbot, studio, 100)
    playback = studio.playback
    playback.seek_bar(1.0)
    studio.studio_actions.play.trigger()
    assert playback.playing
    assert studio.studio_actions.play.isChecked()
    qtbot.waitUntil(lambda: playback.position_bar > 1.5, timeout=5000)
    assert studio.scene.playhead.bar == pytest.approx(playback.position_bar)
    assert studio.transport_bar.position_label.text().startswith(("2.", "3.", "4."))
    studio.studio_actions.play.trigger()  # Space again: stop, back to where play started
    assert not playback.playing
    assert playback.position_bar == pytest.approx(1.0, abs=1e-6)


def test_switching_takes_while_playing_swaps_the_buffer_at_a_bar_line(qtbot, studio):
    intro = studio.context.project.section_by_name("Intro")
    first = add_rendered_take(studio, intro.id, seed=1)
    second = add_rendered_take(studio, intro.id, seed=2)
    settle(qtbot, studio, 100)
    playback = studio.playback
    transport = playback.transport
    studio.context.undo.push(SetActiveTake(intro.id, first.id))
    settle(qtbot, studio, 100)
    playback.seek_bar(0)
    assert playback.play()
    before = transport.engine.buffer
    studio.context.undo.push(SetActiveTake(intro.id, second.id))
    qtbot.waitUntil(lambda: transport.engine.buffer is not before, timeout=8000)
    assert playback.playing
    bar_samples = transport.grid.bar_to_sample(1)
    assert not np.array_equal(transport.engine.buffer[:bar_samples], before[:bar_samples])
    playback.stop()


def test_audition_makes_the_take_active_loops_the_section_and_plays(qtbot, studio):
    verse = studio.context.project.section_by_name("Verse")
    first = add_rendered_take(studio, verse.id, seed=1)
    add_rendered_take(studio, verse.id, seed=2)
    settle(qtbot, studio, 100)
    studio.context.selection.select_one(verse.id)
    takes = studio.takes_panel
    takes.tree.setCurrentItem(takes.tree.topLevelItem(0))
    takes.audition()
    playback = studio.playback
    assert studio.context.project.section(verse.id).active_take_id == first.id
    assert (playback.loop.start, playback.loop.end) == (verse.start_bar, verse.end_bar)
    assert playback.loop_enabled and playback.playing
    loop = playback.transport.engine.loop
    assert loop is not None and loop.start == playback.transport.grid.bar_to_sample(4)
    playback.stop()


def test_loop_selection_key_loops_the_selected_bars(qtbot, studio):
    verse = studio.context.project.section_by_name("Verse")
    from melodex_studio.ui.selection import BarRange

    studio.context.selection.select_one(verse.id)
    studio.context.selection.set_bar_range(BarRange(verse.id, 2, 4))
    studio.studio_actions.loop_selection.trigger()
    loop = studio.playback.loop
    assert (loop.start, loop.end) == (6, 8) and studio.playback.loop_enabled
    studio.studio_actions.loop.trigger()
    assert not studio.playback.loop_enabled


def test_no_audio_device_is_a_message_not_a_failure(qtbot, studio):
    from melodex_studio.audio.backends import NullBackend

    messages = []
    studio.playback.sig_message.connect(messages.append)
    studio.playback.set_backend(NullBackend(available=False))
    assert "No audio output device" in studio.status.device_label.text() or messages
    assert not studio.playback.play()
    assert any("audio" in m.lower() for m in messages)
    studio.studio_actions.add_section.trigger()  # the rest keeps working
    assert len(studio.context.project.sections) == 4


def test_space_home_and_end_keys_drive_the_transport(qtbot, studio):
    from PySide6.QtCore import Qt

    intro = studio.context.project.section_by_name("Intro")
    add_rendered_take(studio, intro.id)
    settle(qtbot, studio, 100)
    studio.timeline.setFocus()
    qtbot.keyClick(studio.timeline, Qt.Key.Key_End)
    assert studio.playback.position_bar == pytest.approx(16.0)
    qtbot.keyClick(studio.timeline, Qt.Key.Key_Home)
    assert studio.playback.position_bar == pytest.approx(0.0)
    qtbot.keyClick(studio.timeline, Qt.Key.Key_Space)
    assert studio.playback.playing
    qtbot.keyClick(studio.timeline, Qt.Key.Key_Space)
    assert not studio.playback.playing
