"""Save -> open round trips: equal models, equal blobs, byte-identical canonical JSON."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from store_builders import make_project
from strategies import projects_with_blobs

from melodex_studio.store import (
    BadBlob,
    ChainBlobs,
    FileBlobs,
    MemoryBlobs,
    MissingBlob,
    SaveFailed,
    canonical_json,
    check_project,
    open_project,
    save_project,
)
from melodex_studio.store.format import APPLICATION_ID, KEPT_REVISIONS


def _bytes(path: Path) -> bytes:
    return path.read_bytes()


@settings(max_examples=30, deadline=None)
@given(projects_with_blobs(max_sections=3, max_takes=3))
def test_any_project_round_trips_with_its_blobs(project_and_blobs):
    project, blobs = project_and_blobs
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "song.mlx"
        save_project(path, project, MemoryBlobs(blobs))
        with open_project(path) as opened:
            assert opened.project == project
            assert opened.format_version == "1.3"
            assert opened.migrated_from is None
            assert opened.blob_sizes() == {ref: len(data) for ref, data in blobs.items()}
            for ref, data in blobs.items():
                read = opened.read_blob(ref)
                assert read == data
                assert hashlib.sha256(read).hexdigest() == ref
            first_json = canonical_json(opened.project)
            save_project(path, opened.project, opened.blobs())
        with open_project(path) as reopened:
            assert canonical_json(reopened.project) == first_json == canonical_json(project)
            assert reopened.project == project
        check_project(path)


def test_resaving_unchanged_project_keeps_one_revision_and_identical_json(tmp_path):
    project, blobs = make_project()
    path = tmp_path / "song.mlx"
    first = save_project(path, project, MemoryBlobs(blobs))
    for _ in range(3):
        with open_project(path) as opened:
            report = save_project(path, opened.project, opened.blobs())
        assert report.revision_id == first.revision_id
        assert report.document_sha256 == first.document_sha256
    with open_project(path) as opened:
        assert [r.id for r in opened.revisions()] == [first.revision_id]


def test_revisions_are_bounded_and_latest_is_the_document(tmp_path):
    project, blobs = make_project()
    path = tmp_path / "song.mlx"
    save_project(path, project, MemoryBlobs(blobs))
    for n in range(KEPT_REVISIONS + 4):
        with open_project(path) as opened:
            save_project(path, opened.project.updated(title=f"Take {n}"), opened.blobs())
    with open_project(path) as opened:
        revisions = opened.revisions()
        assert len(revisions) == KEPT_REVISIONS
        assert revisions[0].id == KEPT_REVISIONS + 5
        assert [r.id for r in revisions] == sorted((r.id for r in revisions), reverse=True)
        assert opened.project.title == f"Take {KEPT_REVISIONS + 3}"
        assert revisions[0].sha256 == opened.document_sha256


def test_save_keeps_previous_file_as_bak_and_sets_identity(tmp_path):
    project, blobs = make_project()
    path = tmp_path / "song.mlx"
    first = save_project(path, project, MemoryBlobs(blobs))
    assert first.backup is None
    old_bytes = _bytes(path)
    second = save_project(path, project.updated(title="Second"), MemoryBlobs(blobs))
    assert second.backup == tmp_path / "song.mlx.bak"
    assert _bytes(second.backup) == old_bytes
    third = save_project(path, project.updated(title="Third"), MemoryBlobs(blobs))
    with open_project(third.backup) as backup:
        assert backup.project.title == "Second"
    header = path.read_bytes()[:100]
    assert header.startswith(b"SQLite format 3\x00")
    assert int.from_bytes(header[68:72], "big") == APPLICATION_ID
    assert int.from_bytes(header[60:64], "big") == 1003
    assert sorted(p.name for p in tmp_path.iterdir()) == ["song.mlx", "song.mlx.bak"]


def test_only_referenced_blobs_are_written(tmp_path):
    project, blobs = make_project(takes=2)
    path = tmp_path / "song.mlx"
    save_project(path, project, MemoryBlobs(blobs))
    section = project.sections[0]
    dropped = section.takes[0]
    smaller = project.replace_section(
        section.model_copy(update={"takes": section.takes[1:], "active_take_id": None})
    )
    with open_project(path) as opened:
        report = save_project(path, smaller, opened.blobs())
    assert report.blobs_copied_by_sql == len(smaller.blob_refs())
    assert report.blobs_written_from_python == 0
    with open_project(path) as opened:
        assert set(opened.blob_sizes()) == set(smaller.blob_refs())
        gone = dropped.blob_refs() - smaller.blob_refs()
        assert gone
        assert not any(opened.has_blob(ref) for ref in gone)


def test_chain_blobs_mix_file_rows_and_new_memory_blobs(tmp_path):
    old_project, old_blobs = make_project(seed=1)
    new_project, new_blobs = make_project(seed=1, takes=3)
    path = tmp_path / "song.mlx"
    save_project(path, old_project, MemoryBlobs(old_blobs))
    extra = {ref: data for ref, data in new_blobs.items() if ref not in old_blobs}
    assert extra
    with open_project(path) as opened:
        source = ChainBlobs(MemoryBlobs(extra), FileBlobs(opened))
        report = save_project(tmp_path / "copy.mlx", new_project, source)
    assert report.blobs_copied_by_sql == len(old_project.blob_refs() & new_project.blob_refs())
    assert report.blobs_written_from_python == len(extra)
    with open_project(tmp_path / "copy.mlx") as copy:
        assert copy.project == new_project
        assert all(copy.read_blob(ref) == data for ref, data in new_blobs.items())


def test_file_replaced_since_open_falls_back_to_python_reads(tmp_path):
    project, blobs = make_project(seed=2)
    path = tmp_path / "song.mlx"
    save_project(path, project, MemoryBlobs(blobs))
    opened = open_project(path)
    try:
        other, other_blobs = make_project(seed=3)
        save_project(path, other, MemoryBlobs(other_blobs))  # path now names another file
        assert opened.sqlite_source() is None
        report = save_project(tmp_path / "out.mlx", project, opened.blobs())
        assert report.blobs_copied_by_sql == 0
        assert report.blobs_written_from_python == len(blobs)
    finally:
        opened.close()
    with open_project(tmp_path / "out.mlx") as out:
        assert out.project == project


def test_missing_blob_on_save_leaves_target_untouched(tmp_path):
    project, blobs = make_project()
    path = tmp_path / "song.mlx"
    save_project(path, project, MemoryBlobs(blobs))
    before = _bytes(path)
    incomplete = dict(blobs)
    incomplete.pop(sorted(incomplete)[0])
    with pytest.raises(MissingBlob, match="in no blob source"):
        save_project(path, project.updated(title="Changed"), MemoryBlobs(incomplete))
    assert _bytes(path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["song.mlx"]


def test_blob_bytes_that_do_not_hash_to_their_key_are_refused(tmp_path):
    project, blobs = make_project()
    ref = sorted(blobs)[0]
    wrong = {**blobs, ref: blobs[sorted(blobs)[1]]}
    with pytest.raises(BadBlob, match="do not hash"):
        save_project(tmp_path / "song.mlx", project, MemoryBlobs(wrong))
    assert list(tmp_path.iterdir()) == []


def test_render_cache_is_stored_and_disposable(tmp_path):
    project, blobs = make_project()
    path = tmp_path / "song.mlx"
    save_project(path, project, MemoryBlobs(blobs), render_cache={"mix:abc": b"\x01\x02"})
    with open_project(path) as opened:
        assert opened.render_cache("mix:abc") == b"\x01\x02"
        assert opened.render_cache("other") is None
        save_project(path, opened.project, opened.blobs())  # no cache given: it is dropped
    with open_project(path) as opened:
        assert opened.render_cache("mix:abc") is None
        assert opened.project == project


def test_save_into_missing_folder_fails_cleanly(tmp_path):
    project, blobs = make_project()
    with pytest.raises(SaveFailed, match="does not exist"):
        save_project(tmp_path / "nope" / "song.mlx", project, MemoryBlobs(blobs))


def test_save_through_a_symlink_keeps_the_link(tmp_path):
    project, blobs = make_project()
    real = tmp_path / "real.mlx"
    save_project(real, project, MemoryBlobs(blobs))
    link = tmp_path / "link.mlx"
    os.symlink(real, link)
    save_project(link, project.updated(title="Via link"), MemoryBlobs(blobs))
    assert link.is_symlink()
    with open_project(real) as opened:
        assert opened.project.title == "Via link"


def test_stale_temp_files_of_dead_processes_are_removed(tmp_path):
    project, blobs = make_project()
    path = tmp_path / "song.mlx"
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)  # a pid that is certainly dead now
    stale = tmp_path / f".song.mlx.{pid}.deadbeef.saving"
    stale.write_bytes(b"half a file")
    save_project(path, project, MemoryBlobs(blobs))
    assert not stale.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["song.mlx"]
