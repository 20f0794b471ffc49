"""Helpers for the audio tests: projects with takes whose audio lives in a dict "store",
and a CPU-heavy job in another process."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
import pytest

from melodex_studio.audio.arrangement import decode_take_audio, encode_take_audio
from melodex_studio.music.plan import Plan
from melodex_studio.project.models import Project, Section, Take, TakeOperation, new_project

CREATED = datetime(2024, 1, 1, tzinfo=UTC)
TAKE_RATE = 24000


@dataclass
class BlobStore:
    """Take audio blobs by sha256, as the .mlx store keeps them."""

    blobs: dict[str, bytes] = field(default_factory=dict)
    reads: int = 0

    def put(self, audio: np.ndarray) -> str:
        data = encode_take_audio(audio)
        ref = hashlib.sha256(data).hexdigest()
        self.blobs[ref] = data
        return ref

    def read_audio(self, take: Take) -> np.ndarray:
        self.reads += 1
        return decode_take_audio(self.blobs[take.audio])


def make_take(
    store: BlobStore,
    section: Section,
    audio: np.ndarray,
    rate: int = TAKE_RATE,
    region: tuple[int, int] | None = None,
    label: str | None = None,
) -> Take:
    start, end = region or (0, section.length_bars)
    return Take(
        id=os.urandom(16).hex(),
        section_id=section.id,
        region_start_bar=start,
        region_end_bar=end,
        operation=TakeOperation.GENERATE,
        audio=store.put(audio),
        latent_frame_rate=rate / 1024,
        audio_sample_rate=rate,
        created=CREATED,
        label=label,
    )


def with_take(project: Project, section_name: str, take: Take, activate: bool = True) -> Project:
    section = project.section_by_name(section_name)
    updated = section.model_copy(
        update={
            "takes": (*section.takes, take),
            "active_take_id": take.id if activate else section.active_take_id,
        }
    )
    return project.replace_section(Section.model_validate(updated.model_dump()))


def with_active(project: Project, section_name: str, take_id: str) -> Project:
    section = project.section_by_name(section_name)
    return project.replace_section(section.model_copy(update={"active_take_id": take_id}))


def with_plan(project: Project, section_name: str, plan: Plan) -> Project:
    section = project.section_by_name(section_name)
    return project.replace_section(section.model_copy(update={"plan": plan}))


def tone(n_samples: int, rate: int, freq: float, amplitude: float = 0.3) -> np.ndarray:
    t = np.arange(n_samples) / rate
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def rendered_project(
    store: BlobStore,
    spec: str = "Intro:2,Verse:4,Chorus:2",
    bpm: float = 120.0,
    meter: str = "4/4",
    key: str = "A minor",
    sample_rate: int = 48000,
    take_rate: int = TAKE_RATE,
) -> Project:
    """A project whose every section has one active take: a tone per section, exactly the
    section's length at the take rate."""
    project = new_project(
        "Test song", bpm=bpm, key=key, meter=meter, sections_spec=spec,
        sample_rate=sample_rate, seed=7,
    )
    grid = project.grid().with_sample_rate(take_rate)
    for index, section in enumerate(project.sections):
        start, end = grid.bar_span_samples(section.start_bar, section.length_bars)
        audio = tone(end - start, take_rate, 220.0 * (index + 1))
        project = with_take(project, section.name, make_take(store, section, audio, take_rate))
    return project


@pytest.fixture
def store() -> BlobStore:
    return BlobStore()


_CPU_HOG = """
import numpy as np, time
a = np.random.default_rng(0).standard_normal((384, 384))
end = time.monotonic() + {seconds}
while time.monotonic() < end:
    b = a @ a
    a = b / np.abs(b).max()
"""


@pytest.fixture
def cpu_hog() -> Iterator[subprocess.Popen]:
    """A process doing matrix products on both cores (OpenBLAS threads) until the test ends."""
    env = dict(os.environ, OPENBLAS_NUM_THREADS="2", OMP_NUM_THREADS="2", MKL_NUM_THREADS="2")
    process = subprocess.Popen(
        [sys.executable, "-c", _CPU_HOG.format(seconds=60)], env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    time.sleep(0.5)  # let it start burning CPU
    try:
        yield process
    finally:
        process.kill()
        process.wait()
