"""The status bar: audio device, model, worker state and autosave state at a glance, plus
one-line messages (refused edits, finished saves, device problems)."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QStatusBar, QWidget

MESSAGE_MS = 6000
LABEL_CHARS = 48


class StudioStatusBar(QStatusBar):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("studioStatusBar")
        self.device_label = self._add("Audio: starting…", "The output device playback uses")
        self.model_label = self._add("Model: –", "The model that renders sections")
        self.worker_label = self._add("Worker: –", "The inference worker process")
        self.autosave_label = self._add("Saved", "Whether the project has unsaved changes")

    def _add(self, text: str, tip: str) -> QLabel:
        label = QLabel(text)
        label.setToolTip(tip)
        self.addPermanentWidget(label)
        return label

    @staticmethod
    def _set(label: QLabel, text: str, state: str = "") -> None:
        # A long reason (a worker that cannot start) must not widen the window: show its
        # start, the whole of it in the tooltip.
        label.setToolTip(text)
        label.setText(text if len(text) <= LABEL_CHARS else text[: LABEL_CHARS - 1] + "…")
        if label.property("state") != state:
            label.setProperty("state", state)
            label.style().unpolish(label)
            label.style().polish(label)

    def set_device(self, text: str, ok: bool = True) -> None:
        self._set(self.device_label, f"Audio: {text}", "" if ok else "error")

    def set_model(self, text: str) -> None:
        self._set(self.model_label, f"Model: {text}")

    def set_worker(self, text: str, state: str = "") -> None:
        self._set(self.worker_label, f"Worker: {text}", state)

    def set_autosave(self, text: str, state: str = "") -> None:
        self._set(self.autosave_label, text, state)

    def message(self, text: str, timeout_ms: int = MESSAGE_MS) -> None:
        self.showMessage(" ".join(text.split()), timeout_ms)
