"""Save / open / check times of a large .mlx project.

The project: 100 takes of 30 s at 120 BPM (16 latent channels at 23.4375 frames/s, 703 frames),
each with initial noise, a checkpoint after every one of 24 steps and a final latent, all
float32 safetensors (26 blobs, about 1.2 MB per take, about 117 MB in all).

    .venv/bin/python benchmarks/bench_store.py [--takes 100] [--dir /tmp]
"""

from __future__ import annotations

import argparse
import hashlib
import sqlite3
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from safetensors.numpy import save as save_safetensors

from melodex_studio.project.models import (
    Checkpoint,
    GenerationSettings,
    Project,
    Section,
    Take,
    TakeOperation,
)
from melodex_studio.store import ChainBlobs, MemoryBlobs, check_project, open_project, save_project
from melodex_studio.store.document_codec import canonical_json

CHANNELS = 16
FRAME_RATE = 23.4375
SECONDS = 30
STEPS = 24
T0 = datetime(2024, 5, 1, tzinfo=UTC)


def _latent(rng: np.random.Generator) -> bytes:
    frames = int(SECONDS * FRAME_RATE)
    array = rng.standard_normal((CHANNELS, frames), dtype=np.float32)
    return save_safetensors({"latent": array})


def _id(*parts: object) -> str:
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:32]


def build(n_takes: int, seed: int = 0) -> tuple[Project, dict[str, bytes]]:
    """`n_takes` takes spread over sections of 16 bars (30 s at 128 BPM in 4/4)."""
    rng = np.random.default_rng(seed)
    blobs: dict[str, bytes] = {}

    def add(data: bytes) -> str:
        ref = hashlib.sha256(data).hexdigest()
        blobs[ref] = data
        return ref

    sections = []
    per_section = 10
    for s in range((n_takes + per_section - 1) // per_section):
        section_id = _id("section", s)
        takes = []
        for t in range(min(per_section, n_takes - s * per_section)):
            takes.append(
                Take(
                    id=_id("take", s, t),
                    section_id=section_id,
                    region_start_bar=0,
                    region_end_bar=16,
                    operation=TakeOperation.GENERATE,
                    prompt="dusty lo-fi keys, lazy swing drums",
                    settings=GenerationSettings(steps=STEPS, seed=t),
                    seed=t,
                    noise=add(_latent(rng)),
                    checkpoints=tuple(
                        Checkpoint(step=step, latent=add(_latent(rng))) for step in range(STEPS)
                    ),
                    final_latent=add(_latent(rng)),
                    latent_frame_rate=FRAME_RATE,
                    audio_sample_rate=44100,
                    created=T0,
                )
            )
        sections.append(
            Section(
                id=section_id,
                name=f"Section {s + 1}",
                start_bar=16 * s,
                length_bars=16,
                takes=tuple(takes),
                active_take_id=takes[0].id,
            )
        )
    project = Project(id=_id("project"), title="Benchmark", bpm=128.0, sections=tuple(sections))
    return project, blobs


def timed(fn: Callable[[], object], repeat: int = 3) -> tuple[float, object]:
    """Best of `repeat` runs: timings on a shared machine vary a lot."""
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--takes", type=int, default=100)
    parser.add_argument("--dir", type=Path, default=None)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    project, blobs = build(args.takes)
    total = sum(map(len, blobs.values()))
    print(f"project: {args.takes} takes, {len(blobs)} blobs, {total / 1e6:.1f} MB of tensors, "
          f"document {len(canonical_json(project).encode()) / 1e3:.0f} KB")
    with tempfile.TemporaryDirectory(dir=args.dir) as folder:
        path = Path(folder) / "bench.mlx"
        rows: list[tuple[str, float, str]] = []

        t, report = timed(lambda: save_project(path, project, MemoryBlobs(blobs)), args.repeat)
        rows.append(("save, all blobs from memory", t, _phases(report)))

        t, _ = timed(lambda: open_project(path).close(), args.repeat)
        rows.append(("open (validate, quick_check, blob headers)", t, ""))

        def open_read_all() -> None:
            with open_project(path) as opened:
                for ref in sorted(opened.project.blob_refs()):
                    opened.read_blob(ref)

        t, _ = timed(open_read_all, args.repeat)
        rows.append(("open + read and verify every blob", t, ""))

        def resave() -> object:
            with open_project(path) as opened:
                return save_project(path, opened.project, opened.blobs())

        t, report = timed(resave, args.repeat)
        rows.append(("open + re-save, blob rows copied by SQL", t, _phases(report)))

        extra_project, extra_blobs = build(args.takes + 1, seed=1)
        new_ref = extra_project.sections[-1].takes[-1]
        new_section = extra_project.sections[-1]
        grown = project.with_sections((*project.sections, new_section)) if new_ref else project
        new_blobs = {ref: extra_blobs[ref] for ref in new_section.blob_refs()}

        def save_one_more() -> object:
            with open_project(path) as opened:
                source = ChainBlobs(MemoryBlobs(new_blobs), opened.blobs())
                return save_project(path, grown, source)

        t, report = timed(save_one_more, 1)
        rows.append(("open + save with 1 new take (SQL copy + memory)", t, _phases(report)))

        t, _ = timed(lambda: check_project(path), args.repeat)
        rows.append(("check (integrity_check + hash every blob)", t, ""))

        db = sqlite3.connect(path.as_uri() + "?mode=ro", uri=True)
        t, _ = timed(lambda: db.execute("PRAGMA quick_check").fetchall(), args.repeat)
        rows.append(("  of which PRAGMA quick_check", t, ""))
        t, _ = timed(lambda: db.execute("PRAGMA integrity_check").fetchall(), args.repeat)
        rows.append(("  of which PRAGMA integrity_check", t, ""))
        db.close()

        size = path.stat().st_size
    print(f"file size: {size / 1e6:.1f} MB ({size / total:.3f} x the tensor bytes)\n")
    print(f"| {'operation':<50} | {'seconds':>8} | phases |")
    print(f"|{'-' * 52}|{'-' * 10}|--------|")
    for name, seconds, phases in rows:
        print(f"| {name:<50} | {seconds:8.3f} | {phases} |")


def _phases(report: object) -> str:
    timings = getattr(report, "timings", {})
    return " ".join(f"{name} {value:.2f}" for name, value in timings.items())


if __name__ == "__main__":
    main()
