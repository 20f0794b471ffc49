"""The Qt plumbing: file executor, main-thread delivery, document signals, undo adapter,
themed icons, and a studio that starts without torch."""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import pytest
from PySide6.QtCore import QThread

from melodex_studio.project.commands import EditPrompt, MoveSection
from melodex_studio.project.document import Document
from melodex_studio.project.models import new_project
from melodex_studio.ui.events import DocumentSignals
from melodex_studio.ui.tasks import FileTaskExecutor, ensure_main_thread, is_main_thread
from melodex_studio.ui.undo import UndoStackAdapter

pytestmark = pytest.mark.qt


def test_file_tasks_run_one_at_a_time_in_order_and_report_on_the_main_thread(qtbot):
    executor = FileTaskExecutor()
    running = []
    log: list[tuple[str, int]] = []
    threads = []

    def work(i: int) -> int:
        running.append(i)
        assert len(running) == 1  # never two at once
        time.sleep(0.005)
        running.remove(i)
        return i

    def done(i: int) -> None:
        threads.append(is_main_thread())
        log.append(("done", i))

    busy = []
    executor.sig_busy_changed.connect(busy.append)
    for i in range(6):
        executor.submit(f"task {i}", work, i, on_done=done)
    assert executor.wait_idle(10)
    assert log == [("done", i) for i in range(6)]
    assert all(threads)
    assert busy == [True, False]
    executor.shutdown()


def test_file_task_errors_and_progress_come_back_to_the_main_thread(qtbot):
    executor = FileTaskExecutor()
    errors, progress, failed = [], [], []

    def fails() -> None:
        raise OSError("disk on fire")

    def reports(progress: object) -> str:
        for i in range(3):
            progress(i / 2, f"step {i}")
        return "ok"

    executor.sig_task_failed.connect(lambda label, message: failed.append((label, message)))
    executor.submit("fails", fails, on_error=errors.append)
    executor.submit("fails quietly", fails)
    executor.submit("reports", reports, on_progress=lambda f, t: progress.append((f, t)))
    assert executor.wait_idle(10)
    assert isinstance(errors[0], OSError)
    assert failed == [("fails quietly", "disk on fire")]
    assert progress[-1] == (1.0, "step 2")
    executor.shutdown()
    late = executor.submit("late", time.sleep, 0)
    assert late.future.cancelled()


def test_ensure_main_thread_forwards_calls_from_other_threads(qtbot):
    seen = []

    @ensure_main_thread
    def record(value: int) -> None:
        seen.append((value, QThread.currentThread() is qtbot_app_thread()))

    worker = threading.Thread(target=record, args=(7,))
    worker.start()
    worker.join()
    qtbot.waitUntil(lambda: seen == [(7, True)], timeout=2000)


def qtbot_app_thread():
    from PySide6.QtWidgets import QApplication

    return QApplication.instance().thread()


def test_document_events_arrive_as_signals(qtbot):
    project = new_project("Song", sections_spec="Intro:4,Verse:8")
    document = Document(project)
    signals = DocumentSignals(document)
    changed, moved, history = [], [], []
    signals.sig_section_changed.connect(lambda sid, fields: changed.append((sid, set(fields))))
    signals.sig_section_moved.connect(lambda sid, old, new: moved.append((sid, old, new)))
    signals.sig_history_changed.connect(history.append)
    intro = project.sections[0]
    document.history.push(EditPrompt(intro.id, "warm"))
    assert changed == [(intro.id, {"prompt"})]
    assert history[-1].undo_text == "Edit prompt of Intro"
    signals.detach()
    document.history.undo()
    assert len(changed) == 1  # detached: no more signals


def test_undo_adapter_names_actions_and_reports_refused_edits(qtbot):
    from PySide6.QtCore import QObject

    project = new_project("Song", sections_spec="Intro:4,Verse:8")
    document = Document(project)
    adapter = UndoStackAdapter(document, DocumentSignals(document))
    owner = QObject()
    undo, redo = adapter.createUndoAction(owner), adapter.createRedoAction(owner)
    assert not undo.isEnabled() and undo.text() == "Undo"
    refused, clean = [], []
    adapter.sig_edit_refused.connect(refused.append)
    adapter.sig_clean_changed.connect(clean.append)
    intro, verse = project.sections
    assert adapter.push(MoveSection(intro.id, 20))
    assert undo.isEnabled() and undo.text() == "Undo Move Intro"
    assert clean == [False]
    assert not adapter.push(MoveSection(verse.id, 18))  # would overlap the moved intro
    assert refused and "overlap" in refused[0]
    undo.trigger()
    assert redo.text() == "Redo Move Intro" and adapter.isClean()
    assert {k.toString() for k in redo.shortcuts()} == {"Ctrl+Shift+Z", "Ctrl+Y"}


def test_icons_are_themed_svgs_that_render(qtbot):
    from melodex_studio.ui.resources import icon, icon_path

    for name in ("play", "stop", "loop", "generate", "repaint", "vary", "lock"):
        assert icon_path(name).exists()
        assert not icon(name).isNull()
    image = icon("play", "#ff0000").pixmap(24, 24).toImage()
    reds = sum(image.pixelColor(x, y).red() > 200 and image.pixelColor(x, y).alpha() > 0
               for x in range(24) for y in range(24))
    assert reds > 40  # recoloured from the neutral source colour


def test_the_studio_starts_without_importing_torch(tmp_path):
    code = (
        "import sys, os\n"
        "os.environ['QT_QPA_PLATFORM'] = 'offscreen'\n"
        "from melodex_studio.ui.app import create_application, create_main_window\n"
        "from melodex_studio.settings import Settings\n"
        "app = create_application(sys.argv)\n"
        "window = create_main_window(Settings(), restore_layout=False)\n"
        "window.show(); app.processEvents()\n"
        "heavy = [m for m in ('torch', 'diffusers', 'transformers') if m in sys.modules]\n"
        "print('HEAVY', heavy)\n"
        "window._close_confirmed = True; window.close()\n"
        "window.context.executor.shutdown()\n"
    )
    env = {"MELODEX_CONFIG_DIR": str(tmp_path / "c"), "MELODEX_DATA_DIR": str(tmp_path / "d"),
           "MELODEX_CACHE_DIR": str(tmp_path / "k"), "PATH": "/usr/bin:/bin",
           "HF_HUB_OFFLINE": "1"}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120, env=env)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "HEAVY []" in result.stdout


def test_project_path_from_argv():
    from pathlib import Path

    from melodex_studio.ui.app import project_path_from_argv

    assert project_path_from_argv(["melodex-studio", "-style", "x", "song.MLX"]) == Path("song.MLX")
    assert project_path_from_argv(["melodex-studio"]) is None
