"""The melody writer: a two-bar rhythmic motif repeated through the phrase, pitched as scale
degrees that land on chord tones on every counted beat and move stepwise in between.

Degrees live in 0..11 above the tonic of the melody register (`registers.melody_root_midi`).
"""

from __future__ import annotations

import numpy as np

from melodex_studio.music.chord import Chord
from melodex_studio.music.key import Key
from melodex_studio.music.meter import Meter
from melodex_studio.music.plan import PlanNote
from melodex_studio.training.corpus.harmony import chord_tone_degrees
from melodex_studio.training.corpus.vocabulary import MelodyMotion

LOWEST, HIGHEST = 0, 11
Rhythm = list[tuple[int, int]]  # (step, length)


def _fill_lengths(onsets: list[int], steps: int, longest: int) -> Rhythm:
    rhythm = []
    for index, step in enumerate(onsets):
        end = onsets[index + 1] if index + 1 < len(onsets) else steps
        rhythm.append((step, max(1, min(end - step, longest))))
    return rhythm


def motif_rhythm(motion: MelodyMotion, meter: Meter, energy: float, rng) -> Rhythm:
    """One bar of melody rhythm for a motion, denser with energy."""
    steps = meter.sixteenths_per_bar
    beats = meter.beat_starts_16ths()
    if motion is MelodyMotion.SPARSE:
        half = beats[len(beats) // 2] if len(beats) > 1 else steps // 2
        onsets = [0, half] if rng.random() < 0.5 + 0.3 * energy else [0]
        return _fill_lengths(onsets, steps, steps)
    if motion is MelodyMotion.ARPEGGIO:
        grid = 1 if energy >= 0.75 and rng.random() < 0.5 else 2
        return _fill_lengths(list(range(0, steps, grid)), steps, grid)
    if motion is MelodyMotion.BEBOP:
        onsets = [s for s in range(0, steps, 2) if s == 0 or rng.random() > 0.15]
        if rng.random() < 0.3:
            onsets = onsets[1:] or [2]  # start on the "and" of one
        return _fill_lengths(onsets, steps, 2)
    if motion is MelodyMotion.RIFF:
        cell_length = meter.beat_lengths_16ths()[0]
        cell = sorted(
            {0, *rng.choice(np.arange(1, cell_length), size=int(rng.integers(1, 3)), replace=False)}
        )
        onsets = [b + c for b in beats for c in cell if b + c < steps]
        if rng.random() < 0.4:  # leave the last beat to breathe
            onsets = [s for s in onsets if s < beats[-1]] or onsets
        return _fill_lengths(onsets, steps, 2)
    # LYRICAL: 8th-note grid, beats likely, off-beats with energy
    off_beat = 0.15 + 0.35 * energy
    onsets = [s for s in range(0, steps, 2) if rng.random() < (0.8 if s in beats else off_beat)]
    if not onsets or (onsets[0] != 0 and rng.random() < 0.6):
        onsets = sorted({0, *onsets})
    return _fill_lengths(onsets, steps, 8)


def _chord_tone_near(tones: tuple[int, ...], current: int, rng) -> int:
    candidates = sorted(
        {t + 7 * k for t in tones for k in range(-1, 3) if LOWEST <= t + 7 * k <= HIGHEST},
        key=lambda d: (abs(d - current), d),
    )
    weights = np.asarray([0.55, 0.3, 0.15][: len(candidates)])
    return int(candidates[int(rng.choice(len(weights), p=weights / weights.sum()))])


def _bounded(degree: int) -> int:
    while degree < LOWEST or degree > HIGHEST:  # reflect off the edges of the range
        degree = 2 * LOWEST - degree if degree < LOWEST else 2 * HIGHEST - degree
    return degree


def pitch_bar(
    rhythm: Rhythm,
    motion: MelodyMotion,
    chord: Chord,
    key: Key,
    meter: Meter,
    current: int,
    rng,
) -> tuple[tuple[PlanNote, ...], int]:
    """Degrees for one bar's rhythm; returns the notes and the last degree (for the next bar)."""
    beats = set(meter.beat_starts_16ths())
    tones = chord_tone_degrees(chord, key) or (0, 2, 4)
    notes = []
    if motion is MelodyMotion.ARPEGGIO:
        ladder = sorted(
            {t + 7 * k for t in tones for k in range(-1, 3) if LOWEST <= t + 7 * k <= HIGHEST}
        )
        position = min(range(len(ladder)), key=lambda i: abs(ladder[i] - current))
        direction = 1 if rng.random() < 0.7 else -1
        for step, length in rhythm:
            notes.append(PlanNote(step=step, length=length, degree=ladder[position]))
            if not 0 <= position + direction < len(ladder):
                direction = -direction
            position += direction
        return tuple(notes), notes[-1].degree if notes else current
    for step, length in rhythm:
        if step in beats:
            degree = _chord_tone_near(tones, current, rng)
        else:
            draw = rng.random()
            if draw < 0.6:
                degree = _bounded(current + int(rng.choice((-1, 1))))
            elif draw < 0.85:
                degree = _chord_tone_near(tones, current, rng)
            else:
                degree = current
        notes.append(PlanNote(step=step, length=length, degree=degree))
        current = degree
    return tuple(notes), current


def write_melody(
    motion: MelodyMotion,
    chords: list[Chord],
    key: Key,
    meter: Meter,
    energies: list[float],
    active: list[bool],
    start_degree: int,
    rng,
) -> list[tuple[PlanNote, ...]]:
    """Notes per bar; bars with `active` False rest. The rhythm motif spans two bars and
    repeats, so phrases sound composed rather than random."""
    mean_energy = float(np.mean(energies)) if energies else 0.5
    motif = [motif_rhythm(motion, meter, mean_energy, rng) for _ in range(2)]
    if rng.random() < 0.35:
        motif[1] = motif[0]
    current = _bounded(start_degree)
    bars: list[tuple[PlanNote, ...]] = []
    for index, chord in enumerate(chords):
        if not active[index]:
            bars.append(())
            continue
        rhythm = motif[index % 2]
        if index % 4 == 3 and rng.random() < 0.4:  # vary the phrase's last bar
            rhythm = motif_rhythm(motion, meter, energies[index], rng)
        notes, current = pitch_bar(rhythm, motion, chord, key, meter, current, rng)
        bars.append(notes)
    return bars
