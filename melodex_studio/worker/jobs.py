"""The jobs a worker runs and what they return: engine-level, project-agnostic values.

A job names no project, section or take: it says which latent frames to sample, what context
surrounds them, which plan and prompt condition them and how to draw the noise. The project side
(`project.operations`) builds jobs from the musician's intent and turns the outputs back into
takes, so the same worker could serve another front end or run on another machine.

Frames and samples are counted on the job's *window*: frame 0 is the first latent frame the job
sees; sample 0 is that frame's first sample at the codec rate. Tensors are blob refs (sha256 of
safetensors bytes, see `worker.blobs`) that travel next to the message.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from melodex_studio.music.meter import Meter
from melodex_studio.music.plan import Plan
from melodex_studio.music.tempo import TempoGrid

MAX_WINDOW_FRAMES = 1 << 16
MAX_CANDIDATES = 16
MAX_STEPS = 200
MAX_KEY_RETRIES = 8

_STRICT = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

#: sha256 of a blob's bytes, as 64 lowercase hex digits.
BlobId = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
Seed = Annotated[int, Field(ge=0, le=2**63 - 1)]


class FrameRange(BaseModel):
    """Half-open range [start, end) of latent frames of the window."""

    model_config = _STRICT

    start: int = Field(ge=0, le=MAX_WINDOW_FRAMES)
    end: int = Field(ge=1, le=MAX_WINDOW_FRAMES)

    @model_validator(mode="after")
    def _non_empty(self) -> FrameRange:
        if self.end <= self.start:
            raise ValueError(f"frame range [{self.start}, {self.end}) is empty")
        return self


class Conditioning(BaseModel):
    """What the music should be: the prompt and the musical frame of the window."""

    model_config = _STRICT

    prompt: str = Field(default="", max_length=2000)
    style: str | None = Field(default=None, max_length=128)
    bpm: float = Field(ge=20.0, le=400.0)
    key: str = Field(max_length=32)
    meter: str = Field(max_length=8)
    section_kind: str = Field(default="custom", max_length=32)
    energy: float = Field(default=0.5, ge=0.0, le=1.0)


class TempoChange(BaseModel):
    """The tempo and meter from song bar `bar` on (a section with a tempo or meter of its
    own)."""

    model_config = _STRICT

    bar: int = Field(ge=1, le=1 << 16)
    bpm: float = Field(ge=20.0, le=400.0)
    meter: str = Field(max_length=8)


class PlanJob(BaseModel):
    """Write a section's plan with the structure transformer. Bars of `template` marked
    locked are kept exactly; only the others are sampled (re-plan unlocked bars)."""

    model_config = _STRICT

    kind: Literal["plan"] = "plan"
    conditioning: Conditioning
    n_bars: int = Field(ge=1, le=512)
    seed: Seed
    template: Plan | None = None
    previous: Plan | None = None
    temperature: float = Field(default=1.0, gt=0.0, le=2.0)
    top_k: int = Field(default=0, ge=0, le=4096)
    top_p: float = Field(default=1.0, gt=0.0, le=1.0)

    @model_validator(mode="after")
    def _template_fits(self) -> PlanJob:
        if self.template is not None and self.template.n_bars != self.n_bars:
            raise ValueError(
                f"the template plan has {self.template.n_bars} bars, the job asks for {self.n_bars}"
            )
        return self


class ResumeFrom(BaseModel):
    """Start sampling from a stored x_k instead of noise: the state of the `keep` frames after
    `step` of a `total_steps`-step trajectory (a checkpoint of an earlier take: a variation)."""

    model_config = _STRICT

    latent: BlobId
    step: int = Field(ge=0, le=MAX_STEPS)
    total_steps: int = Field(ge=1, le=MAX_STEPS)
    # `latent` is the clean latent of an imported recording, which the model brings to `step`
    # its own way with the job's `noise` (`ModelInfo.noises_imports`), not a stored x_k.
    clean: bool = False
    # A variation's share of new randomness: the state's own noise (the job's `noise`) becomes
    # sqrt(1 - v^2) * it + v * the candidate's seeded draw over the kept frames, the frames
    # around them keep the noise of `context_seed` (the source's), and the state moves with it
    # as the model's noise level at `step` says (`vary_noise`); 0 continues the trajectory as
    # it was. None: a variation made before they drew noise, which renders from the
    # candidate's own draw alone, as then.
    variation: float | None = Field(default=None, ge=0.0, le=1.0)
    context_seed: Seed | None = None

    @model_validator(mode="after")
    def _inside(self) -> ResumeFrom:
        if self.step > self.total_steps:
            raise ValueError(f"resume step {self.step} is past {self.total_steps} steps")
        return self


class AudioSpan(BaseModel):
    """Samples [start, end) at the codec rate, counted from the window's first sample, to
    decode and return. It may reach up to one frame past either end of the window (a bar line
    rarely falls on a frame boundary); the missing frame repeats the window's edge frame."""

    model_config = _STRICT

    start: int
    end: int

    @model_validator(mode="after")
    def _non_empty(self) -> AudioSpan:
        if self.end <= self.start:
            raise ValueError(f"audio span [{self.start}, {self.end}) is empty")
        return self


class RenderJob(BaseModel):
    """Sample the `generate` frames of a window with the diffusion renderer.

    The window is song frames `window_start` .. `window_start + window_frames` (song frame 0
    starts at the song's first sample). Frames outside `generate` are context: they come from
    `source_latent` ([C, window_frames]) and are returned unchanged, which is what keeps
    neighbours and unrepainted bars exact. `plan` starts at song bar `plan_start_bar` (the
    section's plan; frames it does not cover get only the grid channels). Every candidate has
    its own seed; `noise` (if given, over the `keep` frames) replaces the first candidate's
    seeded noise there: a re-run from a take's record. `keep` is the window frame range whose
    noise, checkpoints and final latent come back (the section). `guidance_interval` is in
    trajectory progress (0 = noise, 1 = done), as the project's settings name it.
    """

    model_config = _STRICT

    kind: Literal["render"] = "render"
    conditioning: Conditioning
    plan: Plan | None = None
    plan_start_bar: int = Field(default=0, ge=0, le=1 << 16)
    window_start: int = Field(ge=0, le=1 << 24)
    window_frames: int = Field(ge=1, le=MAX_WINDOW_FRAMES)
    generate: tuple[FrameRange, ...] = Field(min_length=1, max_length=64)
    source_latent: BlobId | None = None
    seeds: tuple[Seed, ...] = Field(min_length=1, max_length=MAX_CANDIDATES)
    noise: BlobId | None = None
    steps: int = Field(ge=1, le=MAX_STEPS)
    guidance: float = Field(ge=0.0, le=20.0)
    guidance_interval: tuple[float, float] = (0.0, 1.0)
    sampler: Literal["euler", "heun"] = "euler"
    resume: ResumeFrom | None = None
    checkpoint_steps: tuple[int, ...] | None = None
    keep: FrameRange
    decode: AudioSpan | None = None
    preview_every: int = Field(default=0, ge=0, le=MAX_STEPS)
    # The song's tempo map, where it is not `conditioning.bpm` and `.meter` throughout: the
    # tempo and meter at bar 0 and the changes after it (`TempoGrid`), so the window's bars
    # land where the studio places them. `conditioning` keeps the section's own, what the
    # renderer hears.
    first_bpm: float | None = Field(default=None, ge=20.0, le=400.0)
    first_meter: str | None = Field(default=None, max_length=8)
    # The whole song's length: a model conditioned on where a clip sits in its piece (Stable
    # Audio Open's seconds_start / seconds_total) reads the window as part of the song.
    song_seconds: float | None = Field(default=None, gt=0.0, le=1e6)
    tempo_changes: tuple[TempoChange, ...] = Field(default=(), max_length=1024)
    # Renders after the first when a candidate is heard in another key than `conditioning.key`
    # (`engine.pipelines.render_in_key`); needs the decoded audio, and no recorded noise or
    # checkpoint to reproduce.
    key_retries: int = Field(default=0, ge=0, le=MAX_KEY_RETRIES)

    def grid(self, sample_rate: int) -> TempoGrid:
        """The song's tempo grid at `sample_rate`, as the studio built the window on it."""
        cond = self.conditioning
        return TempoGrid(cond.bpm if self.first_bpm is None else self.first_bpm,
                         Meter.parse(cond.meter if self.first_meter is None else self.first_meter),
                         sample_rate,
                         tuple((change.bar, change.bpm, Meter.parse(change.meter))
                               for change in self.tempo_changes))

    @model_validator(mode="after")
    def _consistent(self) -> RenderJob:
        bars = [change.bar for change in self.tempo_changes]
        if bars != sorted(set(bars)):
            raise ValueError("tempo changes must be on increasing bars")
        if self.tempo_changes and (self.first_bpm is None or self.first_meter is None):
            raise ValueError("tempo changes need the tempo and meter at bar 0 (first_bpm, "
                             "first_meter)")
        meters = [self.conditioning.meter, self.first_meter,
                  *(change.meter for change in self.tempo_changes)]
        for meter in filter(None, meters):
            Meter.parse(meter)  # raises with the reason
        previous_end = 0
        for frames in self.generate:
            if frames.start < previous_end or frames.end > self.window_frames:
                raise ValueError("generate ranges must be sorted, apart and inside the window")
            previous_end = frames.end
        covered = sum(frames.end - frames.start for frames in self.generate)
        if covered < self.window_frames and self.source_latent is None:
            raise ValueError("frames outside the generate ranges need a source latent")
        if self.keep.end > self.window_frames:
            raise ValueError(f"keep range ends past the {self.window_frames}-frame window")
        if not all(self.keep.start <= g.start and g.end <= self.keep.end for g in self.generate):
            raise ValueError("the generated frames must lie inside the kept frames")
        if self.key_retries and (self.decode is None or self.noise is not None
                                 or self.resume is not None):
            raise ValueError("a render listened to for its key needs decoded audio and its own "
                             "seeded noise (no recorded noise or checkpoint)")
        if self.resume is not None and self.resume.total_steps != self.steps:
            raise ValueError("a resumed render keeps the trajectory's number of steps")
        if self.resume is not None and self.resume.variation is not None and self.noise is None:
            raise ValueError("a variation that draws new randomness needs the noise its state "
                             "holds (the job's noise)")
        if self.checkpoint_steps is not None and any(
            not 1 <= step <= self.steps for step in self.checkpoint_steps
        ):
            raise ValueError(f"checkpoint steps must be within 1..{self.steps}")
        return self

    @property
    def candidates(self) -> int:
        return len(self.seeds)


class DecodeJob(BaseModel):
    """Decode a latent ([C, frames]) to audio: samples `span` of it (default: all). The latent
    alone, without a plan: a render job decodes its takes with their plan's raster instead."""

    model_config = _STRICT

    kind: Literal["decode"] = "decode"
    latent: BlobId
    span: AudioSpan | None = None


class EncodeJob(BaseModel):
    """Encode audio ([samples] float32, mono, at the model's sample rate) to a latent
    [C, `frames`] (the section's frames: the codec's ceil(samples / samples per frame) cut to
    it, or its last frame repeated), and draw the noise a take of that length starts from with
    `seed` (the same draw as a render's): an imported recording becomes a take that can be
    repainted, extended and varied like a rendered one."""

    model_config = _STRICT

    kind: Literal["encode"] = "encode"
    audio: BlobId
    frames: int = Field(ge=1, le=MAX_WINDOW_FRAMES)
    seed: Seed


Job = Annotated[PlanJob | RenderJob | DecodeJob | EncodeJob, Field(discriminator="kind")]


# --- outputs ------------------------------------------------------------------------------------


class ModelInfo(BaseModel):
    """Which weights produced a result: recorded in every take (design §3, determinism)."""

    model_config = _STRICT

    model_id: str = Field(min_length=1, max_length=128)
    weights_hash: str = Field(pattern=r"^([0-9a-f]{64})?$")
    latent_channels: int = Field(ge=1)
    latent_frame_rate: float = Field(gt=0.0)
    sample_rate: int = Field(ge=8000)
    samples_per_frame: int = Field(ge=1)
    schedule_shift: float = Field(default=1.0, gt=0.0)
    # What the model can do beyond rendering: write plans, encode an imported recording, and
    # repaint bars that have kept bars of the take after them (a left-to-right model cannot).
    plans: bool = True
    imports: bool = True
    repaints_inside: bool = True
    # A variation of an imported recording starts from its clean latent, which the worker
    # brings to the step its own way (`ResumeFrom.clean`): Stable Audio Open's noise levels,
    # MusicGen's token prefix. False: the studio noises it the built-in model's way.
    noises_imports: bool = False
    # A diffusion model: the settings' sampler and guidance interval apply (a token model such
    # as MusicGen has neither; its steps are checkpoints along the take).
    diffusion: bool = True


class PlanOutput(BaseModel):
    model_config = _STRICT

    kind: Literal["plan"] = "plan"
    plan: Plan
    model: ModelInfo


class CheckpointRef(BaseModel):
    model_config = _STRICT

    step: int = Field(ge=0)
    latent: BlobId


class RenderedCandidate(BaseModel):
    """One sampled candidate: seed, initial noise, checkpoints, final latent (all over the job's
    `keep` frames) and the decoded audio span (if the job asked for one)."""

    model_config = _STRICT

    seed: Seed
    noise: BlobId
    checkpoints: tuple[CheckpointRef, ...]
    final_latent: BlobId
    audio: BlobId | None = None
    # With `RenderJob.key_retries`: the key the kept render was heard in ("" for no pitch
    # content) and how many renders it took; `seed` is then the kept render's own seed.
    heard_key: str | None = None
    renders: int = Field(default=1, ge=1)


class RenderOutput(BaseModel):
    model_config = _STRICT

    kind: Literal["render"] = "render"
    candidates: tuple[RenderedCandidate, ...] = Field(min_length=1)
    model: ModelInfo


class DecodeOutput(BaseModel):
    model_config = _STRICT

    kind: Literal["decode"] = "decode"
    audio: BlobId
    model: ModelInfo


class EncodeOutput(BaseModel):
    model_config = _STRICT

    kind: Literal["encode"] = "encode"
    latent: BlobId
    noise: BlobId
    model: ModelInfo
    # The key the recording is heard in (`engine.audio_key`); "" when it has no clear pitch.
    heard_key: str = ""


JobOutput = Annotated[PlanOutput | RenderOutput | DecodeOutput | EncodeOutput,
                      Field(discriminator="kind")]


def job_blob_refs(job: PlanJob | RenderJob | DecodeJob | EncodeJob) -> frozenset[str]:
    """Every blob a job reads: the client checks they travel with it before sending."""
    if isinstance(job, RenderJob):
        refs = {job.source_latent, job.noise, job.resume.latent if job.resume else None}
        return frozenset(ref for ref in refs if ref is not None)
    if isinstance(job, DecodeJob):
        return frozenset({job.latent})
    if isinstance(job, EncodeJob):
        return frozenset({job.audio})
    return frozenset()


def blobs_for(job: PlanJob | RenderJob | DecodeJob | EncodeJob,
              blobs: Mapping[str, bytes] | None) -> dict[str, bytes]:
    """The blobs to send with `job`, refused before anything is queued when one it reads is
    missing (both clients call this, so the in-process one fails exactly like the real one)."""
    given = dict(blobs or {})
    missing = job_blob_refs(job) - given.keys()
    if missing:
        raise ValueError(f"the job reads blob {sorted(missing)[0][:12]}... that was not given")
    return given


def output_blob_refs(
    output: PlanOutput | RenderOutput | DecodeOutput | EncodeOutput,
) -> frozenset[str]:
    """Every blob an output names (the result message carries them all)."""
    if isinstance(output, RenderOutput):
        refs: set[str] = set()
        for candidate in output.candidates:
            refs.update((candidate.noise, candidate.final_latent))
            refs.update(checkpoint.latent for checkpoint in candidate.checkpoints)
            if candidate.audio is not None:
                refs.add(candidate.audio)
        return frozenset(refs)
    if isinstance(output, DecodeOutput):
        return frozenset({output.audio})
    if isinstance(output, EncodeOutput):
        return frozenset({output.latent, output.noise})
    return frozenset()
