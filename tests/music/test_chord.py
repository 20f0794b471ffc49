from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from melodex_studio.music.chord import CHORD_VOCAB_SIZE, QUALITIES, QUALITY_INTERVALS, Chord
from melodex_studio.music.errors import MusicParseError
from melodex_studio.music.key import Key

REQUIRED_QUALITIES = (
    "maj", "min", "dim", "aug", "sus2", "sus4", "5", "6", "m6", "7", "maj7", "m7", "m7b5",
    "dim7", "mmaj7", "9", "maj9", "m9", "add9", "7sus4",
)  # fmt: skip

chords = st.builds(
    Chord,
    root=st.integers(0, 11),
    quality=st.sampled_from(QUALITIES),
    bass=st.none() | st.integers(0, 11),
)


@pytest.mark.parametrize(
    ("text", "canonical", "pitch_classes"),
    [
        ("C", "C", {0, 4, 7}),
        ("Am", "Am", {9, 0, 4}),
        ("A-", "Am", {9, 0, 4}),
        ("Amin", "Am", {9, 0, 4}),
        ("F#m7", "F#m7", {6, 9, 1, 4}),
        ("F#min7", "F#m7", {6, 9, 1, 4}),
        ("Gbm7", "F#m7", {6, 9, 1, 4}),
        ("Bb", "Bb", {10, 2, 5}),
        ("A#", "Bb", {10, 2, 5}),
        ("Cmaj7", "Cmaj7", {0, 4, 7, 11}),
        ("CM7", "Cmaj7", {0, 4, 7, 11}),
        ("CΔ7", "Cmaj7", {0, 4, 7, 11}),
        ("CΔ", "Cmaj7", {0, 4, 7, 11}),
        ("CMaj7", "Cmaj7", {0, 4, 7, 11}),
        ("Cmaj7/E", "Cmaj7/E", {0, 4, 7, 11}),
        ("Dsus4", "Dsus4", {2, 7, 9}),
        ("Dsus", "Dsus4", {2, 7, 9}),
        ("Dsus2", "Dsus2", {2, 4, 9}),
        ("G7", "G7", {7, 11, 2, 5}),
        ("Bdim", "Bdim", {11, 2, 5}),
        ("B°", "Bdim", {11, 2, 5}),
        ("Bm7b5", "Bm7b5", {11, 2, 5, 9}),
        ("Bø", "Bm7b5", {11, 2, 5, 9}),
        ("Bø7", "Bm7b5", {11, 2, 5, 9}),
        ("B°7", "Bdim7", {11, 2, 5, 8}),
        ("C+", "Caug", {0, 4, 8}),
        ("Caug", "Caug", {0, 4, 8}),
        ("C(#5)", "Caug", {0, 4, 8}),
        ("E5", "E5", {4, 11}),
        ("C#5", "C#5", {1, 8}),
        ("Gadd9", "Gadd9", {7, 11, 2, 9}),
        ("C/G", "C/G", {0, 4, 7}),
        ("C/Bb", "C/Bb", {0, 4, 7, 10}),
        ("Am/G", "Am/G", {9, 0, 4, 7}),
        ("C6", "C6", {0, 4, 7, 9}),
        ("Cm6", "Cm6", {0, 3, 7, 9}),
        ("Cm(maj7)", "Cmmaj7", {0, 3, 7, 11}),
        ("CmM7", "Cmmaj7", {0, 3, 7, 11}),
        ("C9", "C9", {0, 4, 7, 10, 2}),
        ("Cmaj9", "Cmaj9", {0, 4, 7, 11, 2}),
        ("Cm9", "Cm9", {0, 3, 7, 10, 2}),
        ("G7sus4", "G7sus4", {7, 0, 2, 5}),
        ("G7sus", "G7sus4", {7, 0, 2, 5}),
        ("E7#9", "E7#9", {4, 8, 11, 2, 7}),
        ("C7(b9)", "C7b9", {0, 4, 7, 10, 1}),
        ("E♭m", "Ebm", {3, 6, 10}),
        ("Cbmaj7", "Bmaj7", {11, 3, 6, 10}),
        (" C / G ", "C/G", {0, 4, 7}),
        ("C/C", "C", {0, 4, 7}),
        ("am", "Am", {9, 0, 4}),
        ("CMIN7", "Cm7", {0, 3, 7, 10}),
    ],
)
def test_parse_accepts_what_musicians_type(
    text: str, canonical: str, pitch_classes: set[int]
) -> None:
    chord = Chord.parse(text)
    assert str(chord) == canonical
    assert set(chord.pitch_classes) == pitch_classes


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("H", "unknown root note 'H'"),
        ("H#m", "unknown root note 'H'"),
        ("Cxyz", "unknown chord quality 'xyz'"),
        ("C/H", "unknown bass note 'H'"),
        ("C/", "no bass note"),
        ("", "empty"),
        ("   ", "empty"),
        ("7", "unknown root note '7'"),
        ("Cm7/G#x", "unknown bass note 'G#x'"),
    ],
)
def test_parse_rejects_nonsense_with_a_clear_message(text: str, fragment: str) -> None:
    with pytest.raises(MusicParseError) as error:
        Chord.parse(text)
    message = str(error.value)
    assert repr(text) in message
    assert fragment in message
    assert "\n" not in message


def test_error_message_matches_house_style() -> None:
    with pytest.raises(MusicParseError, match=r"^'H#m' is not a chord: unknown root note 'H'$"):
        Chord.parse("H#m")


def test_quality_table_covers_the_required_qualities() -> None:
    assert set(REQUIRED_QUALITIES) <= set(QUALITIES)
    assert QUALITIES[: len(REQUIRED_QUALITIES)] == REQUIRED_QUALITIES  # token order is stable
    assert len(QUALITIES) * 12 == CHORD_VOCAB_SIZE
    shapes = [tuple(sorted({i % 12 for i in steps})) for steps in QUALITY_INTERVALS.values()]
    assert len(set(shapes)) == len(shapes), "two qualities sound the same"


@given(chords)
def test_symbol_round_trips(chord: Chord) -> None:
    assert Chord.parse(str(chord)) == chord
    if chord.quality in ("maj", "min"):  # a lower-case root is the same note
        assert Chord.parse(str(chord).lower()) == chord


@given(chords)
def test_pitch_classes_and_chroma_agree(chord: Chord) -> None:
    tones = chord.pitch_classes
    assert tones[0] == chord.root
    assert len(set(tones)) == len(tones)
    if chord.bass is not None:
        assert chord.bass in tones
    chroma = chord.chroma()
    assert chroma.shape == (12,)
    assert chroma.dtype == np.float32
    assert set(np.flatnonzero(chroma)) == set(tones)


@given(chords, st.integers(-24, 24))
def test_transpose_moves_every_note(chord: Chord, semitones: int) -> None:
    moved = chord.transpose(semitones)
    assert moved.quality == chord.quality
    assert {(pc + semitones) % 12 for pc in chord.pitch_classes} == set(moved.pitch_classes)
    assert moved.transpose(-semitones) == chord


@given(chords)
def test_token_round_trips_without_the_bass(chord: Chord) -> None:
    assert 0 <= chord.token < CHORD_VOCAB_SIZE
    assert Chord.from_token(chord.token) == chord.with_bass(None)


def test_tokens_are_dense_and_unique() -> None:
    tokens = {Chord.from_token(t).token for t in range(CHORD_VOCAB_SIZE)}
    assert tokens == set(range(CHORD_VOCAB_SIZE))
    for bad in (-1, CHORD_VOCAB_SIZE):
        with pytest.raises(ValueError, match="outside"):
            Chord.from_token(bad)


def test_constructor_validates_and_drops_a_bass_equal_to_the_root() -> None:
    assert Chord(0, "maj", 0).bass is None
    assert Chord(np.int64(2), "min") == Chord.parse("Dm")
    with pytest.raises(ValueError, match="quality"):
        Chord(0, "minor")
    with pytest.raises(ValueError, match="outside"):
        Chord(12, "maj")
    with pytest.raises(ValueError, match="bass"):
        Chord(0, "maj", 13)


@pytest.mark.parametrize(
    ("key", "triads", "sevenths"),
    [
        (
            "C",
            ["C", "Dm", "Em", "F", "G", "Am", "Bdim"],
            ["Cmaj7", "Dm7", "Em7", "Fmaj7", "G7", "Am7", "Bm7b5"],
        ),
        (
            "Am",
            ["Am", "Bdim", "C", "Dm", "Em", "F", "G"],
            ["Am7", "Bm7b5", "Cmaj7", "Dm7", "Em7", "Fmaj7", "G7"],
        ),
        ("Eb", ["Eb", "Fm", "Gm", "Ab", "Bb", "Cm", "Ddim"], None),
    ],
)
def test_from_degree_builds_diatonic_chords(
    key: str, triads: list[str], sevenths: list[str] | None
) -> None:
    parsed = Key.parse(key)
    assert [str(Chord.from_degree(parsed, d)) for d in range(7)] == triads
    assert str(Chord.from_degree(parsed, 7)) == triads[0]
    assert str(Chord.from_degree(parsed, -1)) == triads[6]
    if sevenths is not None:
        assert [str(Chord.from_degree(parsed, d, seventh=True)) for d in range(7)] == sevenths


@pytest.mark.parametrize(
    ("chord", "key", "roman"),
    [
        ("Am", "C", "vi"),
        ("G7", "C", "V7"),
        ("Bb", "C", "bVII"),
        ("Bdim", "C", "vii°"),
        ("Ab", "C", "bVI"),
        ("F#dim", "C", "#iv°"),
        ("Dm7", "C", "ii7"),
        ("Cmaj7", "C", "Imaj7"),
        ("E7", "Am", "V7"),
        ("G", "Am", "VII"),
        ("G#dim", "Am", "#vii°"),
        ("Bm7b5", "Am", "iiø7"),
        ("Am", "Am", "i"),
        ("Bb", "Am", "bII"),
    ],
)
def test_roman_numerals(chord: str, key: str, roman: str) -> None:
    assert Chord.parse(chord).roman(Key.parse(key)) == roman


@given(st.sampled_from(Key.all()), st.integers(0, 6), st.booleans())
def test_roman_numeral_of_a_diatonic_chord_has_no_accidental(
    key: Key, degree: int, seventh: bool
) -> None:
    roman = Chord.from_degree(key, degree, seventh).roman(key)
    assert roman[0] not in "b#"
    assert roman.upper().startswith(("I", "V"))


def test_a_chord_is_spelled_as_its_key_writes_its_notes() -> None:
    db = Chord.parse("Dbmaj7/F")
    assert db.symbol == "C#maj7/F"  # what a plan stores
    assert db.spelled(Key.parse("Ab major")) == "Dbmaj7/F"
    assert db.spelled(Key.parse("A major")) == "C#maj7/F"
    assert Chord.parse("Bbm").spelled(Key.parse("F# minor")) == "A#m"


@given(st.integers(0, 11), st.sampled_from(QUALITIES), st.none() | st.integers(0, 11),
       st.integers(0, 23))
def test_a_spelled_symbol_reads_back_as_the_same_chord(root, quality, bass, key_index) -> None:
    chord = Chord(root, quality, bass)
    assert Chord.parse(chord.spelled(Key.from_index(key_index))) == chord
