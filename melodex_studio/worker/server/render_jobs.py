"""What every model's executor reads from a render job and writes back for each candidate."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from melodex_studio.engine.pipelines.render import RenderResult
from melodex_studio.worker.blobs import BlobBag
from melodex_studio.worker.jobs import CheckpointRef, RenderedCandidate, RenderJob


@dataclass(frozen=True)
class WindowInputs:
    """The frames to write (`mask`, True = generate), the source latent of the others, the
    section's frames (`keep`) and the steps each candidate runs."""

    mask: Tensor
    source: Tensor | None
    keep: slice
    run_steps: int


def window_inputs(job: RenderJob, bag: BlobBag) -> WindowInputs:
    mask = torch.zeros(job.window_frames, dtype=torch.bool)
    for generate in job.generate:
        mask[generate.start : generate.end] = True
    source = None
    if job.source_latent is not None:
        source = torch.from_numpy(bag.tensor(job.source_latent, "latent").copy())
    run_steps = job.steps - (job.resume.step if job.resume else 0)
    return WindowInputs(mask, source, slice(job.keep.start, job.keep.end), run_steps)


def candidate_blobs(job: RenderJob, result: RenderResult, seed: int, keep: slice, out: BlobBag,
                    audio_samples: np.ndarray | None, heard_key: str | None = None,
                    renders: int = 1) -> RenderedCandidate:
    """A candidate's noise, checkpoints (the steps between first and last), final latent over
    the section's frames, and its decoded audio (None when the job decodes none), into
    `out`."""
    noise = out.add_noise(result.initial_noise[:, keep].contiguous().numpy())
    checkpoints = tuple(
        CheckpointRef(step=step, latent=out.add_latent(latent[:, keep].contiguous().numpy()))
        for step, latent in sorted(result.checkpoints.items())
        if 0 < step < job.steps
    )
    audio = out.add_audio(audio_samples) if audio_samples is not None else None
    final = out.add_latent(result.final_latent[:, keep].contiguous().numpy())
    return RenderedCandidate(
        seed=seed, noise=noise, checkpoints=checkpoints, final_latent=final, audio=audio,
        heard_key=heard_key, renders=renders,
    )
