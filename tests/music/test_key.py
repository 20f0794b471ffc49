from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from melodex_studio.music.errors import MusicParseError
from melodex_studio.music.key import KRUMHANSL_KESSLER, Key, Mode, Scale

ALL_KEYS = Key.all()
keys = st.sampled_from(ALL_KEYS)


@pytest.mark.parametrize(
    ("text", "tonic", "mode"),
    [
        ("A minor", 9, Mode.MINOR),
        ("Am", 9, Mode.MINOR),
        ("a", 9, Mode.MINOR),
        ("A min", 9, Mode.MINOR),
        ("F# major", 6, Mode.MAJOR),
        ("F#", 6, Mode.MAJOR),
        ("Bbm", 10, Mode.MINOR),
        ("Bb minor", 10, Mode.MINOR),
        ("C", 0, Mode.MAJOR),
        ("c minor", 0, Mode.MINOR),
        ("c major", 0, Mode.MAJOR),
        ("E♭ major", 3, Mode.MAJOR),
        ("Ebmaj", 3, Mode.MAJOR),
        ("  G  Major ", 7, Mode.MAJOR),
        ("D aeolian", 2, Mode.MINOR),
        ("bb", 10, Mode.MINOR),
        ("C#m", 1, Mode.MINOR),
        ("Gb", 6, Mode.MAJOR),
        ("AM", 9, Mode.MAJOR),
    ],
)
def test_parse_accepts_what_musicians_type(text: str, tonic: int, mode: Mode) -> None:
    assert Key.parse(text) == Key(tonic, mode)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("H major", "unknown tonic 'H'"),
        ("", "empty"),
        ("A lydian-ish", "unknown mode 'lydian-ish'"),
        ("Cxyz", "unknown mode 'xyz'"),
        ("7", "unknown tonic '7'"),
    ],
)
def test_parse_rejects_nonsense_quoting_the_input(text: str, fragment: str) -> None:
    with pytest.raises(MusicParseError) as error:
        Key.parse(text)
    assert repr(text) in str(error.value)
    assert fragment in str(error.value)


@pytest.mark.parametrize(
    ("key", "name"),
    [
        (Key(9, Mode.MINOR), "A minor"),
        (Key(6, Mode.MAJOR), "F# major"),
        (Key(10, Mode.MAJOR), "Bb major"),
        (Key(3, Mode.MINOR), "Eb minor"),
        (Key(1, Mode.MAJOR), "Db major"),
        (Key(8, Mode.MINOR), "G# minor"),
        (Key(5, Mode.MINOR), "F minor"),
        (Key(1, Mode.MINOR), "C# minor"),
        (Key(11, Mode.MAJOR), "B major"),
    ],
)
def test_canonical_names(key: Key, name: str) -> None:
    assert str(key) == key.name == name


def test_flat_keys_spell_with_flats() -> None:
    flat_majors = {"F", "Bb", "Eb", "Ab", "Db"}
    flat_minors = {"D", "G", "C", "F", "Bb", "Eb"}
    for key in ALL_KEYS:
        expected = flat_majors if key.mode is Mode.MAJOR else flat_minors
        assert key.prefers_flats == (key.tonic_name in expected)
        assert "#" not in key.name or not key.prefers_flats


@given(keys)
def test_key_text_round_trips(key: Key) -> None:
    assert Key.parse(str(key)) == key
    assert Key.parse(key.short_name) == key
    assert Key.parse(key.name.lower()) == key


def test_index_is_stable_and_invertible() -> None:
    assert [key.index for key in ALL_KEYS] == list(range(24))
    assert Key.parse("C").index == 0
    assert Key.parse("B").index == 11
    assert Key.parse("Cm").index == 12
    assert Key.parse("Am").index == 21
    for i in range(24):
        assert Key.from_index(i).index == i
    with pytest.raises(ValueError, match="24"):
        Key.from_index(24)


def test_scale_pitch_classes() -> None:
    assert Key.parse("C").scale.pitch_classes == (0, 2, 4, 5, 7, 9, 11)
    assert Key.parse("Am").scale.pitch_classes == (9, 11, 0, 2, 4, 5, 7)
    assert set(Key.parse("Am").pitch_classes) == set(Key.parse("C").pitch_classes)


@given(keys, st.integers(-50, 50))
def test_degrees_wrap_by_octave(key: Key, degree: int) -> None:
    pc = key.degree_to_pitch_class(degree)
    assert pc == key.degree_to_pitch_class(degree + 7) == key.degree_to_pitch_class(degree - 7)
    assert key.contains(pc)
    assert key.pitch_class_to_degree(pc) == degree % 7
    midi = key.degree_to_midi(degree, 60)
    assert midi % 12 == (pc - key.tonic + 60) % 12
    assert key.degree_to_midi(degree + 7, 60) == midi + 12
    assert key.degree_to_midi(degree + 1, 60) > midi


def test_degree_to_midi_examples() -> None:
    c_major = Key.parse("C")
    assert c_major.degree_to_midi(0, 60) == 60
    assert c_major.degree_to_midi(7, 60) == 72
    assert c_major.degree_to_midi(-1, 60) == 59  # leading tone below
    assert c_major.degree_to_midi(4, 48) == 55
    a_minor = Key.parse("Am")
    assert a_minor.degree_to_midi(2, 57) == 60  # C above A3
    assert a_minor.degree_to_midi(-2, 57) == 53  # F below


@given(keys, st.integers(0, 11))
def test_pitch_class_to_degree_inverts_degree_to_pitch_class(key: Key, pc: int) -> None:
    degree = key.pitch_class_to_degree(pc)
    if degree is None:
        assert not key.contains(pc)
    else:
        assert key.degree_to_pitch_class(degree) == pc


@given(keys, st.integers(-30, 30))
def test_transpose_and_relative(key: Key, semitones: int) -> None:
    moved = key.transpose(semitones)
    assert moved.mode == key.mode
    assert moved.tonic == (key.tonic + semitones) % 12
    assert key.relative.relative == key
    assert key.relative.mode != key.mode
    assert set(key.relative.pitch_classes) == set(key.pitch_classes)
    assert key.parallel.tonic == key.tonic


@given(keys, keys)
def test_the_shift_into_another_key_is_the_shortest_onto_its_notes(key: Key, other: Key) -> None:
    shift = key.semitones_to(other)
    assert -5 <= shift <= 6
    # The moved key has the other key's notes: its tonic, or its relative's in the other mode.
    assert set(key.transpose(shift).pitch_classes) == set(other.pitch_classes)
    assert key.semitones_to(key) == 0 == Key.parse("C major").semitones_to(Key.parse("A minor"))
    assert Key.parse("D major").semitones_to(Key.parse("A minor")) == -2


def test_profile_is_rotated_krumhansl_kessler() -> None:
    profile = Key.parse("D").profile()
    assert profile.shape == (12,)
    assert profile[2] == KRUMHANSL_KESSLER[Mode.MAJOR][0]
    assert profile[9] == KRUMHANSL_KESSLER[Mode.MAJOR][7]
    minor = Key.parse("Em").profile()
    assert minor[4] == KRUMHANSL_KESSLER[Mode.MINOR][0]
    assert int(np.argmax(minor)) == 4


@given(keys)
def test_estimate_finds_the_key_of_its_own_profile(key: Key) -> None:
    assert Key.estimate(key.profile()) == key


def test_estimate_from_scale_chroma_prefers_tonic_weighted_key() -> None:
    chroma = np.zeros(12)
    chroma[list(Key.parse("G").pitch_classes)] = 1.0
    chroma[7] += 2.0  # the tonic sounds most
    chroma[2] += 1.0
    assert Key.estimate(chroma) == Key.parse("G")
    with pytest.raises(ValueError, match="no key"):
        Key.estimate(np.ones(12))


def test_constructor_validates() -> None:
    assert Key(np.int64(3), "minor") == Key(3, Mode.MINOR)
    with pytest.raises(ValueError, match="outside"):
        Key(12, Mode.MAJOR)
    with pytest.raises(ValueError):
        Key(0, "lydian")


def test_scale_accepts_other_interval_sets() -> None:
    dorian = Scale(2, (0, 2, 3, 5, 7, 9, 10))
    assert dorian.pitch_classes == (2, 4, 5, 7, 9, 11, 0)
    pentatonic = Scale(0, (0, 2, 4, 7, 9))
    assert pentatonic.degree_to_pitch_class(5) == 0
    assert pentatonic.degree_to_pitch_class(-1) == 9
    assert not pentatonic.contains(5)
    with pytest.raises(ValueError, match="rise"):
        Scale(0, (0, 4, 2))
