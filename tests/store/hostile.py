"""Hostile and damaged .mlx files, built from scratch for the store and CLI tests.

`make_hostile_files(tmp_dir)` writes one file per case and returns {name: path}; `EXPECTED`
says which MlxError subclass `check_project` must raise for each, and `OPENS_BUT_FAILS_CHECK`
names the cases whose damage only the full check can see (blob bytes are hashed lazily).
From another test folder (e.g. tests/cli):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "store"))
    from hostile import EXPECTED, make_hostile_files
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import struct
from pathlib import Path

import numpy as np
from store_builders import make_project

from melodex_studio.store import (
    BadBlob,
    CorruptFile,
    DocumentTooLarge,
    InvalidDocument,
    MemoryBlobs,
    MissingBlob,
    MlxError,
    NotAnMlxFile,
    UnsupportedVersion,
    canonical_json,
    save_project,
)
from melodex_studio.store.format import (
    APPLICATION_ID,
    CURRENT_USER_VERSION,
    CURRENT_VERSION_TEXT,
    SCHEMA_1_0,
)

#: A pickle (protocol 2) that would run `touch <marker>` if anything ever unpickled it.
#: Written out as bytes so no test calls pickle at all.
PICKLE_MARKER_NAME = "PWNED-if-this-file-exists"


def pickle_payload(marker: Path) -> bytes:
    command = f"touch {marker}".encode()
    return (
        b"\x80\x02cposix\nsystem\nq\x00X"
        + struct.pack("<I", len(command))
        + command
        + b"q\x01\x85q\x02Rq\x03."
    )


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def write_mlx(
    path: Path,
    document: str,
    blobs: dict[str, bytes],
    *,
    application_id: int = APPLICATION_ID,
    user_version: int = CURRENT_USER_VERSION,
    format_version: str = CURRENT_VERSION_TEXT,
    document_sha: str | None = None,
    sizes: dict[str, int] | None = None,
    kinds: dict[str, str] | None = None,
    wal: bool = False,
) -> Path:
    """A .mlx file written by hand (no validation), for crafting damage precisely."""
    db = sqlite3.connect(path, isolation_level=None)
    db.execute(f"PRAGMA application_id = {application_id}")
    db.execute(f"PRAGMA user_version = {user_version}")
    if wal:
        db.execute("PRAGMA journal_mode = WAL")
    db.execute("BEGIN")
    for statement in SCHEMA_1_0:
        db.execute(statement)
    db.executemany(
        "INSERT INTO meta VALUES (?, ?)",
        [("format_version", format_version), ("app_version", "0.1.0"),
         ("created", "2024-05-01T12:00:00+00:00"), ("modified", "2024-05-01T12:00:00+00:00")],
    )
    db.execute(
        "INSERT INTO document_revisions VALUES (1, '2024-05-01T12:00:00+00:00', ?, ?)",
        (document, document_sha or sha(document.encode("utf-8", "surrogatepass"))),
    )
    for ref, data in blobs.items():
        size = (sizes or {}).get(ref, len(data))
        kind = (kinds or {}).get(ref, "latent")
        db.execute("INSERT INTO blobs VALUES (?, ?, ?, ?)", (ref, size, kind, data))
    db.execute("COMMIT")
    db.close()
    return path


def _kinds(project) -> dict[str, str]:
    from melodex_studio.store.kinds import blob_kinds

    return blob_kinds(project)


def make_valid_file(path: Path, seed: int = 0) -> Path:
    project, blobs = make_project(seed=seed)
    save_project(path, project, MemoryBlobs(blobs))
    return path


def make_hostile_files(tmp_dir: Path, *, include_huge: bool = True) -> dict[str, Path]:
    """Write every hostile case into `tmp_dir` (created if needed); returns {name: path}."""
    tmp_dir = Path(tmp_dir)
    tmp_dir.mkdir(parents=True, exist_ok=True)
    project, blobs = make_project()
    document = canonical_json(project)
    kinds = _kinds(project)
    files: dict[str, Path] = {}

    def out(name: str) -> Path:
        files[name] = tmp_dir / f"{name}.mlx"
        return files[name]

    def doc_with(**changes) -> str:
        data = json.loads(document)
        data.update(changes)
        return json.dumps(data)

    valid = make_valid_file(tmp_dir / "valid-source.mlx")
    raw = valid.read_bytes()
    valid.unlink()

    out("empty").write_bytes(b"")
    out("not_sqlite").write_text("This is a text file that someone renamed to .mlx\n" * 20)
    out("zip_renamed").write_bytes(b"PK\x03\x04" + bytes(200))
    out("json_renamed").write_text(document)
    out("truncated_header").write_bytes(raw[:50])
    out("truncated_half").write_bytes(raw[: len(raw) // 2])
    out("truncated_one_byte").write_bytes(raw[:-1])
    write_mlx(out("wrong_application_id"), document, blobs, application_id=0x12345678, kinds=kinds)
    write_mlx(out("future_major"), document, blobs, user_version=2000, format_version="2.0",
              kinds=kinds)
    write_mlx(out("unknown_old_version"), document, blobs, user_version=5,
              format_version="0.5", kinds=kinds)
    write_mlx(out("meta_version_mismatch"), document, blobs, format_version="0.9", kinds=kinds)
    write_mlx(out("wal_mode"), document, blobs, wal=True, kinds=kinds)
    if include_huge:
        huge = '{"title":"' + "x" * (100 * 2**20) + '"}'
        write_mlx(out("huge_document"), huge, {})
    deep = "[" * 100_000 + "]" * 100_000
    write_mlx(out("deep_nesting"), '{"id":' + deep + "}", {})
    duplicate = document[:-1] + ',"title":"Second title"}'
    write_mlx(out("duplicate_keys"), duplicate, blobs, kinds=kinds)
    write_mlx(out("nan_document"), doc_with(bpm=0.0).replace('"bpm": 0.0', '"bpm": NaN'), blobs,
              kinds=kinds)
    write_mlx(out("invalid_document"), doc_with(bpm=1000.0), blobs, kinds=kinds)
    write_mlx(out("document_not_object"), "[1, 2, 3]", {})
    write_mlx(out("document_checksum"), document, blobs, document_sha="0" * 64, kinds=kinds)
    first = sorted(blobs)[0]
    write_mlx(out("lying_blob_size"), document, blobs, sizes={first: len(blobs[first]) + 10},
              kinds=kinds)
    write_mlx(out("missing_blob"), document, {k: v for k, v in blobs.items() if k != first},
              kinds=kinds)
    damaged = dict(blobs)
    data = bytearray(damaged[first])
    data[-1] ^= 0xFF
    damaged[first] = bytes(data)  # the key no longer matches: only hashing can tell
    write_mlx(out("damaged_blob_bytes"), document, damaged, kinds=kinds)
    # A pickle stored where a tensor belongs: the document references it by its true hash.
    payload = pickle_payload(tmp_dir / PICKLE_MARKER_NAME)
    pickled = document.replace(first, sha(payload))
    write_mlx(out("pickle_blob"), pickled,
              {**{k: v for k, v in blobs.items() if k != first}, sha(payload): payload},
              kinds={**kinds, sha(payload): kinds[first]})
    lying_header = _lying_safetensors()
    write_mlx(out("bad_tensor_offsets"), document.replace(first, sha(lying_header)),
              {**{k: v for k, v in blobs.items() if k != first}, sha(lying_header): lying_header},
              kinds={**kinds, sha(lying_header): kinds[first]})
    db_path = write_mlx(out("missing_table"), document, blobs, kinds=kinds)
    db = sqlite3.connect(db_path)
    db.execute("DROP TABLE render_cache")
    db.commit()
    db.close()
    return files


def _lying_safetensors() -> bytes:
    """Safetensors-shaped bytes whose header claims more data than the blob holds."""
    data = np.zeros((4, 8), dtype=np.float32).tobytes()
    header = json.dumps(
        {"latent": {"dtype": "F32", "shape": [4, 800], "data_offsets": [0, 4 * 800 * 4]}}
    ).encode()
    header += b" " * (-len(header) % 8)
    return struct.pack("<Q", len(header)) + header + data


#: What `check_project` raises for each case (open raises the same, except the ones below).
EXPECTED: dict[str, type[MlxError]] = {
    "empty": NotAnMlxFile,
    "not_sqlite": NotAnMlxFile,
    "zip_renamed": NotAnMlxFile,
    "json_renamed": NotAnMlxFile,
    "truncated_header": CorruptFile,
    "truncated_half": CorruptFile,
    "truncated_one_byte": CorruptFile,
    "wrong_application_id": NotAnMlxFile,
    "future_major": UnsupportedVersion,
    "unknown_old_version": UnsupportedVersion,
    "meta_version_mismatch": CorruptFile,
    "wal_mode": CorruptFile,
    "huge_document": DocumentTooLarge,
    "deep_nesting": InvalidDocument,
    "duplicate_keys": InvalidDocument,
    "nan_document": InvalidDocument,
    "invalid_document": InvalidDocument,
    "document_not_object": InvalidDocument,
    "document_checksum": CorruptFile,
    "lying_blob_size": BadBlob,
    "missing_blob": MissingBlob,
    "damaged_blob_bytes": BadBlob,
    "pickle_blob": BadBlob,
    "bad_tensor_offsets": BadBlob,
    "missing_table": CorruptFile,
}

#: Cases open_project accepts (their damage is in blob bytes, hashed lazily) but check refuses.
OPENS_BUT_FAILS_CHECK = frozenset({"damaged_blob_bytes"})

#: A word each case's message must contain, so the message says what is wrong.
MESSAGE_WORDS: dict[str, str] = {
    "empty": "empty",
    "zip_renamed": "ZIP",
    "json_renamed": "JSON",
    "truncated_half": "truncated",
    "wrong_application_id": "not a Melodex project",
    "future_major": "newer Melodex Studio (format 2.0); this version reads up to 1.x",
    "huge_document": "limit",
    "deep_nesting": "nests",
    "duplicate_keys": "twice",
    "nan_document": "NaN",
    "invalid_document": "bpm",
    "document_checksum": "checksum",
    "lying_blob_size": "claims",
    "missing_blob": "missing",
    "damaged_blob_bytes": "damaged",
    "pickle_blob": "pickle",
    "bad_tensor_offsets": "bytes",
    "missing_table": "render_cache",
    "wal_mode": "WAL",
}
