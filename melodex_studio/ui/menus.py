"""The menu bar, built from the shared actions."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMainWindow, QMenu

from melodex_studio.ui.actions import StudioActions


def build_menu_bar(
    window: QMainWindow,
    actions: StudioActions,
    undo: QAction,
    redo: QAction,
    panel_toggles: list[QAction],
) -> QMenu:
    """Fill the window's menu bar; returns the (empty) Open Recent menu to fill later."""
    bar = window.menuBar()
    file_menu = bar.addMenu("&File")
    file_menu.addAction(actions.new)
    file_menu.addAction(actions.open)
    recent = file_menu.addMenu("Open &Recent")
    file_menu.addSeparator()
    file_menu.addAction(actions.save)
    file_menu.addAction(actions.save_as)
    file_menu.addAction(actions.export)
    file_menu.addSeparator()
    file_menu.addAction(actions.preferences)
    file_menu.addSeparator()
    file_menu.addAction(actions.quit)

    edit = bar.addMenu("&Edit")
    edit.addAction(undo)
    edit.addAction(redo)
    edit.addSeparator()
    edit.addAction(actions.add_section)
    edit.addAction(actions.duplicate)
    edit.addAction(actions.rename)
    edit.addAction(actions.delete)
    edit.addAction(actions.mute)
    edit.addSeparator()
    edit.addAction(actions.select_all)

    transport = bar.addMenu("&Transport")
    for action in (actions.play, actions.to_start, actions.to_end):
        transport.addAction(action)
    transport.addSeparator()
    for action in (actions.loop, actions.loop_selection, actions.metronome, actions.count_in,
                   actions.audition_renders, actions.follow):
        transport.addAction(action)

    generate = bar.addMenu("&Generate")
    for action in actions.generation_actions():
        generate.addAction(action)
    generate.addSeparator()
    generate.addAction(actions.cancel_jobs)

    view = bar.addMenu("&View")
    help_menu = bar.addMenu("&Help")
    help_menu.addAction(actions.open_demo)
    help_menu.addAction(actions.shortcuts)
    help_menu.addSeparator()
    help_menu.addAction(actions.about)
    view.addAction(actions.zoom_in)
    view.addAction(actions.zoom_out)
    view.addAction(actions.zoom_fit)
    view.addSeparator()
    for toggle in panel_toggles:
        view.addAction(toggle)
    return recent


def fill_recent_menu(
    menu: QMenu, paths: tuple[str, ...], open_path: Callable[[Path], None]
) -> None:
    menu.clear()
    for index, name in enumerate(paths[:10], start=1):
        path = Path(name)
        action = menu.addAction(f"&{index % 10}  {path.name}")
        action.setToolTip(str(path))
        action.setStatusTip(str(path))
        action.triggered.connect(lambda _=False, p=path: open_path(p))
    if not paths:
        menu.addAction("No recent projects").setEnabled(False)
