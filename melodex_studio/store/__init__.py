"""The .mlx project file: SQLite schema, save/open, migrations, autosave journal, recovery.

Public API:
- `open_project(path) -> OpenedProject` (validated, read-only; `.project`, `.read_blob(sha)`),
- `save_project(path, project, blobs) -> SaveReport` (atomic, verified, keeps `.bak`),
- `check_project(path)` (raises an `MlxError` on any problem),
- blob sources `MemoryBlobs`, `FileBlobs`, `ChainBlobs`,
- `RecoveryJournal` (autosave and crash recovery),
- errors: `MlxError` and its subclasses.
The format is specified in docs/mlx-format.md.
"""

from melodex_studio.store.blobs import BlobSource, ChainBlobs, FileBlobs, MemoryBlobs
from melodex_studio.store.document_codec import canonical_json
from melodex_studio.store.errors import (
    BadBlob,
    CorruptFile,
    DiskFull,
    DocumentTooLarge,
    FileBusy,
    InvalidDocument,
    JournalError,
    MissingBlob,
    MlxError,
    NotAnMlxFile,
    SaveFailed,
    UnsupportedVersion,
)
from melodex_studio.store.format import (
    APPLICATION_ID,
    CURRENT_VERSION_TEXT,
    DEFAULT_LIMITS,
    Limits,
)
from melodex_studio.store.journal import (
    JournalBlobs,
    JournalSession,
    RecoverableProject,
    RecoveryJournal,
)
from melodex_studio.store.reader import OpenedProject, check_project, open_project
from melodex_studio.store.save import SaveReport, save_project

__all__ = [
    "APPLICATION_ID",
    "CURRENT_VERSION_TEXT",
    "DEFAULT_LIMITS",
    "BadBlob",
    "BlobSource",
    "ChainBlobs",
    "CorruptFile",
    "DiskFull",
    "DocumentTooLarge",
    "FileBlobs",
    "FileBusy",
    "InvalidDocument",
    "JournalBlobs",
    "JournalError",
    "JournalSession",
    "Limits",
    "MemoryBlobs",
    "MissingBlob",
    "MlxError",
    "NotAnMlxFile",
    "OpenedProject",
    "RecoverableProject",
    "RecoveryJournal",
    "SaveFailed",
    "SaveReport",
    "UnsupportedVersion",
    "canonical_json",
    "check_project",
    "open_project",
    "save_project",
]
