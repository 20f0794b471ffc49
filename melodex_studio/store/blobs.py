"""Where a save gets blob bytes from: memory, an open .mlx file, or a chain of both.

A `BlobSource` answers `get(sha256) -> bytes` and raises `MissingBlob` (a KeyError) when it
does not have the blob. Sources that are .mlx files also say so (`sqlite_source`), which lets
the save copy their rows SQLite-to-SQLite instead of through Python.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Protocol, runtime_checkable

from melodex_studio.store.errors import MissingBlob, short_sha
from melodex_studio.store.migrations import Layout
from melodex_studio.store.reader import OpenedProject


@runtime_checkable
class BlobSource(Protocol):
    def get(self, sha256: str) -> bytes:
        """The blob's bytes; raises MissingBlob (a KeyError) when this source lacks it."""
        ...


def _missing(sha256: str, where: str) -> MissingBlob:
    return MissingBlob(f"blob {short_sha(sha256)} is not in {where}", sha256)


class MemoryBlobs:
    """Blobs held in a dict (new renders not saved yet). The save verifies their hashes."""

    def __init__(self, blobs: Mapping[str, bytes] | None = None) -> None:
        self._blobs: dict[str, bytes] = dict(blobs or {})

    def get(self, sha256: str) -> bytes:
        try:
            return self._blobs[sha256]
        except KeyError:
            raise _missing(sha256, "memory") from None

    def add(self, sha256: str, data: bytes) -> None:
        self._blobs[sha256] = bytes(data)

    def __contains__(self, sha256: object) -> bool:
        return sha256 in self._blobs

    def __len__(self) -> int:
        return len(self._blobs)

    def close(self) -> None:
        """Nothing to release; present so every source can be closed alike."""


class FileBlobs:
    """Blobs of an open .mlx file, read and verified lazily."""

    def __init__(self, opened: OpenedProject) -> None:
        self.opened = opened

    def get(self, sha256: str) -> bytes:
        return self.opened.read_blob(sha256)

    def has(self, sha256: str) -> bool:
        return self.opened.has_blob(sha256)

    def sqlite_source(self) -> tuple[Path, Layout] | None:
        return self.opened.sqlite_source()

    def close(self) -> None:
        self.opened.close()


class ChainBlobs:
    """The first source that has the blob wins (content addressing makes them agree)."""

    def __init__(self, *sources: BlobSource) -> None:
        self.sources = sources

    def get(self, sha256: str) -> bytes:
        for source in self.sources:
            try:
                return source.get(sha256)
            except KeyError:
                continue
        raise _missing(sha256, f"any of {len(self.sources)} blob sources")

    def leaves(self) -> Iterator[BlobSource]:
        """Every non-chain source, depth first in lookup order."""
        for source in self.sources:
            if isinstance(source, ChainBlobs):
                yield from source.leaves()
            else:
                yield source

    def close(self) -> None:
        for source in self.sources:
            close = getattr(source, "close", None)
            if close is not None:
                close()


def leaf_sources(source: BlobSource) -> list[BlobSource]:
    return list(source.leaves()) if isinstance(source, ChainBlobs) else [source]
