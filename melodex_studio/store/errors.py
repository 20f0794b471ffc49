"""Typed errors for .mlx files: each carries one line a musician can read.

The studio shows `error.message` in a dialog and `melodex check` prints it, so every message
says what is wrong with which file in plain words, on one line, without a traceback.
"""

from __future__ import annotations

import errno
import sqlite3


class MlxError(Exception):
    """Base of every store error. `str(error)` is `error.message`, a single line."""

    def __init__(self, message: str) -> None:
        self.message = " ".join(message.split())
        super().__init__(self.message)

    def __str__(self) -> str:
        return self.message


class NotAnMlxFile(MlxError):
    """The file is not a Melodex project at all (empty, another format, another SQLite app)."""


class CorruptFile(MlxError):
    """A Melodex project whose bytes are damaged (truncated, flipped bits, broken structure)."""


class FileBusy(MlxError):
    """Another program holds a write lock on the file; opening gives up quickly, never hangs."""


class UnsupportedVersion(MlxError):
    """A format this version cannot read: made by a newer studio, or an unknown old layout."""


class InvalidDocument(MlxError):
    """The project document is not a valid project (bad JSON, limits, model validation)."""


class DocumentTooLarge(InvalidDocument):
    """The document is larger than the limit: refused before reading it into memory."""


class MissingBlob(MlxError, KeyError):
    """A blob the project references is absent. Also a KeyError, so blob sources chain on it."""

    def __init__(self, message: str, sha256: str = "") -> None:
        self.sha256 = sha256
        super().__init__(message)

    def __str__(self) -> str:
        # KeyError's own __str__ would quote the message; keep the plain line.
        return self.message


class BadBlob(MlxError):
    """A blob whose bytes are wrong: size or hash mismatch, or not a valid tensor."""


class SaveFailed(MlxError):
    """Saving did not complete; the previous file is unchanged."""


class DiskFull(SaveFailed):
    """Saving failed because the disk (or a quota) is full."""


class JournalError(MlxError):
    """The recovery journal cannot be written or read."""


def short_sha(sha256: str) -> str:
    """The first 12 hex digits: enough to name a blob in a message."""
    return sha256[:12]


def is_disk_full(exc: BaseException) -> bool:
    """Whether an OS or SQLite error means "no space left" (ENOSPC, EDQUOT, EFBIG, SQLITE_FULL)."""
    if isinstance(exc, OSError):
        return exc.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", -1), errno.EFBIG)
    if isinstance(exc, sqlite3.Error):
        code = getattr(exc, "sqlite_errorcode", None)
        return code == sqlite3.SQLITE_FULL or "disk is full" in str(exc)
    return False


def save_failure(path: object, exc: BaseException) -> SaveFailed:
    """The SaveFailed (or DiskFull) that reports `exc` while saving `path`."""
    detail = " ".join(str(exc).split()) or type(exc).__name__
    if is_disk_full(exc):
        return DiskFull(f"could not save {path}: the disk is full ({detail}); the previous "
                        "version is unchanged")
    return SaveFailed(f"could not save {path}: {detail}; the previous version is unchanged")
