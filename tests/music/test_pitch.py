from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from melodex_studio.music.errors import MusicParseError
from melodex_studio.music.pitch import (
    canonical_pitch_class_name,
    midi_to_name,
    name_to_midi,
    parse_pitch_class,
    pitch_class_name,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("C", 0),
        ("c", 0),
        ("C#", 1),
        ("C♯", 1),
        ("Db", 1),
        ("D♭", 1),
        ("B#", 0),
        ("Cb", 11),
        ("E#", 5),
        ("Fb", 4),
        ("F##", 7),
        ("Bbb", 9),
        ("G𝄪", 9),
        (" a ", 9),
        ("bb", 10),
    ],
)
def test_parse_pitch_class_accepts_musician_spellings(text: str, expected: int) -> None:
    assert parse_pitch_class(text) == expected


@pytest.mark.parametrize(
    ("text", "fragment"), [("H", "'H'"), ("", "empty"), ("C#x", "'x'"), ("C###", "'#'")]
)
def test_parse_pitch_class_rejects_nonsense_quoting_the_input(text: str, fragment: str) -> None:
    with pytest.raises(MusicParseError) as error:
        parse_pitch_class(text)
    assert repr(text) in str(error.value)
    assert fragment in str(error.value)


@given(st.integers(0, 11), st.booleans())
def test_pitch_class_names_round_trip(pitch_class: int, prefer_flats: bool) -> None:
    name = pitch_class_name(pitch_class, prefer_flats)
    assert parse_pitch_class(name) == pitch_class
    assert parse_pitch_class(canonical_pitch_class_name(pitch_class)) == pitch_class
    accidental = name[1:]
    assert accidental in ("", "b" if prefer_flats else "#")


def test_canonical_names_use_the_lead_sheet_table() -> None:
    names = [canonical_pitch_class_name(pc) for pc in range(12)]
    assert names == ["C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B"]


@pytest.mark.parametrize(
    ("midi", "name"), [(60, "C4"), (69, "A4"), (21, "A0"), (0, "C-1"), (127, "G9"), (61, "C#4")]
)
def test_midi_to_name_uses_scientific_pitch(midi: int, name: str) -> None:
    assert midi_to_name(midi) == name


@given(st.integers(0, 127), st.booleans())
def test_midi_names_round_trip(midi: int, prefer_flats: bool) -> None:
    assert name_to_midi(midi_to_name(midi, prefer_flats)) == midi


def test_octave_belongs_to_the_letter() -> None:
    assert name_to_midi("B#3") == 60
    assert name_to_midi("Cb4") == 59
    assert name_to_midi("Db4") == 61


@pytest.mark.parametrize("text", ["C", "H4", "C4x", "G#9"])
def test_name_to_midi_rejects_bad_names(text: str) -> None:
    with pytest.raises(MusicParseError, match=repr(text).replace("#", r"\#")):
        name_to_midi(text)


def test_midi_to_name_rejects_notes_outside_midi() -> None:
    with pytest.raises(ValueError, match="128"):
        midi_to_name(128)
