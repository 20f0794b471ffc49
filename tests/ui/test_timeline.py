"""The arrangement timeline driven with real mouse gestures on the view."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPoint, Qt

from melodex_studio.project.commands import EditSectionSettings
from melodex_studio.ui.timeline.section_item import header_detail
from tests.ui.conftest import add_rendered_take

pytestmark = pytest.mark.qt


def x_of(window, bar: float) -> int:
    view = window.timeline
    scene_x = view.geometry_.bar_to_x(bar)
    return view.mapFromScene(scene_x, 0).x()


def lane_y(window, fraction: float) -> int:
    geometry = window.timeline.geometry_
    return round(geometry.lane_top + geometry.lane_height * fraction)


def drag(qtbot, window, start: QPoint, end: QPoint, steps: int = 4,
         modifier=Qt.KeyboardModifier.NoModifier) -> None:
    viewport = window.timeline.viewport()
    qtbot.mousePress(viewport, Qt.MouseButton.LeftButton, modifier, start)
    for i in range(1, steps + 1):
        point = start + (end - start) * (i / steps)
        qtbot.mouseMove(viewport, point)
    qtbot.mouseRelease(viewport, Qt.MouseButton.LeftButton, modifier, end)


def starts(window) -> dict[str, int]:
    return {s.name: s.start_bar for s in window.context.project.sections}


def test_drag_moves_a_section_by_whole_bars_in_one_undo_step(qtbot, studio):
    y = lane_y(studio, 0.3)
    drag(qtbot, studio, QPoint(x_of(studio, 13.5), y), QPoint(x_of(studio, 16.6), y), steps=6)
    assert starts(studio)["Chorus"] == 15
    history = studio.context.document.history
    assert history.count == 1
    assert studio.undo_action.text() == "Undo Move Chorus"
    studio.undo_action.trigger()
    assert starts(studio)["Chorus"] == 12
    assert studio.redo_action.text() == "Redo Move Chorus"


def test_a_move_onto_another_section_is_refused_and_changes_nothing(qtbot, studio):
    before = studio.context.project
    y = lane_y(studio, 0.3)
    drag(qtbot, studio, QPoint(x_of(studio, 6.5), y), QPoint(x_of(studio, 9.5), y))
    assert studio.context.project is before
    assert studio.context.document.history.count == 0
    assert not any(item.invalid for item in studio.scene.items_by_id.values())


def test_dragging_the_right_edge_resizes_and_ripples_later_sections(qtbot, studio):
    y = lane_y(studio, 0.3)
    drag(qtbot, studio, QPoint(x_of(studio, 4) - 2, y), QPoint(x_of(studio, 6), y))
    project = studio.context.project
    assert [(s.name, s.start_bar, s.length_bars) for s in project.sections] == [
        ("Intro", 0, 6), ("Verse", 6, 8), ("Chorus", 14, 4)]
    assert studio.undo_action.text() == "Undo Resize Intro"
    studio.context.undo.undo()
    assert starts(studio) == {"Intro": 0, "Verse": 4, "Chorus": 12}


def test_dragging_the_left_edge_keeps_the_end(qtbot, studio):
    y = lane_y(studio, 0.3)
    drag(qtbot, studio, QPoint(x_of(studio, 12) + 2, y), QPoint(x_of(studio, 13), y))
    chorus = studio.context.project.section_by_name("Chorus")
    assert (chorus.start_bar, chorus.end_bar) == (13, 16)
    assert studio.context.document.history.count == 1


def test_dragging_the_lower_part_selects_bars_for_a_repaint(qtbot, studio):
    y = lane_y(studio, 0.85)
    drag(qtbot, studio, QPoint(x_of(studio, 5.5), y), QPoint(x_of(studio, 7.5), y))
    selection = studio.context.selection
    verse = studio.context.project.section_by_name("Verse")
    assert selection.current_id == verse.id
    assert selection.bar_range is not None
    assert (selection.bar_range.start, selection.bar_range.end) == (1, 4)
    assert studio.context.document.history.count == 0  # selecting is not an edit
    assert studio.scene.items_by_id[verse.id].bar_range == (1, 4)


def test_rubber_band_and_ctrl_click_select_several_sections(qtbot, studio):
    y = lane_y(studio, 0.5)
    geometry = studio.timeline.geometry_
    top = round(geometry.lane_top) + 2
    drag(qtbot, studio, QPoint(x_of(studio, 22), top), QPoint(x_of(studio, 10), y))
    names = {s.name for s in studio.context.selection.selected_sections()}
    assert names == {"Verse", "Chorus"}
    qtbot.mouseClick(studio.timeline.viewport(), Qt.MouseButton.LeftButton,
                     Qt.KeyboardModifier.ControlModifier, QPoint(x_of(studio, 1.5), y))
    assert len(studio.context.selection.selected_ids) == 3


def test_moving_several_selected_sections_is_one_step(qtbot, studio):
    studio.editing.select_all()
    y = lane_y(studio, 0.3)
    drag(qtbot, studio, QPoint(x_of(studio, 2.5), y), QPoint(x_of(studio, 4.5), y))
    assert starts(studio) == {"Intro": 2, "Verse": 6, "Chorus": 14}
    assert studio.undo_action.text() == "Undo Move 3 sections"
    studio.context.undo.undo()
    assert starts(studio) == {"Intro": 0, "Verse": 4, "Chorus": 12}


def test_add_duplicate_delete_through_actions_and_shortcuts(qtbot, studio):
    context = studio.context
    context.selection.select_one(context.project.section_by_name("Verse").id)
    studio.studio_actions.add_section.trigger()
    names = [s.name for s in context.project.sections]
    assert len(names) == 4 and names[2] == "Chorus 2"  # after a verse comes a chorus
    assert context.project.sections[2].start_bar == 12
    studio.timeline.setFocus()
    qtbot.keyClick(studio.timeline, Qt.Key.Key_D, Qt.KeyboardModifier.ControlModifier)
    assert len(context.project.sections) == 5
    qtbot.keyClick(studio.timeline, Qt.Key.Key_Delete)
    assert len(context.project.sections) == 4
    assert studio.undo_action.text().startswith("Undo Delete")


def test_m_mutes_the_selection_in_one_step_and_unmutes_it_when_all_are_muted(qtbot, studio):
    context = studio.context
    ids = [context.project.section_by_name(name).id for name in ("Intro", "Verse")]
    context.selection.select(ids)
    studio.timeline.setFocus()
    qtbot.keyClick(studio.timeline, Qt.Key.Key_M)
    assert [s.muted for s in context.project.sections] == [True, True, False]
    assert studio.undo_action.text() == "Undo Mute 2 sections"
    assert studio.studio_actions.mute.isChecked()
    assert header_detail(context.project.sections[0]).endswith("· muted")
    context.undo.push(EditSectionSettings(ids[0], muted=False))
    assert not studio.studio_actions.mute.isChecked()  # not all of them are muted now
    qtbot.keyClick(studio.timeline, Qt.Key.Key_M)  # so M mutes both again
    assert [s.muted for s in context.project.sections] == [True, True, False]
    assert studio.undo_action.text() == "Undo Mute Intro"  # only the Intro changed
    qtbot.keyClick(studio.timeline, Qt.Key.Key_M)
    assert not any(s.muted for s in context.project.sections)
    assert studio.undo_action.text() == "Undo Unmute 2 sections"
    studio.undo_action.trigger()
    assert [s.muted for s in context.project.sections] == [True, True, False]
    context.selection.clear()
    assert not studio.studio_actions.mute.isEnabled()


def test_header_detail_names_the_level_when_it_is_not_plain(studio):
    verse = studio.context.project.section_by_name("Verse")
    assert header_detail(verse) == f"{verse.length_bars} bars"
    quiet = verse.model_copy(update={"gain_db": -4.5})
    assert header_detail(quiet) == f"{verse.length_bars} bars · \u22124.5 dB"
    loud_but_muted = verse.model_copy(update={"gain_db": 3.0, "muted": True})
    assert header_detail(loud_but_muted) == f"{verse.length_bars} bars · muted"


def test_header_detail_says_when_the_active_take_predates_the_sections_timing(studio):
    from melodex_studio.project.commands import SetSectionMeter

    context = studio.context
    intro = context.project.section_by_name("Intro")
    add_rendered_take(studio, intro.id, bpm=context.project.bpm, meter="4/4")
    intro = context.project.section_by_name("Intro")
    song = (context.project.bpm, "4/4")
    assert header_detail(intro, song) == "4 bars"  # rendered as it plays now
    faster = intro.model_copy(update={"bpm": 150.0, "meter": "3/4"})
    assert header_detail(faster, (150.0, "3/4")) == (
        f"4 bars · 150 BPM · 3/4 · take at {context.project.bpm:g} BPM · take in 4/4")
    only_faster = intro.model_copy(update={"bpm": 150.0})  # same meter: it plays stretched
    assert header_detail(only_faster, (150.0, "4/4")) == (
        f"4 bars · 150 BPM · take at {context.project.bpm:g} BPM, stretched")
    # The scene hands each block the timing it plays at now.
    context.undo.push(EditSectionSettings(intro.id, bpm=150.0))
    context.undo.push(SetSectionMeter(intro.id, "3/4"))
    assert studio.scene.items_by_id[intro.id].timing == (150.0, "3/4")


def test_ctrl_wheel_zooms_and_plus_minus_keys_zoom(qtbot, studio):
    geometry = studio.timeline.geometry_
    before = geometry.pixels_per_bar
    studio.studio_actions.zoom_in.trigger()
    assert geometry.pixels_per_bar > before
    studio.studio_actions.zoom_out.trigger()
    assert geometry.pixels_per_bar == pytest.approx(before)
    item = next(iter(studio.scene.items_by_id.values()))
    width = item.width()
    studio.timeline.set_zoom(before * 2)
    assert item.width() == pytest.approx(2 * width)


def test_ruler_click_seeks_and_ruler_drag_sets_the_loop(qtbot, studio):
    viewport = studio.timeline.viewport()
    y = round(studio.timeline.geometry_.ruler_height / 2)
    qtbot.mouseClick(viewport, Qt.MouseButton.LeftButton, pos=QPoint(x_of(studio, 8), y))
    assert studio.playback.position_bar == pytest.approx(8, abs=0.05)
    assert studio.transport_bar.position_label.text() == "9.1.1"
    drag(qtbot, studio, QPoint(x_of(studio, 2), y), QPoint(x_of(studio, 6), y))
    loop = studio.playback.loop
    assert (loop.start, loop.end) == (2, 6)
    assert studio.playback.loop_enabled
    assert studio.studio_actions.loop.isChecked()
    assert studio.scene.ruler.loop == (2, 6)


def test_context_menu_offers_generation_and_edits(qtbot, studio):
    verse = studio.context.project.section_by_name("Verse")
    menu = studio.editing.build_context_menu(verse.id, 5, studio)
    texts = [a.text().replace("&", "") for a in menu.actions() if a.text()]
    for expected in ("Generate", "Regenerate", "Repaint Selection", "Vary", "Extend…",
                     "Duplicate", "Delete", "Rename…", "Mute"):
        assert expected in texts
    generate = next(a for a in menu.actions() if a.text() == "&Generate")
    assert generate.isEnabled() == studio.studio_actions.generate.isEnabled()


def paint_item(item):
    from PySide6.QtGui import QImage, QPainter
    from PySide6.QtWidgets import QStyleOptionGraphicsItem

    rect = item.boundingRect()
    image = QImage(int(rect.width()), int(rect.height()), QImage.Format.Format_ARGB32)
    image.fill(0)
    painter = QPainter(image)
    painter.translate(-rect.left(), -rect.top())
    item.paint(painter, QStyleOptionGraphicsItem(), None)
    painter.end()
    return image


def bright_fraction(image, top: int) -> float:
    """Share of pixels below `top` that are light (waveform) rather than dark (background)."""
    import numpy as np

    ptr = image.constBits()
    pixels = np.frombuffer(ptr, np.uint8).reshape(image.height(), image.bytesPerLine())
    body = pixels[top:, : image.width() * 4].reshape(image.height() - top, image.width(), 4)
    return float((body[..., :3].mean(axis=2) > 140).mean())


def test_empty_and_rendered_sections_look_different(qtbot, studio):
    from tests.ui.conftest import add_rendered_take, settle

    intro = studio.context.project.section_by_name("Intro")
    add_rendered_take(studio, intro.id)
    settle(qtbot, studio)
    item = studio.scene.items_by_id[intro.id]
    assert item.peaks is not None and len(item.peaks) > 100  # computed off the main thread
    verse = studio.context.project.section_by_name("Verse")
    verse_item = studio.scene.items_by_id[verse.id]
    studio.timeline.set_zoom(60.0)
    header = round(studio.timeline.geometry_.header_height) + 4
    rendered = bright_fraction(paint_item(item), header)
    empty = bright_fraction(paint_item(verse_item), header)
    assert rendered > 0.15 > empty  # a waveform fills the rendered block, hatching does not
    assert verse_item.peaks is None


def test_peaks_reduce_to_pixel_columns_and_an_image():
    import numpy as np
    from PySide6.QtGui import QColor

    from melodex_studio.ui.timeline.waveform import (
        compute_peaks,
        peaks_to_columns,
        waveform_image,
    )

    audio = np.zeros(24000, np.float32)
    audio[12000:12100] = 0.8
    audio[12100:12200] = -0.5
    peaks = compute_peaks(audio, 24000, peaks_per_second=100)
    assert peaks.shape == (100, 2)
    assert peaks[50].tolist() == pytest.approx([-0.5, 0.8])
    columns = peaks_to_columns(peaks, 10)
    assert columns.shape == (10, 2) and columns[5].tolist() == pytest.approx([-0.5, 0.8])
    image = waveform_image(peaks, 10, 21, QColor("#ffffff"))
    assert (image.width(), image.height()) == (10, 21)
    assert image.pixelColor(5, 3).alpha() > 0  # the loud column reaches near the top
    assert image.pixelColor(0, 3).alpha() == 0  # silence stays on the centre line


def test_the_ruler_names_each_tempo_and_meter_change():
    from melodex_studio.music.meter import Meter
    from melodex_studio.music.tempo import TempoGrid
    from melodex_studio.ui.timeline.scene import timing_marks

    grid = TempoGrid(100.0, Meter(4, 4), 44100, (
        (4, 140.0, Meter(4, 4)), (8, 140.0, Meter(3, 4)), (12, 100.0, Meter(4, 4))))
    assert timing_marks(grid) == ((4, "\u2669140"), (8, "3/4"), (12, "\u2669100 4/4"))
