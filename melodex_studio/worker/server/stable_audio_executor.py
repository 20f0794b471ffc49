"""Running render, decode and encode jobs on Stable Audio Open (`engine.backends.stable_audio`).

The same jobs as the built-in model's (`executor.py`), on a model that has no structure planner
and no plan-reading decoder: a plan job is refused with what to do instead, the prompt carries
the section's tempo and key in words (the way the model was trained to read them), and the
model's stereo audio is mixed to the studio's mono takes. Windows, masks, recorded noise,
checkpoints, previews and listening for the key work as with the built-in model, so generate,
regenerate, retake, repaint, extend, vary from a stored step and re-run all work.
Importing a recording is not offered yet: a variation of one noises its latent the built-in
way (rectified flow), which is not this model's.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from melodex_studio.audio.limiter import limit_overs
from melodex_studio.engine.backends.stable_audio import StableAudioOpen
from melodex_studio.engine.pipelines.render import RenderCancelled, RenderResult
from melodex_studio.engine.pipelines.render_in_key import render_in_key
from melodex_studio.engine.sampling import seeded_noise
from melodex_studio.engine.weights import ModelLoadError
from melodex_studio.music.key import Key
from melodex_studio.worker.blobs import BlobBag
from melodex_studio.worker.jobs import (
    AudioSpan,
    DecodeJob,
    DecodeOutput,
    EncodeJob,
    Job,
    JobOutput,
    ModelInfo,
    PlanJob,
    RenderedCandidate,
    RenderJob,
    RenderOutput,
)
from melodex_studio.worker.protocol import WorkerConfig, WorkerState, WorkerStatus
from melodex_studio.worker.runtime import JobCancelled, JobOutOfMemory, StepReporter
from melodex_studio.worker.server.executor import is_out_of_memory
from melodex_studio.worker.server.models import ModelUnavailable, resolve_device
from melodex_studio.worker.server.render_jobs import candidate_blobs, window_inputs

MODEL_ID = "stable-audio-open"
PEAK_CEILING = 0.98
DECODE_CONTEXT_FRAMES = 8


class StableAudioExecutor:
    """A `JobExecutor` over Stable Audio Open from `config.model_dir`."""

    def __init__(self, config: WorkerConfig) -> None:
        self.config = config
        self.backend: StableAudioOpen | None = None
        self.info: ModelInfo | None = None
        self.device = torch.device("cpu")

    def load(self) -> None:
        if not self.config.model_dir:
            raise ModelUnavailable("Stable Audio Open needs the folder its weights are in: set it "
                                   "in Preferences (Model)")
        self.device = resolve_device(self.config.device)
        if self.config.threads:
            torch.set_num_threads(self.config.threads)
        folder = Path(self.config.model_dir)
        try:
            self.backend = StableAudioOpen.from_folder(folder, self.device)
        except ModelLoadError as exc:
            raise ModelUnavailable(str(exc)) from exc
        backend = self.backend
        self.info = ModelInfo(
            model_id=MODEL_ID, weights_hash=folder_hash(folder),
            latent_channels=backend.latent_channels, latent_frame_rate=backend.frame_rate,
            sample_rate=backend.sample_rate, samples_per_frame=backend.samples_per_frame,
            plans=False, imports=False)

    def describe(self) -> WorkerStatus:
        return WorkerStatus(
            state=WorkerState.LOADING if self.backend is None else WorkerState.IDLE,
            device=str(self.device), model=self.info, memory_bytes=0,
            threads=torch.get_num_threads(), pid=os.getpid())

    def run(self, job: Job, blobs: Mapping[str, bytes],
            reporter: StepReporter) -> tuple[JobOutput, Mapping[str, bytes]]:
        if self.backend is None or self.info is None:
            raise ModelUnavailable("the worker has no model loaded")
        bag = BlobBag(blobs)
        try:
            if isinstance(job, RenderJob):
                return self._render(job, bag, reporter)
            if isinstance(job, PlanJob):
                raise ValueError("Stable Audio Open writes no plans: write the plan yourself "
                                 "(Create Empty Plan) or plan with the built-in model")
            if isinstance(job, EncodeJob):
                raise ValueError("importing a recording works with the built-in model only for "
                                 "now")
            return self._decode(job, bag)
        except RenderCancelled as exc:
            raise JobCancelled(reporter.job_id) from exc
        except Exception as exc:
            if is_out_of_memory(exc):
                raise JobOutOfMemory(
                    f"out of memory on {self.device} while running the {job.kind} job with "
                    "Stable Audio Open; try a shorter section, fewer takes or the GPU") from exc
            raise

    # -- render -----------------------------------------------------------------------------------

    def _render(self, job: RenderJob, bag: BlobBag,
                reporter: StepReporter) -> tuple[JobOutput, Mapping[str, bytes]]:
        backend, info = self.backend, self.info
        assert backend is not None and info is not None
        reporter.check_cancelled()
        frames = job.window_frames
        seconds = frames / backend.frame_rate
        if seconds > backend.capabilities.max_seconds:
            raise ValueError(f"Stable Audio Open renders at most "
                             f"{backend.capabilities.max_seconds:g} s at once; this render needs "
                             f"{seconds:.1f} s (the section and its context): make the section "
                             "shorter")
        # Where the window sits in the song: the model was trained on crops of whole pieces.
        start_seconds = job.window_start / backend.frame_rate
        total = max(job.song_seconds or 0.0, start_seconds + seconds)
        cond = backend.condition(prompt_text(job), start_seconds, total)
        shape = (backend.latent_channels, frames)
        inputs = window_inputs(job, bag)
        mask, source, keep, run_steps = inputs.mask, inputs.source, inputs.keep, inputs.run_steps
        steps = {"done": 0, "total": max(1, run_steps * job.candidates)}

        def render_seed(seed: int, noise: Tensor | None, init: Tensor | None,
                        start: int | None) -> RenderResult:
            if steps["done"] + run_steps > steps["total"]:  # a render heard off key: a retry
                steps["total"] = steps["done"] + run_steps
            done_before = steps["done"]

            def on_step(step: int, _total: int, x0: Tensor) -> None:
                self._report_step(job, reporter, x0, step, done_before, steps["total"])

            result = backend.render(
                cond, frames, seed=seed, noise=noise, steps=job.steps, guidance=job.guidance,
                guidance_interval=job.guidance_interval, sampler=job.sampler, region_mask=mask,
                source_latents=source, start_step=start, init_latent=init,
                step_callback=on_step, cancel=lambda: reporter.cancelled,
                checkpoint_steps=job.checkpoint_steps if job.checkpoint_steps is not None
                else "all")
            steps["done"] += run_steps
            return result

        out = BlobBag()
        candidates = []
        key = Key.parse(job.conditioning.key)
        for index, seed in enumerate(job.seeds):
            noise, init, start = self._start_state(job, bag, index, seed, shape, keep)
            if job.key_retries and job.decode is not None:
                listened = render_in_key(
                    lambda seed, init=init, start=start: render_seed(seed, None, init, start),
                    lambda result: self._decode_span(result.final_latent, job.decode),
                    key, info.sample_rate, seed, job.key_retries)
                heard = "" if listened.heard is None else str(listened.heard)
                candidates.append(self._candidate(job, listened.result, listened.seed, keep, out,
                                                  listened.audio, heard, listened.attempts))
            else:
                candidates.append(self._candidate(job, render_seed(seed, noise, init, start),
                                                  seed, keep, out))
        return RenderOutput(candidates=tuple(candidates), model=info), out

    def _start_state(
        self, job: RenderJob, bag: BlobBag, index: int, seed: int, shape: tuple[int, int],
        keep: slice,
    ) -> tuple[Tensor | None, Tensor | None, int | None]:
        """(noise, init latent, start step): recorded noise to re-run (the first candidate's
        draw with the kept frames' noise put back), or a stored state to resume from."""
        if job.resume is not None and job.resume.step == 0:
            # Step 0 of a take is its noise (what the studio stores), not this model's first
            # state, sigma_max times it: a variation from there is a render from that noise.
            noise = seeded_noise(seed, shape)
            noise[:, keep] = torch.from_numpy(bag.tensor(job.resume.latent).copy())
            return noise, None, None
        if job.resume is not None:
            init = torch.zeros(shape)
            init[:, keep] = torch.from_numpy(bag.tensor(job.resume.latent).copy())
            return None, init, job.resume.step
        if job.noise is not None and index == 0:
            noise = seeded_noise(seed, shape)
            noise[:, keep] = torch.from_numpy(bag.tensor(job.noise, "noise").copy())
            return noise, None, None
        return None, None, None

    def _report_step(self, job: RenderJob, reporter: StepReporter, x0: Tensor, step: int,
                     done_before: int, total: int) -> None:
        assert self.info is not None
        start = job.resume.step if job.resume else 0
        preview = None
        if (job.preview_every and job.decode is not None and step < job.steps
                and step % job.preview_every == 0):
            blob = BlobBag()
            sha = blob.add_audio(self._decode_span(x0, job.decode))
            preview = (sha, blob[sha], self.info.sample_rate)
        reporter.progress(done_before + step - start, total, preview)

    def _candidate(self, job: RenderJob, result: RenderResult, seed: int, keep: slice,
                   out: BlobBag, audio_samples: np.ndarray | None = None,
                   heard_key: str | None = None, renders: int = 1) -> RenderedCandidate:
        if job.decode is not None and audio_samples is None:
            audio_samples = self._decode_span(result.final_latent, job.decode)
        return candidate_blobs(job, result, seed, keep, out, audio_samples, heard_key, renders)

    # -- decode -----------------------------------------------------------------------------------

    def _decode_span(self, latent: Tensor, span: AudioSpan | None) -> np.ndarray:
        """Mono audio of window samples `span` (all of them for None), the model's channels
        mixed down. A span may reach one frame past either end of the window (a bar line
        rarely falls on a frame): the edge frame is repeated there and decoded, as the built-in
        executor does."""
        backend, info = self.backend, self.info
        assert backend is not None and info is not None
        latent = latent.float()
        if span is None:
            audio = backend.decode(latent).mean(dim=0).numpy()
        else:
            hop = backend.samples_per_frame
            first, last = span.start // hop, -(-span.end // hop)
            left, right = max(0, -first), max(0, last - latent.shape[-1])
            if left > 1 or right > 1:
                raise ValueError(f"audio span [{span.start}, {span.end}) is too far outside "
                                 "the window")
            padded = torch.cat([latent[:, :1]] * left + [latent] + [latent[:, -1:]] * right,
                               dim=1)
            # Decoded with the frames around the span as the VAE's context (its convolutions
            # reach a few frames), so a section's edges sound as inside the song.
            lo = max(0, first + left - DECODE_CONTEXT_FRAMES)
            hi = min(padded.shape[-1], last + left + DECODE_CONTEXT_FRAMES)
            decoded = backend.decode(padded[:, lo:hi]).mean(dim=0).numpy()
            offset = span.start - (lo - left) * hop
            audio = decoded[offset : offset + span.end - span.start]
        return limit_overs(np.ascontiguousarray(audio, dtype=np.float32), info.sample_rate,
                           PEAK_CEILING)

    def _decode(self, job: DecodeJob, bag: BlobBag) -> tuple[JobOutput, Mapping[str, bytes]]:
        assert self.info is not None
        latent = torch.from_numpy(bag.tensor(job.latent, "latent").copy())
        out = BlobBag()
        audio = out.add_audio(self._decode_span(latent, job.span))
        return DecodeOutput(audio=audio, model=self.info), out


def prompt_text(job: RenderJob) -> str:
    """The prompt as Stable Audio Open reads it: the musician's words, then the style, tempo
    and key in the form of its training captions ("..., 120 BPM, A minor")."""
    cond = job.conditioning
    parts = [cond.prompt.strip()] if cond.prompt.strip() else []
    if cond.style:
        parts.append(cond.style)
    parts += [f"{cond.bpm:g} BPM", cond.key]
    return ", ".join(parts)


def folder_hash(folder: Path) -> str:
    """The take record's weights hash for a large model folder: sha256 over every file's path
    and size and over the config files' bytes (hashing gigabytes of weights at every start
    would take minutes; a changed weight file changes its size in any real case)."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        relative = path.relative_to(folder).as_posix()
        digest.update(f"{relative}:{path.stat().st_size}\n".encode())
        if path.suffix == ".json":
            digest.update(path.read_bytes())
    return digest.hexdigest()
