"""Running render and decode jobs on a large model loaded from the musician's own folder
(Stable Audio Open, MusicGen): what such executors share.

The same jobs as the built-in model's (`executor.py`), on models that have no structure planner
and no plan-reading decoder: a plan job is refused with what to do instead, the prompt carries
the section's tempo and key in words (the way these models were trained to read them), and the
model's audio is mixed to the studio's mono takes. Windows, masks, recorded noise,
checkpoints, previews and listening for the key work as with the built-in model
(`render_jobs.run_render_job`). Recordings are encoded to import, and a variation of an import
starts from its clean latent, brought to the chosen step by the model's own way of noising
(`ResumeFrom.clean`).
"""

from __future__ import annotations

import hashlib
import os
from abc import ABC, abstractmethod
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from torch import Tensor

from melodex_studio.audio.limiter import limit_overs
from melodex_studio.engine.backends.capabilities import BackendCapabilities
from melodex_studio.engine.pipelines.render import RenderCancelled, RenderResult, StepCallback
from melodex_studio.engine.precision import compute_dtype, precision_name
from melodex_studio.engine.sampling import seeded_noise
from melodex_studio.engine.weights import ModelLoadError
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
    RenderJob,
    RenderOutput,
)
from melodex_studio.worker.protocol import WorkerConfig, WorkerState, WorkerStatus
from melodex_studio.worker.runtime import JobCancelled, JobOutOfMemory, StepReporter
from melodex_studio.worker.server.executor import is_out_of_memory
from melodex_studio.worker.server.models import ModelUnavailable, resolve_device
from melodex_studio.worker.server.render_jobs import (
    WindowInputs,
    edge_padded,
    kept_frames,
    run_encode_job,
    run_render_job,
    vary_noise,
)

PEAK_CEILING = 0.98
#: Where a candidate starts: its noise, a stored state, the step, and the window's source.
StartState = tuple[Tensor | None, Tensor | None, int | None, Tensor | None]
DECODE_CONTEXT_FRAMES = 8


class FolderBackend(Protocol):
    """What an executor here needs of a backend (`engine.backends`)."""

    capabilities: BackendCapabilities
    latent_channels: int
    frame_rate: float
    sample_rate: int
    samples_per_frame: int

    def render(self, cond: Any, n_frames: int, **kwargs: Any) -> RenderResult: ...
    def vary_state(self, state: Tensor, step: int, steps: int, old_noise: Tensor,
                   new_noise: Tensor) -> Tensor: ...
    def encode(self, audio: Tensor) -> Tensor: ...
    def decode(self, latents: Tensor) -> Tensor: ...


class FolderModelExecutor(ABC):
    """A `JobExecutor` over a large model from `config.model_dir`. Subclasses name the model
    (`model_id`, `name`), load it (`load_backend`) and turn a render job into its conditioning
    (`condition`)."""

    model_id = ""
    name = ""
    decode_context_frames = DECODE_CONTEXT_FRAMES  # frames decoded around a span, its codec's reach

    def __init__(self, config: WorkerConfig) -> None:
        self.config = config
        self.backend: Any = None  # a `FolderBackend` once loaded
        self.info: ModelInfo | None = None
        self.device = torch.device("cpu")
        self.dtype = torch.float32

    @abstractmethod
    def load_backend(self, folder: Path, device: torch.device,
                     dtype: torch.dtype) -> FolderBackend:
        """The model from `folder`, its networks computing in `dtype` and its codec in
        float32 (raises `ModelLoadError` with what is wrong)."""

    @abstractmethod
    def condition(self, job: RenderJob) -> Any:
        """The model's conditioning for the job's prompt (and where its window sits)."""

    def check_render(self, job: RenderJob) -> None:
        """Refuse, with what to do, a render the model cannot make (before any work)."""
        seconds = job.window_frames / self.backend.frame_rate
        longest = self.backend.capabilities.max_seconds
        if seconds > longest:
            raise ValueError(f"{self.name} renders at most {longest:g} s at once; this render "
                             f"needs {seconds:.1f} s (the section and its context): make the "
                             "section shorter")

    def load(self) -> None:
        if not self.config.model_dir:
            raise ModelUnavailable(f"{self.name} needs the folder its weights are in: set it in "
                                   "Preferences (Model)")
        self.device = resolve_device(self.config.device)
        self.dtype = compute_dtype(self.device, self.config.half_precision)
        if self.config.threads:
            torch.set_num_threads(self.config.threads)
        folder = Path(self.config.model_dir)
        try:
            self.backend = self.load_backend(folder, self.device, self.dtype)
        except ModelLoadError as exc:
            raise ModelUnavailable(str(exc)) from exc
        backend = self.backend
        self.info = ModelInfo(
            model_id=self.model_id, weights_hash=folder_hash(folder),
            latent_channels=backend.latent_channels, latent_frame_rate=backend.frame_rate,
            sample_rate=backend.sample_rate, samples_per_frame=backend.samples_per_frame,
            plans=backend.capabilities.plan, imports=backend.capabilities.imports,
            repaints_inside=backend.capabilities.repaint, noises_imports=True,
            diffusion=backend.capabilities.diffusion)

    def describe(self) -> WorkerStatus:
        return WorkerStatus(
            state=WorkerState.LOADING if self.backend is None else WorkerState.IDLE,
            device=str(self.device), precision=precision_name(self.dtype), model=self.info,
            memory_bytes=0, threads=torch.get_num_threads(), pid=os.getpid())

    def run(self, job: Job, blobs: Mapping[str, bytes],
            reporter: StepReporter) -> tuple[JobOutput, Mapping[str, bytes]]:
        if self.backend is None or self.info is None:
            raise ModelUnavailable("the worker has no model loaded")
        bag = BlobBag(blobs)
        try:
            if isinstance(job, RenderJob):
                return self._render(job, bag, reporter)
            if isinstance(job, PlanJob):
                raise ValueError(f"{self.name} writes no plans: write the plan yourself "
                                 "(Create Empty Plan) or plan with the built-in model")
            if isinstance(job, EncodeJob):
                if not self.backend.capabilities.imports:
                    raise ValueError(f"importing a recording into {self.name} is not offered: "
                                     "import it with the built-in model or MusicGen")
                return self._encode(job, bag)
            return self._decode(job, bag)
        except RenderCancelled as exc:
            raise JobCancelled(reporter.job_id) from exc
        except Exception as exc:
            if is_out_of_memory(exc):
                raise JobOutOfMemory(
                    f"out of memory on {self.device} while running the {job.kind} job with "
                    f"{self.name}; try a shorter section, fewer takes or the GPU") from exc
            raise

    # -- render -----------------------------------------------------------------------------------

    def _render(self, job: RenderJob, bag: BlobBag,
                reporter: StepReporter) -> tuple[JobOutput, Mapping[str, bytes]]:
        backend, info = self.backend, self.info
        assert backend is not None and info is not None
        reporter.check_cancelled()
        self.check_render(job)
        if self.device.type == "cpu" and job.key_retries:
            # A large model's render takes minutes on a CPU: a take heard off key is kept (and
            # the musician decides), not rendered up to four times over.
            job = job.model_copy(update={"key_retries": 0})
        frames = job.window_frames
        cond = self.condition(job)
        shape = (backend.latent_channels, frames)

        def start_state(index: int, seed: int, inputs: WindowInputs) -> StartState:
            """(noise, init latent, start step, source). Step 0 of a take is its noise (what
            the studio stores), not a model's first state, so a variation from there, like a
            re-run from recorded noise, is a render from that noise. A variation that draws
            new randomness starts from its new noise, the state moved with it."""
            varied = vary_noise(job, bag, seed, shape, inputs.keep)
            if job.resume is not None and job.resume.clean:
                # An import's clean latent becomes the section's source, which the model
                # brings to the step its own way, with the import's noise.
                noise = (None if job.noise is None else kept_frames(
                    seeded_noise(seed, shape), bag, job.noise, inputs.keep, "noise"))
                base = torch.zeros(shape) if inputs.source is None else inputs.source.clone()
                return (noise if varied is None else varied.new, None, job.resume.step,
                        kept_frames(base, bag, job.resume.latent, inputs.keep))
            if job.resume is not None and job.resume.step == 0:
                noise = kept_frames(seeded_noise(seed, shape), bag, job.resume.latent,
                                    inputs.keep)
                return (noise if varied is None else varied.new), None, None, inputs.source
            if job.resume is not None:
                state = kept_frames(torch.zeros(shape), bag, job.resume.latent, inputs.keep)
                if varied is None:
                    return None, state, job.resume.step, inputs.source
                return (varied.new, backend.vary_state(state, job.resume.step, job.steps,
                                                       varied.old, varied.new),
                        job.resume.step, inputs.source)
            if job.noise is not None and index == 0:
                return kept_frames(seeded_noise(seed, shape), bag, job.noise, inputs.keep,
                                   "noise"), None, None, inputs.source
            return None, None, None, inputs.source

        def render_one(seed: int, state: StartState, inputs: WindowInputs,
                       on_step: StepCallback) -> RenderResult:
            noise, init, start, source = state
            return backend.render(
                cond, frames, seed=seed, noise=noise, steps=job.steps, guidance=job.guidance,
                guidance_interval=job.guidance_interval, sampler=job.sampler,
                region_mask=inputs.mask, source_latents=source, start_step=start,
                init_latent=init, step_callback=on_step, cancel=lambda: reporter.cancelled,
                checkpoint_steps=job.checkpoint_steps if job.checkpoint_steps is not None
                else "all")

        candidates, out = run_render_job(
            job, bag, reporter, info.sample_rate, start_state=start_state, render=render_one,
            decode=lambda result: self._decode_span(result.final_latent, job.decode),
            preview=lambda x0: self._decode_span(x0, job.decode))
        return RenderOutput(candidates=tuple(candidates), model=info), out

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
            padded, first, last = edge_padded(latent, span, hop)
            left = first - span.start // hop  # frames repeated before the window
            # Decoded with the frames around the span as the codec's context (its convolutions
            # reach a few frames), so a section's edges sound as inside the song.
            lo = max(0, first - self.decode_context_frames)
            hi = min(padded.shape[-1], last + self.decode_context_frames)
            decoded = backend.decode(padded[:, lo:hi]).mean(dim=0).numpy()
            offset = span.start - (lo - left) * hop
            audio = decoded[offset : offset + span.end - span.start]
        return limit_overs(np.ascontiguousarray(audio, dtype=np.float32), info.sample_rate,
                           PEAK_CEILING)

    def _encode(self, job: EncodeJob, bag: BlobBag) -> tuple[JobOutput, Mapping[str, bytes]]:
        assert self.info is not None
        return run_encode_job(job, bag, self.backend.encode, self.info)

    def _decode(self, job: DecodeJob, bag: BlobBag) -> tuple[JobOutput, Mapping[str, bytes]]:
        assert self.info is not None
        latent = torch.from_numpy(bag.tensor(job.latent, "latent").copy())
        out = BlobBag()
        audio = out.add_audio(self._decode_span(latent, job.span))
        return DecodeOutput(audio=audio, model=self.info), out


def prompt_text(job: RenderJob) -> str:
    """The prompt as the large models read it: the musician's words, then the style, tempo
    and key in the form of their training captions ("..., 120 BPM, A minor")."""
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
