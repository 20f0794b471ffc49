"""Note names <-> pitch classes and MIDI numbers.

Pitch classes are ints 0..11 with C = 0. Musicians type sharps and flats in ASCII (``C#``, ``Db``)
or Unicode (``C♯``, ``D♭``), and enharmonic spellings such as ``B#``, ``Cb``, ``E#`` and ``Fb``
are legal, so parsing accepts all of them (up to two accidentals: ``F##``, ``Bbb``, ``𝄪``, ``𝄫``).
Spelling back to text is a choice the caller makes (`prefer_flats`), except for
`CANONICAL_NAMES`, the one fixed table used for chord symbols.
"""

from __future__ import annotations

from melodex_studio.music.errors import MusicParseError

NATURAL_PITCH_CLASSES: dict[str, int] = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}

#: Accidental characters and how many semitones each one moves the note.
ACCIDENTALS: dict[str, int] = {"#": 1, "♯": 1, "𝄪": 2, "b": -1, "♭": -1, "𝄫": -2}

SHARP_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
FLAT_NAMES = ("C", "Db", "D", "Eb", "E", "F", "Gb", "G", "Ab", "A", "Bb", "B")
#: The fixed spelling for chord roots and basses: the name a lead sheet most often uses
#: for each black key (C#, Eb, F#, Ab, Bb).
CANONICAL_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")

MAX_ACCIDENTALS = 2


def split_note_name(text: str) -> tuple[int, str] | None:
    """Read a note name at the start of `text`: (pitch class, the rest), or None if there is none.

    The letter may be upper or lower case. A ``b`` right after the letter is a flat: ``Bb`` is
    B flat and ``Cbm`` is C-flat minor, which is how every lead sheet reads them.
    """
    if not text or text[0].upper() not in NATURAL_PITCH_CLASSES:
        return None
    pitch_class = NATURAL_PITCH_CLASSES[text[0].upper()]
    index = 1
    while index < len(text) and index <= MAX_ACCIDENTALS and text[index] in ACCIDENTALS:
        pitch_class += ACCIDENTALS[text[index]]
        index += 1
    return pitch_class % 12, text[index:]


def parse_pitch_class(text: str) -> int:
    """Parse a note name without octave ("C", "c", "C#", "Db", "D♭", "B#", "Fb") to 0..11."""
    stripped = text.strip()
    parsed = split_note_name(stripped)
    if parsed is None:
        reason = "it is empty" if not stripped else f"unknown note letter {stripped[0]!r}"
        raise MusicParseError.because(text, "a note name", reason)
    pitch_class, rest = parsed
    if rest:
        raise MusicParseError.because(text, "a note name", f"unexpected {rest!r} after the note")
    return pitch_class


def pitch_class_name(pitch_class: int, prefer_flats: bool = False) -> str:
    """The name of a pitch class, spelled with flats or sharps for the black keys."""
    names = FLAT_NAMES if prefer_flats else SHARP_NAMES
    return names[pitch_class % 12]


def canonical_pitch_class_name(pitch_class: int) -> str:
    """The fixed chord-symbol spelling (C C# D Eb E F F# G Ab A Bb B)."""
    return CANONICAL_NAMES[pitch_class % 12]


def midi_to_name(midi: int, prefer_flats: bool = False) -> str:
    """Scientific pitch name of a MIDI note: 60 -> "C4" (middle C), 69 -> "A4", 21 -> "A0"."""
    if not 0 <= midi <= 127:
        raise ValueError(f"MIDI note {midi} is outside 0..127")
    return f"{pitch_class_name(midi % 12, prefer_flats)}{midi // 12 - 1}"


def name_to_midi(text: str) -> int:
    """Parse a scientific pitch name ("C4", "Bb3", "F#-1") to a MIDI note number.

    The octave belongs to the letter, so "B#3" is C4 (60) and "Cb4" is B3 (59).
    """
    stripped = text.strip()
    parsed = split_note_name(stripped)
    if parsed is None:
        reason = "it is empty" if not stripped else f"unknown note letter {stripped[0]!r}"
        raise MusicParseError.because(text, "a note", reason)
    _, octave_text = parsed
    try:
        octave = int(octave_text)
    except ValueError:
        raise MusicParseError.because(
            text, "a note", f"expected an octave number after the note, got {octave_text!r}"
        ) from None
    accidentals = stripped[1 : len(stripped) - len(octave_text)]
    letter_pc = NATURAL_PITCH_CLASSES[stripped[0].upper()]
    midi = (octave + 1) * 12 + letter_pc + sum(ACCIDENTALS[a] for a in accidentals)
    if not 0 <= midi <= 127:
        raise MusicParseError.because(text, "a MIDI note", f"{midi} is outside 0..127")
    return midi
