"""The job queue: every render, plan and export the studio is working on, with a progress bar,
its state and a cancel button. Finished jobs stay listed (with their outcome) until cleared."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QToolButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from melodex_studio.ui.resources import icon

JOB_ID_ROLE = Qt.ItemDataRole.UserRole


@dataclass
class JobEntry:
    job_id: str
    title: str
    item: QTreeWidgetItem
    progress: QProgressBar
    cancel_button: QToolButton
    cancel: Callable[[], None] | None
    state: str = "queued"  # queued, running, done, failed, cancelled


class JobQueuePanel(QWidget):
    sig_active_count_changed = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.jobs: dict[str, JobEntry] = {}
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        self.tree = QTreeWidget()
        self.tree.setAccessibleName("Jobs")
        self.tree.setColumnCount(3)
        self.tree.setHeaderLabels(["Job", "Progress", ""])
        self.tree.setRootIsDecorated(False)
        header = self.tree.header()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Fixed)
        header.resizeSection(1, 150)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Fixed)
        header.resizeSection(2, 30)
        header.setStretchLastSection(False)
        self.empty_label = QLabel("No jobs. Generate a section (right-click it) to start one.")
        self.empty_label.setObjectName("hint")
        self.empty_label.setWordWrap(True)
        self.clear_button = QPushButton("Clear Finished")
        self.clear_button.clicked.connect(self.clear_finished)
        row = QHBoxLayout()
        row.addWidget(self.empty_label, 1)
        row.addWidget(self.clear_button)
        layout.addWidget(self.tree, 1)
        layout.addLayout(row)
        self._update_empty()

    # -- API for whoever runs jobs ----------------------------------------------------------------

    def add_job(self, job_id: str, title: str, cancel: Callable[[], None] | None = None) -> None:
        item = QTreeWidgetItem([title, "", ""])
        item.setData(0, JOB_ID_ROLE, job_id)
        item.setToolTip(0, title)
        self.tree.addTopLevelItem(item)
        progress = QProgressBar()
        progress.setRange(0, 100)
        progress.setValue(0)
        progress.setFormat("Queued")
        self.tree.setItemWidget(item, 1, progress)
        button = QToolButton()
        button.setIcon(icon("cancel"))
        button.setToolTip(f"Cancel {title}")
        button.setAccessibleName(f"Cancel {title}")
        button.setEnabled(cancel is not None)
        self.tree.setItemWidget(item, 2, button)
        entry = JobEntry(job_id, title, item, progress, button, cancel)
        button.clicked.connect(lambda: self.request_cancel(job_id))
        self.jobs[job_id] = entry
        self._update_empty()

    def set_progress(self, job_id: str, step: int, total: int, text: str = "") -> None:
        entry = self.jobs.get(job_id)
        if entry is None or entry.state not in ("queued", "running"):
            return
        entry.state = "running"
        total = max(1, total)
        _set_later(entry.progress, round(100 * min(step, total) / total),
                   text or f"Step {step}/{total}")

    def set_finished(self, job_id: str, ok: bool, message: str = "") -> None:
        entry = self.jobs.get(job_id)
        if entry is None:
            return
        if entry.state == "cancelled" and not ok:
            text = "Cancelled"
        else:
            entry.state = "done" if ok else "failed"
            text = message or ("Done" if ok else "Failed")
        if ok:
            entry.progress.setValue(100)
        entry.progress.setFormat(text)
        entry.progress.setProperty("failed", not ok)
        entry.progress.style().polish(entry.progress)
        entry.item.setToolTip(0, f"{entry.title}: {text}")
        entry.progress.setToolTip(text)
        entry.cancel_button.setEnabled(False)
        self._update_empty()

    def request_cancel(self, job_id: str) -> None:
        entry = self.jobs.get(job_id)
        if entry is None or entry.cancel is None or entry.state not in ("queued", "running"):
            return
        entry.state = "cancelled"
        entry.progress.setFormat("Cancelling…")
        entry.cancel_button.setEnabled(False)
        entry.cancel()
        self._update_empty()

    def cancel_all(self) -> None:
        for job_id in list(self.jobs):
            self.request_cancel(job_id)

    def clear_finished(self) -> None:
        for job_id, entry in list(self.jobs.items()):
            if entry.state not in ("queued", "running"):
                index = self.tree.indexOfTopLevelItem(entry.item)
                self.tree.takeTopLevelItem(index)
                del self.jobs[job_id]
        self._update_empty()

    def active_count(self) -> int:
        return sum(1 for entry in self.jobs.values() if entry.state in ("queued", "running"))

    def _update_empty(self) -> None:
        self.empty_label.setVisible(not self.jobs)
        self.clear_button.setEnabled(any(e.state not in ("queued", "running")
                                         for e in self.jobs.values()))
        self.sig_active_count_changed.emit(self.active_count())


def _set_later(bar: QProgressBar, value: int, text: str) -> None:
    """Set a bar's value and text, painted with the next frame instead of now.

    QProgressBar.setValue repaints synchronously whenever the change is visible (one step
    of a 24-step render always is): a full widget repaint and flush inside the progress
    handler, several milliseconds on the main thread per step. With updates disabled the
    repaint is skipped; enabling them again schedules an ordinary update, which Qt merges
    with the frame's other repaints."""
    bar.setUpdatesEnabled(False)
    try:
        bar.setValue(value)
        bar.setFormat(text)
    finally:
        bar.setUpdatesEnabled(True)
