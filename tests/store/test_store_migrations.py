"""Older layouts migrate in memory; newer majors are refused; newer minors read when they can."""

from __future__ import annotations

import hashlib
import json

import pytest
from hostile import write_mlx
from legacy_files import document_0_9, write_format_0_9
from store_builders import make_project

from melodex_studio.store import (
    InvalidDocument,
    UnsupportedVersion,
    canonical_json,
    check_project,
    open_project,
    save_project,
)
from melodex_studio.store.kinds import blob_kinds
from melodex_studio.store.migrations import MIGRATIONS, migrate_document


def test_every_migration_step_leads_to_the_current_format():
    versions = [(m.source, m.target) for m in MIGRATIONS]
    assert versions == [((0, 9), (1, 0)), ((1, 0), (1, 1)), ((1, 1), (1, 2)), ((1, 2), (1, 3))]


def test_format_0_9_file_opens_migrated_in_memory_and_is_untouched(tmp_path):
    project, blobs = make_project(takes=2, steps=3)
    path = write_format_0_9(tmp_path / "old.mlx", project, blobs)
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    with open_project(path) as opened:
        assert opened.format_version == "0.9"
        assert opened.migrated_from == "0.9"
        assert opened.revision_id is None
        assert opened.project == project
        assert all(opened.read_blob(ref) == data for ref, data in blobs.items())
    check_project(path)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old.mlx"]


def test_saving_a_migrated_file_writes_the_current_format_and_keeps_the_old_as_bak(tmp_path):
    project, blobs = make_project(takes=2, steps=3)
    path = write_format_0_9(tmp_path / "old.mlx", project, blobs)
    old_bytes = path.read_bytes()
    with open_project(path) as opened:
        report = save_project(path, opened.project, opened.blobs())
    assert report.blobs_copied_by_sql == len(blobs)  # rows copied from the 0.9 `tensors` table
    assert (tmp_path / "old.mlx.bak").read_bytes() == old_bytes
    with open_project(path) as upgraded:
        assert upgraded.format_version == "1.3"
        assert upgraded.migrated_from is None
        assert upgraded.project == project
    check_project(path)


def _reopened_after_an_edit(tmp_path, project, blobs, version: str, edit: dict):
    """`project` written as format `version`, opened (migrated), its first section edited with
    `edit` and saved: the project as the saved file reads back."""
    major, minor = (int(part) for part in version.split("."))
    path = write_mlx(tmp_path / "old.mlx", canonical_json(project), blobs,
                     user_version=major * 1000 + minor, format_version=version,
                     kinds=blob_kinds(project))
    with open_project(path) as opened:
        assert (opened.format_version, opened.migrated_from) == (version, version)
        assert opened.project == project
        edited = opened.project.replace_section(
            opened.project.sections[0].model_copy(update=edit))
        save_project(path, edited, opened.blobs())
    with open_project(path) as saved:
        assert saved.format_version == "1.3"
        return saved.project


def test_format_1_0_file_opens_and_a_section_key_survives_saving_as_1_2(tmp_path):
    project, blobs = make_project(takes=1)
    saved = _reopened_after_an_edit(tmp_path, project, blobs, "1.0", {"key": "B minor"})
    assert saved.sections[0].key == "B minor"
    assert '"key":"B minor"' in canonical_json(saved)


def test_format_1_1_file_opens_and_a_section_tempo_survives_saving_as_1_2(tmp_path):
    project, blobs = make_project(takes=1)
    project = project.replace_section(project.sections[0].model_copy(update={"key": "D major"}))
    saved = _reopened_after_an_edit(tmp_path, project, blobs, "1.1", {"bpm": 132.5})
    first = saved.sections[0]
    assert (first.bpm, first.key) == (132.5, "D major")
    assert first.start_bar == 0 and saved.bpm != 132.5
    grid = saved.grid()
    assert (grid.bpm_at(0), grid.bpm_at(first.end_bar)) == (132.5, saved.bpm)


def test_a_document_without_section_keys_or_tempos_writes_neither_so_1_0_readers_open_it():
    project, _ = make_project(takes=1)
    sections = json.loads(canonical_json(project))["sections"]
    assert sections and not any("key" in section or "bpm" in section for section in sections)


def test_migration_turns_checkpoint_objects_into_sorted_lists():
    project, _ = make_project(takes=1, steps=4)
    doc = document_0_9(project)
    take = doc["sections"][0]["takes"][0]
    take["checkpoints"] = dict(reversed(list(take["checkpoints"].items())))
    migrated = migrate_document(json.loads(json.dumps(doc)), (0, 9))
    assert canonical_json(project) == json.dumps(
        migrated, sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda doc: doc.update(bpm=120.0), "both 'tempo' and 'bpm'"),
        (lambda doc: doc["sections"][0]["takes"][0].update(checkpoints=[1]), "object step"),
        (
            lambda doc: doc["sections"][0]["takes"][0].update(checkpoints={"x1": "a"}),
            "no number",
        ),
        (lambda doc: doc.update(sections={"a": 1}), "list of objects"),
    ],
)
def test_broken_0_9_documents_are_refused_with_a_message(tmp_path, damage, message):
    project, blobs = make_project(takes=1, steps=2)
    doc = document_0_9(project)
    damage(doc)
    path = write_format_0_9(tmp_path / "old.mlx", project, blobs, doc=doc)
    with pytest.raises(InvalidDocument, match=message):
        open_project(path)


def test_newer_minor_version_opens_when_its_document_is_valid(tmp_path):
    project, blobs = make_project(takes=1)
    path = write_mlx(tmp_path / "minor.mlx", canonical_json(project), blobs,
                     user_version=1003, format_version="1.3", kinds=blob_kinds(project))
    with open_project(path) as opened:
        assert opened.format_version == "1.3"
        assert opened.project == project


def test_newer_minor_version_with_unknown_fields_is_refused_as_newer(tmp_path):
    project, blobs = make_project(takes=1)
    doc = json.loads(canonical_json(project))
    doc["lyrics"] = "la la"
    path = write_mlx(tmp_path / "minor.mlx", json.dumps(doc), blobs, user_version=1004,
                     format_version="1.4", kinds=blob_kinds(project))
    with pytest.raises(UnsupportedVersion, match=r"newer Melodex Studio \(format 1.4\)"):
        open_project(path)


@pytest.mark.parametrize(("key", "message"), [
    ("H# major", "'H# major' is not a key"),
    ("x" * 5000, "at most 32 characters"),
    (7, "valid string"),
])
def test_a_bad_section_key_is_refused_with_its_reason(tmp_path, key, message):
    project, blobs = make_project(takes=1)
    doc = json.loads(canonical_json(project))
    doc["sections"][0]["key"] = key
    path = write_mlx(tmp_path / "key.mlx", json.dumps(doc), blobs, kinds=blob_kinds(project))
    before = path.read_bytes()
    with pytest.raises(InvalidDocument, match=f"sections.0.key: .*{message}"):
        open_project(path)
    assert path.read_bytes() == before


def test_format_1_2_file_opens_and_its_variations_keep_meaning_what_they_meant(tmp_path):
    """1.2 variations continued their source's noise: without `variation` they still do (a
    re-run treats an absent one as 0), and saving as 1.3 writes none for them."""
    project, blobs = make_project(takes=1)
    saved = _reopened_after_an_edit(tmp_path, project, blobs, "1.2", {"bpm": 90.0})
    assert saved.sections[0].bpm == 90.0
    assert all(take.variation is None for s in saved.sections for take in s.takes)
    assert '"variation"' not in canonical_json(saved)
