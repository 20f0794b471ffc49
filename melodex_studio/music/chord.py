"""Chord symbols: parse what musicians type, print one canonical spelling, tokens for models.

A chord is a root pitch class, a quality from `QUALITIES` and an optional slash bass. The
canonical symbol spells the root and bass with the fixed table `CANONICAL_NAMES`
(C C# D Eb E F F# G Ab A Bb B) and the quality with its `QUALITIES` name ("m" for minor,
"" for major), so "F#min7", "Gbm7" and "F#-7" all print as "F#m7" and
``Chord.parse(str(chord)) == chord`` for every chord.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np

from melodex_studio.music.errors import MusicParseError
from melodex_studio.music.pitch import canonical_pitch_class_name, split_note_name

if TYPE_CHECKING:
    from melodex_studio.music.key import Key

#: Semitones above the root for each quality, in stacking order (root, third, fifth, ...).
#: The order of this table is the token order: append new qualities at the end only.
QUALITY_INTERVALS: dict[str, tuple[int, ...]] = {
    "maj": (0, 4, 7),
    "min": (0, 3, 7),
    "dim": (0, 3, 6),
    "aug": (0, 4, 8),
    "sus2": (0, 2, 7),
    "sus4": (0, 5, 7),
    "5": (0, 7),
    "6": (0, 4, 7, 9),
    "m6": (0, 3, 7, 9),
    "7": (0, 4, 7, 10),
    "maj7": (0, 4, 7, 11),
    "m7": (0, 3, 7, 10),
    "m7b5": (0, 3, 6, 10),
    "dim7": (0, 3, 6, 9),
    "mmaj7": (0, 3, 7, 11),
    "9": (0, 4, 7, 10, 14),
    "maj9": (0, 4, 7, 11, 14),
    "m9": (0, 3, 7, 10, 14),
    "add9": (0, 4, 7, 14),
    "7sus4": (0, 5, 7, 10),
    "madd9": (0, 3, 7, 14),
    "11": (0, 4, 7, 10, 14, 17),
    "m11": (0, 3, 7, 10, 14, 17),
    "13": (0, 4, 7, 10, 14, 21),
    "7b9": (0, 4, 7, 10, 13),
    "7#9": (0, 4, 7, 10, 15),
    "aug7": (0, 4, 8, 10),
}
QUALITIES: tuple[str, ...] = tuple(QUALITY_INTERVALS)
CHORD_VOCAB_SIZE = 12 * len(QUALITIES)
_QUALITY_INDEX = {quality: index for index, quality in enumerate(QUALITIES)}

#: How each quality is written after the root in a canonical symbol.
QUALITY_SUFFIX: dict[str, str] = {q: q for q in QUALITIES} | {"maj": "", "min": "m"}

# Every spelling we accept after the root (after spaces and parentheses are removed).
_ALIASES: dict[str, tuple[str, ...]] = {
    "maj": ("", "M", "maj", "major", "ma"),
    "min": ("m", "min", "minor", "mi", "-"),
    "dim": ("dim", "°", "o", "mb5", "m-5", "diminished"),
    "aug": ("aug", "+", "+5", "#5", "augmented"),
    "sus2": ("sus2",),
    "sus4": ("sus4", "sus"),
    "5": ("5", "no3"),
    "6": ("6", "maj6", "M6", "add6"),
    "m6": ("m6", "min6", "-6", "mi6"),
    "7": ("7", "dom7", "dom"),
    "maj7": ("maj7", "M7", "Δ", "Δ7", "ma7", "major7"),
    "m7": ("m7", "min7", "-7", "mi7", "minor7"),
    "m7b5": ("m7b5", "min7b5", "-7b5", "m7-5", "mi7b5", "ø", "ø7"),
    "dim7": ("dim7", "°7", "o7"),
    "mmaj7": ("mmaj7", "mM7", "minmaj7", "-maj7", "mΔ7", "mΔ", "-Δ7", "-Δ", "mima7"),
    "9": ("9", "dom9"),
    "maj9": ("maj9", "M9", "Δ9", "ma9"),
    "m9": ("m9", "min9", "-9", "mi9"),
    "add9": ("add9", "add2"),
    "7sus4": ("7sus4", "7sus", "sus7"),
    "madd9": ("madd9", "minadd9", "-add9", "madd2", "miadd9"),
    "11": ("11",),
    "m11": ("m11", "min11", "-11", "mi11"),
    "13": ("13",),
    "7b9": ("7b9", "7-9"),
    "7#9": ("7#9", "7+9"),
    "aug7": ("aug7", "+7", "7#5", "7+5", "7+", "7aug"),
}
_EXACT_SUFFIXES: dict[str, str] = {a: q for q, aliases in _ALIASES.items() for a in aliases}


def _case_insensitive_suffixes() -> dict[str, str]:
    """Lower-cased aliases, minus those whose case matters ("M7" is maj7, "m7" is m7)."""
    table: dict[str, str] = {}
    clashing: set[str] = set()
    for alias, quality in _EXACT_SUFFIXES.items():
        lowered = alias.lower()
        if table.get(lowered, quality) != quality:
            clashing.add(lowered)
        table[lowered] = quality
    return {alias: quality for alias, quality in table.items() if alias not in clashing}


_FOLDED_SUFFIXES = _case_insensitive_suffixes()
_NORMALISE = str.maketrans({"♯": "#", "♭": "b", "−": "-", "–": "-"})
_NO_PARENTHESES = str.maketrans({"(": None, ")": None})
# Interval shape (mod 12) -> quality, the first quality in the table winning on a tie.
_INTERVALS_TO_QUALITY = {
    tuple(step % 12 for step in steps): quality
    for quality, steps in reversed(QUALITY_INTERVALS.items())
}

# Roman numerals: upper case for chords with a major (or no) third, lower case for a minor one.
_NUMERALS = ("I", "II", "III", "IV", "V", "VI", "VII")
_ROMAN_SUFFIX: dict[str, str] = {q: q for q in QUALITIES} | {
    "maj": "",
    "min": "",
    "dim": "°",
    "aug": "+",
    "m6": "6",
    "m7": "7",
    "m7b5": "ø7",
    "dim7": "°7",
    "mmaj7": "maj7",
    "m9": "9",
    "madd9": "add9",
    "m11": "11",
    "aug7": "+7",
}


@dataclass(frozen=True)
class Chord:
    """Root pitch class (0..11, C = 0), quality (one of `QUALITIES`), optional bass pitch class.

    A bass equal to the root is no slash bass, so it is stored as None.
    """

    root: int
    quality: str = "maj"
    bass: int | None = None

    def __post_init__(self) -> None:
        root = operator.index(self.root)
        if not 0 <= root <= 11:
            raise ValueError(f"chord root {root} is outside 0..11")
        if self.quality not in _QUALITY_INDEX:
            raise ValueError(f"unknown chord quality {self.quality!r}; one of {QUALITIES}")
        bass = None if self.bass is None else operator.index(self.bass)
        if bass is not None and not 0 <= bass <= 11:
            raise ValueError(f"chord bass {bass} is outside 0..11")
        object.__setattr__(self, "root", root)
        object.__setattr__(self, "bass", None if bass == root else bass)

    # --- text ---------------------------------------------------------------------------

    @classmethod
    def parse(cls, text: str) -> Chord:
        """Parse a chord symbol: "Am", "F#m7", "Bb", "CΔ7", "Bø", "C+", "Dsus", "Cmaj7/E".

        Raises MusicParseError with a one-line message that quotes `text`.
        """
        if not isinstance(text, str):
            raise MusicParseError(f"{text!r} is not a chord: expected text")
        return _parse_chord(text)

    @property
    def symbol(self) -> str:
        """Canonical chord symbol, e.g. "F#m7", "Cmaj7/E", "Bb", "Bm7b5"."""
        text = canonical_pitch_class_name(self.root) + QUALITY_SUFFIX[self.quality]
        if self.bass is not None:
            text += "/" + canonical_pitch_class_name(self.bass)
        return text

    def __str__(self) -> str:
        return self.symbol

    def spelled(self, key: Key) -> str:
        """The symbol with its notes named as `key` writes them: "Db" in Ab major where the
        stored, canonical symbol says "C#"; "C#" in A major. Display only: both parse alike."""
        text = key.spell(self.root) + QUALITY_SUFFIX[self.quality]
        if self.bass is not None:
            text += "/" + key.spell(self.bass)
        return text

    # --- notes --------------------------------------------------------------------------

    @property
    def intervals(self) -> tuple[int, ...]:
        return QUALITY_INTERVALS[self.quality]

    @property
    def pitch_classes(self) -> tuple[int, ...]:
        """Chord tones, root first in stacking order; a slash bass not in the chord comes last."""
        tones = tuple((self.root + step) % 12 for step in self.intervals)
        if self.bass is not None and self.bass not in tones:
            tones += (self.bass,)
        return tones

    @property
    def lowest_pitch_class(self) -> int:
        """The note a bass player plays: the slash bass, else the root."""
        return self.root if self.bass is None else self.bass

    @property
    def has_minor_third(self) -> bool:
        return 3 in self.intervals and 4 not in self.intervals

    def chroma(self) -> np.ndarray:
        """Binary chord template over the 12 pitch classes (float32), as in chord recognition."""
        template = np.zeros(12, dtype=np.float32)
        template[list(self.pitch_classes)] = 1.0
        return template

    def transpose(self, semitones: int) -> Chord:
        bass = None if self.bass is None else (self.bass + semitones) % 12
        return Chord((self.root + semitones) % 12, self.quality, bass)

    def with_bass(self, bass: int | None) -> Chord:
        return Chord(self.root, self.quality, bass)

    # --- harmony in a key ---------------------------------------------------------------

    @classmethod
    def from_degree(cls, key: Key, degree: int, seventh: bool = False) -> Chord:
        """The diatonic triad (or seventh chord) built in thirds on a 0-based scale degree:
        degree 4 in C major is G (or G7), degree 5 in A minor is F (or Fmaj7)."""
        root = key.degree_to_pitch_class(degree)
        tones = [key.degree_to_pitch_class(degree + 2 * k) for k in range(4 if seventh else 3)]
        shape = tuple((tone - root) % 12 for tone in tones)
        quality = _INTERVALS_TO_QUALITY.get(shape)
        if quality is None:
            raise ValueError(f"no chord quality has the intervals {shape}")
        return cls(root, quality)

    def roman(self, key: Key) -> str:
        """Roman numeral in `key`: "vi", "V7", "bVII", "ii°", "#VII" (slash bass not shown).

        Chromatic roots are named from the key's own scale: in major as the flat of the degree
        above (bIII, bVI, bVII) except #IV; in minor the raised 3rd, 6th and 7th are sharps.
        """
        offset = (self.root - key.tonic) % 12
        degree = key.scale.pitch_class_to_degree(self.root)
        accidental = ""
        if degree is None:
            raise_below = offset == 6 or (key.mode == "minor" and offset in (4, 9, 11))
            if raise_below:
                accidental, degree = "#", key.scale.pitch_class_to_degree(key.tonic + offset - 1)
            else:
                accidental, degree = "b", key.scale.pitch_class_to_degree(key.tonic + offset + 1)
        assert degree is not None  # every chromatic offset neighbours a degree of a 7-note scale
        numeral = _NUMERALS[degree]
        if self.has_minor_third:
            numeral = numeral.lower()
        return accidental + numeral + _ROMAN_SUFFIX[self.quality]

    # --- tokens -------------------------------------------------------------------------

    @property
    def token(self) -> int:
        """Dense id over quality x root (bass dropped): quality_index * 12 + root."""
        return _QUALITY_INDEX[self.quality] * 12 + self.root

    @classmethod
    def from_token(cls, token: int) -> Chord:
        if not 0 <= token < CHORD_VOCAB_SIZE:
            raise ValueError(f"chord token {token} is outside 0..{CHORD_VOCAB_SIZE - 1}")
        quality_index, root = divmod(int(token), 12)
        return cls(root, QUALITIES[quality_index])


@lru_cache(maxsize=4096)
def _parse_chord(text: str) -> Chord:
    # Cached: plans re-validate the same few symbols over and over, and Chords are immutable.
    compact = "".join(text.split()).translate(_NORMALISE)
    if not compact:
        raise MusicParseError.because(text, "a chord", "it is empty")
    head, slash, bass_text = compact.partition("/")
    parsed = split_note_name(head)
    if parsed is None:
        root_text = head[:1] or "/"
        raise MusicParseError.because(text, "a chord", f"unknown root note {root_text!r}")
    root, suffix = parsed
    # Parentheses only group ("Cm(maj7)", "C7(b9)"); dropping them before the root is split
    # would turn "C(#5)" into C-sharp.
    suffix = suffix.translate(_NO_PARENTHESES)
    quality = _EXACT_SUFFIXES.get(suffix) or _FOLDED_SUFFIXES.get(suffix.lower())
    if quality is None:
        raise MusicParseError.because(text, "a chord", f"unknown chord quality {suffix!r}")
    bass = None
    if slash:
        bass_parsed = split_note_name(bass_text)
        if not bass_text:
            raise MusicParseError.because(text, "a chord", "no bass note after '/'")
        if bass_parsed is None or bass_parsed[1]:
            raise MusicParseError.because(text, "a chord", f"unknown bass note {bass_text!r}")
        bass = bass_parsed[0]
    return Chord(root, quality, bass)
