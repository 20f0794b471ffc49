"""The recovery journal: one transaction per edit, recoverable after a crash, gone when clean."""

from __future__ import annotations

import os

import numpy as np
import pytest
from store_builders import make_project
from strategies import latent_blob, sha256_hex

from melodex_studio.store import (
    BadBlob,
    JournalError,
    MemoryBlobs,
    MissingBlob,
    RecoveryJournal,
    save_project,
)


@pytest.fixture
def journal(tmp_path) -> RecoveryJournal:
    return RecoveryJournal(tmp_path / "recovery")


def _edit_with_new_latent(project, n: int):
    """A project edit that references a brand-new blob (a re-rendered final latent)."""
    data = latent_blob(np.full((4, 8), float(n), dtype=np.float32))
    section = project.sections[0]
    take = section.takes[0]
    new_take = take.model_copy(update={"final_latent": sha256_hex(data)})
    takes = (new_take, *section.takes[1:])
    edited = project.replace_section(section.model_copy(update={"takes": takes}))
    return edited.updated(title=f"Edit {n}"), {sha256_hex(data): data}


def test_clean_close_removes_the_journal(journal, tmp_path):
    project, _ = make_project()
    session = journal.begin(project, None)
    session.record(project.updated(title="Edited"))
    assert session.path.exists()
    session.close(clean=True)
    assert list((tmp_path / "recovery").iterdir()) == []
    assert journal.list_recoverable() == []


def test_live_sessions_are_not_offered_and_crashed_ones_are(journal, tmp_path):
    project, blobs = make_project()
    original = tmp_path / "song.mlx"
    save_project(original, project, MemoryBlobs(blobs))
    session = journal.begin(project, original)
    edited, new_blobs = _edit_with_new_latent(project, 1)
    assert session.record(edited, new_blobs) == 1
    assert journal.list_recoverable() == []  # still open: its lock is held
    with pytest.raises(JournalError, match="still open"):
        journal.restore(session.session_id)
    session.close(clean=False)  # what a crash leaves behind
    (found,) = journal.list_recoverable()
    assert found.session_id == session.session_id
    assert found.title == "Edit 1"
    assert found.original_path == original.resolve()
    assert found.revision_count == 1
    restored, source = journal.restore(found.session_id)
    try:
        assert restored == edited
        for ref in restored.blob_refs():
            expected = new_blobs.get(ref) or blobs[ref]
            assert source.get(ref) == expected  # from the journal or the original file
        save_project(original, restored, source)
    finally:
        source.close()
    journal.discard(found.session_id)
    assert journal.list_recoverable() == []
    assert list((tmp_path / "recovery").iterdir()) == []


def test_restore_keeps_only_the_latest_edit_and_counts_every_edit(journal):
    project, blobs = make_project()
    session = journal.begin(project, None, blobs)
    for n in range(40):
        session.record(project.updated(title=f"Edit {n}"))
    session.record(project.updated(title="Edit 39"))  # unchanged: not a new revision
    assert session.revision_count == 40
    session.close(clean=False)
    (found,) = journal.list_recoverable()
    assert found.revision_count == 40
    restored, source = journal.restore(found.session_id)
    source.close()
    assert restored.title == "Edit 39"


def test_sessions_without_edits_are_not_offered_and_are_cleaned(journal, tmp_path):
    project, _ = make_project(takes=0)
    journal.begin(project, None).close(clean=False)
    assert journal.list_recoverable() == []
    assert list((tmp_path / "recovery").iterdir()) == []


def test_blob_lost_everywhere_makes_restore_fail_clearly(journal, tmp_path):
    project, _ = make_project()
    session = journal.begin(project, tmp_path / "never-saved.mlx")
    session.record(project.updated(title="Edited"))  # its blobs were never journaled
    session.close(clean=False)
    (found,) = journal.list_recoverable()
    with pytest.raises(MissingBlob, match="neither in the journal"):
        journal.restore(found.session_id)


def test_record_refuses_blobs_that_do_not_hash_to_their_key(journal):
    project, _ = make_project()
    session = journal.begin(project, None)
    data = latent_blob(np.zeros((2, 2), dtype=np.float32))
    with pytest.raises(BadBlob):
        session.record(project.updated(title="x"), {"0" * 64: data})
    with pytest.raises(BadBlob, match="pickle"):
        payload = b"\x80\x04K\x01."
        session.record(project.updated(title="x"), {sha256_hex(payload): payload})
    session.close()


def test_resume_continues_a_restored_session(journal):
    project, blobs = make_project()
    session = journal.begin(project, None, blobs)
    session.record(project.updated(title="One"))
    session.close(clean=False)
    (found,) = journal.list_recoverable()
    resumed = journal.resume(found.session_id)
    assert resumed.record(project.updated(title="Two")) == 2
    resumed.close(clean=False)
    restored, source = journal.restore(found.session_id)
    source.close()
    assert restored.title == "Two"


def test_damaged_latest_edit_falls_back_to_the_one_before(journal):
    import sqlite3

    project, blobs = make_project()
    session = journal.begin(project, None, blobs)
    session.record(project.updated(title="Good"))
    session.record(project.updated(title="Damaged later"))
    session.close(clean=False)
    (found,) = journal.list_recoverable()
    db = sqlite3.connect(found.journal_path)
    db.execute("UPDATE edits SET sha256 = ? WHERE seq = (SELECT max(seq) FROM edits)", ("0" * 64,))
    db.commit()
    db.close()
    restored, source = journal.restore(found.session_id)
    source.close()
    assert restored.title == "Good"


def test_default_directory_follows_the_data_dir(user_dirs):
    journal = RecoveryJournal()
    assert journal.directory == user_dirs / "data" / "recovery"
    project, _ = make_project(takes=0)
    session = journal.begin(project, None)
    assert session.path.parent == journal.directory
    session.close()


def test_bad_session_ids_are_refused(journal):
    with pytest.raises(JournalError):
        journal.restore("../../etc/passwd")
    assert os.path.exists("/etc/passwd")


def test_context_manager_keeps_the_journal_only_when_an_exception_escapes(journal):
    project, blobs = make_project(takes=1)
    with pytest.raises(RuntimeError), journal.begin(project, None, blobs) as session:
        session.record(project.updated(title="Interrupted"))
        raise RuntimeError("the editor crashed")
    with journal.begin(project, None, blobs) as session:
        session.record(project.updated(title="Finished"))
    assert [found.title for found in journal.list_recoverable()] == ["Interrupted"]
