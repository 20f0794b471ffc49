"""A section: a named region of the song's bar ruler with its prompt, settings, plan and takes."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, Field, field_validator, model_validator

from melodex_studio.music.plan import Plan
from melodex_studio.project.fields import (
    FROZEN,
    MAX_INSTRUMENTS,
    MAX_PROJECT_BARS,
    MAX_SECTION_BARS,
    MAX_TAKES_PER_SECTION,
    Bpm,
    EntityId,
    GainDb,
    Instrument,
    KeyName,
    MeterName,
    Name,
    Prompt,
    Style,
    absent_if_none,
    bar_span,
)
from melodex_studio.project.generation import GenerationSettings
from melodex_studio.project.take import Take


class SectionKind(StrEnum):
    """The song-form role of a section: a conditioning input of the structure transformer."""

    INTRO = "intro"
    VERSE = "verse"
    PRE_CHORUS = "pre_chorus"
    CHORUS = "chorus"
    BRIDGE = "bridge"
    BREAKDOWN = "breakdown"
    DROP = "drop"
    OUTRO = "outro"
    CUSTOM = "custom"


class Section(BaseModel):
    """Bars `start_bar .. start_bar + length_bars` (0-based) of the song. Takes are kept in the
    order they were added; `active_take_id` is the one that plays (None: the section is silent)."""

    model_config = FROZEN

    id: EntityId
    name: Name
    kind: SectionKind = SectionKind.CUSTOM
    start_bar: int = Field(ge=0, lt=MAX_PROJECT_BARS)
    length_bars: int = Field(ge=1, le=MAX_SECTION_BARS)
    prompt: Prompt = ""
    energy: float = Field(default=0.5, ge=0.0, le=1.0)
    instrumentation: tuple[Instrument, ...] = Field(default=(), max_length=MAX_INSTRUMENTS)
    style: Style | None = None
    settings: GenerationSettings = GenerationSettings()
    plan: Plan | None = None
    takes: tuple[Take, ...] = Field(default=(), max_length=MAX_TAKES_PER_SECTION)
    active_take_id: EntityId | None = None
    gain_db: GainDb = 0.0
    muted: bool = False
    # A key of its own (a key change); None follows the song's key (format 1.1).
    key: KeyName | None = Field(default=None, exclude_if=absent_if_none)
    # A tempo of its own (a tempo change from its first bar to its last); None follows the
    # song's tempo (format 1.2).
    bpm: Bpm | None = Field(default=None, exclude_if=absent_if_none)
    # A meter of its own (format 1.2); None follows the song's meter. Its plan has this
    # meter's 16th steps per bar.
    meter: MeterName | None = Field(default=None, exclude_if=absent_if_none)

    @field_validator("takes")
    @classmethod
    def _unique_take_ids(cls, value: tuple[Take, ...]) -> tuple[Take, ...]:
        seen: set[str] = set()
        for take in value:
            if take.id in seen:
                raise ValueError(f"take id {take.id} appears twice")
            seen.add(take.id)
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Section:
        where = f"section {self.name!r}"
        if self.end_bar > MAX_PROJECT_BARS:
            raise ValueError(
                f"{where} ends at bar {self.end_bar}, past the {MAX_PROJECT_BARS}-bar limit"
            )
        if self.plan is not None and self.plan.n_bars != self.length_bars:
            raise ValueError(
                f"{where} is {self.length_bars} bars long but its plan has {self.plan.n_bars} bars"
            )
        for take in self.takes:
            if take.section_id != self.id:
                raise ValueError(
                    f"take {take.id} of {where} names section {take.section_id}, not {self.id}"
                )
        if self.active_take_id is not None and self.active_take_id not in self.take_ids():
            raise ValueError(f"{where} has no take {self.active_take_id} to make active")
        return self

    def key_in(self, song_key: str) -> str:
        """The key the section is planned and rendered in: its own, else the song's."""
        return self.key or song_key

    def meter_in(self, song_meter: str) -> str:
        """The meter the section is planned, rendered and played in: its own, else the song's."""
        return self.meter or song_meter

    def bpm_in(self, song_bpm: float) -> float:
        """The tempo the section is planned, rendered and played at: its own, else the song's."""
        return song_bpm if self.bpm is None else self.bpm

    @property
    def end_bar(self) -> int:
        """The first bar after the section."""
        return self.start_bar + self.length_bars

    @property
    def span_text(self) -> str:
        """The section as a musician names it: "'Chorus' (bars 25-32)"."""
        return f"{self.name!r} ({bar_span(self.start_bar, self.end_bar)})"

    @property
    def active_take(self) -> Take | None:
        return None if self.active_take_id is None else self.take(self.active_take_id)

    def take_ids(self) -> list[str]:
        return [take.id for take in self.takes]

    def take(self, take_id: str) -> Take:
        for take in self.takes:
            if take.id == take_id:
                return take
        raise KeyError(f"section {self.name!r} has no take {take_id}")

    def take_index(self, take_id: str) -> int:
        for index, take in enumerate(self.takes):
            if take.id == take_id:
                return index
        raise KeyError(f"section {self.name!r} has no take {take_id}")

    def overlaps(self, other: Section) -> bool:
        return self.start_bar < other.end_bar and other.start_bar < self.end_bar

    def blob_refs(self) -> frozenset[str]:
        refs: set[str] = set()
        for take in self.takes:
            refs |= take.blob_refs()
        return frozenset(refs)
