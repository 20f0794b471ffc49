"""Which key a plan's own notes are heard in: does the score establish the key it was written in?

A plan is always *in* its key (its notes are scale degrees), but a diatonic section can still be
heard in a neighbour: a two-chord ii-V vamp in A minor reads as D dorian or G major to anyone,
whoever plays it. The planner uses this reading to prefer, among its own samples, one whose
score says the key the musician asked for; evaluation uses it to separate what the plan
dictates from what the renderer makes of it. The reading is the Krumhansl-Schmuckler one: the
score's pitch-class durations correlated with the 24 rotated Krumhansl-Kessler profiles
(`Key.correlations`).
"""

from __future__ import annotations

import numpy as np

from melodex_studio.music.key import Key
from melodex_studio.music.plan import Plan

SCORE_PARTS = ("chords", "bass", "melody")  # the rows of `plan_part_weights`


def plan_part_weights(plan: Plan, key: Key) -> np.ndarray:
    """[3, 12] how long each pitch class sounds in the plan's score, in bars, per part
    (`SCORE_PARTS`): chord tones (every one for its bar), bass notes and melody notes (for
    their length, degrees read in `key`)."""
    weights = np.zeros((len(SCORE_PARTS), 12))
    for bar in plan.bars:
        chord = bar.chord_value()
        if chord is not None:
            weights[0, list(chord.pitch_classes)] += 1.0
        for row, notes in ((1, bar.bass), (2, bar.melody)):
            for note in notes:
                weights[row, key.degree_to_pitch_class(note.degree)] += (
                    note.length / plan.steps_per_bar)
    return weights


def plan_pitch_weights(plan: Plan, key: Key) -> np.ndarray:
    """[12] how long each pitch class sounds in the plan's score, all parts together."""
    return plan_part_weights(plan, key).sum(axis=0)


def key_margin(plan: Plan, key: Key) -> float:
    """How clearly the plan's score reads in `key` (`pitch_margin` of its pitch weights)."""
    return pitch_margin(plan_pitch_weights(plan, key), key)


def pitch_margin(weights: np.ndarray, key: Key) -> float:
    """How clearly pitch-class weights [12] (a score's durations, a heard or measured chroma)
    say `key`: their correlation with `key`'s profile minus the best other key's. Positive when
    `key` is the reading, 0 for weights that say nothing."""
    scores = Key.correlations(weights)
    if not scores.any():
        return 0.0
    return float(scores[key.index] - np.delete(scores, key.index).max())
