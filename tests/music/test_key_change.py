"""Plans moved into another key: transposition within a mode, degrees kept between modes."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from melodex_studio.music.chord import QUALITIES, Chord
from melodex_studio.music.key import Key
from melodex_studio.music.key_change import chord_in_key, plan_in_key
from melodex_studio.music.plan import Plan, PlanBar, PlanNote

chords = st.builds(Chord, st.integers(0, 11), st.sampled_from(QUALITIES),
                   st.none() | st.integers(0, 11))
keys = st.integers(0, 23).map(Key.from_index)


@given(chords, keys, st.integers(0, 11))
def test_within_a_mode_a_key_change_is_a_transposition(chord, key, semitones):
    assert chord_in_key(chord, key, key.transpose(semitones)) == chord.transpose(semitones)


@given(keys, keys, st.integers(0, 6), st.booleans())
def test_a_diatonic_chord_stays_diatonic_on_its_degree_there_and_back(old, new, degree, seventh):
    chord = Chord.from_degree(old, degree, seventh)
    there = chord_in_key(chord, old, new)
    assert there == Chord.from_degree(new, degree, seventh)
    assert chord_in_key(there, new, old) == chord


@pytest.mark.parametrize(("symbol", "expected"), [
    ("Am7", "Amaj7"),   # i7 -> I maj7: the diatonic seventh chord on the tonic
    ("F", "F#m"),       # VI -> vi
    ("Bm7b5", "Bm7"),   # ii half-diminished -> ii7
    ("E7", "E7"),       # the borrowed V7 is no diatonic chord of A minor: quality kept
    ("Dsus4", "Dsus4"),
    ("A5", "A5"),
    ("Cmaj7/E", "C#m7/E"),  # III maj7 over its third -> iii7, the bass by degree
])
def test_a_mode_change_keeps_each_chord_on_its_degree(symbol, expected):
    moved = chord_in_key(Chord.parse(symbol), Key.parse("A minor"), Key.parse("A major"))
    assert str(moved) == expected


def test_a_plan_moves_its_chords_and_keeps_everything_else():
    bar = PlanBar(chord="Am7", energy=0.7, density=0.4, drums=(1, 0, 4, 0) * 4,
                  bass=(PlanNote(step=0, length=4, degree=0),),
                  melody=(PlanNote(step=2, length=2, degree=4),), locked=True)
    plan = Plan(steps_per_bar=16, bars=(bar, PlanBar(drums=(0,) * 16),
                                        bar.model_copy(update={"chord": "G", "locked": False})))
    moved = plan_in_key(plan, Key.parse("A minor"), Key.parse("B minor"))
    assert moved.chords() == ["Bm7", None, "A"]
    for before, after in zip(plan.bars, moved.bars, strict=True):
        assert after.model_copy(update={"chord": before.chord}) == before
    assert plan_in_key(plan, Key.parse("A minor"), Key.parse("A minor")) is plan
