"""The project: tempo, key, meter, master bus and the row of sections on the bar ruler.

A Project is an immutable value. Edits build a new Project that shares every unchanged section
and take with the old one (see `validated_copy`), so the undo history and a background save can
hold snapshots for the price of a few tuples.
"""

from __future__ import annotations

from itertools import pairwise
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator, model_validator

from melodex_studio.music.key import Key
from melodex_studio.music.meter import Meter
from melodex_studio.music.tempo import TempoGrid
from melodex_studio.project.fields import (
    DEFAULT_MODEL_ID,
    FROZEN,
    MAX_BPM,
    MAX_SECTIONS,
    MIN_BPM,
    EntityId,
    KeyName,
    MeterName,
    ModelId,
    Title,
    UtcDatetime,
    validated_copy,
)
from melodex_studio.project.generation import MasterSettings
from melodex_studio.project.section import Section

SampleRate = Literal[22050, 24000, 32000, 44100, 48000]


class Project(BaseModel):
    """The whole document. Sections are kept sorted by start bar and never overlap; names are
    unique (case-insensitive) so "regenerate Chorus" names one section. `created`/`modified`
    are set by the caller (no clock inside validation keeps the document deterministic)."""

    model_config = FROZEN

    id: EntityId
    title: Title
    sample_rate: SampleRate = 44100
    bpm: float = Field(default=120.0, ge=MIN_BPM, le=MAX_BPM)
    key: KeyName = "C major"
    meter: MeterName = "4/4"
    sections: tuple[Section, ...] = Field(default=(), max_length=MAX_SECTIONS)
    master: MasterSettings = MasterSettings()
    model_id: ModelId = DEFAULT_MODEL_ID
    created: UtcDatetime | None = None
    modified: UtcDatetime | None = None

    @field_validator("sections")
    @classmethod
    def _sorted_sections(cls, value: tuple[Section, ...]) -> tuple[Section, ...]:
        # Sorting here (stable, by start bar) lets edits build the tuple in any order. The song
        # length limit needs no check here: every section ends by MAX_PROJECT_BARS.
        ordered = tuple(sorted(value, key=lambda section: section.start_bar))
        for before, after in pairwise(ordered):
            if before.overlaps(after):
                raise ValueError(f"section {before.span_text} overlaps {after.span_text}")
        return ordered

    @model_validator(mode="after")
    def _consistent(self) -> Project:
        ids: set[str] = set()
        names: dict[str, str] = {}
        take_ids: set[str] = set()
        steps_per_bar = self.steps_per_bar
        for section in self.sections:
            if section.id in ids:
                raise ValueError(f"section id {section.id} appears twice")
            ids.add(section.id)
            folded = section.name.casefold()
            if folded in names:
                raise ValueError(f"two sections are named {names[folded]!r}: names must differ")
            names[folded] = section.name
            for take in section.takes:
                if take.id in take_ids:
                    raise ValueError(f"take id {take.id} appears in more than one place")
                take_ids.add(take.id)
            meter = section.meter_in(self.meter)
            steps = steps_per_bar if section.meter is None else self.section_steps(section)
            if section.plan is not None and section.plan.steps_per_bar != steps:
                raise ValueError(
                    f"section {section.name!r} has a plan with {section.plan.steps_per_bar} steps "
                    f"per bar but {meter} has {steps}"
                )
        return self

    # -- reading ---------------------------------------------------------------------------

    @property
    def length_bars(self) -> int:
        """The end of the last section (gaps before it count: they play as silence)."""
        return self.sections[-1].end_bar if self.sections else 0

    @property
    def steps_per_bar(self) -> int:
        """16th steps per bar in this meter: the plan grid."""
        return Meter.parse(self.meter).sixteenths_per_bar

    def key_value(self) -> Key:
        return Key.parse(self.key)

    def section_key(self, section: Section) -> Key:
        """The key `section` is planned and rendered in: its own, else the song's."""
        return Key.parse(section.key_in(self.key))

    def meter_value(self) -> Meter:
        return Meter.parse(self.meter)

    def section_bpm(self, section: Section) -> float:
        """The tempo `section` is planned, rendered and played at: its own, else the song's."""
        return section.bpm_in(self.bpm)

    def section_meter(self, section: Section) -> Meter:
        """The meter `section` is planned, rendered and played in: its own, else the song's."""
        return Meter.parse(section.meter_in(self.meter))

    def section_steps(self, section: Section) -> int:
        """16th steps per bar of `section`'s plan (its meter's)."""
        return self.section_meter(section).sixteenths_per_bar

    def grid(self) -> TempoGrid:
        """The tempo grid at the project's sample rate: the one place bars become samples.

        A section with a tempo or meter of its own changes them on its first bar and back to
        the song's on the bar after its last (unless the next section starts there with its
        own)."""
        bpm, meter = self.timing_at_start()
        changes = tuple((bar, bpm, Meter.parse(meter)) for bar, bpm, meter in self.tempo_changes())
        return TempoGrid(bpm, Meter.parse(meter), self.sample_rate, changes)

    def timing_at_start(self) -> tuple[float, str]:
        """(bpm, meter) at bar 0: those of a section that starts there, else the song's."""
        first = self.sections[0] if self.sections else None
        if first is None or first.start_bar != 0:
            return self.bpm, self.meter
        return self.section_bpm(first), first.meter_in(self.meter)

    def tempo_changes(self) -> tuple[tuple[int, float, str], ...]:
        """(bar, bpm, meter) where the tempo or the meter changes, after bar 0 and before the
        song's end: at each section whose timing differs from the one before it, and where a
        section with its own ends."""
        marks: dict[int, tuple[float, str]] = {}
        song = (self.bpm, self.meter)
        for section in self.sections:
            if section.bpm is not None or section.meter is not None:
                marks.setdefault(section.end_bar, song)
            marks[section.start_bar] = (self.section_bpm(section), section.meter_in(self.meter))
        changes: list[tuple[int, float, str]] = []
        current = self.timing_at_start()
        for bar in sorted(marks):
            if 0 < bar < self.length_bars and marks[bar] != current:
                changes.append((bar, *marks[bar]))
                current = marks[bar]
        return tuple(changes)

    def section(self, section_id: str) -> Section:
        for section in self.sections:
            if section.id == section_id:
                return section
        raise KeyError(f"the project has no section {section_id}")

    def section_index(self, section_id: str) -> int:
        for index, section in enumerate(self.sections):
            if section.id == section_id:
                return index
        raise KeyError(f"the project has no section {section_id}")

    def section_by_name(self, name: str) -> Section:
        """The section called `name` (case-insensitive, surrounding spaces ignored)."""
        folded = name.strip().casefold()
        for section in self.sections:
            if section.name.casefold() == folded:
                return section
        known = ", ".join(section.name for section in self.sections) or "none"
        raise KeyError(f"no section is named {name.strip()!r} (sections: {known})")

    def section_at_bar(self, bar: int) -> Section | None:
        """The section that plays at 0-based `bar`, or None in a gap or past the end."""
        for section in self.sections:
            if section.start_bar <= bar < section.end_bar:
                return section
        return None

    def section_of_take(self, take_id: str) -> Section:
        for section in self.sections:
            if any(take.id == take_id for take in section.takes):
                return section
        raise KeyError(f"the project has no take {take_id}")

    def unique_section_name(self, base: str) -> str:
        """`base`, or "base 2", "base 3", ... : the first name no section uses yet."""
        base = base.strip()
        taken = {section.name.casefold() for section in self.sections}
        if base.casefold() not in taken:
            return base
        number = 2
        while True:
            suffix = f" {number}"
            candidate = base[: 64 - len(suffix)].rstrip() + suffix
            if candidate.casefold() not in taken:
                return candidate
            number += 1

    def blob_refs(self) -> frozenset[str]:
        """Every blob any take references: what a save must write and a clean-up must keep."""
        refs: set[str] = set()
        for section in self.sections:
            refs |= section.blob_refs()
        return frozenset(refs)

    # -- building edited copies --------------------------------------------------------------

    def updated(self, **changes: Any) -> Project:
        """A validated copy with `changes` applied (raises pydantic.ValidationError)."""
        return validated_copy(self, **changes)

    def with_sections(self, sections: tuple[Section, ...]) -> Project:
        return validated_copy(self, sections=tuple(sections))

    def replace_section(self, section: Section) -> Project:
        """A copy with the section of the same id replaced by `section`."""
        index = self.section_index(section.id)
        sections = list(self.sections)
        sections[index] = section
        return self.with_sections(tuple(sections))
