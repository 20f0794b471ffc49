"""Takes: one rendering of (part of) a section, with everything needed to reproduce or resume it.

A take records the inputs (prompt, settings, plan, seed, initial noise, model and weights hash)
and the outputs (latent checkpoints, final latent, decoded audio) by blob reference. Blobs live
in the store, content-addressed by sha256, so a take is a small value that is cheap to copy.
"""

from __future__ import annotations

from enum import StrEnum
from itertools import pairwise

from pydantic import BaseModel, Field, field_validator, model_validator

from melodex_studio.music.meter import Meter
from melodex_studio.music.plan import Plan
from melodex_studio.project.fields import (
    DEFAULT_MODEL_ID,
    FROZEN,
    MAX_CHECKPOINTS,
    MAX_REPAINT_RANGES,
    MAX_SECTION_BARS,
    BlobRef,
    Bpm,
    EntityId,
    KeyName,
    Label,
    MeterName,
    ModelId,
    Prompt,
    Seed,
    Style,
    UtcDatetime,
    WeightsHash,
    absent_if_none,
)
from melodex_studio.project.generation import GenerationSettings


class TakeOperation(StrEnum):
    """What produced a take (design §3: one masked-latent mechanism serves all of them)."""

    PLAN = "plan"
    GENERATE = "generate"
    REGENERATE = "regenerate"
    REPAINT = "repaint"
    VARY = "vary"
    EXTEND = "extend"
    RETAKE = "retake"
    IMPORT = "import"


class Checkpoint(BaseModel):
    """The latent x_t stored after denoising step `step`; the samplers are stateless, so a
    render resumes exactly from (x_t, step)."""

    model_config = FROZEN

    step: int = Field(ge=0)
    latent: BlobRef


#: Neighbouring takes one render can see: the sections on either side, with room to spare.
MAX_CONTEXT_TAKES = 16


class Take(BaseModel):
    """One rendering. Bars are relative to the section's start: `region_*` is the part of the
    section this take rendered; `repaint_ranges` are the sub-ranges a repaint re-generated."""

    model_config = FROZEN

    id: EntityId
    section_id: EntityId
    region_start_bar: int = Field(ge=0, lt=MAX_SECTION_BARS)
    region_end_bar: int = Field(ge=1, le=MAX_SECTION_BARS)
    repaint_ranges: tuple[tuple[int, int], ...] = Field(default=(), max_length=MAX_REPAINT_RANGES)
    parent_id: EntityId | None = None
    # The other sections' takes whose latents were fixed context around this render, so a
    # re-run from this record uses them even after the neighbours got new active takes.
    context_take_ids: tuple[EntityId, ...] = Field(default=(), max_length=MAX_CONTEXT_TAKES)
    operation: TakeOperation
    prompt: Prompt = ""
    settings: GenerationSettings = GenerationSettings()
    plan: Plan | None = None
    style: Style | None = None
    model_id: ModelId = DEFAULT_MODEL_ID
    weights_hash: WeightsHash = ""
    seed: Seed = 0
    strength: float | None = Field(default=None, ge=0.0, le=1.0)
    source_checkpoint_step: int | None = Field(default=None, ge=0)
    noise: BlobRef | None = None
    checkpoints: tuple[Checkpoint, ...] = Field(default=(), max_length=MAX_CHECKPOINTS)
    final_latent: BlobRef | None = None
    audio: BlobRef | None = None
    latent_frame_rate: float = Field(gt=0.0, le=1000.0)
    audio_sample_rate: int = Field(ge=8000, le=192000)
    created: UtcDatetime
    label: Label | None = None
    # The key it was rendered in (format 1.1; absent in takes made before), so a re-run from
    # the record renders in it after the section changed key.
    key: KeyName | None = Field(default=None, exclude_if=absent_if_none)
    # The tempo it was rendered at (format 1.2; absent in takes made before), so a re-run from
    # the record renders at it after the section's tempo changed.
    bpm: Bpm | None = Field(default=None, exclude_if=absent_if_none)
    # The meter it was rendered in (format 1.2; absent in takes made before), for a re-run
    # after the section's meter changed.
    meter: MeterName | None = Field(default=None, exclude_if=absent_if_none)
    # A variation's share of new randomness from its start step on (format 1.3; absent in
    # variations made before, which rendered from their source's state with the draw of their
    # seed, the source's): its noise is
    # sqrt(1 - v^2) * the source's + v * a fresh draw from `seed`.
    variation: float | None = Field(default=None, ge=0.0, le=1.0, exclude_if=absent_if_none)
    # ... and the seed whose draw noised the frames around the section while it rendered (its
    # source's, so a small variation stays close to it); set with `variation`.
    context_seed: Seed | None = Field(default=None, exclude_if=absent_if_none)

    @field_validator("checkpoints")
    @classmethod
    def _steps_increase(cls, value: tuple[Checkpoint, ...]) -> tuple[Checkpoint, ...]:
        for before, after in pairwise(value):
            if after.step <= before.step:
                raise ValueError(
                    f"checkpoint steps must strictly increase, got {before.step} then {after.step}"
                )
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Take:
        if self.region_end_bar <= self.region_start_bar:
            raise ValueError(
                f"take region must end after it starts, got bars {self.region_start_bar}"
                f"..{self.region_end_bar}"
            )
        self._check_repaint_ranges()
        if self.meter is not None and self.plan is not None:
            steps = Meter.parse(self.meter).sixteenths_per_bar
            if self.plan.steps_per_bar != steps:
                raise ValueError(f"the take's plan has {self.plan.steps_per_bar} steps per bar "
                                 f"but it was rendered in {self.meter} ({steps})")
        if self.parent_id == self.id:
            raise ValueError("a take cannot be its own parent")
        if self.operation is TakeOperation.VARY:
            if self.strength is None or self.parent_id is None:
                raise ValueError("a variation needs a parent take and a strength")
            if self.context_seed is not None and self.variation is None:
                raise ValueError("a variation's context seed comes with its variation")
        elif (self.strength is not None or self.source_checkpoint_step is not None
              or self.variation is not None or self.context_seed is not None):
            raise ValueError(f"strength, variation, context seed and source checkpoint only "
                             f"apply to variations, not {self.operation}")
        if self.checkpoints and self.checkpoints[-1].step > self.settings.steps:
            raise ValueError(
                f"checkpoint at step {self.checkpoints[-1].step} is past the take's "
                f"{self.settings.steps} steps"
            )
        return self

    def _check_repaint_ranges(self) -> None:
        if self.operation not in (TakeOperation.REPAINT, TakeOperation.VARY):
            if self.repaint_ranges:
                raise ValueError(f"only a repaint (or a variation of one) lists repaint "
                                 f"ranges, not {self.operation}")
            return
        if self.operation is TakeOperation.VARY:
            if self.repaint_ranges and self.variation is None:
                raise ValueError("a variation lists repaint ranges since format 1.3, with its "
                                 "variation")
            if not self.repaint_ranges:
                return  # a variation of a whole take renders all its bars
        elif not self.repaint_ranges:
            raise ValueError("a repaint take needs at least one repaint range")
        previous_end = self.region_start_bar
        for start, end in self.repaint_ranges:
            if not previous_end <= start < end <= self.region_end_bar:
                raise ValueError(
                    f"repaint range ({start}, {end}) must be non-empty, inside the take region "
                    f"({self.region_start_bar}, {self.region_end_bar}), sorted and not overlapping"
                )
            previous_end = end

    def blob_refs(self) -> frozenset[str]:
        """Every blob this take references: the store keeps them while the take exists."""
        refs = {checkpoint.latent for checkpoint in self.checkpoints}
        refs.update(ref for ref in (self.noise, self.final_latent, self.audio) if ref is not None)
        return frozenset(refs)

    def tensor_refs(self) -> frozenset[str]:
        """Blobs holding latents (noise, checkpoints, final latent), as opposed to audio."""
        refs = {checkpoint.latent for checkpoint in self.checkpoints}
        refs.update(ref for ref in (self.noise, self.final_latent) if ref is not None)
        return frozenset(refs)

    def checkpoint_at(self, step: int) -> Checkpoint:
        for checkpoint in self.checkpoints:
            if checkpoint.step == step:
                return checkpoint
        raise KeyError(f"take {self.display_name} has no checkpoint at step {step}")

    @property
    def display_name(self) -> str:
        return self.label or f"{self.operation} {self.id[:8]}"

    @property
    def region_bars(self) -> int:
        return self.region_end_bar - self.region_start_bar
