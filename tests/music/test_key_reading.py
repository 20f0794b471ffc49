"""The key a plan's own notes are heard in."""

from __future__ import annotations

import numpy as np

from melodex_studio.music.key import Key
from melodex_studio.music.key_reading import key_margin, plan_pitch_weights
from melodex_studio.music.plan import Plan, PlanBar, PlanNote

F_MAJOR = Key.parse("F major")


def chords(symbols: list[str], bass: tuple[PlanNote, ...] = ()) -> Plan:
    return Plan(steps_per_bar=16, bars=tuple(
        PlanBar(chord=symbol, drums=(0,) * 16, bass=bass if symbol == "F" else ())
        for symbol in symbols))


def test_pitch_weights_count_chord_bars_and_note_lengths() -> None:
    tonic_bass = (PlanNote(step=0, length=16, degree=0),)  # F, a whole bar
    weights = plan_pitch_weights(chords(["F", "Bb", "C7", "F"], tonic_bass), F_MAJOR)
    assert weights[5] == 3 + 2  # F: in the F, Bb and F chords, and the bass under two
    assert weights[4] == 1  # E: only in C7
    assert weights[1] == 0  # C#/Db: nowhere


def test_a_cadence_reads_in_its_key_and_a_ii_v_vamp_a_tone_up() -> None:
    assert key_margin(chords(["F", "Bb", "C7", "F"]), F_MAJOR) > 0.0
    vamp = chords(["Gm7", "C7"] * 2)
    assert key_margin(vamp, F_MAJOR) < 0.0
    reading = Key.from_index(int(np.argmax(Key.correlations(plan_pitch_weights(vamp, F_MAJOR)))))
    assert reading != F_MAJOR


def test_a_score_without_notes_says_nothing() -> None:
    assert key_margin(Plan.empty(4, 16), F_MAJOR) == 0.0
    assert not Key.correlations(np.zeros(12)).any()
