"""Saving a project: a complete new file beside the target, checked, then renamed into place.

Steps (the spec, docs/mlx-format.md, numbers them the same way):
1. canonical JSON of the project; refuse a document the reader would refuse;
2. remove temp files of earlier saves whose process died;
3. write a complete file under a temp name in the target's directory, in one transaction:
   schema, meta, document revisions (the source file's recent ones + this one), exactly the
   referenced blobs (rows copied SQL-to-SQL from .mlx sources, the rest through Python with
   their sha256 and safetensors structure checked), the render cache;
4. fsync the temp file;
5. reopen it with the full reader and verify it: integrity, the document equals what was
   meant, every blob present with the right size, hash and structure;
6. link the current target to `<name>.bak` (replacing an older backup);
7. rename the temp file over the target and fsync the directory.
A failure at any step removes the temp file and leaves the target untouched.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sqlite3
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from melodex_studio import __version__
from melodex_studio.project.models import Project
from melodex_studio.store.atomic import (
    backup_path_for,
    fsync_directory,
    fsync_file,
    keep_backup,
    remove_quietly,
    remove_stale_temps,
    temp_path_for,
)
from melodex_studio.store.blobs import BlobSource, FileBlobs, leaf_sources
from melodex_studio.store.document_codec import canonical_json, check_document_size, text_sha256
from melodex_studio.store.errors import BadBlob, MissingBlob, MlxError, SaveFailed, save_failure
from melodex_studio.store.errors import short_sha as _short
from melodex_studio.store.format import (
    APPLICATION_ID,
    CURRENT_USER_VERSION,
    CURRENT_VERSION_TEXT,
    DEFAULT_LIMITS,
    KEPT_REVISIONS,
    PAGE_SIZE,
    SCHEMA_1_0,
    Limits,
)
from melodex_studio.store.kinds import blob_kinds
from melodex_studio.store.reader import OpenedProject
from melodex_studio.store.tensors import check_tensor_blob

Progress = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class SaveReport:
    path: Path
    backup: Path | None
    file_bytes: int
    blob_count: int
    blobs_copied_by_sql: int
    blobs_written_from_python: int
    revision_id: int
    document_sha256: str
    seconds: float
    timings: dict[str, float] = field(default_factory=dict)


def now_text() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def save_project(
    path: str | os.PathLike[str],
    project: Project,
    blobs: BlobSource,
    *,
    render_cache: Mapping[str, bytes] | None = None,
    keep_backup_file: bool = True,
    limits: Limits = DEFAULT_LIMITS,
    progress: Progress | None = None,
) -> SaveReport:
    """Write `project` and exactly the blobs it references to `path`, atomically.

    Raises SaveFailed (DiskFull when out of space), MissingBlob or BadBlob; in every failure
    the file at `path` is untouched and no temp file is left."""
    started = time.perf_counter()
    target = Path(os.path.realpath(path))
    report = progress or (lambda _phase: None)
    text = canonical_json(project)
    check_document_size(len(text.encode("utf-8")), limits, f"cannot save {target}")
    if not target.parent.is_dir():
        raise SaveFailed(f"could not save {target}: the folder {target.parent} does not exist")
    remove_stale_temps(target)
    temp = temp_path_for(target)
    timings: dict[str, float] = {}
    backup: Path | None = None
    try:
        report("writing")
        mark = time.perf_counter()
        writer = _FileWriter(temp, project, text, blobs, limits)
        revision_id, copied, written = writer.write(render_cache or {})
        timings["write"] = time.perf_counter() - mark
        mark = time.perf_counter()
        fsync_file(temp)
        timings["fsync"] = time.perf_counter() - mark
        report("verifying")
        mark = time.perf_counter()
        _verify(temp, text, limits)
        timings["verify"] = time.perf_counter() - mark
        report("replacing")
        mark = time.perf_counter()
        _match_permissions(temp, target)
        if keep_backup_file and target.exists():
            backup = backup_path_for(target)
            keep_backup(target, backup)
        os.replace(temp, target)
        fsync_directory(target.parent)
        timings["replace"] = time.perf_counter() - mark
    except (MissingBlob, BadBlob, SaveFailed):
        _discard(temp)
        raise
    except MlxError as exc:
        _discard(temp)
        raise SaveFailed(
            f"could not save {target}: the written file failed its check ({exc.message}); "
            "the previous version is unchanged"
        ) from exc
    except (OSError, sqlite3.Error) as exc:
        _discard(temp)
        raise save_failure(target, exc) from exc
    except BaseException:
        _discard(temp)
        raise
    report("done")
    return SaveReport(
        path=target,
        backup=backup,
        file_bytes=target.stat().st_size,
        blob_count=len(project.blob_refs()),
        blobs_copied_by_sql=copied,
        blobs_written_from_python=written,
        revision_id=revision_id,
        document_sha256=text_sha256(text),
        seconds=time.perf_counter() - started,
        timings=timings,
    )


def _discard(temp: Path) -> None:
    for leftover in (temp, temp.with_name(temp.name + "-journal")):
        with contextlib.suppress(OSError):
            remove_quietly(leftover)


def _match_permissions(temp: Path, target: Path) -> None:
    """The new file keeps the old file's permission bits (mkstemp-style names start at 0600)."""
    try:
        mode = target.stat().st_mode & 0o777
    except FileNotFoundError:
        mode = 0o666 & ~_umask()
    os.chmod(temp, mode)


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def _verify(temp: Path, text: str, limits: Limits) -> None:
    """Reopen the new file with the full reader and read back every blob."""
    with OpenedProject(temp, limits) as reopened:
        if reopened.document_sha256 != text_sha256(text):
            raise SaveFailed(f"the document in {temp.name} differs from the one saved")
        reopened.verify_all()


class _FileWriter:
    """Writes one complete .mlx file in a single transaction."""

    def __init__(
        self, temp: Path, project: Project, text: str, blobs: BlobSource, limits: Limits
    ) -> None:
        self.temp = temp
        self.project = project
        self.text = text
        self.blobs = blobs
        self.limits = limits
        self.kinds = blob_kinds(project)

    def write(self, render_cache: Mapping[str, bytes]) -> tuple[int, int, int]:
        fd = os.open(self.temp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        os.close(fd)
        db = sqlite3.connect(
            self.temp.as_uri(), uri=True, isolation_level=None, check_same_thread=False
        )
        try:
            # The temp file is private until the rename, and a failed save deletes it, so a
            # rollback journal would only double the writes: journal_mode=OFF. synchronous=FULL
            # still syncs at commit; the explicit fsync after close is the one that counts.
            for pragma in (
                f"PRAGMA page_size = {PAGE_SIZE}",
                "PRAGMA journal_mode = OFF",
                "PRAGMA synchronous = FULL",
                "PRAGMA locking_mode = EXCLUSIVE",
                "PRAGMA temp_store = MEMORY",
                "PRAGMA cache_size = -32768",
                f"PRAGMA application_id = {APPLICATION_ID}",
                f"PRAGMA user_version = {CURRENT_USER_VERSION}",
            ):
                db.execute(pragma)
            db.create_function("mlx_sha256", 1, _sha256_of, deterministic=True)
            sources = self._attach_sources(db)
            db.execute("BEGIN")
            for statement in SCHEMA_1_0:
                db.execute(statement)
            created = self._copy_meta_created(db, sources)
            revision_id = self._write_revisions(db, sources)
            self._write_meta(db, created)
            copied = self._copy_blob_rows(db, sources)
            written = self._write_remaining_blobs(db)
            for key, data in sorted(render_cache.items()):
                if len(data) <= self.limits.max_render_cache_bytes:
                    db.execute("INSERT INTO render_cache VALUES (?, ?)", (key, bytes(data)))
            db.execute("COMMIT")
            for alias, _ in sources:
                db.execute(f"DETACH DATABASE {alias}")
        finally:
            db.close()
        return revision_id, copied, written

    def _attach_sources(self, db: sqlite3.Connection) -> list[tuple[str, FileBlobs]]:
        """ATTACH (read-only) every .mlx source whose path still names the file it opened."""
        attached = []
        for leaf in leaf_sources(self.blobs):
            if not isinstance(leaf, FileBlobs):
                continue
            info = leaf.sqlite_source()
            if info is None:
                continue
            alias = f"src{len(attached)}"
            uri = Path(os.path.abspath(info[0])).as_uri() + "?mode=ro"  # URIs must be absolute
            db.execute(f"ATTACH DATABASE ? AS {alias}", (uri,))
            attached.append((alias, leaf))
        return attached

    def _same_project(self, leaf: FileBlobs) -> bool:
        return leaf.opened.project.id == self.project.id and leaf.opened.layout.has_revisions

    def _copy_meta_created(
        self, db: sqlite3.Connection, sources: list[tuple[str, FileBlobs]]
    ) -> str:
        for alias, leaf in sources:
            if leaf.opened.project.id == self.project.id:
                row = db.execute(
                    f"SELECT substr(value, 1, 64) FROM {alias}.meta WHERE key = 'created'"
                ).fetchone()
                if row is not None and isinstance(row[0], str):
                    return row[0]
        return now_text()

    def _write_revisions(self, db: sqlite3.Connection, sources: list[tuple[str, FileBlobs]]) -> int:
        """Carry the document history of the file this project came from, then this revision."""
        sha = text_sha256(self.text)
        history = next((alias for alias, leaf in sources if self._same_project(leaf)), None)
        if history is not None:
            db.execute(
                f"INSERT INTO document_revisions (id, created, json, sha256) "
                f"SELECT id, created, json, sha256 FROM {history}.document_revisions "
                f"WHERE typeof(json) = 'text' AND length(CAST(json AS BLOB)) <= ? "
                f"AND mlx_sha256(CAST(json AS BLOB)) = sha256 ORDER BY id DESC LIMIT ?",
                (self.limits.max_document_bytes, KEPT_REVISIONS),
            )
        latest = db.execute(
            "SELECT id, sha256 FROM document_revisions ORDER BY id DESC LIMIT 1"
        ).fetchone()
        if latest is not None and latest[1] == sha and _stored_text(db, latest[0]) == self.text:
            return int(latest[0])
        revision_id = 1 if latest is None else int(latest[0]) + 1
        db.execute(
            "INSERT INTO document_revisions (id, created, json, sha256) VALUES (?, ?, ?, ?)",
            (revision_id, now_text(), self.text, sha),
        )
        db.execute(
            "DELETE FROM document_revisions WHERE id NOT IN "
            "(SELECT id FROM document_revisions ORDER BY id DESC LIMIT ?)",
            (KEPT_REVISIONS,),
        )
        return revision_id

    def _write_meta(self, db: sqlite3.Connection, created: str) -> None:
        meta = {
            "format_version": CURRENT_VERSION_TEXT,
            "app_version": __version__,
            "created": created,
            "modified": now_text(),
        }
        db.executemany("INSERT INTO meta (key, value) VALUES (?, ?)", sorted(meta.items()))

    def _copy_blob_rows(self, db: sqlite3.Connection, sources: list[tuple[str, FileBlobs]]) -> int:
        """Referenced blob rows straight from attached files: no Python round trip."""
        if not sources or not self.kinds:
            return 0
        db.execute("CREATE TEMP TABLE wanted (sha256 TEXT PRIMARY KEY, kind TEXT NOT NULL)")
        db.executemany("INSERT INTO temp.wanted VALUES (?, ?)", sorted(self.kinds.items()))
        for alias, leaf in sources:
            layout = leaf.opened.layout
            table, column = layout.blob_table, layout.blob_bytes_column
            size = "s.size" if layout.blob_size_expr == "size" else f"length(s.{column})"
            db.execute(
                f"INSERT OR IGNORE INTO main.blobs (sha256, size, kind, bytes) "
                f"SELECT s.sha256, length(s.{column}), w.kind, s.{column} "
                f"FROM {alias}.{table} AS s JOIN temp.wanted AS w ON w.sha256 = s.sha256 "
                f"WHERE typeof(s.{column}) = 'blob' AND {size} = length(s.{column}) "
                f"AND length(s.{column}) <= ? AND mlx_sha256(s.{column}) = s.sha256",
                (self.limits.max_blob_bytes,),
            )
        db.execute("DROP TABLE temp.wanted")
        return int(db.execute("SELECT count(*) FROM main.blobs").fetchone()[0])

    def _write_remaining_blobs(self, db: sqlite3.Connection) -> int:
        present = {sha for (sha,) in db.execute("SELECT sha256 FROM main.blobs")}
        written = 0
        for ref, kind in sorted(self.kinds.items()):
            if ref in present:
                continue
            try:
                data = bytes(self.blobs.get(ref))
            except KeyError:
                raise MissingBlob(
                    f"cannot save: blob {_short(ref)} that a take references is in no blob "
                    "source (was a take added without its tensors?)",
                    ref,
                ) from None
            if hashlib.sha256(data).hexdigest() != ref:
                raise BadBlob(
                    f"cannot save: the bytes given for blob {_short(ref)} do not hash to it"
                )
            check_tensor_blob(data, ref, self.limits, kind)
            db.execute(
                "INSERT INTO main.blobs (sha256, size, kind, bytes) VALUES (?, ?, ?, ?)",
                (ref, len(data), kind, data),
            )
            written += 1
        return written


def _sha256_of(value: str | bytes | None) -> str | None:
    """SQL function: damaged rows of a source file are never copied (hash must match key)."""
    if isinstance(value, str):
        value = value.encode("utf-8")
    return None if value is None else hashlib.sha256(value).hexdigest()


def _stored_text(db: sqlite3.Connection, revision_id: int) -> str | None:
    row = db.execute("SELECT json FROM document_revisions WHERE id = ?", (revision_id,)).fetchone()
    return None if row is None else row[0]
