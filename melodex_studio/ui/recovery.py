"""Crash recovery at start: offer what a session that ended without closing left in the
recovery journal, and restore it, save it elsewhere or discard it (all disk work in the file
executor)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QFileDialog, QMessageBox

from melodex_studio.project.project_model import Project
from melodex_studio.store import ChainBlobs, MlxError, RecoverableProject, save_project
from melodex_studio.ui.dialogs.recovery import RecoveryDialog
from melodex_studio.ui.project_files import MLX_FILTER, ProjectFiles


class CrashRecovery(QObject):
    def __init__(self, files: ProjectFiles) -> None:
        super().__init__(files)
        self.files = files

    def check(self, on_finished: Callable[[], None] | None = None) -> None:
        """Offer to restore what a crash left behind (in the background, then a dialog)."""
        files = self.files
        files.context.executor.submit(
            "Look for recoverable work", files.journal.list_recoverable,
            on_done=lambda found: self._offer(found, on_finished),
            on_error=lambda error: on_finished() if on_finished else None,
            context=files,
        )

    def _offer(
        self, found: list[RecoverableProject], on_finished: Callable[[], None] | None
    ) -> None:
        files = self.files
        if not found:
            if on_finished is not None:
                on_finished()
            return
        dialog = RecoveryDialog(found, files.dialog_parent)
        accepted = dialog.exec() == RecoveryDialog.DialogCode.Accepted
        info = dialog.chosen
        if not accepted or info is None or dialog.choice is None:
            if on_finished is not None:
                on_finished()
            return
        remaining = [other for other in found if other.session_id != info.session_id]

        def next_one() -> None:
            self._offer(remaining, on_finished)

        if dialog.choice == "restore":
            self.restore(info, then=on_finished)
        elif dialog.choice == "save_elsewhere":
            self.save_recovered_elsewhere(info, then=next_one)
        else:
            files.context.executor.submit(
                "Discard recovery journal", files.journal.discard, info.session_id,
                on_done=lambda _r: next_one(), on_error=files.journal_failed, context=files)

    def restore(self, info: RecoverableProject, then: Callable[[], None] | None = None) -> None:
        files = self.files

        def restored(result: tuple[Project, ChainBlobs]) -> None:
            project, chain = result
            kept = info.original_path
            original = kept if kept is not None and kept.exists() else None
            files.load(project, original, None, chain, modified=True,
                       resume_session=info.session_id)
            files.sig_message.emit(f"Restored {project.title} ({info.revision_count} edits)")
            if then is not None:
                then()

        files.context.executor.submit(
            "Restore recovered work", files.journal.restore, info.session_id,
            on_done=restored,
            on_error=lambda error: self._recovery_failed(error, then),
            context=files,
        )

    def save_recovered_elsewhere(
        self,
        info: RecoverableProject,
        then: Callable[[], None] | None = None,
        path: Path | None = None,
    ) -> None:
        files = self.files
        if path is None:
            start = Path.home() / f"{info.title or 'Recovered'} (recovered).mlx"
            name, _ = QFileDialog.getSaveFileName(files.dialog_parent, "Save Recovered Project",
                                                  str(start), MLX_FILTER)
            if not name:
                if then is not None:
                    then()
                return
            path = Path(name) if name.lower().endswith(".mlx") else Path(name + ".mlx")
        journal = files.journal

        def restore_and_save() -> Path:
            project, chain = journal.restore(info.session_id)
            try:
                save_project(path, project, chain)
            finally:
                chain.close()
            journal.discard(info.session_id)
            return path

        def saved(target: Path) -> None:
            files.sig_message.emit(f"Recovered work saved as {target.name}")
            if then is not None:
                then()

        files.context.executor.submit(
            "Save recovered work", restore_and_save,
            on_done=saved,
            on_error=lambda error: self._recovery_failed(error, then),
            context=files,
        )

    def _recovery_failed(self, error: BaseException, then: Callable[[], None] | None) -> None:
        message = error.message if isinstance(error, MlxError) else str(error)
        QMessageBox.warning(self.files.dialog_parent, "Recovery Failed", message)
        if then is not None:
            then()
