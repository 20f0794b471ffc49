"""Saving and opening through RELATIVE paths, including after the working directory changes.

A save-as from an opened file copies blob rows by attaching that file to SQLite by URI, which
needs an absolute path; these tests pin that every store entry point resolves paths itself.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from store_builders import make_project

from melodex_studio.store import (
    ChainBlobs,
    FileBlobs,
    MemoryBlobs,
    RecoveryJournal,
    canonical_json,
    check_project,
    open_project,
    save_project,
)


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_save_open_and_save_as_with_relative_paths(in_tmp: Path) -> None:
    project, blobs = make_project(sections=2, takes=2)
    first = save_project("song.mlx", project, MemoryBlobs(blobs))
    assert first.path == in_tmp / "song.mlx"
    with open_project("song.mlx") as opened:
        assert opened.path.is_absolute()
        assert canonical_json(opened.project) == canonical_json(project)
        # Save-as from the opened file: blob rows are copied by SQL from the attached source.
        report = save_project("copy.mlx", opened.project, FileBlobs(opened))
        assert report.blobs_copied_by_sql == len(project.blob_refs())
        assert report.blobs_written_from_python == 0
    check_project("copy.mlx")
    with open_project(Path("copy.mlx")) as copied:
        assert canonical_json(copied.project) == canonical_json(project)
        for ref, data in blobs.items():
            assert copied.read_blob(ref) == data


def test_save_over_the_opened_file_keeps_a_backup(in_tmp: Path) -> None:
    project, blobs = make_project(sections=1, takes=2, seed=1)
    save_project("song.mlx", project, MemoryBlobs(blobs))
    with open_project("song.mlx") as opened:
        renamed = opened.project.model_copy(update={"title": "Renamed"})
        report = save_project("song.mlx", renamed, FileBlobs(opened))
    assert report.backup is not None and report.backup.exists()
    with open_project("song.mlx") as reopened:
        assert reopened.project.title == "Renamed"
        assert {ref: reopened.read_blob(ref) for ref in blobs} == blobs


def test_relative_paths_into_subfolders_and_chained_sources(in_tmp: Path) -> None:
    (in_tmp / "songs").mkdir()
    project, blobs = make_project(sections=2, takes=1, seed=2)
    save_project(Path("songs") / "a.mlx", project, MemoryBlobs(blobs))
    extra_project, extra_blobs = make_project(sections=3, takes=1, seed=3)
    with open_project("songs/a.mlx") as opened:
        # The new project needs blobs from the file and from memory.
        chain = ChainBlobs(FileBlobs(opened), MemoryBlobs(extra_blobs))
        merged = extra_project.with_sections(project.sections + extra_project.sections[2:])
        report = save_project("./songs/../b.mlx", merged, chain)
    assert report.path == in_tmp / "b.mlx"
    assert report.blobs_copied_by_sql >= 1
    assert report.blobs_written_from_python >= 1
    with open_project("b.mlx") as reopened:
        assert canonical_json(reopened.project) == canonical_json(merged)


def test_an_opened_file_survives_a_change_of_working_directory(
    in_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project, blobs = make_project(sections=1, takes=1, seed=4)
    (in_tmp / "elsewhere").mkdir()
    save_project("song.mlx", project, MemoryBlobs(blobs))
    with open_project("song.mlx") as opened:
        monkeypatch.chdir(in_tmp / "elsewhere")
        # The relative name now means a file that does not exist; the opened one still works.
        report = save_project("copy.mlx", opened.project, FileBlobs(opened))
        assert report.blobs_copied_by_sql == len(project.blob_refs())
    assert report.path == in_tmp / "elsewhere" / "copy.mlx"
    with open_project("copy.mlx") as copied:
        assert {ref: copied.read_blob(ref) for ref in blobs} == blobs


def test_recovery_journal_in_a_relative_folder(
    in_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project, blobs = make_project(sections=1, takes=1, seed=5)
    save_project("song.mlx", project, MemoryBlobs(blobs))
    journal = RecoveryJournal(Path("recovery"))
    session = journal.begin(project, "song.mlx")
    session.record(project.model_copy(update={"title": "Edited"}))
    session.close(clean=False)  # as if the studio crashed
    (in_tmp / "elsewhere").mkdir()
    monkeypatch.chdir(in_tmp / "elsewhere")
    [found] = journal.list_recoverable()
    assert found.original_path == in_tmp / "song.mlx"
    restored, source = journal.restore(found.session_id)
    try:
        assert restored.title == "Edited"
        save_project("recovered.mlx", restored, source)
    finally:
        source.close()
    with open_project("recovered.mlx") as reopened:
        assert reopened.project.title == "Edited"
