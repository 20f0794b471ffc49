"""A save that runs out of space fails cleanly: DiskFull, the old file intact, no temp left."""

from __future__ import annotations

import errno
import os
import resource
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from kill_harness import fork_child, kill_after
from store_builders import make_project

from melodex_studio.store import (
    DiskFull,
    MemoryBlobs,
    SaveFailed,
    check_project,
    open_project,
    save_project,
)
from melodex_studio.store import save as save_module


def _saved_pair(folder: Path) -> tuple[Path, bytes, object, object]:
    """A small saved project, and a much larger next version of it."""
    small, small_blobs = make_project(takes=1)
    path = folder / "song.mlx"
    save_project(path, small, MemoryBlobs(small_blobs))
    big, big_blobs = make_project(takes=6, channels=16, frames=256, steps=8)
    big = big.updated(id=small.id, title="Bigger")
    return path, path.read_bytes(), (small, small_blobs), (big, big_blobs)


def _assert_untouched(path: Path, before: bytes, project) -> None:
    assert path.read_bytes() == before
    with open_project(path) as opened:
        assert opened.project == project
    check_project(path)
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_file_size_limit_in_a_child_fails_the_save_cleanly(tmp_path):
    path, before, (small, _), (big, big_blobs) = _saved_pair(tmp_path)
    limit = len(before) + 64 * 1024  # room for the small file, not for the big one

    def work(fd: int) -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # get EFBIG/short writes, not a kill
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
        try:
            save_project(path, big, MemoryBlobs(big_blobs))
            os.write(fd, b"saved")
        except SaveFailed as exc:
            os.write(fd, f"{type(exc).__name__}|{exc.message}".encode())

    result = kill_after(*fork_child(work), None).decode()
    kind, _, message = result.partition("|")
    assert kind in ("DiskFull", "SaveFailed"), result
    assert "previous version is unchanged" in message
    _assert_untouched(path, before, small)


def test_enospc_while_flushing_raises_disk_full(tmp_path, monkeypatch):
    path, before, (small, _), (big, big_blobs) = _saved_pair(tmp_path)

    def full(_path):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(save_module, "fsync_file", full)
    with pytest.raises(DiskFull, match="disk is full"):
        save_project(path, big, MemoryBlobs(big_blobs))
    _assert_untouched(path, before, small)


def test_failed_rename_keeps_the_old_file(tmp_path, monkeypatch):
    path, before, (small, _), (big, big_blobs) = _saved_pair(tmp_path)

    def refuse(_src, _dst):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(save_module.os, "replace", refuse)
    with pytest.raises(SaveFailed, match="Permission denied") as caught:
        save_project(path, big, MemoryBlobs(big_blobs), keep_backup_file=False)
    assert not isinstance(caught.value, DiskFull)
    monkeypatch.undo()
    _assert_untouched(path, before, small)


def _mount_tmpfs(mount_point: Path, size: str) -> bool:
    if sys.platform != "linux" or os.geteuid() != 0 or shutil.which("mount") is None:
        return False
    mount_point.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mount_point)],
        capture_output=True,
        check=False,
    )
    return done.returncode == 0


def test_real_tiny_filesystem_runs_out_of_space(tmp_path):
    mount_point = tmp_path / "tiny"
    if not _mount_tmpfs(mount_point, "384k"):
        pytest.skip("cannot mount a tmpfs here (needs root on Linux)")
    try:
        path, before, (small, _), (big, big_blobs) = _saved_pair(mount_point)
        with pytest.raises(DiskFull):
            save_project(path, big, MemoryBlobs(big_blobs))
        _assert_untouched(path, before, small)
    finally:
        subprocess.run(["umount", str(mount_point)], check=False)
