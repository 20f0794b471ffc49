"""Time signatures: how long a bar is and where its beats fall on the 16th-note grid.

Plans, the control raster and the drum grid all count in 16th steps, so a meter's job is to
say how many 16ths a bar holds and which of them start a counted beat. Beats are the pulses a
musician counts: quarter notes in 4/4, dotted quarters in 6/8 and 12/8, and groups of 2 and 3
eighths in odd meters (7/8 = 2+2+3).
"""

from __future__ import annotations

import itertools
import operator
import re
from dataclasses import dataclass

from melodex_studio.music.errors import MusicParseError

COMMON_METERS = ("4/4", "3/4", "6/8", "5/4", "7/8")
DENOMINATORS = (2, 4, 8, 16)
#: A bar must fit the plan grid (`Plan.steps_per_bar` is 4..32 sixteenths).
MIN_SIXTEENTHS_PER_BAR = 4
MAX_SIXTEENTHS_PER_BAR = 32

_METER_TEXT = re.compile(r"^\s*(\d{1,3})\s*/\s*(\d{1,3})\s*$")
_NAMED_METERS = {"c": (4, 4), "common": (4, 4), "¢": (2, 2), "cut": (2, 2)}


@dataclass(frozen=True)
class Meter:
    """A time signature such as 4/4 or 7/8. The denominator is the note value of one count."""

    numerator: int
    denominator: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "numerator", operator.index(self.numerator))
        object.__setattr__(self, "denominator", operator.index(self.denominator))
        if self.denominator not in DENOMINATORS:
            raise ValueError(
                f"{self.numerator}/{self.denominator}: the lower number must be one of "
                f"{', '.join(map(str, DENOMINATORS))}"
            )
        if self.numerator < 1:
            raise ValueError(f"{self.numerator}/{self.denominator}: a bar needs at least one beat")
        if not MIN_SIXTEENTHS_PER_BAR <= self.sixteenths_per_bar <= MAX_SIXTEENTHS_PER_BAR:
            raise ValueError(
                f"{self.numerator}/{self.denominator}: a bar must hold "
                f"{MIN_SIXTEENTHS_PER_BAR} to {MAX_SIXTEENTHS_PER_BAR} sixteenth notes, "
                f"this one holds {self.sixteenths_per_bar}"
            )

    @classmethod
    def parse(cls, text: str) -> Meter:
        """Parse "4/4", "6/8", " 7 / 8 ", or "C" (common time) and "¢" (cut time)."""
        if not isinstance(text, str):
            raise MusicParseError(f"{text!r} is not a time signature: expected text")
        named = _NAMED_METERS.get(text.strip().lower())
        match = _METER_TEXT.match(text)
        if named is None and match is None:
            reason = "it is empty" if not text.strip() else "expected two numbers like 4/4 or 6/8"
            raise MusicParseError.because(text, "a time signature", reason)
        numerator, denominator = named or (int(match.group(1)), int(match.group(2)))
        try:
            return cls(numerator, denominator)
        except ValueError as error:
            reason = str(error).split(": ", 1)[-1]
            raise MusicParseError.because(text, "a time signature we can use", reason) from None

    def __str__(self) -> str:
        return f"{self.numerator}/{self.denominator}"

    @property
    def sixteenths_per_bar(self) -> int:
        """Length of the bar on the 16th grid: 16 in 4/4, 12 in 6/8, 14 in 7/8."""
        return self.numerator * 16 // self.denominator

    @property
    def quarter_notes_per_bar(self) -> float:
        """Length of the bar in quarter notes (what BPM counts): 4.0 in 4/4, 3.5 in 7/8."""
        return self.numerator * 4 / self.denominator

    @property
    def is_compound(self) -> bool:
        """6/8, 9/8, 12/8 (and /16 likewise): counted in dotted beats of three."""
        return self.denominator >= 8 and self.numerator % 3 == 0 and self.numerator > 3

    @property
    def beat_grouping(self) -> tuple[int, ...]:
        """Length of each counted beat in units of the denominator note.

        4/4 -> (1, 1, 1, 1); 6/8 -> (3, 3) eighths; 7/8 -> (2, 2, 3) eighths;
        5/8 -> (2, 3). Odd eighth/sixteenth meters are twos then a closing three.
        """
        n = self.numerator
        if self.denominator <= 4 or n <= 3:
            return (1,) * n
        if self.is_compound:
            return (3,) * (n // 3)
        if n % 2 == 0:
            return (2,) * (n // 2)
        return (2,) * ((n - 3) // 2) + (3,)

    @property
    def beats_per_bar(self) -> int:
        """Counted pulses per bar: 4 in 4/4, 2 in 6/8, 4 in 12/8, 3 in 7/8."""
        return len(self.beat_grouping)

    @property
    def sixteenths_per_count(self) -> int:
        """16th notes in one denominator note (4 for /4, 2 for /8)."""
        return 16 // self.denominator

    def beat_lengths_16ths(self) -> tuple[int, ...]:
        """Length of each counted beat in 16ths: 4/4 -> (4, 4, 4, 4); 7/8 -> (4, 4, 6)."""
        return tuple(group * self.sixteenths_per_count for group in self.beat_grouping)

    def beat_starts_16ths(self) -> tuple[int, ...]:
        """16th step where each counted beat starts: 4/4 -> (0, 4, 8, 12); 6/8 -> (0, 6)."""
        return tuple(itertools.accumulate(self.beat_lengths_16ths(), initial=0))[:-1]

    def beat_of_step(self, step: int) -> int:
        """0-based counted beat that 16th step `step` (0..sixteenths_per_bar-1) falls in."""
        if not 0 <= step < self.sixteenths_per_bar:
            raise ValueError(f"step {step} is outside this {self} bar's {self.sixteenths_per_bar}")
        starts = self.beat_starts_16ths()
        return max(i for i, start in enumerate(starts) if start <= step)
