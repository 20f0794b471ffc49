"""The parts of one studio window that its panels share, handed to each explicitly.

No global singletons: the main window builds one StudioContext and passes it to the parts it
composes; tests build one around a Document of their own.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from melodex_studio.project.document import Document
from melodex_studio.project.project_model import Project
from melodex_studio.settings import Settings, save_settings
from melodex_studio.ui.events import DocumentSignals
from melodex_studio.ui.selection import SelectionModel
from melodex_studio.ui.tasks import FileTaskExecutor
from melodex_studio.ui.undo import UndoStackAdapter


class SettingsHolder(QObject):
    """The current preferences; changes are saved in the background and announced."""

    sig_settings_changed = Signal(object)  # Settings

    def __init__(
        self,
        settings: Settings,
        executor: FileTaskExecutor,
        path: Path | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._settings = settings
        self._executor = executor
        self._path = path

    @property
    def value(self) -> Settings:
        return self._settings

    def update(self, settings: Settings, *, persist: bool = True) -> None:
        if settings == self._settings:
            return
        self._settings = settings
        if persist:
            self._executor.submit("Save preferences", save_settings, settings, self._path)
        self.sig_settings_changed.emit(settings)


@dataclass
class StudioContext:
    """Everything a panel of one window may need."""

    document: Document
    signals: DocumentSignals
    undo: UndoStackAdapter
    selection: SelectionModel
    executor: FileTaskExecutor
    settings: SettingsHolder

    @property
    def project(self) -> Project:
        return self.document.project

    @classmethod
    def create(
        cls,
        project: Project,
        settings: Settings,
        *,
        settings_path: Path | None = None,
        parent: QObject | None = None,
    ) -> StudioContext:
        document = Document(project)
        signals = DocumentSignals(document, parent)
        executor = FileTaskExecutor(parent)
        return cls(
            document=document,
            signals=signals,
            undo=UndoStackAdapter(document, signals, parent),
            selection=SelectionModel(document, signals, parent),
            executor=executor,
            settings=SettingsHolder(settings, executor, settings_path, parent),
        )
