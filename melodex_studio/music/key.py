"""Keys and scales: tonic + mode, scale degrees, key profiles.

Plans write bass and melody as 0-based *scale degrees* of the project's key, so everything here
is about turning degrees into pitch classes and MIDI notes and back. Only major and natural
minor are keys (the 24 keys the models know, see `Key.index`); `Scale` takes any interval set.
"""

from __future__ import annotations

import itertools
import operator
import re
from dataclasses import dataclass
from enum import StrEnum
from functools import cache, cached_property

import numpy as np

from melodex_studio.music.errors import MusicParseError
from melodex_studio.music.pitch import pitch_class_name, split_note_name


class Mode(StrEnum):
    """Major or natural minor; the value is the word in a key's name ("A minor")."""

    MAJOR = "major"
    MINOR = "minor"  # natural minor (aeolian)
    # Lower-case aliases of the same two members, so `Mode.major is Mode.MAJOR`.
    major = "major"
    minor = "minor"


#: Semitones above the tonic for each scale degree.
MODE_INTERVALS: dict[Mode, tuple[int, ...]] = {
    Mode.MAJOR: (0, 2, 4, 5, 7, 9, 11),
    Mode.MINOR: (0, 2, 3, 5, 7, 8, 10),
}

#: Krumhansl & Kessler (1982) probe-tone ratings, index 0 = tonic.
KRUMHANSL_KESSLER: dict[Mode, tuple[float, ...]] = {
    Mode.MAJOR: (6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88),
    Mode.MINOR: (6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17),
}

#: Tonics spelled with flats: the keys whose signature has flats (F# major and G# minor keep
#: sharps; Db major and Eb minor are the usual spellings of their enharmonic pairs).
FLAT_TONICS: dict[Mode, frozenset[int]] = {
    Mode.MAJOR: frozenset({5, 10, 3, 8, 1}),  # F Bb Eb Ab Db
    Mode.MINOR: frozenset({2, 7, 0, 5, 10, 3}),  # D G C F Bb Eb
}

# What musicians type after the tonic. "M" and "m" differ by case; everything else does not.
_MODE_WORDS: dict[str, Mode] = {
    "major": Mode.MAJOR,
    "maj": Mode.MAJOR,
    "ma": Mode.MAJOR,
    "ionian": Mode.MAJOR,
    "dur": Mode.MAJOR,
    "minor": Mode.MINOR,
    "min": Mode.MINOR,
    "mi": Mode.MINOR,
    "aeolian": Mode.MINOR,
    "moll": Mode.MINOR,
}


@dataclass(frozen=True)
class Scale:
    """A tonic pitch class and the semitone offsets of its degrees (first offset 0)."""

    tonic: int
    intervals: tuple[int, ...]

    def __post_init__(self) -> None:
        if not 0 <= self.tonic <= 11:
            raise ValueError(f"tonic pitch class {self.tonic} is outside 0..11")
        steps = self.intervals
        if not steps or steps[0] != 0 or any(b <= a for a, b in itertools.pairwise(steps)):
            raise ValueError(f"scale intervals {steps} must start at 0 and rise")
        if steps[-1] > 11:
            raise ValueError(f"scale intervals {steps} must stay within one octave")

    @property
    def size(self) -> int:
        return len(self.intervals)

    @property
    def pitch_classes(self) -> tuple[int, ...]:
        return tuple((self.tonic + step) % 12 for step in self.intervals)

    def degree_to_semitones(self, degree: int) -> int:
        """Semitones from the tonic up (or down, for negative degrees) to `degree`."""
        octave, index = divmod(degree, self.size)
        return 12 * octave + self.intervals[index]

    def degree_to_pitch_class(self, degree: int) -> int:
        """Pitch class of any degree; degrees wrap by octave (7 == 0, -1 == 6 in a 7-note scale)."""
        return (self.tonic + self.degree_to_semitones(degree)) % 12

    def contains(self, pitch_class: int) -> bool:
        return pitch_class % 12 in self.pitch_classes

    def pitch_class_to_degree(self, pitch_class: int) -> int | None:
        """0-based degree of a pitch class, or None if it is not in the scale."""
        offset = (pitch_class - self.tonic) % 12
        try:
            return self.intervals.index(offset)
        except ValueError:
            return None


@dataclass(frozen=True)
class Key:
    """A major or natural minor key. Plans are written in scale degrees of one Key."""

    tonic: int
    mode: Mode

    def __post_init__(self) -> None:
        tonic = operator.index(self.tonic)  # numpy ints welcome, floats are a bug
        if not 0 <= tonic <= 11:
            raise ValueError(f"tonic pitch class {tonic} is outside 0..11")
        object.__setattr__(self, "tonic", tonic)
        object.__setattr__(self, "mode", Mode(self.mode))

    # --- text ---------------------------------------------------------------------------

    @classmethod
    def parse(cls, text: str) -> Key:
        """Parse what musicians type: "A minor", "Am", "a", "A min", "F#", "Bbm", "E♭ major".

        A bare upper-case tonic is major, a bare lower-case tonic is minor ("a" is A minor),
        and an explicit mode word always wins ("c major" is C major).
        """
        stripped = text.strip()
        if not stripped:
            raise MusicParseError.because(text, "a key", "it is empty")
        parsed = split_note_name(stripped)
        if parsed is None:
            head = re.split(r"\s", stripped, maxsplit=1)[0]
            raise MusicParseError.because(text, "a key", f"unknown tonic {head!r}")
        tonic, rest = parsed
        suffix = rest.strip()
        if not suffix:
            mode = Mode.MINOR if stripped[0].islower() else Mode.MAJOR
        elif suffix == "m" or suffix == "-":
            mode = Mode.MINOR
        elif suffix == "M":
            mode = Mode.MAJOR
        elif suffix.lower().rstrip(".") in _MODE_WORDS:
            mode = _MODE_WORDS[suffix.lower().rstrip(".")]
        else:
            raise MusicParseError.because(
                text, "a key", f"unknown mode {suffix!r} (use major or minor)"
            )
        return cls(tonic, mode)

    @property
    def prefers_flats(self) -> bool:
        """Whether notes of this key are spelled with flats (its signature has flats)."""
        return self.tonic in FLAT_TONICS[self.mode]

    @property
    def tonic_name(self) -> str:
        return pitch_class_name(self.tonic, self.prefers_flats)

    @property
    def name(self) -> str:
        """Canonical name: "A minor", "F# major", "Bb major", "Eb minor"."""
        return f"{self.tonic_name} {self.mode.value}"

    @property
    def short_name(self) -> str:
        """Lead-sheet name: "Am", "F#", "Bb", "Ebm" (parses back to the same key)."""
        return self.tonic_name + ("m" if self.mode is Mode.MINOR else "")

    def spell(self, pitch_class: int) -> str:
        """Name a pitch class the way this key spells it (sharps or flats)."""
        return pitch_class_name(pitch_class, self.prefers_flats)

    def __str__(self) -> str:
        return self.name

    # --- scale degrees ------------------------------------------------------------------

    @cached_property
    def scale(self) -> Scale:
        return Scale(self.tonic, MODE_INTERVALS[self.mode])

    @property
    def pitch_classes(self) -> tuple[int, ...]:
        return self.scale.pitch_classes

    def degree_to_pitch_class(self, degree: int) -> int:
        return self.scale.degree_to_pitch_class(degree)

    def degree_to_midi(self, degree: int, root_midi: int) -> int:
        """MIDI note of a scale degree, where `root_midi` is the note of degree 0 (the tonic in
        the part's register); degree 7 is an octave above it, negative degrees lie below."""
        return root_midi + self.scale.degree_to_semitones(degree)

    def pitch_class_to_degree(self, pitch_class: int) -> int | None:
        return self.scale.pitch_class_to_degree(pitch_class)

    def contains(self, pitch_class: int) -> bool:
        return self.scale.contains(pitch_class)

    # --- key space ----------------------------------------------------------------------

    def profile(self) -> np.ndarray:
        """Krumhansl–Kessler key profile indexed by pitch class (12 float64), for key finding."""
        return np.roll(np.asarray(KRUMHANSL_KESSLER[self.mode], dtype=np.float64), self.tonic)

    @property
    def index(self) -> int:
        """Stable index 0..23: major keys 0-11 by tonic, then minor keys 12-23 by tonic."""
        return self.tonic + (12 if self.mode is Mode.MINOR else 0)

    @classmethod
    def from_index(cls, index: int) -> Key:
        if not 0 <= index < 24:
            raise ValueError(f"key index {index} is outside 0..23")
        return cls(index % 12, Mode.MINOR if index >= 12 else Mode.MAJOR)

    @classmethod
    def all(cls) -> tuple[Key, ...]:
        """The 24 major and minor keys in `index` order."""
        return tuple(cls.from_index(i) for i in range(24))

    @property
    def relative(self) -> Key:
        """The relative major/minor: same notes, other tonic (A minor <-> C major)."""
        if self.mode is Mode.MAJOR:
            return Key((self.tonic + 9) % 12, Mode.MINOR)
        return Key((self.tonic + 3) % 12, Mode.MAJOR)

    @property
    def parallel(self) -> Key:
        """Same tonic, other mode (C major <-> C minor)."""
        return Key(self.tonic, Mode.MINOR if self.mode is Mode.MAJOR else Mode.MAJOR)

    def transpose(self, semitones: int) -> Key:
        return Key((self.tonic + semitones) % 12, self.mode)

    def semitones_to(self, other: Key) -> int:
        """The smallest shift, -5 to +6 semitones, that puts this key's notes on `other`'s: onto
        its tonic in the same mode, onto its relative key in the other (a riff in C major
        sits in A minor as it is)."""
        target = other if other.mode is self.mode else other.relative
        return (target.tonic - self.tonic + 5) % 12 - 5

    @classmethod
    def correlations(cls, weights: np.ndarray) -> np.ndarray:
        """[24] Pearson correlation of 12 pitch-class weights (a chroma, or a score's note
        durations) with each key's profile, in `index` order (Krumhansl-Schmuckler); all zeros
        for weights with no variation, which say nothing about a key."""
        values = np.asarray(weights, dtype=np.float64).reshape(12)
        v = values - values.mean()
        profiles = _centred_profiles()
        denom = np.linalg.norm(profiles, axis=1) * np.linalg.norm(v)
        if not np.isfinite(denom).all() or denom.min() == 0.0:
            return np.zeros(len(profiles))
        return (profiles @ v) / denom

    @classmethod
    def estimate(cls, chroma: np.ndarray) -> Key:
        """The key whose profile correlates best with a 12-bin chroma (Krumhansl–Schmuckler).

        Used by evaluation to check that rendered audio is in the requested key.
        """
        values = np.asarray(chroma, dtype=np.float64).reshape(12)
        if not np.all(np.isfinite(values)) or np.ptp(values) == 0.0:
            raise ValueError("a chroma with no variation has no key")
        return cls.from_index(int(np.argmax(cls.correlations(values))))


@cache
def _centred_profiles() -> np.ndarray:
    """[24, 12] the keys' profiles in `Key.index` order, each minus its mean (read-only)."""
    profiles = np.stack([key.profile() for key in Key.all()])
    centred = profiles - profiles.mean(axis=1, keepdims=True)
    centred.setflags(write=False)
    return centred
