"""The crash-recovery dialog shown at start when a session ended without closing cleanly:
restore it, save it somewhere else, or discard it."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from melodex_studio.store import RecoverableProject

SESSION_ROLE = 0x0100


class RecoveryDialog(QDialog):
    """`choice` is "restore", "save_elsewhere" or "discard" after exec; `chosen` the session."""

    def __init__(self, sessions: list[RecoverableProject], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Recover Unsaved Work")
        self.setMinimumWidth(520)
        self.sessions = sessions
        self.choice: str | None = None
        layout = QVBoxLayout(self)
        intro = QLabel(
            "Melodex Studio did not close normally last time. These projects had changes that "
            "were not saved; every edit was kept in the recovery journal."
        )
        intro.setWordWrap(True)
        layout.addWidget(intro)
        self.list = QListWidget()
        self.list.setAccessibleName("Recoverable projects")
        for info in sessions:
            where = str(info.original_path) if info.original_path else "never saved"
            text = (f"{info.title or 'Untitled'} — {info.revision_count} edits, last at "
                    f"{info.modified.astimezone():%Y-%m-%d %H:%M}  ({where})")
            item = QListWidgetItem(text)
            item.setData(SESSION_ROLE, info.session_id)
            self.list.addItem(item)
        self.list.setCurrentRow(0)
        layout.addWidget(self.list)
        buttons = QDialogButtonBox()
        self.restore_button = QPushButton("Restore")
        self.restore_button.setDefault(True)
        self.save_button = QPushButton("Save Elsewhere…")
        self.discard_button = QPushButton("Discard")
        buttons.addButton(self.restore_button, QDialogButtonBox.ButtonRole.AcceptRole)
        buttons.addButton(self.save_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.addButton(self.discard_button, QDialogButtonBox.ButtonRole.DestructiveRole)
        later = buttons.addButton("Decide Later", QDialogButtonBox.ButtonRole.RejectRole)
        later.setToolTip("Keep the journal; you will be asked again next time")
        self.restore_button.clicked.connect(lambda: self._choose("restore"))
        self.save_button.clicked.connect(lambda: self._choose("save_elsewhere"))
        self.discard_button.clicked.connect(lambda: self._choose("discard"))
        later.clicked.connect(self.reject)
        layout.addWidget(buttons)

    @property
    def chosen(self) -> RecoverableProject | None:
        row = self.list.currentRow()
        return self.sessions[row] if 0 <= row < len(self.sessions) else None

    def _choose(self, choice: str) -> None:
        self.choice = choice
        self.accept()
