"""Damaged and hostile files: a clear typed error, no crash, no hang, the file untouched."""

from __future__ import annotations

import hashlib
import os
import random
import sqlite3
import time
from pathlib import Path

import pytest
from hostile import (
    EXPECTED,
    MESSAGE_WORDS,
    OPENS_BUT_FAILS_CHECK,
    PICKLE_MARKER_NAME,
    make_hostile_files,
    make_valid_file,
)
from store_builders import make_project

from melodex_studio.store import FileBusy, MlxError, check_project, open_project

MAX_SECONDS = 5.0


@pytest.fixture(scope="module")
def hostile_files(tmp_path_factory) -> dict[str, Path]:
    return make_hostile_files(tmp_path_factory.mktemp("hostile"))


def _snapshot(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir()}


def _attempt(action, path: Path) -> tuple[MlxError | None, float]:
    start = time.perf_counter()
    try:
        action(path)
    except MlxError as exc:
        return exc, time.perf_counter() - start
    return None, time.perf_counter() - start


def test_every_case_is_built(hostile_files):
    assert set(hostile_files) == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_hostile_file_is_refused_clearly_quickly_and_untouched(hostile_files, name):
    path = hostile_files[name]
    before = _snapshot(path.parent)
    expected = EXPECTED[name]

    def open_and_close(p: Path) -> None:
        open_project(p).close()

    opened_error, open_seconds = _attempt(open_and_close, path)
    checked_error, check_seconds = _attempt(check_project, path)
    assert open_seconds < MAX_SECONDS and check_seconds < MAX_SECONDS
    if name in OPENS_BUT_FAILS_CHECK:
        assert opened_error is None
    else:
        assert isinstance(opened_error, expected), opened_error
    assert isinstance(checked_error, expected), checked_error
    message = str(checked_error)
    assert message == checked_error.message and "\n" not in message and len(message) < 500
    assert MESSAGE_WORDS.get(name, "") in message
    assert _snapshot(path.parent) == before  # no byte changed, no -journal/-wal/-shm created
    assert not (path.parent / PICKLE_MARKER_NAME).exists()


def test_truncation_at_many_offsets(tmp_path):
    source = make_valid_file(tmp_path / "source.mlx")
    raw = source.read_bytes()
    rng = random.Random(7)
    offsets = sorted({0, 1, 15, 16, 99, 100, 101, 512, 4095, 4096, 4097, len(raw) - 4096,
                      len(raw) - 1, *(rng.randrange(len(raw)) for _ in range(60))})
    target = tmp_path / "cut.mlx"
    for offset in offsets:
        target.write_bytes(raw[:offset])
        error, seconds = _attempt(check_project, target)
        assert isinstance(error, MlxError), f"truncated at {offset} was accepted"
        assert seconds < MAX_SECONDS
        assert target.read_bytes() == raw[:offset]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cut.mlx", "source.mlx"]


def test_random_byte_flips_never_return_wrong_data(tmp_path):
    """Each flip is either reported (open or check raises MlxError) or harmless (the project
    and every blob read back exactly as saved): never silently wrong."""
    project, blobs = make_project()
    source = make_valid_file(tmp_path / "source.mlx")
    raw = source.read_bytes()
    target = tmp_path / "flipped.mlx"
    outcomes = {"refused on open": 0, "refused by check": 0, "harmless": 0}
    for seed in range(150):
        rng = random.Random(seed)
        damaged = bytearray(raw)
        # A third of the seeds aim at the header, where SQLite keeps its own metadata.
        span = 100 if seed % 3 == 0 else len(raw)
        for _ in range(rng.randint(1, 8)):
            damaged[rng.randrange(span)] ^= rng.randint(1, 255)
        target.write_bytes(bytes(damaged))
        start = time.perf_counter()
        try:
            with open_project(target) as opened:
                try:
                    opened.verify_all()
                    assert opened.project == project, f"seed {seed}: wrong project"
                    for ref, data in blobs.items():
                        assert opened.read_blob(ref) == data, f"seed {seed}: wrong blob"
                    outcomes["harmless"] += 1
                except MlxError:
                    outcomes["refused by check"] += 1
        except MlxError as exc:
            assert "\n" not in str(exc)
            outcomes["refused on open"] += 1
        assert time.perf_counter() - start < MAX_SECONDS
        assert target.read_bytes() == bytes(damaged)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["flipped.mlx", "source.mlx"]
    assert outcomes["refused on open"] > 20, outcomes
    assert outcomes["refused by check"] > 5, outcomes


def test_file_locked_by_another_program_fails_fast_instead_of_hanging(tmp_path):
    path = make_valid_file(tmp_path / "song.mlx")
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")  # another program writing: readers must not wait on it
    try:
        error, seconds = _attempt(check_project, path)
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert isinstance(error, FileBusy), error
    assert "locked by another program" in str(error)
    assert seconds < MAX_SECONDS
    check_project(path)


def test_open_never_writes_even_when_the_folder_is_read_only(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    path = make_valid_file(folder / "song.mlx")
    os.chmod(path, 0o444)
    os.chmod(folder, 0o555)
    try:
        with open_project(path) as opened:
            assert opened.project.title == "Night Drive"
        check_project(path)
    finally:
        os.chmod(folder, 0o755)
