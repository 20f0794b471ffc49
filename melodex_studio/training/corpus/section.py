"""A composed section: the exact labels of one training example, as a JSON-able value.

Everything the renderer plays is decided here, so the labels are exact by construction: the
`Plan` (chord, energy and density per bar, drum hits per 16th, bass and melody as scale
degrees), tempo, key, meter, section kind, instruments and swing.

Swing: the plan stays on the straight 16th grid (the structure transformer predicts it that
way) and `swing` says how late the off-beat steps sound. `step_seconds` is the one function
that turns a plan position into a time, and the renderer schedules every note through it, so
"audio onsets agree with the labels" holds with swing too.
"""

from __future__ import annotations

from functools import cached_property

from pydantic import BaseModel, ConfigDict, Field, model_validator

from melodex_studio.music.key import Key
from melodex_studio.music.meter import Meter
from melodex_studio.music.plan import Plan
from melodex_studio.music.tempo import TempoGrid
from melodex_studio.training.corpus.vocabulary import (
    BassMotion,
    HarmonyComp,
    MelodyMotion,
    SectionKind,
)


class Instrumentation(BaseModel):
    """General MIDI programs per part and how each part plays."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    drum_kit: int = Field(ge=0, le=127)  # bank 128 preset
    bass: int = Field(ge=0, le=127)
    harmony: int = Field(ge=0, le=127)
    melody: int = Field(ge=0, le=127)
    harmony_comp: HarmonyComp
    bass_motion: BassMotion
    melody_motion: MelodyMotion


def swung_step(step: float, swing: float, unit: int) -> float:
    """Where straight 16th `step` sounds, in 16ths from the bar start, with `swing`.

    unit 16: every odd 16th is late by `swing` of a 16th. unit 8: the off-beat 8th of each
    beat is late by `swing` of an 8th (1/3 is triplet swing) and the 16ths around it move
    proportionally. Beat starts never move.
    """
    if swing == 0.0:
        return float(step)
    if unit == 16:
        pair, within = divmod(step, 2)
        return 2 * pair + within * (1.0 + swing)
    if unit == 8:
        beat, within = divmod(step, 4)
        mid = 2.0 + 2.0 * swing
        if within < 2:
            return 4 * beat + within * mid / 2.0
        return 4 * beat + mid + (within - 2) * (4.0 - mid) / 2.0
    raise ValueError(f"swing unit must be 8 or 16, not {unit}")


class ComposedSection(BaseModel):
    """One section written by the composer: the plan and everything around it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    style: str
    key: str  # canonical key name, "A minor"
    meter: str  # "4/4", "3/4", "6/8"
    bpm: float = Field(gt=0)
    section_kind: SectionKind
    energy: float = Field(ge=0.0, le=1.0)  # nominal energy asked for; per-bar values in plan
    swing: float = Field(default=0.0, ge=0.0, lt=0.5)
    swing_unit: int = 16
    instruments: Instrumentation
    plan: Plan
    seed: int = Field(ge=0)

    @model_validator(mode="after")
    def _consistent(self) -> ComposedSection:
        if self.plan.steps_per_bar != self.meter_value.sixteenths_per_bar:
            raise ValueError(f"plan has {self.plan.steps_per_bar} steps a bar, {self.meter} not")
        if self.swing and self.meter_value.beat_lengths_16ths() != (4,) * len(
            self.meter_value.beat_lengths_16ths()
        ):
            raise ValueError("swing needs quarter-note beats (4/4, 3/4)")
        return self

    @cached_property
    def key_value(self) -> Key:
        return Key.parse(self.key)

    @cached_property
    def meter_value(self) -> Meter:
        return Meter.parse(self.meter)

    @property
    def n_bars(self) -> int:
        return self.plan.n_bars

    def grid(self, sample_rate: int) -> TempoGrid:
        return TempoGrid(self.bpm, self.meter_value, sample_rate)

    def step_sixteenths(self, bar: int, step: float) -> float:
        """Song position in 16ths where plan step `step` of bar `bar` sounds (swing included)."""
        return bar * self.plan.steps_per_bar + swung_step(step, self.swing, self.swing_unit)

    def step_seconds(self, bar: int, step: float, grid: TempoGrid) -> float:
        return grid.sixteenth_to_seconds(self.step_sixteenths(bar, step))

    def step_sample(self, bar: int, step: float, grid: TempoGrid) -> int:
        return grid.sixteenth_to_sample(self.step_sixteenths(bar, step))

    def drum_hits(self, voices: int) -> list[tuple[int, int]]:
        """(bar, step) of every step whose mask hits any of `voices` (a DrumVoice bit set)."""
        return [
            (index, step)
            for index, bar in enumerate(self.plan.bars)
            for step, mask in enumerate(bar.drums)
            if mask & voices
        ]
