"""What every model's executor does with a render job but the model call and the decode: read
the window, run the candidates (with key retries, progress and previews), write their blobs;
and with an encode job but the encoder call."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

from melodex_studio.engine.audio_key import heard_key
from melodex_studio.engine.pipelines.render import RenderResult, StepCallback
from melodex_studio.engine.pipelines.render_in_key import render_in_key
from melodex_studio.engine.sampling import seeded_noise
from melodex_studio.music.key import Key
from melodex_studio.worker.blobs import BlobBag
from melodex_studio.worker.jobs import (
    AudioSpan,
    CheckpointRef,
    EncodeJob,
    EncodeOutput,
    ModelInfo,
    RenderedCandidate,
    RenderJob,
)
from melodex_studio.worker.runtime import StepReporter


@dataclass(frozen=True)
class WindowInputs:
    """The frames to write (`mask`, True = generate), the source latent of the others, the
    section's frames (`keep`) and the steps each candidate runs."""

    mask: Tensor
    source: Tensor | None
    keep: slice
    run_steps: int


@dataclass(frozen=True)
class VariedNoise:
    """A variation's noises over the window: `old` as the state it starts from holds it (the
    job's noise over the kept frames), `new` what it holds from then on."""

    old: Tensor
    new: Tensor


def vary_noise(job: RenderJob, bag: BlobBag, seed: int, shape: tuple[int, int],
               keep: slice) -> VariedNoise | None:
    """For a variation (`ResumeFrom.variation` v): over the kept frames the new noise is
    ``sqrt(1 - v^2) * old + v * draw(seed)`` (unit variance; the old noise itself at v = 0,
    the draw itself at v = 1); around them both are the draw of `context_seed`, the noise
    the source's neighbours were rendered with. None for every other render."""
    resume = job.resume
    if resume is None or resume.variation is None or job.noise is None:
        return None
    v = resume.variation
    around = seeded_noise(seed if resume.context_seed is None else resume.context_seed, shape)
    old = kept_frames(around.clone(), bag, job.noise, keep, "noise")
    new = old.clone()
    if v:
        draw = seeded_noise(seed, shape)[:, keep]
        new[:, keep] = math.sqrt(1.0 - v * v) * old[:, keep] + v * draw
    return VariedNoise(old, new)


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


#: The model call of one candidate: (seed, its start state, the window, the step callback).
RenderCandidate = Callable[[int, Any, WindowInputs, StepCallback], RenderResult]


def run_render_job(
    job: RenderJob,
    bag: BlobBag,
    reporter: StepReporter,
    sample_rate: int,
    *,
    start_state: Callable[[int, int, WindowInputs], Any],
    render: RenderCandidate,
    decode: Callable[[RenderResult], np.ndarray],
    preview: Callable[[Tensor], np.ndarray],
) -> tuple[list[RenderedCandidate], BlobBag]:
    """Every candidate of `job`, whatever the model: the start state of candidate `index`
    seeded `seed` (`start_state(index, seed, inputs)`, which the model's `render` reads), the
    render, listening for the key and rendering again from retry seeds where the job asks for
    it, progress over the whole job with a preview decode every `preview_every` steps, and the
    candidate's blobs. Steps count across candidates; a render heard off key adds its retry's."""
    inputs = window_inputs(job, bag)
    run_steps = inputs.run_steps
    steps = {"done": 0, "total": max(1, run_steps * job.candidates)}
    first = job.resume.step if job.resume else 0

    def render_seed(seed: int, state: Any) -> RenderResult:
        if steps["done"] + run_steps > steps["total"]:  # a retry: the job grows
            steps["total"] = steps["done"] + run_steps
        done_before = steps["done"]

        def on_step(step: int, _total: int, x0: Tensor) -> None:
            shown = None
            if (job.preview_every and job.decode is not None and step < job.steps
                    and step % job.preview_every == 0):
                blob = BlobBag()
                sha = blob.add_audio(preview(x0.float().cpu()))
                shown = (sha, blob[sha], sample_rate)
            reporter.progress(done_before + step - first, steps["total"], shown)

        result = render(seed, state, inputs, on_step)
        steps["done"] += run_steps
        return result

    out = BlobBag()
    candidates = []
    key = Key.parse(job.conditioning.key)
    for index, seed in enumerate(job.seeds):
        state = start_state(index, seed, inputs)
        if job.key_retries and job.decode is not None:
            listened = render_in_key(lambda seed, state=state: render_seed(seed, state), decode,
                                     key, sample_rate, seed, job.key_retries)
            heard = "" if listened.heard is None else str(listened.heard)
            candidates.append(candidate_blobs(job, listened.result, listened.seed, inputs.keep,
                                              out, listened.audio, heard, listened.attempts))
        else:
            result = render_seed(seed, state)
            audio = decode(result) if job.decode is not None else None
            candidates.append(candidate_blobs(job, result, seed, inputs.keep, out, audio))
    return candidates, out


def kept_frames(base: Tensor, bag: BlobBag, ref: str, keep: slice,
                kind: str | None = None) -> Tensor:
    """`base` [C, window] with the section's frames (`keep`) taken from blob `ref`: a stored
    state or recorded noise over the section, put back into a whole window."""
    base[:, keep] = torch.from_numpy(bag.tensor(ref, kind).copy())
    return base


def edge_padded(latent: Tensor, span: AudioSpan, samples_per_frame: int) -> tuple[Tensor, int, int]:
    """`latent` [C, T] with its edge frame repeated where `span` (window samples) reaches a
    frame past either end (a bar line rarely falls on a frame), and the span's first and last
    frames counted in the padded latent. More than one frame out is an error."""
    first, last = span.start // samples_per_frame, -(-span.end // samples_per_frame)
    left, right = max(0, -first), max(0, last - latent.shape[-1])
    if left > 1 or right > 1:
        raise ValueError(f"audio span [{span.start}, {span.end}) is too far outside the window")
    padded = torch.cat([latent[:, :1]] * left + [latent] + [latent[:, -1:]] * right, dim=1)
    return padded, first + left, last + left


def run_encode_job(job: EncodeJob, bag: BlobBag, encode: Callable[[Tensor], Tensor],
                   info: ModelInfo) -> tuple[EncodeOutput, BlobBag]:
    """A recording's latent over the section's frames (`encode(audio)` [C, T], cut, or its
    last frame repeated where the section ends a little after the audio), the noise a render
    of that length draws from the job's seed, and the key the recording is heard in."""
    audio = torch.from_numpy(bag.tensor(job.audio, "audio").reshape(-1).copy())
    if audio.numel() == 0:
        raise ValueError("there is no audio to encode")
    latent = encode(audio).float().cpu()[:, : job.frames]
    if latent.shape[1] < job.frames:
        latent = torch.cat([latent, latent[:, -1:].expand(-1, job.frames - latent.shape[1])],
                           dim=1)
    noise = seeded_noise(job.seed, tuple(latent.shape))
    heard = heard_key(audio.numpy(), info.sample_rate)
    out = BlobBag()
    return EncodeOutput(latent=out.add_latent(latent.contiguous().numpy()),
                        noise=out.add_noise(noise.numpy()), model=info,
                        heard_key="" if heard is None else str(heard)), out
