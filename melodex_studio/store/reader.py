"""Opening a .mlx file: read-only, checked in order from cheapest to dearest, never modified.

Order: raw header and size (no SQLite yet) -> read-only SQLite connection -> identity and
version -> schema -> document size -> quick_check -> meta -> document (checksum, limits, JSON
guards, migration, strict pydantic) -> every referenced blob (present, honest size, valid
safetensors header). Blob bytes are hashed lazily on read (and all of them by `check`).
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from melodex_studio.project.models import Project
from melodex_studio.store.document_codec import (
    canonical_dumps,
    check_document_size,
    parse_json_object,
    text_sha256,
    validate_project,
)
from melodex_studio.store.errors import (
    BadBlob,
    CorruptFile,
    FileBusy,
    InvalidDocument,
    MissingBlob,
    MlxError,
    NotAnMlxFile,
    UnsupportedVersion,
    short_sha,
)
from melodex_studio.store.format import (
    APPLICATION_ID,
    CURRENT_VERSION_TEXT,
    DEFAULT_LIMITS,
    FORMAT_MAJOR,
    Limits,
    decode_version,
    version_text,
)
from melodex_studio.store.header import read_header
from melodex_studio.store.kinds import blob_kinds
from melodex_studio.store.migrations import CURRENT_LAYOUT, Layout, layout_for, migrate_document
from melodex_studio.store.tensors import (
    LENGTH_BYTES,
    check_tensor_blob,
    header_length,
    parse_header,
)

#: What a damaged file can make a query raise: SQLite's errors, and a UnicodeDecodeError when
#: SQLite's own error message quotes damaged (non-UTF-8) schema text.
DAMAGE_ERRORS = (sqlite3.Error, UnicodeDecodeError)

#: How long a reader waits for another process's lock: opening must never hang.
BUSY_TIMEOUT_S = 0.25


@dataclass(frozen=True, slots=True)
class FileIdentity:
    """Which bytes on disk an open file is: used to know the path still names that file."""

    device: int
    inode: int
    size: int
    mtime_ns: int

    @classmethod
    def of(cls, path: Path) -> FileIdentity:
        info = os.stat(path)
        return cls(info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns)


@dataclass(frozen=True, slots=True)
class RevisionInfo:
    id: int
    created: str
    sha256: str
    size: int


def lenient_text(data: bytes) -> str:
    return data.decode("utf-8", "replace")


def connect_read_only(path: Path) -> sqlite3.Connection:
    """A read-only connection that cannot write the file, its journal or create any file."""
    uri = Path(os.path.abspath(path)).as_uri() + "?mode=ro"
    connection = sqlite3.connect(
        uri, uri=True, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
    )
    # Damaged text must not raise UnicodeDecodeError deep inside a query: decode leniently and
    # let the checks (checksums, expected values) report the damage.
    connection.text_factory = lenient_text
    for pragma in (
        "PRAGMA query_only = ON",
        "PRAGMA trusted_schema = OFF",
        "PRAGMA cell_size_check = ON",
        "PRAGMA mmap_size = 0",
    ):
        connection.execute(pragma)
    return connection


class OpenedProject:
    """An open .mlx file: the validated project plus lazy, verified access to its blobs.

    Thread-safe (one lock around the connection) so a save thread can read blobs while the UI
    thread owns the object. Close it (or use it as a context manager) when done.
    """

    def __init__(self, path: Path, limits: Limits = DEFAULT_LIMITS) -> None:
        # Absolute from the start: a later save ATTACHes this file by URI (which needs an
        # absolute path), and a change of working directory must not make the path name
        # another file.
        self.path = Path(os.path.abspath(path))
        self.limits = limits
        self._lock = threading.Lock()
        header = read_header(self.path, limits)
        self.identity = FileIdentity.of(self.path)
        version = _check_identity(self.path, header.application_id, header.user_version)
        if header.journal_mode_wal:
            raise CorruptFile(
                f"{self.path} is in SQLite WAL mode, which Melodex never writes; it was changed "
                "by another program"
            )
        self.layout: Layout = layout_for(version)  # type: ignore[assignment]
        self.format_version = version_text(*version)
        try:
            self._connection = connect_read_only(self.path)
        except DAMAGE_ERRORS as exc:
            raise CorruptFile(f"{self.path} cannot be opened: {exc}") from None
        try:
            self._open(version)
        except DAMAGE_ERRORS as exc:
            self._connection.close()
            raise _damage(self.path, exc) from None
        except BaseException:
            self._connection.close()
            raise

    # -- opening -------------------------------------------------------------------------------

    def _open(self, version: tuple[int, int]) -> None:
        where = str(self.path)
        db = self._connection
        if db.execute("PRAGMA application_id").fetchone()[0] != APPLICATION_ID:
            raise NotAnMlxFile(f"{where} is a SQLite database of another application")
        _check_schema(db, self.layout, where)
        row = db.execute(self.layout.document_query).fetchone()
        if row is None:
            raise CorruptFile(f"{where} holds no project document")
        rowid, stored_sha = row
        document = db.blobopen(self.layout.document_table, "json", rowid, readonly=True)
        try:
            check_document_size(len(document), self.limits, where)
            raw = document.read()
        finally:
            document.close()
        quick = db.execute("PRAGMA quick_check(5)").fetchall()
        if [tuple(r) for r in quick] != [("ok",)]:
            raise CorruptFile(f"{where} is damaged: {quick[0][0]}")
        self.meta = _read_meta(db, where, self.format_version)
        self.revision_id = rowid if self.layout.has_revisions else None
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise CorruptFile(
                f"{where} is damaged: the project document is not UTF-8 text"
            ) from None
        self.document_sha256 = text_sha256(text)
        if stored_sha is not None and stored_sha != self.document_sha256:
            raise CorruptFile(f"{where} is damaged: the project document fails its checksum")
        self.migrated_from = None if version == CURRENT_LAYOUT.version else self.format_version
        self.project = _document_to_project(text, version, self.limits, where)
        self._kinds = blob_kinds(self.project)
        if len(self._kinds) > self.limits.max_blobs:
            raise InvalidDocument(
                f"{where}: the project references {len(self._kinds)} blobs, over the limit of "
                f"{self.limits.max_blobs}"
            )
        self._sizes = {ref: self._check_blob_header(ref) for ref in sorted(self._kinds)}

    def _blob_row(self, sha256: str) -> tuple[int, int]:
        layout = self.layout
        row = self._connection.execute(
            f"SELECT rowid, {layout.blob_size_expr}, length({layout.blob_bytes_column}) "
            f"FROM {layout.blob_table} WHERE sha256 = ?",
            (sha256,),
        ).fetchone()
        if row is None:
            raise MissingBlob(
                f"{self.path}: blob {short_sha(sha256)} that the project references is missing",
                sha256,
            )
        rowid, size, length = row
        if size != length:
            raise BadBlob(
                f"{self.path}: blob {short_sha(sha256)} claims {size} bytes but holds {length}"
            )
        if length > self.limits.max_blob_bytes:
            raise BadBlob(
                f"{self.path}: blob {short_sha(sha256)} is {length} bytes, over the limit"
            )
        return rowid, length

    def _check_blob_header(self, sha256: str) -> int:
        """Presence, honest size and a valid safetensors header, reading only a few pages."""
        rowid, size = self._blob_row(sha256)
        handle = self._connection.blobopen(
            self.layout.blob_table, self.layout.blob_bytes_column, rowid, readonly=True
        )
        try:
            length = header_length(handle.read(LENGTH_BYTES), size, sha256, self.limits)
            parse_header(handle.read(length), size, sha256, self.limits, self._kinds.get(sha256))
        except BadBlob as exc:
            raise BadBlob(f"{self.path}: {exc.message}") from None
        finally:
            handle.close()
        return size

    # -- reading -------------------------------------------------------------------------------

    def has_blob(self, sha256: str) -> bool:
        with self._lock:
            row = self._connection.execute(
                f"SELECT 1 FROM {self.layout.blob_table} WHERE sha256 = ?", (sha256,)
            ).fetchone()
        return row is not None

    def read_blob(self, sha256: str) -> bytes:
        """The blob's bytes, checked: size, sha256 and safetensors structure."""
        with self._lock:
            try:
                rowid, _ = self._blob_row(sha256)
                (data,) = self._connection.execute(
                    f"SELECT {self.layout.blob_bytes_column} FROM {self.layout.blob_table} "
                    "WHERE rowid = ?",
                    (rowid,),
                ).fetchone()
            except DAMAGE_ERRORS as exc:
                raise _damage(self.path, exc) from None
        if hashlib.sha256(data).hexdigest() != sha256:
            raise BadBlob(f"{self.path}: blob {short_sha(sha256)} is damaged (its sha256 differs)")
        try:
            check_tensor_blob(data, sha256, self.limits, self._kinds.get(sha256))
        except BadBlob as exc:
            raise BadBlob(f"{self.path}: {exc.message}") from None
        return bytes(data)

    def blob_sizes(self) -> dict[str, int]:
        """Bytes of every blob the project references."""
        return dict(self._sizes)

    def render_cache(self, key: str) -> bytes | None:
        """A disposable cached render, or None. Untrusted bytes: the caller decodes with care."""
        if not self.layout.has_revisions:
            return None
        with self._lock:
            row = self._connection.execute(
                "SELECT bytes FROM render_cache WHERE key = ? AND length(bytes) <= ?",
                (key, self.limits.max_render_cache_bytes),
            ).fetchone()
        return None if row is None else bytes(row[0])

    def revisions(self) -> list[RevisionInfo]:
        """Stored document revisions, newest first (one for files without revision history)."""
        if not self.layout.has_revisions:
            size = len(canonical_dumps(self.project.model_dump(mode="json")).encode())
            return [RevisionInfo(0, self.meta.get("modified", ""), self.document_sha256, size)]
        with self._lock:
            rows = self._connection.execute(
                "SELECT id, created, sha256, length(CAST(json AS BLOB)) FROM document_revisions "
                "ORDER BY id DESC"
            ).fetchall()
        return [RevisionInfo(*row) for row in rows]

    def unchanged_on_disk(self) -> bool:
        """Whether the path still names the very file this object opened."""
        try:
            return FileIdentity.of(self.path) == self.identity
        except OSError:
            return False

    def verify_all(self) -> None:
        """Everything `check` promises: full integrity check, every referenced blob read and
        verified, every stored revision matching its checksum."""
        where = str(self.path)
        with self._lock:
            result = self._connection.execute("PRAGMA integrity_check(5)").fetchall()
        if [tuple(r) for r in result] != [("ok",)]:
            raise CorruptFile(f"{where} is damaged: {result[0][0]}")
        for ref in sorted(self._kinds):
            self.read_blob(ref)
        if self.layout.has_revisions:
            with self._lock:
                rows = self._connection.execute(
                    "SELECT id, CAST(json AS BLOB), sha256 FROM document_revisions"
                ).fetchall()
            for revision_id, raw, sha in rows:
                if not isinstance(raw, bytes) or hashlib.sha256(raw).hexdigest() != sha:
                    raise CorruptFile(
                        f"{where} is damaged: revision {revision_id} fails its checksum"
                    )

    def sqlite_source(self) -> tuple[Path, Layout] | None:
        """(path, layout) when blob rows can be copied from this file by SQL: the path still
        names the file that was opened and validated."""
        return (self.path, self.layout) if self.unchanged_on_disk() else None

    def blobs(self):  # -> FileBlobs (import here: blobs.py imports this module)
        from melodex_studio.store.blobs import FileBlobs

        return FileBlobs(self)

    def close(self) -> None:
        with self._lock:
            self._connection.close()

    def __enter__(self) -> OpenedProject:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def _check_identity(path: Path, application_id: int, user_version: int) -> tuple[int, int]:
    if application_id != APPLICATION_ID:
        raise NotAnMlxFile(
            f"{path} is a SQLite database but not a Melodex project "
            f"(application id {application_id & 0xFFFFFFFF:#010x})"
        )
    if user_version < 0:
        raise CorruptFile(f"{path} is damaged: negative format version {user_version}")
    version = decode_version(user_version)
    if version[0] > FORMAT_MAJOR:
        raise UnsupportedVersion(
            f"{path} was made by a newer Melodex Studio (format {version_text(*version)}); "
            f"this version reads up to {FORMAT_MAJOR}.x"
        )
    if layout_for(version) is None:
        raise UnsupportedVersion(
            f"{path} uses format {version_text(*version)}, which this version cannot read "
            f"(it reads 0.9 to {FORMAT_MAJOR}.x)"
        )
    return version


def _check_schema(db: sqlite3.Connection, layout: Layout, where: str) -> None:
    tables = {
        name
        for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table' LIMIT 1000")
    }
    for table, needed in layout.tables.items():
        if table not in tables:
            raise CorruptFile(f"{where} is damaged: the {table!r} table is missing")
        columns = {row[1] for row in db.execute(f"PRAGMA table_info({table})")}
        missing = needed - columns
        if missing:
            raise CorruptFile(
                f"{where} is damaged: table {table!r} lacks column {sorted(missing)[0]!r}"
            )


def _read_meta(db: sqlite3.Connection, where: str, version: str) -> dict[str, str]:
    meta: dict[str, str] = {}
    for key in ("format_version", "app_version", "created", "modified"):
        row = db.execute(
            "SELECT substr(value, 1, 200) FROM meta WHERE key = ? AND typeof(value) = 'text'",
            (key,),
        ).fetchone()
        if row is not None:
            meta[key] = row[0]
    if meta.get("format_version") != version:
        raise CorruptFile(
            f"{where} is damaged: its header says format {version} but its meta table says "
            f"{meta.get('format_version', 'nothing')!r}"
        )
    return meta


def _document_to_project(
    text: str, version: tuple[int, int], limits: Limits, where: str
) -> Project:
    data = parse_json_object(text, limits, where)
    if version < CURRENT_LAYOUT.version:
        data = migrate_document(data, version)
        text = canonical_dumps(data)
        check_document_size(len(text.encode("utf-8")), limits, where)
    try:
        return validate_project(text, where)
    except InvalidDocument as exc:
        if version > CURRENT_LAYOUT.version:
            raise UnsupportedVersion(
                f"{where} was made by a newer Melodex Studio (format {version_text(*version)}) "
                f"and uses something format {CURRENT_VERSION_TEXT} lacks: {exc.message}"
            ) from None
        raise


def open_project(path: str | os.PathLike[str], limits: Limits = DEFAULT_LIMITS) -> OpenedProject:
    """Open and validate a .mlx file read-only. Raises an `MlxError` with a one-line message."""
    return OpenedProject(Path(path), limits)


def check_project(path: str | os.PathLike[str], limits: Limits = DEFAULT_LIMITS) -> None:
    """Everything open checks, plus a full integrity check and every blob hashed."""
    try:
        with open_project(path, limits) as opened:
            opened.verify_all()
    except MlxError:
        raise
    except DAMAGE_ERRORS as exc:
        raise _damage(path, exc) from None


def _damage(path: object, exc: BaseException) -> MlxError:
    """The typed error for an exception raised while reading: busy, or damaged."""
    if isinstance(exc, sqlite3.Error) and (
        getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_BUSY or "locked" in str(exc)
    ):
        return FileBusy(f"{path} is locked by another program; try again when it is done")
    return CorruptFile(f"{path} is damaged: {_one_line(exc)}")


def _one_line(exc: BaseException) -> str:
    if isinstance(exc, UnicodeDecodeError):
        return "its structure holds text that is not UTF-8"
    return " ".join(str(exc).split())[:200]
