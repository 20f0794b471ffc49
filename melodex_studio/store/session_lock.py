"""An advisory lock that says "this editing session is alive".

The studio holds it for as long as a journal session is open; the operating system drops it
when the process dies, however it dies. So a journal whose lock can be taken belongs to a
session that crashed (or closed without cleaning up) and may be offered for recovery.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]
    import msvcrt


class SessionLock:
    """Exclusive, non-blocking lock on a small file beside the journal."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def try_acquire(self) -> bool:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            if fcntl is not None:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            else:
                msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    def release(self, *, remove: bool = False) -> None:
        if self._fd is None:
            return
        if remove:
            with contextlib.suppress(FileNotFoundError):
                os.remove(self.path)
        os.close(self._fd)  # closing drops the lock on every platform
        self._fd = None

    @property
    def held(self) -> bool:
        return self._fd is not None


def is_alive(lock_path: Path) -> bool:
    """Whether another open session holds `lock_path` right now."""
    if not lock_path.exists():
        return False
    probe = SessionLock(lock_path)
    if probe.try_acquire():
        probe.release()
        return False
    return True
