"""Running plan, render and decode jobs on the loaded models (the engine side of a worker).

Each job reads its tensors from the blobs that came with it and answers with an output plus
new blobs (safetensors bytes, content-addressed). Cancellation reaches the engine pipelines as
the reporter's flag, which they test between steps; progress and preview audio go out through
the reporter after every step.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Mapping
from typing import Literal

import numpy as np
import torch
from torch import Tensor

from melodex_studio.audio.limiter import limit_overs
from melodex_studio.engine.control_raster import control_raster
from melodex_studio.engine.pipelines.decode import decode
from melodex_studio.engine.pipelines.plan import PlanCancelled, plan_section
from melodex_studio.engine.pipelines.render import (
    RenderCancelled,
    RenderResult,
    StepCallback,
    render,
)
from melodex_studio.engine.precision import precision_name
from melodex_studio.engine.sampling import (
    interval_from_progress,
    renoised,
    seeded_noise,
    timestep_schedule,
)
from melodex_studio.engine.weights import ModelLoadError
from melodex_studio.music.key import Key
from melodex_studio.music.meter import Meter
from melodex_studio.worker.blobs import BlobBag
from melodex_studio.worker.jobs import (
    AudioSpan,
    DecodeJob,
    DecodeOutput,
    EncodeJob,
    Job,
    JobOutput,
    PlanJob,
    PlanOutput,
    RenderJob,
    RenderOutput,
)
from melodex_studio.worker.protocol import WorkerConfig, WorkerState, WorkerStatus
from melodex_studio.worker.runtime import JobCancelled, JobOutOfMemory, StepReporter
from melodex_studio.worker.server.models import (
    EncoderWaitCancelled,
    LoadedModels,
    ModelUnavailable,
    load_models,
)
from melodex_studio.worker.server.render_jobs import (
    WindowInputs,
    edge_padded,
    kept_frames,
    run_encode_job,
    run_render_job,
    vary_noise,
)

#: Where a candidate starts: a stored state, its step, and the noise replacing the seed's draw.
StartState = tuple[Tensor | None, int | None, Tensor | None]


def _memory_bytes(device: torch.device | None) -> int:
    if device is not None and device.type == "cuda":
        return int(torch.cuda.memory_allocated(device))
    try:
        with open("/proc/self/statm", encoding="ascii") as handle:
            return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def is_out_of_memory(exc: BaseException) -> bool:
    if isinstance(exc, torch.OutOfMemoryError | MemoryError):
        return True
    text = str(exc)
    return isinstance(exc, RuntimeError) and (
        "out of memory" in text.lower() or "can't allocate memory" in text
    )


#: Audio leaves the worker at most this loud (true peak, -0.5 dBFS). About one generated section
#: in ten peaks over full scale (3 of the first 30 sections of the evaluation design, by up to
#: 1.6 dB, on a few samples each) and would clip on its way to the sound card: those are limited
#: around their overs (`limit_overs`); every other sample keeps its value exactly.
PEAK_CEILING = 10.0 ** (-0.5 / 20.0)


class EngineExecutor:
    """A `JobExecutor` over the engine: `load()` once, then `run(job, blobs, reporter)`."""

    def __init__(self, config: WorkerConfig) -> None:
        self.config = config
        self.models: LoadedModels | None = None

    def load(self) -> None:
        try:
            self.models = load_models(self.config)
        except ModelLoadError as exc:
            raise ModelUnavailable(str(exc)) from exc

    def describe(self) -> WorkerStatus:
        models = self.models
        return WorkerStatus(
            state=WorkerState.LOADING if models is None else WorkerState.IDLE,
            device=str(models.device) if models else self.config.device,
            precision=precision_name(models.compute_dtype) if models else "float32",
            model=models.info if models else None,
            memory_bytes=_memory_bytes(models.device if models else None),
            threads=torch.get_num_threads(),
            pid=os.getpid(),
        )

    def run(
        self, job: Job, blobs: Mapping[str, bytes], reporter: StepReporter
    ) -> tuple[JobOutput, Mapping[str, bytes]]:
        if self.models is None:
            raise ModelUnavailable("the worker has no models loaded")
        bag = BlobBag(blobs)
        try:
            if isinstance(job, RenderJob):
                return self._render(job, bag, reporter)
            if isinstance(job, PlanJob):
                return self._plan(job, reporter)
            if isinstance(job, EncodeJob):
                return self._encode(job, bag)
            return self._decode(job, bag)
        except (RenderCancelled, PlanCancelled, EncoderWaitCancelled) as exc:
            raise JobCancelled(reporter.job_id) from exc
        except Exception as exc:
            if is_out_of_memory(exc):
                raise JobOutOfMemory(
                    f"out of memory on {self.models.device} while running the {job.kind} job; "
                    "try a shorter section, fewer candidates or fewer steps"
                ) from exc
            raise

    # -- plan -------------------------------------------------------------------------------------

    def _plan(self, job: PlanJob, reporter: StepReporter) -> tuple[JobOutput, Mapping[str, bytes]]:
        models = self.models
        assert models is not None
        reporter.check_cancelled()
        cond = job.conditioning
        plan = plan_section(
            models.structure,
            models.embed(cond.prompt, cond.style, lambda: reporter.cancelled),
            Key.parse(cond.key),
            Meter.parse(cond.meter),
            cond.bpm,
            cond.section_kind,
            cond.energy,
            job.n_bars,
            style=cond.style,
            seed=job.seed,
            temperature=job.temperature,
            top_k=job.top_k,
            top_p=job.top_p,
            previous_plan=job.previous,
            locked_plan=job.template,
            step_callback=lambda done, total: reporter.progress(done, total),
            cancel=lambda: reporter.cancelled,
        )
        return PlanOutput(plan=plan, model=models.info), {}

    # -- decode -----------------------------------------------------------------------------------

    def _decode_span(self, latent: Tensor, span: AudioSpan | None, first_frame: int = 0,
                     control: Tensor | None = None, preview: bool = False) -> np.ndarray:
        """Audio of window samples `span` of latent [C, W] whose frame 0 is song frame
        `first_frame` (the vocoder's phase is anchored to song frames, so a repaint decodes its
        unchanged edges as the take it splices into did); a span reaching one frame past an end
        repeats the edge frame there. `control` is the render's raster over the same frames;
        `preview` is the cheap decode heard while a render runs (never stored in a take).
        Audio that peaks over `PEAK_CEILING` is limited to it around those peaks only."""
        models = self.models
        assert models is not None
        audio = self._decoded_samples(latent, span, first_frame, control, preview)
        return limit_overs(audio, models.codec.sample_rate, PEAK_CEILING)

    def _decoded_samples(self, latent: Tensor, span: AudioSpan | None, first_frame: int,
                         control: Tensor | None, preview: bool) -> np.ndarray:
        models = self.models
        assert models is not None
        spf = models.codec.samples_per_latent_frame
        if span is None:
            return decode(models.codec, latent.to(models.device), first_frame=first_frame,
                          control=control, preview=preview).cpu().numpy()
        padded, first, last = edge_padded(latent, span, spf)
        left = first - span.start // spf  # frames repeated before the window
        if control is not None:
            control = edge_padded(control, span, spf)[0]
        audio = decode(models.codec, padded.to(models.device), window=(first, last),
                       first_frame=first_frame - left, control=control, preview=preview)
        offset = span.start - (first - left) * spf
        return audio[offset : offset + span.end - span.start].float().cpu().numpy()

    def _encode(self, job: EncodeJob, bag: BlobBag) -> tuple[JobOutput, Mapping[str, bytes]]:
        models = self.models
        assert models is not None
        return run_encode_job(job, bag, lambda audio: models.codec.encode(
            audio.to(models.device))[0], models.info)

    def _decode(self, job: DecodeJob, bag: BlobBag) -> tuple[JobOutput, Mapping[str, bytes]]:
        models = self.models
        assert models is not None
        latent = torch.from_numpy(bag.tensor(job.latent, "latent").copy())
        out = BlobBag()
        audio = out.add_audio(self._decode_span(latent, job.span))
        return DecodeOutput(audio=audio, model=models.info), out

    # -- render -----------------------------------------------------------------------------------

    def _render(
        self, job: RenderJob, bag: BlobBag, reporter: StepReporter
    ) -> tuple[JobOutput, Mapping[str, bytes]]:
        models = self.models
        assert models is not None
        info = models.info
        reporter.check_cancelled()
        if job.resume is not None and job.resume.clean:
            raise ValueError("the built-in model varies an import from the state the studio "
                             "sends (ModelInfo.noises_imports is false), not a clean latent")
        cond = job.conditioning
        grid = job.grid(info.sample_rate)
        key = Key.parse(cond.key)
        text = models.embed(cond.prompt, cond.style, lambda: reporter.cancelled)
        frames = job.window_frames
        # What the renderer is conditioned on, and what the codec's plan adapter decodes with.
        control = control_raster(job.plan, key, grid, frames, info.latent_frame_rate,
                                 job.plan_start_bar, job.window_start)
        shape = (info.latent_channels, frames)

        def start_state(index: int, seed: int, inputs: WindowInputs) -> StartState:
            """(init latent, start step, noise): a checkpoint to resume from (moved to a
            variation's new noise where it draws some), or recorded noise to re-run (the
            render's own draw with the kept frames put back: identical context noise)."""
            if job.resume is not None:
                init = kept_frames(torch.zeros(shape), bag, job.resume.latent, inputs.keep)
                varied = vary_noise(job, bag, seed, shape, inputs.keep)
                if varied is None:
                    return init, job.resume.step, None
                level = timestep_schedule(job.steps, models.schedule_shift)[job.resume.step]
                return (renoised(init, level, varied.old, varied.new), job.resume.step,
                        varied.new)
            if job.noise is not None and index == 0:
                return kept_frames(seeded_noise(seed, shape), bag, job.noise, inputs.keep,
                                   "noise"), 0, None
            return None, None, None

        checkpoint_steps: Collection[int] | Literal["all"] = (
            job.checkpoint_steps if job.checkpoint_steps is not None else "all")
        legacy = job.resume is not None and job.resume.variation is None
        if legacy and job.checkpoint_steps is None:
            # A variation made before 1.3 stored its states after its start: a re-run does too.
            checkpoint_steps = range(job.resume.step + 1, job.steps)  # type: ignore[union-attr]

        def render_one(seed: int, state: StartState, inputs: WindowInputs,
                       on_step: StepCallback) -> RenderResult:
            init, start, noise = state
            return render(
                models.renderer, job.plan, text, grid, key, frames,
                plan_start_bar=job.plan_start_bar, first_frame=job.window_start,
                frame_rate=info.latent_frame_rate, region_mask=inputs.mask,
                source_latents=inputs.source, seed=seed, noise=noise, steps=job.steps,
                guidance=job.guidance,
                guidance_interval=interval_from_progress(job.guidance_interval),
                sampler=job.sampler, shift=models.schedule_shift, start_step=start,
                init_latent=init, control=control, preview_callback=on_step,
                cancel=lambda: reporter.cancelled,
                checkpoint_steps=checkpoint_steps,
                bf16_on_cuda=models.compute_dtype == torch.bfloat16,
            )

        candidates, out = run_render_job(
            job, bag, reporter, info.sample_rate, start_state=start_state, render=render_one,
            decode=lambda result: self._decode_span(result.final_latent, job.decode,
                                                    job.window_start, result.control),
            preview=lambda x0: self._decode_span(x0, job.decode, job.window_start, control,
                                                 preview=True))
        return RenderOutput(candidates=tuple(candidates), model=info), out
