"""SIGKILL a child process at random moments while it saves or journals, then check the files.

Used by tests/store/test_store_kill.py (CI: a few hundred kills) and
tests/stress/test_kill_long.py (MELODEX_STRESS=1: thousands). POSIX only (os.fork).
"""

from __future__ import annotations

import os
import random
import signal
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from store_builders import make_project
from strategies import latent_blob, sha256_hex

from melodex_studio.project.models import Project
from melodex_studio.store import (
    ChainBlobs,
    MemoryBlobs,
    RecoveryJournal,
    check_project,
    open_project,
    save_project,
)

PHASE_CODES = {"writing": b"w", "verifying": b"v", "replacing": b"r", "done": b"d"}


def fork_child(work: Callable[[int], None]) -> tuple[int, int]:
    """Run `work(write_fd)` in a forked child; returns (pid, read_fd)."""
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: never return into the test runner
        code = 1
        try:
            os.close(read_fd)
            work(write_fd)
            code = 0
        finally:
            os._exit(code)
    os.close(write_fd)
    return pid, read_fd


def kill_after(pid: int, read_fd: int, delay: float | None) -> bytes:
    """SIGKILL the child after `delay` seconds (None: let it finish); returns what it wrote."""
    if delay is not None:
        time.sleep(delay)
        os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    chunks = []
    while chunk := os.read(read_fd, 4096):
        chunks.append(chunk)
    os.close(read_fd)
    return b"".join(chunks)


def kill_after_phase(pid: int, read_fd: int, phase: bytes, delay: float) -> bytes:
    """SIGKILL the child `delay` seconds after it reports `phase` (or when it exits first).

    Anchoring the delay to the phase the child reports, rather than to the fork, keeps the
    kills inside the save however slow the machine is at that moment."""
    seen = b""
    while phase not in seen:
        chunk = os.read(read_fd, 1)
        if not chunk:  # the child exited before reaching the phase
            os.waitpid(pid, 0)
            os.close(read_fd)
            return seen
        seen += chunk
    time.sleep(delay)
    os.kill(pid, signal.SIGKILL)
    return seen + kill_after(pid, read_fd, None)


def _phase_times(pid: int, read_fd: int, end: bytes = b"d") -> dict[bytes, float]:
    """Let the child finish; when each code first arrived (perf_counter seconds), and `end`
    when it last arrived."""
    stamps: dict[bytes, float] = {}
    while chunk := os.read(read_fd, 1):
        now = time.perf_counter()
        stamps.setdefault(chunk, now)
        if chunk == end:
            stamps[end] = now
    os.waitpid(pid, 0)
    os.close(read_fd)
    assert end in stamps, f"an unkilled child did not finish: {sorted(stamps)}"
    return stamps


def _variant(base: Project, blobs: dict[str, bytes], k: int) -> tuple[Project, dict[str, bytes]]:
    """Version k: a new title and one re-rendered final latent (a blob only memory has)."""
    data = latent_blob(np.full((16, 64), float(k), dtype=np.float32))
    ref = sha256_hex(data)
    section = base.sections[k % len(base.sections)]
    take = section.takes[0].model_copy(update={"final_latent": ref})
    edited = base.replace_section(section.model_copy(update={"takes": (take, *section.takes[1:])}))
    project = edited.updated(title=f"Version {k}")
    return project, {**blobs, ref: data}


@dataclass
class SaveKillStats:
    kills: int = 0
    phases: Counter = field(default_factory=Counter)
    outcomes: Counter = field(default_factory=Counter)
    window_s: float = 0.0

    @property
    def inside_save(self) -> int:
        return self.phases["writing"] + self.phases["verifying"] + self.phases["replacing"]


def _phase_at_kill(written: bytes) -> str:
    if b"d" in written:
        return "finished"
    for phase in ("replacing", "verifying", "writing"):
        if PHASE_CODES[phase] in written:
            return phase
    return "before save"


def run_save_kills(folder: Path, n_kills: int, seed: int = 0) -> SaveKillStats:
    """Each round: a child opens the target and saves the next version; the parent kills it
    at a random moment, then the target must be exactly the old or the new version."""
    rng = random.Random(seed)
    base, base_blobs = make_project(
        sections=3, takes=3, channels=16, frames=128, steps=8, audio_samples=4096
    )
    versions = [_variant(base, base_blobs, k) for k in range(4)]
    target = folder / "song.mlx"
    save_project(target, versions[0][0], MemoryBlobs(versions[0][1]))
    current = 0

    def saver(new: int) -> Callable[[int], None]:
        project, blobs = versions[new]

        def work(fd: int) -> None:
            with open_project(target) as opened:
                source = ChainBlobs(MemoryBlobs(blobs), opened.blobs())
                save_project(
                    target, project, source, progress=lambda p: os.write(fd, PHASE_CODES[p])
                )

        return work

    # Calibrate on unkilled children, this machine, now: time from "writing" to "done" and
    # from "replacing" to "done". The fastest of five: a calibration slowed by a passing load
    # spike (worker processes of an earlier test exiting) would stretch the windows past the
    # end of every later save, and the kills would stop landing inside it.
    save_times, replace_times = [], []
    for _ in range(5):
        new = (current + 1) % len(versions)
        pid, read_fd = fork_child(saver(new))
        stamps = _phase_times(pid, read_fd)
        save_times.append(stamps[b"d"] - stamps[b"w"])
        replace_times.append(stamps[b"d"] - stamps[b"r"])
        current = new
    stats = SaveKillStats(window_s=float(np.min(save_times)) * 1.1)
    replace_window = float(np.min(replace_times)) * 1.5
    for round_ in range(n_kills):
        new = (current + 1) % len(versions)
        pid, read_fd = fork_child(saver(new))
        if round_ % 5 == 0:  # some kills before the save starts (opening, preparing)
            written = kill_after(pid, read_fd, rng.uniform(0.0, 0.01))
        elif round_ % 10 == 1:  # some around the replace, wherever the save's timing drifts
            written = kill_after_phase(
                pid, read_fd, PHASE_CODES["replacing"], rng.uniform(0.0, replace_window)
            )
        else:  # the rest spread over the whole save
            written = kill_after_phase(
                pid, read_fd, PHASE_CODES["writing"], rng.uniform(0.0, stats.window_s)
            )
        stats.kills += 1
        stats.phases[_phase_at_kill(written)] += 1
        with open_project(target) as opened:
            found = opened.project
        if found == versions[new][0]:
            stats.outcomes["new"] += 1
            current = new
        else:
            assert found == versions[current][0], "the target is neither the old nor the new"
            stats.outcomes["old"] += 1
        check_project(target)
        backup = target.with_name(target.name + ".bak")
        if backup.exists():
            check_project(backup)
    # A clean save afterwards leaves no temp file of the killed children behind.
    save_project(target, versions[0][0], MemoryBlobs(versions[0][1]))
    leftovers = [p.name for p in folder.iterdir() if p.name not in ("song.mlx", "song.mlx.bak")]
    assert leftovers == [], leftovers
    return stats


@dataclass
class JournalKillStats:
    kills: int = 0
    mid_record: int = 0
    restored_acknowledged: int = 0
    restored_in_flight: int = 0
    nothing_to_restore: int = 0
    window_s: float = 0.0


def run_journal_kills(
    folder: Path, n_kills: int, seed: int = 0, edits: int = 25
) -> JournalKillStats:
    """Each round: a child journals `edits` edits, acknowledging each after record() returns;
    the parent kills it, then the restored project must be the last acknowledged edit (or the
    one whose record() was in flight, if its commit reached the disk before the kill)."""
    rng = random.Random(seed)
    base, base_blobs = make_project(sections=2, takes=2, channels=8, frames=64, steps=4)
    steps = [_variant(base, base_blobs, k) for k in range(edits)]
    journal = RecoveryJournal(folder / "recovery")

    def work(fd: int) -> None:
        session = journal.begin(base, None, base_blobs)
        os.write(fd, b"B")
        previous = set(base_blobs)
        for project, blobs in steps:
            new_blobs = {ref: data for ref, data in blobs.items() if ref not in previous}
            os.write(fd, b"R")
            session.record(project, new_blobs)
            os.write(fd, b"A")
            previous |= new_blobs.keys()

    # Calibrate from the session's begin to its last acknowledgement, fastest of three (see
    # run_save_kills); kills are then timed from each child's begin, not from its fork.
    spans = []
    for _ in range(3):
        pid, read_fd = fork_child(work)
        stamps = _phase_times(pid, read_fd, end=b"A")
        spans.append(stamps[b"A"] - stamps[b"B"])
        for found in journal.list_recoverable():
            journal.discard(found.session_id)
    stats = JournalKillStats(window_s=float(np.min(spans)) * 1.15)
    for round_ in range(n_kills):
        pid, read_fd = fork_child(work)
        if round_ % 10 == 0:  # a few from the fork: some die before the session begins
            written = kill_after(pid, read_fd, rng.uniform(0.0, 0.005))
        else:
            written = kill_after_phase(pid, read_fd, b"B", rng.uniform(0.0, stats.window_s))
        stats.kills += 1
        acked = written.count(b"A")
        in_flight = written.endswith(b"R")
        stats.mid_record += in_flight
        recoverable = journal.list_recoverable()
        if not recoverable:
            assert acked == 0, f"{acked} acknowledged edits were lost"
            stats.nothing_to_restore += 1
            continue
        (found,) = recoverable
        project, source = journal.restore(found.session_id)
        try:
            for ref in project.blob_refs():
                assert sha256_hex(source.get(ref)) == ref
        finally:
            source.close()
        if acked and project == steps[acked - 1][0]:
            stats.restored_acknowledged += 1
        else:
            assert in_flight and acked < edits and project == steps[acked][0], (
                f"restored {project.title!r}, last acknowledged edit {acked}"
            )
            stats.restored_in_flight += 1
        journal.discard(found.session_id)
    leftovers = sorted(p.name for p in (folder / "recovery").iterdir())
    assert leftovers == [], leftovers
    return stats
