"""Older layouts and the migrations that bring their documents up to the current format.

A reader of format N knows, for every older version it supports, where that layout keeps the
document and the blobs (`Layout`) and how to turn that document into the next version's
(`Migration`). Migrations run in memory on the parsed JSON, after the safety limits and before
pydantic; the file on disk is never touched. Saving writes the current format (and the
previous file stays as the .bak).

Format 0.9 (the preview layout of pre-release builds, user_version 9):
- tables `meta(key, value)`, `project(id = 1, json)` (one document, no revisions) and
  `tensors(sha256, data)` (no size or kind columns);
- document: the project's tempo was `tempo` and its meter `time_signature`; a section's bars
  were `start`/`bars`; a take's `checkpoints` were an object {"<step>": "<sha256>"} and its
  final latent was `latent`.

Format 1.0: the layout of 1.3; its documents lack only the optional `key`, `bpm` and `meter`
of a section and of a take, and a variation's `variation` and `context_seed`.

Format 1.1: the layout of 1.3; its documents lack only the optional `bpm` and `meter` of a
section and of a take, and a variation's `variation` and `context_seed`.

Format 1.2: the layout of 1.3; its documents lack only a variation's optional `variation` and
`context_seed` (its variations rendered from their source's state with the draw of their own
seed, the source's, which is what a variation without them means).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from melodex_studio.store.errors import InvalidDocument
from melodex_studio.store.format import FORMAT_MAJOR, FORMAT_MINOR


@dataclass(frozen=True, slots=True)
class Layout:
    """Where one format version keeps things: enough for the reader to find the document and
    read blobs without knowing which version it is."""

    version: tuple[int, int]
    #: table -> columns the reader needs
    tables: dict[str, frozenset[str]]
    #: (rowid, sha256 or NULL) of the current document row
    document_query: str
    document_table: str
    blob_table: str
    blob_size_expr: str
    blob_bytes_column: str
    has_revisions: bool


CURRENT_LAYOUT = Layout(
    version=(FORMAT_MAJOR, FORMAT_MINOR),
    tables={
        "meta": frozenset({"key", "value"}),
        "document_revisions": frozenset({"id", "created", "json", "sha256"}),
        "blobs": frozenset({"sha256", "size", "kind", "bytes"}),
        "render_cache": frozenset({"key", "bytes"}),
    },
    document_query="SELECT rowid, sha256 FROM document_revisions ORDER BY id DESC LIMIT 1",
    document_table="document_revisions",
    blob_table="blobs",
    blob_size_expr="size",
    blob_bytes_column="bytes",
    has_revisions=True,
)

#: Formats 1.0 to 1.2 stored the document as 1.3 does; 1.1 to 1.3 only added optional
#: section and take fields.
LAYOUT_1_0 = replace(CURRENT_LAYOUT, version=(1, 0))
LAYOUT_1_1 = replace(CURRENT_LAYOUT, version=(1, 1))
LAYOUT_1_2 = replace(CURRENT_LAYOUT, version=(1, 2))

LAYOUT_0_9 = Layout(
    version=(0, 9),
    tables={
        "meta": frozenset({"key", "value"}),
        "project": frozenset({"id", "json"}),
        "tensors": frozenset({"sha256", "data"}),
    },
    document_query="SELECT rowid, NULL FROM project WHERE id = 1",
    document_table="project",
    blob_table="tensors",
    blob_size_expr="length(data)",
    blob_bytes_column="data",
    has_revisions=False,
)

#: Every version this reader opens, by (major, minor).
LAYOUTS: dict[tuple[int, int], Layout] = {
    (0, 9): LAYOUT_0_9,
    (1, 0): LAYOUT_1_0,
    (1, 1): LAYOUT_1_1,
    (1, 2): LAYOUT_1_2,
    (FORMAT_MAJOR, FORMAT_MINOR): CURRENT_LAYOUT,
}


@dataclass(frozen=True, slots=True)
class Migration:
    source: tuple[int, int]
    target: tuple[int, int]
    description: str
    migrate: Callable[[dict[str, Any]], dict[str, Any]]


def _rename(obj: dict[str, Any], old: str, new: str, where: str) -> None:
    if old in obj:
        if new in obj:
            raise InvalidDocument(f"{where} has both {old!r} and {new!r}")
        obj[new] = obj.pop(old)


def _objects(value: Any, where: str) -> list[dict[str, Any]]:
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise InvalidDocument(f"the format 0.9 document's {where} must be a list of objects")
    return value


def _checkpoints_0_9(value: Any, where: str) -> list[dict[str, Any]]:
    if not isinstance(value, dict):
        raise InvalidDocument(f"{where}: format 0.9 checkpoints must be an object step -> blob")
    result = []
    for step_text, ref in value.items():
        if not (isinstance(step_text, str) and step_text.isdigit() and len(step_text) <= 6):
            raise InvalidDocument(f"{where}: checkpoint step {str(step_text)[:20]!r} is no number")
        result.append({"step": int(step_text), "latent": ref})
    return sorted(result, key=lambda checkpoint: checkpoint["step"])


def migrate_0_9_to_1_0(doc: dict[str, Any]) -> dict[str, Any]:
    """Renamed fields and list-shaped checkpoints (see the module docstring)."""
    _rename(doc, "tempo", "bpm", "the project")
    _rename(doc, "time_signature", "meter", "the project")
    for section in _objects(doc.get("sections", []), "sections"):
        _rename(section, "start", "start_bar", "a section")
        _rename(section, "bars", "length_bars", "a section")
        for take in _objects(section.get("takes", []), "takes"):
            _rename(take, "latent", "final_latent", "a take")
            if "checkpoints" in take:
                take["checkpoints"] = _checkpoints_0_9(take["checkpoints"], "a take")
    return doc


def migrate_1_0_to_1_1(doc: dict[str, Any]) -> dict[str, Any]:
    """Nothing to change: 1.1 only added the optional `key` of a section and of a take."""
    return doc


def migrate_1_1_to_1_2(doc: dict[str, Any]) -> dict[str, Any]:
    """Nothing to change: 1.2 only added the optional `bpm` and `meter` of a section and of a
    take."""
    return doc


def migrate_1_2_to_1_3(doc: dict[str, Any]) -> dict[str, Any]:
    """Nothing to change: 1.3 only added a variation's optional `variation` and
    `context_seed`."""
    return doc


MIGRATIONS: tuple[Migration, ...] = (
    Migration((0, 9), (1, 0), "renamed fields, checkpoints as a list", migrate_0_9_to_1_0),
    Migration((1, 0), (1, 1), "section and take keys", migrate_1_0_to_1_1),
    Migration((1, 1), (1, 2), "section and take tempos and meters", migrate_1_1_to_1_2),
    Migration((1, 2), (1, 3), "how much a variation drew anew", migrate_1_2_to_1_3),
)


def migrate_document(doc: dict[str, Any], version: tuple[int, int]) -> dict[str, Any]:
    """Apply migrations in order until `doc` is in the current format."""
    current = (FORMAT_MAJOR, FORMAT_MINOR)
    while version < current:
        step = next((m for m in MIGRATIONS if m.source == version), None)
        if step is None:
            raise InvalidDocument(f"no migration from format {version[0]}.{version[1]}")
        doc = step.migrate(doc)
        version = step.target
    return doc


def layout_for(version: tuple[int, int]) -> Layout | None:
    """The layout of `version`; a newer minor of the current major reads as the current one."""
    if version in LAYOUTS:
        return LAYOUTS[version]
    if version[0] == FORMAT_MAJOR and version[1] > FORMAT_MINOR:
        return CURRENT_LAYOUT
    return None
