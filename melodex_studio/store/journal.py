"""The recovery journal: every edit lands on disk in one transaction, so a crash loses nothing.

One SQLite file per editing session in the user data folder (`<session>.mlxj`), in WAL mode with
synchronous=FULL: `record()` appends the whole current document plus any new blobs as a single
commit (one fsync of the WAL), and returns only once it is durable. A clean close deletes the
journal; after a crash it stays, its session lock is free, and the studio offers to restore it.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sqlite3
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType

from melodex_studio import __version__
from melodex_studio.project.models import Project
from melodex_studio.store.blobs import ChainBlobs, FileBlobs, _missing
from melodex_studio.store.document_codec import (
    canonical_json,
    check_document_size,
    parse_json_object,
    text_sha256,
    validate_project,
)
from melodex_studio.store.errors import BadBlob, JournalError, MissingBlob, MlxError, short_sha
from melodex_studio.store.format import (
    CURRENT_USER_VERSION,
    DEFAULT_LIMITS,
    JOURNAL_APPLICATION_ID,
    Limits,
)
from melodex_studio.store.reader import BUSY_TIMEOUT_S, lenient_text, open_project
from melodex_studio.store.session_lock import SessionLock, is_alive
from melodex_studio.store.tensors import check_tensor_blob, kind_of

JOURNAL_SUFFIX = ".mlxj"
LOCK_SUFFIX = ".lock"
#: Document revisions a journal keeps (blobs are all kept: undo may bring any take back).
KEPT_EDITS = 32

JOURNAL_SCHEMA = (
    "CREATE TABLE meta (key TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL)",
    "CREATE TABLE edits (seq INTEGER PRIMARY KEY, created TEXT NOT NULL, "
    "json TEXT NOT NULL, sha256 TEXT NOT NULL)",
    "CREATE TABLE blobs (sha256 TEXT PRIMARY KEY NOT NULL, size INTEGER NOT NULL, "
    "kind TEXT NOT NULL CHECK (kind IN ('latent', 'audio')), bytes BLOB NOT NULL)",
)


class _NeverStarted(Exception):
    """A journal file whose begin() never committed its schema."""


@dataclass(frozen=True, slots=True)
class RecoverableProject:
    session_id: str
    title: str
    original_path: Path | None
    modified: datetime
    revision_count: int
    journal_path: Path


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _connect(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(
        path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
    )
    db.execute("PRAGMA trusted_schema = OFF")
    db.text_factory = lenient_text
    return db


def _journal_files(path: Path) -> tuple[Path, ...]:
    return tuple(path.with_name(path.name + suffix) for suffix in ("", "-wal", "-shm", "-journal"))


class JournalSession:
    """One editing session's journal. Not shared between processes; thread-safe."""

    def __init__(self, path: Path, lock: SessionLock, db: sqlite3.Connection, limits: Limits):
        self.path = path
        self.session_id = path.stem
        self.limits = limits
        self._lock = lock
        self._db = db
        self._mutex = threading.Lock()
        self._last_sha = db.execute("SELECT sha256 FROM edits ORDER BY seq DESC LIMIT 1").fetchone()
        self._last_sha = self._last_sha[0] if self._last_sha else None
        self._count = int(_meta(db, "revision_count") or 0)

    @property
    def revision_count(self) -> int:
        """Edits recorded since the session began (the starting state is not counted)."""
        return self._count

    def record(self, project: Project, new_blobs: Mapping[str, bytes] | None = None) -> int:
        """Make this edit durable: the whole document plus `new_blobs` in ONE transaction.
        Returns the revision count once the commit is on disk."""
        return self._write(project, new_blobs or {}, counts=True)

    def _write(self, project: Project, new_blobs: Mapping[str, bytes], *, counts: bool) -> int:
        text = canonical_json(project)
        check_document_size(len(text.encode("utf-8")), self.limits, "the recovery journal")
        sha = text_sha256(text)
        rows = [self._blob_row(ref, data) for ref, data in sorted(new_blobs.items())]
        with self._mutex:
            if self._db is None:
                raise JournalError(f"the recovery journal {self.path.name} is closed")
            if sha == self._last_sha and not rows:
                return self._count
            count = self._count + 1 if counts else self._count
            try:
                self._db.execute("BEGIN IMMEDIATE")
                self._db.execute(
                    "INSERT INTO edits (created, json, sha256) VALUES (?, ?, ?)",
                    (_now(), text, sha),
                )
                self._db.executemany("INSERT OR IGNORE INTO blobs VALUES (?, ?, ?, ?)", rows)
                self._db.execute(
                    "DELETE FROM edits WHERE seq NOT IN "
                    "(SELECT seq FROM edits ORDER BY seq DESC LIMIT ?)",
                    (KEPT_EDITS,),
                )
                _set_meta(
                    self._db,
                    {"title": project.title, "modified": _now(), "revision_count": str(count)},
                )
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                with contextlib.suppress(sqlite3.Error):
                    self._db.execute("ROLLBACK")
                raise JournalError(f"could not write the recovery journal: {exc}") from exc
            self._last_sha = sha
            self._count = count
        return count

    def _blob_row(self, ref: str, data: bytes) -> tuple[str, int, str, bytes]:
        data = bytes(data)
        if hashlib.sha256(data).hexdigest() != ref:
            raise BadBlob(f"blob {short_sha(ref)} given to the journal does not hash to its key")
        kind = kind_of(check_tensor_blob(data, ref, self.limits))
        return ref, len(data), kind, data

    def close(self, clean: bool = True) -> None:
        """End the session. `clean`: the work is saved, delete the journal; otherwise keep it
        (it is then offered for recovery)."""
        with self._mutex:
            if self._db is None:
                return
            self._db.close()
            self._db = None
            if clean:
                for file in _journal_files(self.path):
                    with contextlib.suppress(FileNotFoundError):
                        os.remove(file)
            self._lock.release(remove=clean)

    def __enter__(self) -> JournalSession:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close(clean=exc_type is None)


class JournalBlobs:
    """Blobs stored in a journal, verified on read."""

    def __init__(self, path: Path, limits: Limits = DEFAULT_LIMITS) -> None:
        self.path = path
        self.limits = limits
        self._db = _connect(path)
        self._db.execute("PRAGMA query_only = ON")
        self._mutex = threading.Lock()

    def has(self, sha256: str) -> bool:
        with self._mutex:
            row = self._db.execute("SELECT 1 FROM blobs WHERE sha256 = ?", (sha256,)).fetchone()
        return row is not None

    def get(self, sha256: str) -> bytes:
        with self._mutex:
            row = self._db.execute(
                "SELECT size, bytes FROM blobs WHERE sha256 = ? AND length(bytes) <= ?",
                (sha256, self.limits.max_blob_bytes),
            ).fetchone()
        if row is None:
            raise _missing(sha256, f"the recovery journal {self.path.name}")
        size, data = row
        if len(data) != size or hashlib.sha256(data).hexdigest() != sha256:
            raise BadBlob(f"blob {short_sha(sha256)} in the recovery journal is damaged")
        check_tensor_blob(data, sha256, self.limits)
        return bytes(data)

    def close(self) -> None:
        with self._mutex:
            self._db.close()


class RecoveryJournal:
    """The folder of journals: begin sessions, list what a crash left, restore, discard."""

    def __init__(self, directory: Path | None = None, limits: Limits = DEFAULT_LIMITS) -> None:
        if directory is None:
            from melodex_studio.settings.paths import recovery_dir

            directory = recovery_dir()
        # Absolute: journals must stay where they are if the working directory changes.
        self.directory = Path(os.path.abspath(directory))
        self.limits = limits

    def _paths(self, session_id: str) -> tuple[Path, Path]:
        if not (len(session_id) == 32 and all(c in "0123456789abcdef" for c in session_id)):
            raise JournalError(f"{session_id[:40]!r} is not a recovery session id")
        base = self.directory / session_id
        return base.with_suffix(JOURNAL_SUFFIX), base.with_suffix(LOCK_SUFFIX)

    def begin(
        self,
        project: Project,
        original_path: str | os.PathLike[str] | None,
        blobs: Mapping[str, bytes] | None = None,
    ) -> JournalSession:
        """Start journaling an editing session from `project` (opened from `original_path`,
        or new). `blobs`: any referenced blobs that are not in the original file."""
        self.directory.mkdir(parents=True, exist_ok=True)
        session_id = uuid.uuid4().hex
        path, lock_path = self._paths(session_id)
        lock = SessionLock(lock_path)
        if not lock.try_acquire():
            raise JournalError(f"could not lock the new recovery session {session_id}")
        try:
            db = _connect(path)
            db.execute("PRAGMA journal_mode = WAL")
            db.execute("PRAGMA synchronous = FULL")
            db.execute(f"PRAGMA application_id = {JOURNAL_APPLICATION_ID}")
            db.execute(f"PRAGMA user_version = {CURRENT_USER_VERSION}")
            db.execute("BEGIN")
            for statement in JOURNAL_SCHEMA:
                db.execute(statement)
            original = "" if original_path is None else os.path.realpath(original_path)
            _set_meta(
                db,
                {
                    "session_id": session_id,
                    "original_path": original,
                    "created": _now(),
                    "app_version": __version__,
                    "revision_count": "0",
                },
            )
            db.execute("COMMIT")
            session = JournalSession(path, lock, db, self.limits)
            session._write(project, blobs or {}, counts=False)
        except (sqlite3.Error, OSError, MlxError) as exc:
            lock.release(remove=True)
            for file in _journal_files(path):
                with contextlib.suppress(FileNotFoundError):
                    os.remove(file)
            if isinstance(exc, MlxError):
                raise
            raise JournalError(f"could not start the recovery journal: {exc}") from exc
        return session

    def list_recoverable(self) -> list[RecoverableProject]:
        """Journals of sessions that ended without a clean close and hold at least one edit,
        newest first. Live sessions (their lock is held) and unreadable journals are skipped;
        journals with no edits are deleted (there is nothing in them to recover)."""
        found = []
        if not self.directory.is_dir():
            return found
        self._remove_orphans()
        for path in sorted(self.directory.glob("*" + JOURNAL_SUFFIX)):
            try:
                _, lock_path = self._paths(path.stem)
            except JournalError:
                continue
            if is_alive(lock_path):
                continue
            try:
                info = self._describe(path)
            except _NeverStarted:
                self._delete(path.stem)  # killed inside begin(): nothing was ever journaled
                continue
            except (sqlite3.Error, ValueError, OSError):
                continue  # unreadable: keep it for a person to look at, never guess
            if info.revision_count == 0:
                self._delete(path.stem)
                continue
            found.append(info)
        return sorted(found, key=lambda info: info.modified, reverse=True)

    def _remove_orphans(self) -> None:
        """Lock, -journal, -wal and -shm files of sessions that died before creating (or after
        deleting) their journal: nothing in them can be recovered."""
        for leftover in self.directory.iterdir():
            stem, _, suffix = leftover.name.partition(".")
            if suffix not in ("lock", "mlxj-journal", "mlxj-wal", "mlxj-shm"):
                continue
            try:
                journal_path, lock_path = self._paths(stem)
            except JournalError:
                continue
            if not journal_path.exists() and not is_alive(lock_path):
                with contextlib.suppress(FileNotFoundError):
                    os.remove(leftover)

    def _describe(self, path: Path) -> RecoverableProject:
        db = _connect(path)
        try:
            tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master")}
            if not tables and db.execute("PRAGMA application_id").fetchone()[0] in (
                0,
                JOURNAL_APPLICATION_ID,
            ):
                raise _NeverStarted
            if db.execute("PRAGMA application_id").fetchone()[0] != JOURNAL_APPLICATION_ID:
                raise ValueError("not a journal")
            original = _meta(db, "original_path") or ""
            return RecoverableProject(
                session_id=path.stem,
                title=_meta(db, "title") or "",
                original_path=Path(original) if original else None,
                modified=datetime.fromisoformat(_meta(db, "modified") or _meta(db, "created")),
                revision_count=int(_meta(db, "revision_count") or 0),
                journal_path=path,
            )
        finally:
            db.close()

    def restore(self, session_id: str) -> tuple[Project, ChainBlobs]:
        """The last recorded project of a crashed session, and a blob source that resolves its
        blobs from the journal and, when it still opens, the original file. Close the source
        when done."""
        path, lock_path = self._paths(session_id)
        if is_alive(lock_path):
            raise JournalError("that session is still open in a running studio")
        if not path.exists():
            raise JournalError(f"there is no recovery session {session_id}")
        try:
            project, original = self._latest_project(path)
            sources: list = [JournalBlobs(path, self.limits)]
        except sqlite3.Error as exc:
            raise JournalError(f"the recovery journal {path.name} is unreadable: {exc}") from exc
        if original is not None and original.exists():
            with contextlib.suppress(MlxError):
                sources.append(FileBlobs(open_project(original, self.limits)))
        chain = ChainBlobs(*sources)
        for ref in sorted(project.blob_refs()):
            if not any(source.has(ref) for source in sources):
                chain.close()
                raise MissingBlob(
                    f"the recovered project needs blob {short_sha(ref)}, which is neither in the "
                    f"journal nor in {original or 'an original file'}",
                    ref,
                )
        return project, chain

    def _latest_project(self, path: Path) -> tuple[Project, Path | None]:
        db = _connect(path)
        try:
            original = _meta(db, "original_path") or ""
            problem = "it holds no edits"
            for text, sha in db.execute("SELECT json, sha256 FROM edits ORDER BY seq DESC"):
                where = f"the recovery journal {path.name}"
                try:
                    if not isinstance(text, str) or text_sha256(text) != sha:
                        raise JournalError(f"{where}: an edit fails its checksum")
                    parse_json_object(text, self.limits, where)
                    return validate_project(text, where), Path(original) if original else None
                except MlxError as exc:
                    problem = exc.message  # fall back to the edit before
        finally:
            db.close()
        raise JournalError(f"nothing in {path.name} can be recovered: {problem}")

    def resume(self, session_id: str) -> JournalSession:
        """Continue journaling into a crashed session's journal (after restoring it)."""
        path, lock_path = self._paths(session_id)
        lock = SessionLock(lock_path)
        if not lock.try_acquire():
            raise JournalError("that session is still open in a running studio")
        try:
            db = _connect(path)
            db.execute("PRAGMA synchronous = FULL")
            return JournalSession(path, lock, db, self.limits)
        except sqlite3.Error as exc:
            lock.release()
            raise JournalError(f"the recovery journal {path.name} is unreadable: {exc}") from exc

    def discard(self, session_id: str) -> None:
        """Delete a crashed session's journal (the musician chose not to restore it)."""
        _, lock_path = self._paths(session_id)
        if is_alive(lock_path):
            raise JournalError("that session is still open in a running studio")
        self._delete(session_id)

    def _delete(self, session_id: str) -> None:
        path, lock_path = self._paths(session_id)
        for file in (*_journal_files(path), lock_path):
            with contextlib.suppress(FileNotFoundError):
                os.remove(file)


def _meta(db: sqlite3.Connection, key: str) -> str | None:
    row = db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return None if row is None else str(row[0])


def _set_meta(db: sqlite3.Connection, values: Mapping[str, str]) -> None:
    db.executemany(
        "INSERT INTO meta (key, value) VALUES (?, ?) "
        "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        sorted(values.items()),
    )
