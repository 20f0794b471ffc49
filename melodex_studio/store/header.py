"""Checks on the raw file before SQLite opens it.

SQLite trusts its file header; we do not. Reading the first 100 bytes ourselves lets us
refuse an empty file, another format renamed .mlx, a truncated copy, a newer major version or
another application's database with a precise message, and without SQLite ever touching it.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

from melodex_studio.store.errors import CorruptFile, NotAnMlxFile
from melodex_studio.store.format import Limits

SQLITE_MAGIC = b"SQLite format 3\x00"
HEADER_BYTES = 100

#: Leading bytes of formats people might rename to .mlx, to say what the file really is.
_KNOWN_MAGIC = (
    (b"PK\x03\x04", "a ZIP archive"),
    (b"RIFF", "a RIFF/WAV file"),
    (b"fLaC", "a FLAC file"),
    (b"ID3", "an MP3 file"),
    (b"\x93NUMPY", "a NumPy array file"),
    (b"\x80", "a Python pickle (Melodex never loads pickles)"),
    (b"{", "a JSON file"),
)


@dataclass(frozen=True, slots=True)
class FileHeader:
    """The SQLite header fields the reader relies on."""

    file_size: int
    page_size: int
    page_count: int
    application_id: int
    user_version: int
    journal_mode_wal: bool


def describe_foreign(prefix: bytes) -> str:
    for magic, what in _KNOWN_MAGIC:
        if prefix.startswith(magic):
            return what
    return "not a SQLite database"


def read_header(path: Path, limits: Limits) -> FileHeader:
    """Validate size and header of `path` (opened read-only, never written)."""
    try:
        info = os.stat(path)
    except FileNotFoundError as exc:
        raise NotAnMlxFile(f"{path}: no such file") from exc
    except OSError as exc:
        raise NotAnMlxFile(f"{path}: cannot read it ({exc.strerror})") from exc
    if stat.S_ISDIR(info.st_mode):
        raise NotAnMlxFile(f"{path} is a folder, not a project file")
    if not stat.S_ISREG(info.st_mode):
        raise NotAnMlxFile(f"{path} is not a regular file")
    size = info.st_size
    if size == 0:
        raise NotAnMlxFile(f"{path} is empty (0 bytes): not a Melodex project")
    if size > limits.max_file_bytes:
        raise NotAnMlxFile(
            f"{path} is {size} bytes, larger than the {limits.max_file_bytes}-byte limit"
        )
    try:
        with open(path, "rb") as handle:
            prefix = handle.read(HEADER_BYTES)
    except OSError as exc:
        raise NotAnMlxFile(f"{path}: cannot read it ({exc.strerror})") from exc
    if not prefix.startswith(SQLITE_MAGIC):
        if SQLITE_MAGIC.startswith(prefix):
            raise CorruptFile(f"{path} is truncated: only {size} bytes, not even a header")
        raise NotAnMlxFile(f"{path} is not a Melodex project: it is {describe_foreign(prefix)}")
    if len(prefix) < HEADER_BYTES:
        raise CorruptFile(f"{path} is truncated: only {size} bytes, not even a header")
    return _parse(path, prefix, size)


def _parse(path: Path, header: bytes, size: int) -> FileHeader:
    raw_page_size = int.from_bytes(header[16:18], "big")
    page_size = 65536 if raw_page_size == 1 else raw_page_size
    if page_size < 512 or page_size & (page_size - 1):
        raise CorruptFile(f"{path} is damaged: its header names page size {raw_page_size}")
    write_version, read_version = header[18], header[19]
    if (write_version, read_version) not in ((1, 1), (2, 2)):
        raise CorruptFile(
            f"{path} is damaged: unknown file format bytes {write_version}/{read_version}"
        )
    if size % page_size:
        raise CorruptFile(
            f"{path} is truncated or damaged: {size} bytes is not a whole number of "
            f"{page_size}-byte pages"
        )
    page_count = int.from_bytes(header[28:32], "big")
    change_counter = int.from_bytes(header[24:28], "big")
    valid_for = int.from_bytes(header[92:96], "big")
    # The in-header page count is only authoritative when the two counters agree (SQLite's
    # own rule); our writer always leaves them equal.
    if change_counter == valid_for and page_count and page_count * page_size != size:
        raise CorruptFile(
            f"{path} is truncated or damaged: the header says {page_count * page_size} bytes "
            f"but the file has {size}"
        )
    return FileHeader(
        file_size=size,
        page_size=page_size,
        page_count=page_count or size // page_size,
        application_id=int.from_bytes(header[68:72], "big", signed=True),
        user_version=int.from_bytes(header[60:64], "big", signed=True),
        journal_mode_wal=write_version == 2,
    )
