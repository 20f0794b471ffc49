"""File-system steps of an atomic save: temp names, fsync, backup, stale temp clean-up.

The rule they serve: at every instant the target path names either the complete old file or
the complete new one. New bytes are written under a temp name in the same directory (so the
final rename never crosses file systems), flushed, then renamed over the target.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
from pathlib import Path

TEMP_SUFFIX = ".saving"
BACKUP_SUFFIX = ".bak"


def temp_path_for(target: Path) -> Path:
    """A fresh hidden name beside `target`; the pid lets a later save spot stale ones."""
    return target.with_name(f".{target.name}.{os.getpid()}.{secrets.token_hex(4)}{TEMP_SUFFIX}")


def backup_path_for(target: Path) -> Path:
    return target.with_name(target.name + BACKUP_SUFFIX)


def _pid_alive(pid: int) -> bool:
    if os.name != "posix":
        return True  # cannot tell cheaply: leave the file alone
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_temps(target: Path) -> list[Path]:
    """Delete temp files that earlier saves of `target` left when their process died."""
    removed = []
    for candidate in target.parent.glob(f".{glob_escape(target.name)}.*"):
        parts = candidate.name[len(target.name) + 2 :].split(".")
        if parts and parts[0] == BACKUP_SUFFIX[1:]:
            parts = parts[1:]  # a backup's staging name: .name.bak.<pid>.<token>.saving
        if not candidate.name.endswith((TEMP_SUFFIX, TEMP_SUFFIX + "-journal")):
            continue
        if len(parts) < 3 or not parts[0].isdigit():
            continue
        pid = int(parts[0])
        if pid != os.getpid() and not _pid_alive(pid):
            remove_quietly(candidate)
            removed.append(candidate)
    return removed


def glob_escape(name: str) -> str:
    return "".join(f"[{c}]" if c in "*?[]" else c for c in name)


def remove_quietly(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.remove(path)


def fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_directory(directory: Path) -> None:
    """Make a rename durable. Windows cannot open directories; its rename is journaled."""
    if os.name != "posix":
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def keep_backup(target: Path, backup: Path) -> None:
    """Make `backup` the current `target` file without ever removing `target`: a hard link
    (or, where links are not supported, a flushed copy) is renamed over the old backup."""
    staging = backup.with_name(f".{backup.name}.{os.getpid()}.{secrets.token_hex(4)}{TEMP_SUFFIX}")
    try:
        try:
            os.link(target, staging)
        except OSError:
            shutil.copyfile(target, staging)
            fsync_file(staging)
        os.replace(staging, backup)
    finally:
        remove_quietly(staging)
