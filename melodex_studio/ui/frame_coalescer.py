"""Apply bursts of updates at screen rate: the latest update per key, once per frame.

A worker reports every denoising step, and a fast model (or a GPU) steps far quicker than a
screen refreshes; applying each report would repaint the job queue and the timeline once per
step. Only the newest state of each thing is worth showing, so updates wait here, replaced by
newer ones for the same key, until the next frame applies them all in one turn of the loop.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Hashable

from PySide6.QtCore import QObject, Qt, QTimer

log = logging.getLogger(__name__)

#: One frame of a 60 Hz screen.
FRAME_MS = 16


class FrameCoalescer(QObject):
    """`post(key, apply)` keeps the newest `apply` per key; `flush` (at most FRAME_MS after the
    first post) runs them in posting order of their keys. Main thread only."""

    def __init__(self, interval_ms: int = FRAME_MS, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._pending: dict[Hashable, Callable[[], None]] = {}
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self.flush)
        self.flushes = 0  # how many frames applied something (tests and benchmarks read it)

    @property
    def pending(self) -> int:
        return len(self._pending)

    def post(self, key: Hashable, apply: Callable[[], None]) -> None:
        self._pending[key] = apply
        if not self._timer.isActive():
            self._timer.start()

    def discard(self, key: Hashable) -> None:
        """Forget a waiting update (its subject is gone, or a final state was applied)."""
        self._pending.pop(key, None)

    def flush(self) -> None:
        self._timer.stop()
        pending, self._pending = self._pending, {}
        if pending:
            self.flushes += 1
        for apply in pending.values():
            try:
                apply()
            except Exception:  # one failing update must not drop the others
                log.exception("frame update %r failed", apply)
