"""Files in the format 0.9 layout (see melodex_studio/store/migrations.py), written the way the
preview builds wrote them: for the migration tests."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from melodex_studio.project.models import Project
from melodex_studio.store.format import APPLICATION_ID


def document_0_9(project: Project) -> dict[str, Any]:
    """The project as a format 0.9 document (the inverse of the 0.9 -> 1.0 migration)."""
    doc = project.model_dump(mode="json")
    doc["tempo"] = doc.pop("bpm")
    doc["time_signature"] = doc.pop("meter")
    for section in doc["sections"]:
        section["start"] = section.pop("start_bar")
        section["bars"] = section.pop("length_bars")
        for take in section["takes"]:
            take["latent"] = take.pop("final_latent")
            take["checkpoints"] = {str(c["step"]): c["latent"] for c in take["checkpoints"]}
    return doc


def write_format_0_9(path: Path, project: Project, blobs: dict[str, bytes], doc=None) -> Path:
    db = sqlite3.connect(path, isolation_level=None)
    db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    db.execute("PRAGMA user_version = 9")
    db.execute("BEGIN")
    db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)")
    db.execute("CREATE TABLE project (id INTEGER PRIMARY KEY CHECK (id = 1), json TEXT NOT NULL)")
    db.execute("CREATE TABLE tensors (sha256 TEXT PRIMARY KEY, data BLOB NOT NULL)")
    db.executemany(
        "INSERT INTO meta VALUES (?, ?)",
        [("format_version", "0.9"), ("app_version", "0.0.9"), ("saved", "2024-01-01")],
    )
    db.execute(
        "INSERT INTO project VALUES (1, ?)", (json.dumps(doc or document_0_9(project), indent=1),)
    )
    db.executemany("INSERT INTO tensors VALUES (?, ?)", sorted(blobs.items()))
    db.execute("COMMIT")
    db.close()
    return path
