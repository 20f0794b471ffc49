"""Roman-numeral progressions -> chords in a key, and chord tones as scale degrees.

Styles write harmony the way musicians talk about it ("i bVI bIII bVII", "ii7 V7 Imaj7") so
one progression serves all 12 tonics. A numeral without an accidental names a degree of the
key's own scale; one with ``b``/``#`` is measured from the major scale of the tonic, the usual
convention ("bVI" in A minor is F). The case of the numeral says minor (lower) or major (upper)
third, the suffix the rest of the quality. Every chord root must be a scale degree of the key,
because plans write the bass as scale degrees: `chord_root_degree` refuses other roots.
"""

from __future__ import annotations

from functools import lru_cache

from melodex_studio.music.chord import Chord
from melodex_studio.music.key import Key

_NUMERALS = ("VII", "III", "VI", "IV", "II", "V", "I")  # longest first, for prefix matching
_NUMERAL_DEGREE = {"I": 0, "II": 1, "III": 2, "IV": 3, "V": 4, "VI": 5, "VII": 6}
_MAJOR_OFFSETS = (0, 2, 4, 5, 7, 9, 11)

_UPPER_SUFFIX: dict[str, str] = {
    "": "maj",
    "7": "7",
    "maj7": "maj7",
    "9": "9",
    "maj9": "maj9",
    "6": "6",
    "add9": "add9",
    "sus2": "sus2",
    "sus4": "sus4",
    "7sus4": "7sus4",
    "5": "5",
    "11": "11",
    "13": "13",
    "+": "aug",
}
_LOWER_SUFFIX: dict[str, str] = {
    "": "min",
    "7": "m7",
    "9": "m9",
    "11": "m11",
    "6": "m6",
    "add9": "madd9",
    "maj7": "mmaj7",
    "°": "dim",
    "°7": "dim7",
    "ø7": "m7b5",
    "5": "5",  # a power chord has no third; the case only follows the key
}


def _split_numeral(numeral: str) -> tuple[int, int, bool, str]:
    """(accidental semitones, 0-based degree, is lower case, suffix) of a roman numeral."""
    accidental = 0
    text = numeral
    while text[:1] in ("b", "#"):
        accidental += -1 if text[0] == "b" else 1
        text = text[1:]
    for candidate in _NUMERALS:
        if text.upper().startswith(candidate):
            head, suffix = text[: len(candidate)], text[len(candidate) :]
            if not (head.isupper() or head.islower()):
                break
            return accidental, _NUMERAL_DEGREE[candidate], head.islower(), suffix
    raise ValueError(f"{numeral!r} is not a roman numeral chord")


@lru_cache(maxsize=4096)
def roman_to_chord(numeral: str, key: Key) -> Chord:
    """The chord a roman numeral names in `key`: ("V7", C major) -> G7, ("bVI", A minor) -> F."""
    accidental, degree, lower, suffix = _split_numeral(numeral)
    table = _LOWER_SUFFIX if lower else _UPPER_SUFFIX
    if suffix not in table:
        raise ValueError(f"{numeral!r}: unknown suffix {suffix!r}")
    if accidental:
        root = (key.tonic + _MAJOR_OFFSETS[degree] + accidental) % 12
    else:
        root = key.degree_to_pitch_class(degree)
    return Chord(root, table[suffix])


def chord_root_degree(chord: Chord, key: Key) -> int:
    """0-based scale degree (0..6) of the chord's bass note; every corpus chord has one."""
    degree = key.pitch_class_to_degree(chord.lowest_pitch_class)
    if degree is None:
        raise ValueError(f"{chord} has a root outside {key}, which a plan's bass cannot write")
    return degree


def chord_tone_degrees(chord: Chord, key: Key) -> tuple[int, ...]:
    """Scale degrees (0..6) of the chord tones that belong to the key, root first.

    The melody writer lands on these on strong beats; chromatic chord tones (the G# of E major
    in A minor) are skipped because plans only hold scale degrees.
    """
    degrees = [key.pitch_class_to_degree(pc) for pc in chord.pitch_classes]
    return tuple(d for d in degrees if d is not None)


def progression_chords(numerals: tuple[str, ...], key: Key) -> tuple[Chord, ...]:
    return tuple(roman_to_chord(numeral, key) for numeral in numerals)
