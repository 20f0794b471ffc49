"""`run_studio(argv)`: the QApplication, theme, preferences and the main window; opens a
.mlx given on the command line, else offers to recover a crashed session. Never imports torch:
the models live in the worker process."""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from PySide6.QtWidgets import QApplication

from melodex_studio import __version__
from melodex_studio.project.factory import new_project
from melodex_studio.settings import Settings, load_settings
from melodex_studio.ui.context import StudioContext
from melodex_studio.ui.main_window import MainWindow
from melodex_studio.ui.resources import app_icon
from melodex_studio.ui.theme import apply_theme

log = logging.getLogger(__name__)

STARTER_SECTIONS = "Intro:8, Verse:16, Chorus:8"


def project_path_from_argv(argv: Sequence[str]) -> Path | None:
    """The first argument that names a .mlx file (options and Qt's own arguments skipped)."""
    for arg in list(argv)[1:]:
        if not arg.startswith("-") and arg.lower().endswith(".mlx"):
            return Path(arg)
    return None


def create_application(argv: Sequence[str]) -> QApplication:
    app = QApplication.instance()
    if app is None:
        app = QApplication(list(argv))
    app.setApplicationName("Melodex Studio")
    app.setApplicationDisplayName("Melodex Studio")
    app.setOrganizationName("Melodex")
    app.setApplicationVersion(__version__)
    app.setDesktopFileName("melodex-studio")
    app.setWindowIcon(app_icon())
    return app


def create_main_window(settings: Settings, *, restore_layout: bool = True) -> MainWindow:
    """A window on a fresh starter project (the musician can start typing prompts at once)."""
    project = new_project("Untitled", sections_spec=STARTER_SECTIONS)
    context = StudioContext.create(project, settings)
    window = MainWindow(context, restore_layout=restore_layout)
    context.document.history.mark_clean()
    return window


def start_worker(window: MainWindow, settings: Settings) -> None:
    """Spawn the inference worker (a separate process that owns torch and the models); its
    state reaches the status bar, and generation stays greyed out until it is ready."""
    from melodex_studio.worker.client import WorkerClient
    from melodex_studio.worker.model_paths import worker_config

    inference = settings.inference
    config = worker_config(inference.model_id, inference.stable_audio_dir, inference.device,
                           inference.threads, inference.musicgen_dir, inference.bf16_on_cuda)
    window.worker_factory = lambda w: start_worker(w, w.context.settings.value)
    client = WorkerClient(config, on_event=window.generation.on_client_event)
    window.generation.attach_client(client)
    window.status.set_worker("starting…", "busy")


def run_studio(argv: Sequence[str]) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    app = create_application(argv)
    settings = load_settings()
    apply_theme(app, settings.theme)
    window = create_main_window(settings)
    window.show()
    path = project_path_from_argv(argv)
    if path is not None:
        window.files.open_path(path, check_unsaved=False)
    else:
        window.recovery.check()
    window.playback.open_device_async(settings.audio)
    start_worker(window, settings)
    code = app.exec()
    window.context.executor.shutdown(wait=True)
    return code


if __name__ == "__main__":
    sys.exit(run_studio(sys.argv))
