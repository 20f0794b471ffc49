"""New, save, reopen, unsaved-changes prompts and crash recovery, through the window."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QTimer, QUrl
from PySide6.QtGui import QDropEvent
from PySide6.QtWidgets import QApplication, QDialogButtonBox, QMessageBox

from melodex_studio.project.commands import EditPrompt
from melodex_studio.store import RecoveryJournal, open_project
from melodex_studio.ui.dialogs.new_project import NewProjectDialog
from melodex_studio.ui.dialogs.recovery import RecoveryDialog
from tests.ui.conftest import add_rendered_take, make_rendered_take, settle

pytestmark = pytest.mark.qt


def answer_next_dialog(qtbot, act) -> None:
    """Run `act(dialog)` on the next modal dialog that opens (from inside its event loop)."""
    def poll() -> None:
        dialog = QApplication.activeModalWidget()
        if dialog is None:
            QTimer.singleShot(10, poll)
            return
        act(dialog)

    QTimer.singleShot(0, poll)


def test_clicking_through_a_new_project(qtbot, studio):
    def fill(dialog: NewProjectDialog) -> None:
        dialog.title_edit.clear()
        qtbot.keyClicks(dialog.title_edit, "Night Drive")
        dialog.template_combo.setCurrentIndex(dialog.template_combo.findText("EDM track"))
        dialog.bpm_spin.setValue(128)
        dialog.key_combo.setCurrentIndex(dialog.key_combo.findData("F# minor"))
        dialog.meter_combo.setCurrentIndex(dialog.meter_combo.findData("4/4"))
        ok = dialog.buttons.button(QDialogButtonBox.StandardButton.Ok)
        assert ok.isEnabled()
        qtbot.mouseClick(ok, Qt.MouseButton.LeftButton)

    answer_next_dialog(qtbot, fill)
    studio.studio_actions.new.trigger()
    project = studio.context.project
    assert project.title == "Night Drive" and project.bpm == 128 and project.key == "F# minor"
    assert [s.name for s in project.sections][:3] == ["Intro", "Build", "Drop"]
    assert len(studio.scene.items_by_id) == 7
    assert not studio.files.is_modified()
    assert studio.transport_bar.bpm.value() == 128
    assert "Night Drive" in studio.windowTitle()


def test_new_project_dialog_refuses_a_bad_sections_spec(qtbot):
    dialog = NewProjectDialog()
    qtbot.addWidget(dialog)
    dialog.sections_edit.setText("Intro:8, Verse:lots")
    assert not dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).isEnabled()
    assert "lots" in dialog.summary.text()


def test_new_project_dialog_takes_section_tempos_and_meters_and_says_how_long(qtbot):
    dialog = NewProjectDialog()
    qtbot.addWidget(dialog)
    dialog.bpm_spin.setValue(120.0)
    dialog.meter_combo.setCurrentIndex(dialog.meter_combo.findData("4/4"))
    dialog.sections_edit.setText("Intro:4, Waltz:8@3/4, Outro:4@60")
    assert dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).isEnabled()
    # 4 bars of 2 s, 8 bars of 1.5 s, 4 bars of 4 s: 36 s.
    assert dialog.summary.text() == "3 sections, 16 bars, 0:36"
    project = dialog.project()
    waltz, outro = project.sections[1:]
    assert (waltz.meter, waltz.bpm, outro.meter, outro.bpm) == ("3/4", None, None, 60.0)
    dialog.sections_edit.setText("Intro:4@fast")
    assert not dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).isEnabled()
    assert "'fast' is neither a tempo" in dialog.summary.text()


def test_save_reopen_and_compare(qtbot, studio, tmp_path):
    context = studio.context
    intro = context.project.section_by_name("Intro")
    take = add_rendered_take(studio, intro.id, seed=4)
    context.undo.push(EditPrompt(intro.id, "dusty lo-fi keys, lazy swing drums"))
    assert studio.files.is_modified() and studio.isWindowModified()
    path = tmp_path / "song.mlx"
    studio.files.save_to(path)
    settle(qtbot, studio)
    assert path.exists()
    assert not studio.files.is_modified() and not studio.isWindowModified()
    saved = context.project
    with open_project(path) as opened:
        assert opened.project == saved
        assert opened.read_blob(take.audio) == studio.files.read_blob(take.audio)
    # Reopen into the window: the same project, blobs read from the file, history fresh.
    studio.files.open_path(path, check_unsaved=False)
    settle(qtbot, studio)
    assert context.project == saved
    assert context.document.history.count == 0
    assert studio.files.read_blob(take.audio)
    assert str(path) in context.settings.value.recent_files
    assert studio.recent_menu.actions()[0].toolTip() == str(path)


def test_unsaved_changes_prompt_on_close_can_cancel_and_discard(qtbot, studio, monkeypatch):
    verse = studio.context.project.section_by_name("Verse")
    studio.context.undo.push(EditPrompt(verse.id, "brass stabs"))
    answers = [QMessageBox.StandardButton.Cancel, QMessageBox.StandardButton.Discard]
    asked = []

    def fake_exec(box: QMessageBox) -> int:
        asked.append(box.text())
        return answers.pop(0)

    monkeypatch.setattr(QMessageBox, "exec", fake_exec)
    assert not studio.close()  # Cancel: stays open
    assert studio.isVisible()
    studio.close()  # Discard: the window closes itself once the answer is in
    qtbot.waitUntil(lambda: not studio.isVisible(), timeout=2000)
    assert len(asked) == 2 and "Save the changes" in asked[0]


def test_unsaved_prompt_save_then_continues(qtbot, studio, monkeypatch, tmp_path):
    verse = studio.context.project.section_by_name("Verse")
    studio.context.undo.push(EditPrompt(verse.id, "brass stabs"))
    monkeypatch.setattr(QMessageBox, "exec", lambda box: QMessageBox.StandardButton.Save)
    target = tmp_path / "kept.mlx"
    monkeypatch.setattr("PySide6.QtWidgets.QFileDialog.getSaveFileName",
                        lambda *a, **k: (str(target), ""))
    done = []
    studio.files.with_unsaved_check(lambda: done.append(True))
    settle(qtbot, studio)
    assert done == [True] and target.exists()
    with open_project(target) as opened:
        assert opened.project.section(verse.id).prompt == "brass stabs"


def test_edits_reach_the_recovery_journal_and_a_crash_is_offered_for_restore(
        qtbot, studio, user_dirs):
    context = studio.context
    chorus = context.project.section_by_name("Chorus")
    add_rendered_take(studio, chorus.id, seed=9)
    context.undo.push(EditPrompt(chorus.id, "huge supersaw chorus"))
    studio.files.record_now()
    settle(qtbot, studio)
    edited = context.project
    # Simulate a crash: the journal stays on disk and its lock is released, nothing is closed.
    session = studio.files._session
    assert session is not None and session.revision_count >= 1
    session._db.close()
    session._db = None
    session._lock.release(remove=False)
    studio.files._session = None

    journal = RecoveryJournal(user_dirs / "recovery")
    found = journal.list_recoverable()
    assert len(found) == 1 and found[0].title == "Test song"

    def restore(dialog: RecoveryDialog) -> None:
        assert dialog.list.count() == 1
        qtbot.mouseClick(dialog.restore_button, Qt.MouseButton.LeftButton)

    answer_next_dialog(qtbot, restore)
    studio.recovery.check()
    settle(qtbot, studio, 100)
    qtbot.waitUntil(lambda: context.project == edited, timeout=5000)
    assert studio.files.is_modified()  # restored work is not saved work
    take = context.project.section(chorus.id).active_take
    assert studio.files.read_blob(take.audio)  # blobs come back from the journal


def test_recovered_work_can_be_saved_elsewhere_or_discarded(qtbot, user_dirs, tmp_path):
    from melodex_studio.project.models import new_project

    journal = RecoveryJournal(user_dirs / "recovery")
    project = new_project("Lost song", sections_spec="Intro:4")
    take, blobs = make_rendered_take(project, project.sections[0].id)
    edited = project.replace_section(project.sections[0].model_copy(
        update={"takes": (take,), "active_take_id": take.id}))
    for _ in range(2):
        session = journal.begin(project, None)
        session.record(edited, blobs)
        session._db.close()
        session._db = None
        session._lock.release(remove=False)
    found = journal.list_recoverable()
    assert len(found) == 2

    from melodex_studio.settings import Settings
    from melodex_studio.ui.context import StudioContext
    from melodex_studio.ui.main_window import MainWindow

    context = StudioContext.create(new_project("Other"), Settings())
    window = MainWindow(context, journal=journal, restore_layout=False)
    target = tmp_path / "rescued.mlx"
    window.recovery.save_recovered_elsewhere(found[0], path=target)
    settle(qtbot, window)
    with open_project(target) as opened:
        assert opened.project == edited
    assert len(journal.list_recoverable()) == 1
    context.executor.submit("discard", journal.discard, found[1].session_id)
    settle(qtbot, window)
    assert journal.list_recoverable() == []
    window._close_confirmed = True
    window.close()
    context.executor.shutdown()


def test_opening_a_broken_file_says_why(qtbot, studio, tmp_path, monkeypatch):
    bad = tmp_path / "broken.mlx"
    bad.write_bytes(b"this is not a project")
    shown = []
    monkeypatch.setattr(QMessageBox, "warning", lambda *args: shown.append(args[2]))
    before = studio.context.project
    studio.files.open_path(bad, check_unsaved=False)
    settle(qtbot, studio)
    assert studio.context.project is before
    assert shown and "broken.mlx" in shown[0]


def test_dropping_an_mlx_file_opens_it(qtbot, studio, tmp_path):
    path = tmp_path / "dropped.mlx"
    studio.files.save_to(path)
    settle(qtbot, studio)
    studio.files.load(studio.context.project.model_copy(update={"title": "Other"}), None)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    event = QDropEvent(QPointF(100, 100), Qt.DropAction.CopyAction, mime,
                       Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier)
    studio.dropEvent(event)
    settle(qtbot, studio)
    assert studio.files.path == path
    assert studio.context.project.title == "Test song"
