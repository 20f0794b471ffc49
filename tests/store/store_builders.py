"""Deterministic projects with real safetensors blobs for the store tests (no hypothesis)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import numpy as np
from strategies import audio_blob, latent_blob

from melodex_studio.project.models import (
    Checkpoint,
    GenerationSettings,
    Project,
    Section,
    Take,
    TakeOperation,
)

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def hex_id(*parts: object) -> str:
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:32]


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def make_take(
    section_id: str,
    index: int,
    rng: np.random.Generator,
    blobs: dict[str, bytes],
    *,
    channels: int = 4,
    frames: int = 32,
    steps: int = 4,
    audio_samples: int = 256,
) -> Take:
    def add(data: bytes) -> str:
        blobs[sha(data)] = data
        return sha(data)

    noise = add(latent_blob(rng.standard_normal((channels, frames), dtype=np.float32)))
    checkpoints = tuple(
        Checkpoint(step=step, latent=add(latent_blob(rng.standard_normal((channels, frames)))))
        for step in range(1, steps + 1)
    )
    return Take(
        id=hex_id("take", section_id, index),
        section_id=section_id,
        region_start_bar=0,
        region_end_bar=2,
        operation=TakeOperation.GENERATE,
        prompt=f"take {index}: dusty keys",
        settings=GenerationSettings(steps=steps, seed=index),
        seed=index,
        noise=noise,
        checkpoints=checkpoints,
        final_latent=checkpoints[-1].latent if checkpoints else None,
        audio=add(audio_blob(rng.uniform(-1, 1, audio_samples).astype(np.float32))),
        latent_frame_rate=23.4375,
        audio_sample_rate=44100,
        created=T0 + timedelta(minutes=index),
    )


def make_project(
    *,
    title: str = "Night Drive",
    sections: int = 2,
    takes: int = 2,
    seed: int = 0,
    channels: int = 4,
    frames: int = 32,
    steps: int = 4,
    audio_samples: int = 256,
) -> tuple[Project, dict[str, bytes]]:
    """A valid project whose every take has noise, checkpoints, final latent and audio."""
    rng = np.random.default_rng(seed)
    blobs: dict[str, bytes] = {}
    made = []
    for s in range(sections):
        section_id = hex_id("section", seed, s)
        section_takes = tuple(
            make_take(
                section_id, s * 100 + t, rng, blobs,
                channels=channels, frames=frames, steps=steps, audio_samples=audio_samples,
            )
            for t in range(takes)
        )
        made.append(
            Section(
                id=section_id,
                name=f"Part {s + 1}",
                start_bar=2 * s,
                length_bars=2,
                prompt="lazy swing drums",
                takes=section_takes,
                active_take_id=section_takes[-1].id if section_takes else None,
            )
        )
    project = Project(
        id=hex_id("project", seed), title=title, sections=tuple(made), created=T0, modified=T0
    )
    return project, {ref: blobs[ref] for ref in project.blob_refs()}
