"""The .mlx format's constants: identity, version numbering, schema, limits.

Everything a reader must agree on lives here, so the spec (docs/mlx-format.md) and the code
name the same numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

#: `PRAGMA application_id` of every .mlx file: the bytes "MLX!" read as a big-endian int32.
APPLICATION_ID = 0x4D4C5821
#: `PRAGMA application_id` of a recovery journal: "MLXJ".
JOURNAL_APPLICATION_ID = 0x4D4C584A

#: The format this code writes. `PRAGMA user_version` = major * 1000 + minor. 1.1 added the
#: optional key of a section and of a take, 1.2 their optional tempo and meter, 1.3 a
#: variation's optional `variation` (how much of its randomness it drew anew) and
#: `context_seed` (the noise around its section), each written
#: only when set.
FORMAT_MAJOR = 1
FORMAT_MINOR = 3

#: Blob kinds stored in the `blobs.kind` column (what the document uses the blob for).
BLOB_KINDS = ("latent", "audio")
#: Tensor names a blob of each kind may hold (safetensors keys).
TENSOR_NAMES_BY_KIND: dict[str, frozenset[str]] = {
    "latent": frozenset({"latent", "noise"}),
    "audio": frozenset({"audio"}),
}

#: How many document revisions a saved file keeps (the latest one is the document).
KEPT_REVISIONS = 16
#: SQLite page size of saved files: 4 KiB wastes the least space on ~45 KB latent blobs.
PAGE_SIZE = 4096


def encode_version(major: int, minor: int) -> int:
    """The `user_version` integer of format `major.minor`."""
    return major * 1000 + minor


def decode_version(user_version: int) -> tuple[int, int]:
    return divmod(user_version, 1000)


def version_text(major: int, minor: int) -> str:
    return f"{major}.{minor}"


CURRENT_USER_VERSION = encode_version(FORMAT_MAJOR, FORMAT_MINOR)
CURRENT_VERSION_TEXT = version_text(FORMAT_MAJOR, FORMAT_MINOR)


@dataclass(frozen=True, slots=True)
class Limits:
    """What a reader accepts. A file past any limit is refused with a message before the
    studio allocates for it, so a damaged or hostile file cannot exhaust memory or time."""

    max_file_bytes: int = 64 * 2**30
    max_document_bytes: int = 16 * 2**20
    max_json_depth: int = 64
    max_json_values: int = 4_000_000
    max_blob_bytes: int = 1 * 2**30
    max_blobs: int = 1_000_000
    max_tensor_header_bytes: int = 64 * 2**10
    max_tensors_per_blob: int = 4
    max_tensor_dims: int = 4
    max_metadata_entries: int = 32
    max_metadata_chars: int = 4096
    max_render_cache_bytes: int = 512 * 2**20


DEFAULT_LIMITS = Limits()

#: Schema of format 1.0. Every table is STRICT-typed by CHECK constraints that SQLite 3.37's
#: STRICT keyword would also give, written out so older SQLite builds read the file too.
SCHEMA_1_0 = (
    """CREATE TABLE meta (
        key TEXT PRIMARY KEY NOT NULL CHECK (typeof(key) = 'text'),
        value TEXT NOT NULL CHECK (typeof(value) = 'text')
    )""",
    """CREATE TABLE document_revisions (
        id INTEGER PRIMARY KEY,
        created TEXT NOT NULL CHECK (typeof(created) = 'text'),
        json TEXT NOT NULL CHECK (typeof(json) = 'text'),
        sha256 TEXT NOT NULL CHECK (typeof(sha256) = 'text' AND length(sha256) = 64)
    )""",
    """CREATE TABLE blobs (
        sha256 TEXT PRIMARY KEY NOT NULL CHECK (typeof(sha256) = 'text' AND length(sha256) = 64),
        size INTEGER NOT NULL CHECK (typeof(size) = 'integer' AND size >= 0),
        kind TEXT NOT NULL CHECK (kind IN ('latent', 'audio')),
        bytes BLOB NOT NULL CHECK (typeof(bytes) = 'blob')
    )""",
    """CREATE TABLE render_cache (
        key TEXT PRIMARY KEY NOT NULL CHECK (typeof(key) = 'text'),
        bytes BLOB NOT NULL CHECK (typeof(bytes) = 'blob')
    )""",
)

#: Meta keys every format 1.x file has.
META_KEYS = ("format_version", "app_version", "created", "modified")
