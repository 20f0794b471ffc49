"""The bar-level plan of a section: what the structure transformer writes and the musician edits.

A plan is the semantic layer between the prompt and the audio. Per bar it holds a chord,
an energy and a density; per 16th step a drum hit mask; bass and melody as notes whose pitch
is a *scale degree* of the section's key, so every planned note is in key by construction.
The corpus composer writes the same structure as training labels, the control raster turns it
into per-frame conditioning, and the plan editor shows it. Plans are immutable values.
"""

from __future__ import annotations

from enum import IntFlag

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from melodex_studio.music.chord import Chord
from melodex_studio.music.key import Key

MAX_PLAN_BARS = 512
MAX_NOTES_PER_BAR = 64


class DrumVoice(IntFlag):
    """One bit per drum voice in a step's hit mask; the General MIDI note is in `GM_DRUM_NOTES`."""

    KICK = 1
    SNARE = 2
    CLOSED_HAT = 4
    OPEN_HAT = 8
    CLAP = 16
    LOW_TOM = 32
    HIGH_TOM = 64
    CRASH = 128
    RIDE = 256
    PERCUSSION = 512


ALL_DRUM_VOICES = tuple(DrumVoice)
DRUM_MASK_LIMIT = (1 << len(ALL_DRUM_VOICES)) - 1

#: General MIDI percussion key for each voice (channel 10).
GM_DRUM_NOTES: dict[DrumVoice, int] = {
    DrumVoice.KICK: 36,
    DrumVoice.SNARE: 38,
    DrumVoice.CLOSED_HAT: 42,
    DrumVoice.OPEN_HAT: 46,
    DrumVoice.CLAP: 39,
    DrumVoice.LOW_TOM: 45,
    DrumVoice.HIGH_TOM: 50,
    DrumVoice.CRASH: 49,
    DrumVoice.RIDE: 51,
    DrumVoice.PERCUSSION: 56,
}


class PlanNote(BaseModel):
    """A note that starts at a 16th step of its bar and lasts `length` steps (it may ring past
    the bar line). `degree` is a 0-based scale degree of the key: 0 is the tonic, 7 the tonic an
    octave up, -1 the leading tone below; each part renders it in its own register."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    step: int = Field(ge=0, lt=64)
    length: int = Field(ge=1, le=128)
    degree: int = Field(ge=-21, le=28)


class PlanBar(BaseModel):
    """One bar of the plan. `chord` is a canonical chord symbol ("F#m7", "Cmaj7/E") or None for
    no chord. `drums` has one hit mask per 16th step. A locked bar is never re-planned."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    chord: str | None = None
    energy: float = Field(default=0.5, ge=0.0, le=1.0)
    density: float = Field(default=0.5, ge=0.0, le=1.0)
    drums: tuple[int, ...] = ()
    bass: tuple[PlanNote, ...] = Field(default=(), max_length=MAX_NOTES_PER_BAR)
    melody: tuple[PlanNote, ...] = Field(default=(), max_length=MAX_NOTES_PER_BAR)
    locked: bool = False

    @field_validator("chord")
    @classmethod
    def _canonical_chord(cls, value: str | None) -> str | None:
        if value is None:
            return None
        return str(Chord.parse(value))

    @field_validator("drums")
    @classmethod
    def _valid_masks(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        for mask in value:
            if not 0 <= mask <= DRUM_MASK_LIMIT:
                raise ValueError(f"drum hit mask {mask} is outside 0..{DRUM_MASK_LIMIT}")
        return value

    def chord_value(self) -> Chord | None:
        """The bar's chord parsed, or None for no chord."""
        return None if self.chord is None else Chord.parse(self.chord)

    def chord_in(self, key: Key) -> str | None:
        """The bar's chord spelled as `key` writes its notes (`Chord.spelled`), for display."""
        return None if self.chord is None else Chord.parse(self.chord).spelled(key)


class Plan(BaseModel):
    """A section's plan: one `PlanBar` per bar, `steps_per_bar` 16th steps in each bar
    (the meter decides: 16 for 4/4, 12 for 3/4 and 6/8, 20 for 5/4, 14 for 7/8)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    steps_per_bar: int = Field(ge=4, le=32)
    bars: tuple[PlanBar, ...] = Field(min_length=1, max_length=MAX_PLAN_BARS)

    @model_validator(mode="after")
    def _bars_fit_the_grid(self) -> Plan:
        for index, bar in enumerate(self.bars):
            if len(bar.drums) != self.steps_per_bar:
                raise ValueError(
                    f"bar {index + 1} has {len(bar.drums)} drum steps, "
                    f"expected {self.steps_per_bar}"
                )
            for note in (*bar.bass, *bar.melody):
                if note.step >= self.steps_per_bar:
                    raise ValueError(
                        f"bar {index + 1} has a note at step {note.step}, "
                        f"past the bar's {self.steps_per_bar} steps"
                    )
        return self

    @property
    def n_bars(self) -> int:
        return len(self.bars)

    def with_bar(self, index: int, bar: PlanBar) -> Plan:
        """A copy with bar `index` replaced (plans are immutable values)."""
        if not 0 <= index < len(self.bars):
            raise IndexError(f"bar {index + 1} is outside this {len(self.bars)}-bar plan")
        bars = list(self.bars)
        bars[index] = bar
        return self.model_copy(update={"bars": tuple(bars)})

    def chords(self) -> list[str | None]:
        return [bar.chord for bar in self.bars]

    def locked_bars(self) -> list[int]:
        return [i for i, bar in enumerate(self.bars) if bar.locked]

    @classmethod
    def empty(cls, n_bars: int, steps_per_bar: int) -> Plan:
        """A plan with no chords, no notes and no drums: the starting point before planning."""
        bar = PlanBar(drums=(0,) * steps_per_bar)
        return cls(steps_per_bar=steps_per_bar, bars=(bar,) * n_bars)
