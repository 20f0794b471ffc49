"""Files: new, open, save, save as, recent files, unsaved-changes prompts and the recovery
journal (crash recovery itself is `ui/recovery.py`). Every disk access runs in the file
executor; the main thread only swaps in results.

Blobs (take audio and latents) come from three places, looked up in this order: renders made
in this session and not saved yet (memory), a restored recovery journal, and the open .mlx
file. After a save the saved file is reopened, so memory only holds what is not on disk.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget

from melodex_studio.project.project_model import Project
from melodex_studio.store import (
    BlobSource,
    ChainBlobs,
    FileBlobs,
    JournalSession,
    MemoryBlobs,
    MlxError,
    OpenedProject,
    RecoveryJournal,
    open_project,
    save_project,
)
from melodex_studio.ui.context import StudioContext
from melodex_studio.ui.dialogs.new_project import NewProjectDialog

log = logging.getLogger(__name__)

MLX_FILTER = "Melodex projects (*.mlx)"
JOURNAL_PAUSE_MS = 300  # a pause in editing this long writes the journal


class ProjectFiles(QObject):
    sig_path_changed = Signal(object)  # Path | None
    sig_modified_changed = Signal(bool)
    sig_blobs_changed = Signal()  # the project's blob sources changed (open, new, restore)
    sig_autosave_state = Signal(str, str)  # text for the status bar, state ("", "busy", "error")
    sig_message = Signal(str)

    def __init__(
        self,
        context: StudioContext,
        dialog_parent: QWidget,
        journal: RecoveryJournal | None = None,
    ) -> None:
        super().__init__(dialog_parent)
        self.context = context
        self.dialog_parent = dialog_parent
        self.journal = journal if journal is not None else RecoveryJournal()
        self.path: Path | None = None
        self._opened: OpenedProject | None = None
        self._extra: ChainBlobs | None = None  # blobs of a restored journal
        self._fresh: dict[str, bytes] = {}  # blobs not in any file yet
        self._unjournaled: dict[str, bytes] = {}
        self._session: JournalSession | None = None
        self._session_pending = False
        self._journaled_revision = -1
        self._force_dirty = False
        self._modified = False
        self._saving = False
        self._journal_busy = False
        self._journaled_at: str | None = None
        self._pause_timer = QTimer(self)
        self._pause_timer.setSingleShot(True)
        self._pause_timer.setInterval(JOURNAL_PAUSE_MS)
        self._pause_timer.timeout.connect(self.record_now)
        self._max_wait_timer = QTimer(self)
        self._max_wait_timer.setSingleShot(True)
        self._max_wait_timer.timeout.connect(self.record_now)
        context.signals.sig_project_changed.connect(self._project_changed)
        context.undo.sig_clean_changed.connect(lambda _clean: self._update_modified())
        self._journaled_revision = context.document.revision
        self._begin_session()  # the project the window starts with is journaled too

    # -- state --------------------------------------------------------------------------------

    def is_modified(self) -> bool:
        return self._force_dirty or not self.context.document.history.is_clean

    def display_name(self) -> str:
        return self.path.name if self.path is not None else f"{self.context.project.title}.mlx"

    def _update_modified(self) -> None:
        modified = self.is_modified()
        if modified != self._modified:
            self._modified = modified
            self.sig_modified_changed.emit(modified)
        self._show_state()

    def _show_state(self) -> None:
        """The status bar's save state, from what is true now."""
        if self._saving:
            return  # "Saving …" stays until the save reports back
        if not self.is_modified():
            self.sig_autosave_state.emit("Saved", "")
        elif self._journal_busy:
            self.sig_autosave_state.emit("Modified · journaling…", "busy")
        elif self._journaled_at is not None:
            self.sig_autosave_state.emit(f"Modified · recovery copy {self._journaled_at}", "")
        else:
            self.sig_autosave_state.emit("Modified", "")

    # -- blobs --------------------------------------------------------------------------------

    def read_blob(self, sha: str) -> bytes:
        """Any blob the current project references (thread-safe; used by the file thread)."""
        data = self._fresh.get(sha)
        if data is not None:
            return data
        for source in (self._extra, None if self._opened is None else FileBlobs(self._opened)):
            if source is None:
                continue
            try:
                return source.get(sha)
            except KeyError:
                continue
        raise KeyError(f"blob {sha[:12]} is not in this project")

    def blob_source(self) -> BlobSource:
        sources: list[BlobSource] = [MemoryBlobs(self._fresh)]
        if self._extra is not None:
            sources.append(self._extra)
        if self._opened is not None:
            sources.append(FileBlobs(self._opened))
        return ChainBlobs(*sources)

    def add_blobs(self, blobs: Mapping[str, bytes]) -> None:
        """Blobs of a new render: kept in memory until saved, and journaled with the edit."""
        for sha, data in blobs.items():
            if sha not in self._fresh:
                self._fresh[sha] = bytes(data)
                self._unjournaled[sha] = self._fresh[sha]

    # -- loading ------------------------------------------------------------------------------

    def load(
        self,
        project: Project,
        path: Path | None,
        opened: OpenedProject | None = None,
        extra: ChainBlobs | None = None,
        *,
        modified: bool = False,
        resume_session: str | None = None,
    ) -> None:
        """Make `project` the document (its history starts over) with its blob sources."""
        self._end_session(clean=True)
        old_opened, old_extra = self._opened, self._extra
        self._opened, self._extra = opened, extra
        self._fresh, self._unjournaled = {}, {}
        self._journaled_at = None
        self.path = path
        self._force_dirty = modified
        self.context.selection.clear()
        self.context.document.load(project)
        self._journaled_revision = self.context.document.revision
        self._close_later(old_opened, old_extra)
        self.sig_blobs_changed.emit()
        self.sig_path_changed.emit(path)
        self._update_modified()
        self._begin_session(resume_session)

    def _close_later(self, *sources: object) -> None:
        # In the file thread, after any save still reading from them.
        for source in sources:
            if source is not None:
                self.context.executor.submit("Close file", source.close)

    def new_project(self) -> None:
        self.with_unsaved_check(self._ask_new_project)

    def _ask_new_project(self) -> None:
        dialog = NewProjectDialog(self.dialog_parent)
        if dialog.exec() == NewProjectDialog.DialogCode.Accepted:
            self.load(dialog.project(), None)
            self.sig_message.emit(f"New project: {self.context.project.title}")

    def open_dialog(self) -> None:
        def ask() -> None:
            start = str(self.path.parent) if self.path else str(Path.home())
            name, _ = QFileDialog.getOpenFileName(self.dialog_parent, "Open Project", start,
                                                  MLX_FILTER)
            if name:
                self.open_path(Path(name), check_unsaved=False)

        self.with_unsaved_check(ask)

    def open_path(self, path: Path, *, check_unsaved: bool = True,
                  on_done: Callable[[], None] | None = None) -> None:
        """Open `path` in the background; errors are shown as one line in a message box."""
        def start() -> None:
            self.sig_autosave_state.emit(f"Opening {path.name}…", "busy")
            self.context.executor.submit(
                f"Open {path.name}", open_project, path,
                on_done=lambda opened: self._opened_file(path, opened, on_done),
                on_error=lambda error: self._open_failed(path, error),
                context=self,
            )

        if check_unsaved:
            self.with_unsaved_check(start)
        else:
            start()

    def open_copy(self, path: Path) -> None:
        """Open `path` as a new, unsaved project (the demo song: Save asks where to put it)."""
        def start() -> None:
            self.context.executor.submit(
                f"Open {path.name}", open_project, path,
                on_done=lambda opened: self.load(opened.project, None, opened, modified=True),
                on_error=lambda error: self._open_failed(path, error),
                context=self,
            )

        self.with_unsaved_check(start)

    def _opened_file(self, path: Path, opened: OpenedProject,
                     on_done: Callable[[], None] | None) -> None:
        self.load(opened.project, path, opened)
        self._remember_recent(path)
        self.sig_message.emit(f"Opened {path.name}")
        if on_done is not None:
            on_done()

    def _open_failed(self, path: Path, error: BaseException) -> None:
        self._update_modified()
        message = error.message if isinstance(error, MlxError) else str(error)
        QMessageBox.warning(self.dialog_parent, "Cannot Open Project",
                            f"{path.name} could not be opened.\n\n{message}")

    def _remember_recent(self, path: Path) -> None:
        holder = self.context.settings
        holder.update(holder.value.with_recent_file(str(path)))

    # -- saving -------------------------------------------------------------------------------

    def save(self, then: Callable[[], None] | None = None) -> None:
        if self.path is None:
            self.save_as(then)
        else:
            self.save_to(self.path, then)

    def save_as(self, then: Callable[[], None] | None = None) -> None:
        start = self.path or Path.home() / f"{self.context.project.title}.mlx"
        name, _ = QFileDialog.getSaveFileName(self.dialog_parent, "Save Project As", str(start),
                                              MLX_FILTER)
        if not name:
            return
        path = Path(name)
        if path.suffix.lower() != ".mlx":
            path = path.with_name(path.name + ".mlx")
        self.save_to(path, then)

    def save_to(self, path: Path, then: Callable[[], None] | None = None) -> None:
        """Save the current project to `path` in the background; `then` runs after success."""
        project = self.context.project
        history = self.context.document.history
        index_at_start, revision_at_start = history.index, self.context.document.revision
        self._saving = True
        self.sig_autosave_state.emit(f"Saving {path.name}…", "busy")
        started = time.perf_counter()

        def saved_and_reopened(opened: OpenedProject) -> None:
            self._saving = False
            old = self._opened
            self._opened = opened
            refs = project.blob_refs()
            self._fresh = {sha: data for sha, data in self._fresh.items() if sha not in refs}
            if path != self.path:
                self.path = path
                self.sig_path_changed.emit(path)
            unchanged = self.context.document.revision == revision_at_start or (
                history.index == index_at_start)
            if unchanged:
                history.mark_clean()
                self._force_dirty = False
            self._close_later(old)
            self._remember_recent(path)
            self._update_modified()
            self._restart_session()
            seconds = time.perf_counter() - started
            self.sig_message.emit(f"Saved {path.name} in {seconds:.1f} s")
            if then is not None:
                then()

        self.context.executor.submit(
            f"Save {path.name}", _save_and_reopen, path, project, self.blob_source(),
            on_done=saved_and_reopened,
            on_error=lambda error: self._save_failed(path, error),
            context=self,
        )

    def _save_failed(self, path: Path, error: BaseException) -> None:
        self._saving = False
        self.sig_autosave_state.emit("Not saved", "error")
        message = error.message if isinstance(error, MlxError) else str(error)
        QMessageBox.critical(self.dialog_parent, "Save Failed",
                             f"{path.name} was not saved; the file on disk is unchanged.\n\n"
                             f"{message}")

    def with_unsaved_check(self, action: Callable[[], None]) -> None:
        """Run `action` now, or after asking what to do with unsaved changes (Save runs it
        once the save succeeded; Cancel never runs it)."""
        if not self.is_modified():
            action()
            return
        box = QMessageBox(self.dialog_parent)
        box.setIcon(QMessageBox.Icon.Warning)
        box.setWindowTitle("Unsaved Changes")
        box.setText(f"Save the changes to {self.display_name()}?")
        box.setInformativeText("Your changes are lost if you don't save them.")
        box.setStandardButtons(QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard
                               | QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(QMessageBox.StandardButton.Save)
        answer = box.exec()
        if answer == QMessageBox.StandardButton.Save:
            self.save(then=action)
        elif answer == QMessageBox.StandardButton.Discard:
            action()

    # -- recovery journal ---------------------------------------------------------------------

    def _begin_session(self, resume_session: str | None = None) -> None:
        project = self.context.project
        path = self.path
        blobs = dict(self._fresh)
        self._session_pending = True

        def begin() -> JournalSession:
            if resume_session is not None:
                return self.journal.resume(resume_session)
            return self.journal.begin(project, path, blobs)

        self.context.executor.submit(
            "Start recovery journal", begin,
            on_done=self._session_started,
            on_error=self.journal_failed,
            context=self,
        )

    def _session_started(self, session: JournalSession) -> None:
        self._session_pending = False
        self._session = session
        if self.context.document.revision != self._journaled_revision:
            self.record_now()

    def _restart_session(self) -> None:
        """After a save: the old journal is no longer needed; journal from the saved state."""
        self._end_session(clean=True)
        self._journaled_revision = self.context.document.revision
        self._unjournaled = {}
        self._begin_session()

    def _end_session(self, clean: bool) -> None:
        self._pause_timer.stop()
        self._max_wait_timer.stop()
        session, self._session = self._session, None
        if session is not None:
            self.context.executor.submit("Close recovery journal", session.close, clean)

    def _project_changed(self) -> None:
        self._update_modified()
        if self.context.document.revision == self._journaled_revision:
            return
        self._pause_timer.start()
        if not self._max_wait_timer.isActive():
            interval = self.context.settings.value.autosave_interval_s
            self._max_wait_timer.start(round(interval * 1000))

    def record_now(self) -> None:
        """Write the current project (and new blobs) to the journal, in the file thread."""
        self._pause_timer.stop()
        self._max_wait_timer.stop()
        session = self._session
        if session is None:
            return  # the session is starting; it records the latest state when it has
        document = self.context.document
        if document.revision == self._journaled_revision:
            return
        self._journaled_revision = document.revision
        project, blobs = document.project, self._unjournaled
        self._unjournaled = {}
        self._journal_busy = True
        self._show_state()

        def recorded(count: int) -> None:
            self._journal_busy = False
            self._journaled_at = time.strftime("%H:%M:%S")
            self._show_state()

        self.context.executor.submit(
            "Record recovery journal", session.record, project, blobs,
            on_done=recorded, on_error=self.journal_failed, context=self,
        )

    def journal_failed(self, error: BaseException) -> None:
        self._session_pending = False
        self._journal_busy = False
        message = error.message if isinstance(error, MlxError) else str(error)
        self.sig_autosave_state.emit("No recovery copy", "error")
        self.sig_message.emit(f"Recovery journal: {message}")

    # -- closing ------------------------------------------------------------------------------

    def shutdown(self) -> None:
        """The window closes with nothing left to save: end the journal cleanly, close files."""
        self._end_session(clean=True)
        self._close_later(self._opened, self._extra)
        self._opened = self._extra = None


def _save_and_reopen(path: Path, project: Project, blobs: BlobSource) -> OpenedProject:
    save_project(path, project, blobs)
    return open_project(path)
