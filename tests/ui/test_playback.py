"""Transport controls through the window, on a null audio device with a fast clock."""

from __future__ import annotations

import numpy as np
import pytest

from melodex_studio.project.commands import SetActiveTake
from tests.ui.conftest import add_rendered_take, settle

pytestmark = pytest.mark.qt


def intro_with_a_take(qtbot, studio):
    """The Intro section, with a rendered take active and the mix settled."""
    intro = studio.context.project.section_by_name("Intro")
    add_rendered_take(studio, intro.id)
    settle(qtbot, studio, 100)
    return intro


def quiet_noise(seed: int, samples: int) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(samples).astype(np.float32) * 0.1


def test_section_gain_mute_and_master_gain_reach_the_mix(qtbot, studio):
    intro = intro_with_a_take(qtbot, studio)
    transport = studio.playback.transport
    inside = transport.grid.bar_to_sample(intro.length_bars - 1)  # clear of the next seam
    plain = transport.engine.buffer[:inside].copy()
    assert np.abs(plain).max() > 0.01
    studio.context.selection.select_one(intro.id)
    studio.inspector.gain_spin.setValue(-6.0)
    settle(qtbot, studio, 150)
    half = np.float32(10 ** (-6.0 / 20))
    np.testing.assert_allclose(transport.engine.buffer[:inside], plain * half, atol=1e-6)
    studio.transport_bar.master_gain.setValue(-6.0)
    settle(qtbot, studio, 150)
    np.testing.assert_allclose(transport.engine.buffer[:inside], plain * half * half, atol=1e-6)
    assert studio.undo_action.text() == "Undo Change master gain"
    studio.studio_actions.mute.trigger()
    settle(qtbot, studio, 150)
    assert not transport.engine.buffer[:inside].any()
    for _ in range(3):  # unmute, master gain, section gain: back to the plain mix
        studio.undo_action.trigger()
    settle(qtbot, studio, 150)
    np.testing.assert_array_equal(transport.engine.buffer[:inside], plain)
    assert studio.transport_bar.master_gain.value() == 0.0


def test_play_moves_the_playhead_and_stop_returns_it(qtbot, studio):
    intro_with_a_take(qtbot, studio)
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

    intro_with_a_take(qtbot, studio)
    studio.timeline.setFocus()
    qtbot.keyClick(studio.timeline, Qt.Key.Key_End)
    assert studio.playback.position_bar == pytest.approx(16.0)
    qtbot.keyClick(studio.timeline, Qt.Key.Key_Home)
    assert studio.playback.position_bar == pytest.approx(0.0)
    qtbot.keyClick(studio.timeline, Qt.Key.Key_Space)
    assert studio.playback.playing
    qtbot.keyClick(studio.timeline, Qt.Key.Key_Space)
    assert not studio.playback.playing


def preview_of(window, section_id: str, audio: np.ndarray, rate: int = 24000):
    """A render preview of the section as it is now (its place, length and the song's timing)."""
    from melodex_studio.audio.arrangement import PreviewAudio

    project = window.context.project
    section = project.section(section_id)
    return PreviewAudio(audio, rate, section.start_bar, section.length_bars, project.bpm,
                        project.meter)


def test_metronome_key_clicks_on_top_of_playback_only(qtbot, studio):
    from PySide6.QtCore import Qt

    intro_with_a_take(qtbot, studio)
    transport = studio.playback.transport
    assert transport.engine.metronome is None
    studio.timeline.setFocus()
    qtbot.keyClick(studio.timeline, Qt.Key.Key_C)
    assert studio.studio_actions.metronome.isChecked()
    clicks = transport.engine.metronome
    assert clicks is not None
    grid = transport.grid
    assert clicks.positions[:5] == tuple(grid.bar_to_sample(beat / 4) for beat in range(5))
    mix = transport.engine.buffer
    qtbot.keyClick(studio.timeline, Qt.Key.Key_C)
    assert transport.engine.metronome is None
    assert transport.engine.buffer is mix  # toggling never re-mixes the song


def test_a_rendering_section_plays_its_preview_then_its_take_again(qtbot, studio):
    intro = intro_with_a_take(qtbot, studio)
    playback = studio.playback
    transport = playback.transport
    take_mix = transport.engine.buffer.copy()
    grid = transport.grid
    start, end = grid.bar_span_samples(intro.start_bar, intro.length_bars)
    rate = 24000
    n = round((end - start) * rate / transport.output_rate)
    tone = (0.3 * np.sin(2 * np.pi * 220 * np.arange(n) / rate)).astype(np.float32)
    studio.generation.sig_render_preview.emit(intro.id, preview_of(studio, intro.id, tone, rate))
    settle(qtbot, studio, 150)
    heard = transport.engine.buffer
    middle = slice(start + 2000, end - 2000)  # away from the crossfades at the edges
    assert not np.allclose(heard[middle], take_mix[middle])
    spectrum = np.abs(np.fft.rfft(heard[middle]))
    peak_hz = np.argmax(spectrum) * transport.output_rate / len(heard[middle])
    assert peak_hz == pytest.approx(220, abs=2)  # the preview's tone, at the section's place
    np.testing.assert_array_equal(heard[end + 4000 :], take_mix[end + 4000 :])  # rest untouched
    studio.generation.sig_render_preview.emit(intro.id, None)  # the render ended
    settle(qtbot, studio, 150)
    np.testing.assert_array_equal(transport.engine.buffer, take_mix)


def test_previews_stay_silent_when_audition_of_renders_is_off(qtbot, studio):
    intro = intro_with_a_take(qtbot, studio)
    transport = studio.playback.transport
    take_mix = transport.engine.buffer.copy()
    studio.studio_actions.audition_renders.trigger()  # on by default: now off
    assert not studio.playback.audition_renders
    noise = quiet_noise(0, 48000)
    studio.generation.sig_render_preview.emit(intro.id, preview_of(studio, intro.id, noise))
    settle(qtbot, studio, 150)
    np.testing.assert_array_equal(transport.engine.buffer, take_mix)
    studio.studio_actions.audition_renders.trigger()  # on again: the waiting preview plays
    settle(qtbot, studio, 150)
    assert not np.array_equal(transport.engine.buffer, take_mix)


def test_a_preview_that_no_longer_fits_its_section_is_not_heard(qtbot, studio):
    """The section was resized (or moved, or the tempo changed) while it rendered: the preview
    would play in the wrong place, so the take keeps playing; a cancel then restores it."""
    from melodex_studio.project.commands import ResizeSection

    intro = intro_with_a_take(qtbot, studio)
    transport = studio.playback.transport
    noise = quiet_noise(1, 24000 * 16)
    preview = preview_of(studio, intro.id, noise)
    studio.context.undo.push(ResizeSection(intro.id, intro.length_bars + 2))
    settle(qtbot, studio, 150)
    resized_mix = transport.engine.buffer.copy()
    studio.generation.sig_render_preview.emit(intro.id, preview)
    settle(qtbot, studio, 150)
    np.testing.assert_array_equal(transport.engine.buffer, resized_mix)


def test_a_preview_ending_while_its_mix_is_in_flight_still_restores_the_take(qtbot, studio):
    """Preview in, then the render ends before that mix is back: the take must come back."""
    intro = intro_with_a_take(qtbot, studio)
    transport = studio.playback.transport
    take_mix = transport.engine.buffer.copy()
    noise = quiet_noise(2, 24000 * 16)
    playback = studio.playback
    playback.set_render_preview(intro.id, preview_of(studio, intro.id, noise))
    playback._prepare_timer.stop()
    playback._prepare()  # the preview's mix is now in flight in the file thread
    playback.set_render_preview(intro.id, None)  # ...and the render ends meanwhile:
    playback._prepare()  # the new state asks for a mix while that one is still in flight
    playback._prepare_timer.stop()  # (and nothing else would ask again)
    settle(qtbot, studio, 300)
    settle(qtbot, studio, 150)
    np.testing.assert_array_equal(transport.engine.buffer, take_mix)


def test_count_in_action_switches_the_transports_count_in(qtbot, studio):
    intro_with_a_take(qtbot, studio)
    playback = studio.playback
    transport = playback.transport
    studio.studio_actions.count_in.trigger()
    assert playback.count_in and transport.count_in_bars == 1
    playback.seek_bar(0)
    assert playback.play()
    playback.stop()  # (what the count-in sounds like: tests/audio/test_audio_metronome.py)
    assert transport.engine.preroll is None  # a stop cuts it; the next play starts it again
    studio.studio_actions.count_in.trigger()
    assert transport.count_in_bars == 0 and not playback.count_in
