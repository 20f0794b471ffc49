"""The bass writer: per-bar notes as scale degrees, in the bass's own register.

Degrees stay within a fifth below to a fourth above the tonic (`register_degree`), which the
renderer maps onto the bass octave with `registers.bass_root_midi`.
"""

from __future__ import annotations

import numpy as np

from melodex_studio.music.chord import Chord
from melodex_studio.music.key import Key
from melodex_studio.music.meter import Meter
from melodex_studio.music.plan import DrumVoice, PlanNote
from melodex_studio.training.corpus.harmony import chord_root_degree, chord_tone_degrees
from melodex_studio.training.corpus.vocabulary import BassMotion


def register_degree(degree: int) -> int:
    """Fold a 0..6 degree into the bass register -3..3 (G below C rather than G above)."""
    degree %= 7
    return degree if degree <= 3 else degree - 7


def _near(degree: int, target: int) -> int:
    """The octave of `degree` (mod 7) closest to `target`."""
    base = degree % 7
    return min((base + 7 * k for k in range(-3, 4)), key=lambda d: (abs(d - target), d))


def _notes_from_onsets(onsets: list[tuple[int, int]], steps: int, longest: int) -> list[PlanNote]:
    """Notes (step, degree) lasting until the next onset, capped at `longest` steps."""
    notes = []
    for index, (step, degree) in enumerate(onsets):
        end = onsets[index + 1][0] if index + 1 < len(onsets) else steps
        notes.append(PlanNote(step=step, length=max(1, min(end - step, longest)), degree=degree))
    return notes


def write_bass_bar(
    motion: BassMotion,
    chord: Chord,
    next_chord: Chord | None,
    key: Key,
    meter: Meter,
    drums: tuple[int, ...],
    energy: float,
    bar_index: int,
    rng: np.random.Generator,
) -> tuple[PlanNote, ...]:
    steps = meter.sixteenths_per_bar
    root = register_degree(chord_root_degree(chord, key))
    fifth = root + 4
    next_root = root if next_chord is None else register_degree(chord_root_degree(next_chord, key))
    beats = meter.beat_starts_16ths()
    lengths = meter.beat_lengths_16ths()

    if motion is BassMotion.ROOT_WHOLE:
        if energy < 0.5 or rng.random() < 0.5:
            return (PlanNote(step=0, length=steps, degree=root),)
        half = beats[len(beats) // 2] if len(beats) > 1 else steps // 2
        return (
            PlanNote(step=0, length=half, degree=root),
            PlanNote(step=half, length=steps - half, degree=fifth if rng.random() < 0.4 else root),
        )

    if motion is BassMotion.ROOT_PULSE:
        grid = 2 if energy >= 0.45 else 4
        onsets = [(s, root) for s in range(0, steps, grid)]
        if next_chord is not None and energy >= 0.6 and rng.random() < 0.3:
            onsets[-1] = (onsets[-1][0], next_root)  # push into the next chord
        return tuple(_notes_from_onsets(onsets, steps, grid))

    if motion is BassMotion.OCTAVES:
        onsets = [(s, root + 7 if (s // 2) % 2 else root) for s in range(0, steps, 2)]
        return tuple(_notes_from_onsets(onsets, steps, 2))

    if motion is BassMotion.WALKING:
        tones = chord_tone_degrees(chord, key)
        walk = [root]
        for _ in beats[1:-1]:
            choice = int(rng.choice(tones)) if rng.random() < 0.6 else walk[-1] + int(
                rng.choice((-1, 1))
            )
            walk.append(_near(choice, walk[-1]))
        if len(beats) > 1:
            below, above = _near(next_root, walk[-1]) - 1, _near(next_root, walk[-1]) + 1
            walk.append(below if abs(below - walk[-1]) <= abs(above - walk[-1]) else above)
        walk = [max(-5, min(8, d)) for d in walk]
        return tuple(
            PlanNote(step=start, length=length, degree=degree)
            for start, length, degree in zip(beats, lengths, walk, strict=True)
        )

    if motion is BassMotion.SYNCOPATED:
        kicks = [s for s, mask in enumerate(drums) if mask & DrumVoice.KICK]
        starts = sorted({0, *kicks} if kicks else set(beats))
        if len(starts) < 2:  # a lone downbeat kick: answer it on the middle beat
            starts = sorted({*starts, beats[len(beats) // 2] if len(beats) > 1 else steps // 2})
        onsets = []
        for s in starts:
            degree = root
            if s not in beats and rng.random() < 0.45:
                degree = root + 7 if rng.random() < 0.5 else fifth
            onsets.append((s, degree))
        if next_chord is not None and steps - 2 not in starts and rng.random() < 0.35:
            onsets.append((steps - 2, next_root))  # anticipate the next bar's chord
        return tuple(_notes_from_onsets(sorted(onsets), steps, 6))

    if motion is BassMotion.ROOT_FIFTH:
        alternate = fifth if bar_index % 2 else root
        if meter.beats_per_bar == 3 and steps == 12:  # 3/4 waltz: oom on beat one
            notes = [PlanNote(step=0, length=4, degree=root)]
            if energy >= 0.5:
                notes.append(PlanNote(step=8, length=4, degree=_near(fifth, root)))
            return tuple(notes)
        half = beats[len(beats) // 2] if len(beats) > 1 else steps // 2
        return (
            PlanNote(step=0, length=half, degree=root),
            PlanNote(step=half, length=steps - half, degree=_near(alternate, root)),
        )

    raise ValueError(f"unknown bass motion {motion}")
