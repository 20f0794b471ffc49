"""The harmony part: voice each bar's chord and play it in the style's comping rhythm.

The plan labels only the chord symbol; how the chord is voiced and rhythmised is performance,
chosen here: close voicings that move as little as possible from chord to chord, pads that
sustain, keys that block or stab, guitars that strum (strings a few ms apart), arpeggios and
waltz "oom-pah" chords.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from melodex_studio.music.chord import Chord
from melodex_studio.music.tempo import TempoGrid
from melodex_studio.training.corpus.notes import NoteEvent, metric_accent
from melodex_studio.training.corpus.registers import HARMONY_RANGE
from melodex_studio.training.corpus.section import ComposedSection
from melodex_studio.training.corpus.vocabulary import HarmonyComp

MAX_VOICES = 4
STRUM_SPREAD_SECONDS = 0.007


def chord_voicing(chord: Chord, previous: Sequence[int] | None) -> tuple[int, ...]:
    """A close voicing (MIDI notes, ascending) inside `HARMONY_RANGE`, nearest the previous
    voicing's centre (or middle E when there is none): smooth voice leading."""
    tones = list(chord.pitch_classes)
    if len(tones) > MAX_VOICES:
        tones = [tones[0], tones[1], *tones[3:]][:MAX_VOICES]  # drop the fifth first
    low, high = HARMONY_RANGE
    target = float(np.mean(previous)) if previous else 64.0
    best: tuple[float, tuple[int, ...]] | None = None
    for rotation in range(len(tones)):
        order = tones[rotation:] + tones[:rotation]
        for bottom in range(low, low + 12):
            if bottom % 12 != order[0]:
                continue
            notes = [bottom]
            for pitch_class in order[1:]:
                notes.append(notes[-1] + (pitch_class - notes[-1]) % 12 or 12)
            if notes[-1] > high:
                continue
            candidate = (abs(float(np.mean(notes)) - target), tuple(notes))
            if best is None or candidate < best:
                best = candidate
    if best is None:
        raise ValueError(f"{chord} has no voicing inside {HARMONY_RANGE}")
    return best[1]


def comp_rhythm(
    comp: HarmonyComp, beat_starts: tuple[int, ...], beat_lengths: tuple[int, ...], steps: int,
    energy: float,
) -> list[tuple[int, int]]:
    """(step, length) of each chord hit in a bar."""
    half = beat_starts[len(beat_starts) // 2] if len(beat_starts) > 1 else steps // 2
    if comp is HarmonyComp.PAD:
        return [(0, steps)]
    if comp is HarmonyComp.BLOCK:
        return [(0, half), (half, steps - half)] if energy >= 0.5 else [(0, steps)]
    if comp is HarmonyComp.STABS:
        # the off-beat 8th of each quarter beat; both weak 8ths of a dotted (6/8) beat
        offs = [
            b + k
            for b, length in zip(beat_starts, beat_lengths, strict=True)
            for k in ((2,) if length == 4 else (2, 4))
        ]
        if energy >= 0.7:
            offs = [0, *offs]
        return [(s, 1) for s in sorted(set(offs)) if s < steps]
    if comp is HarmonyComp.STRUM:
        hits = []
        for b, length in zip(beat_starts, beat_lengths, strict=True):
            hits.append(b)
            if energy >= 0.5:
                hits.extend(range(b + 2, b + length, 2))
        ends = [*hits[1:], steps]
        return [(s, e - s) for s, e in zip(hits, ends, strict=True)]
    if comp is HarmonyComp.ARPEGGIO:
        return [(s, 3) for s in range(0, steps, 2)]
    if comp is HarmonyComp.OOM_PAH:
        if all(length == 4 for length in beat_lengths):
            return [(b, 3) for b in beat_starts[1:]]
        return [(s, 2) for s in range(2, steps, 2) if s not in beat_starts]
    raise ValueError(f"unknown comp {comp}")


def harmony_events(
    section: ComposedSection, bar_offset: int, grid: TempoGrid, rng
) -> list[NoteEvent]:
    meter = section.meter_value
    beats, lengths = meter.beat_starts_16ths(), meter.beat_lengths_16ths()
    steps = meter.sixteenths_per_bar
    comp = section.instruments.harmony_comp
    spread = round(STRUM_SPREAD_SECONDS * grid.sample_rate)
    events: list[NoteEvent] = []
    previous: tuple[int, ...] | None = None
    for index, bar in enumerate(section.plan.bars):
        chord = bar.chord_value()
        if chord is None:
            continue
        voicing = chord_voicing(chord, previous)
        previous = voicing
        level = (0.4 if comp is HarmonyComp.PAD else 0.5) + 0.3 * bar.energy
        song_bar = bar_offset + index
        for hit, (step, length) in enumerate(comp_rhythm(comp, beats, lengths, steps, bar.energy)):
            start = section.step_sample(song_bar, step, grid)
            end = section.step_sample(song_bar, step + length, grid)
            if comp is not HarmonyComp.PAD:
                end -= min(int(0.1 * (end - start)), int(0.03 * grid.sample_rate))
            velocity = min(1.0, level * metric_accent(step, beats) * float(rng.uniform(0.9, 1.0)))
            if comp is HarmonyComp.ARPEGGIO:
                cycle = [*voicing, *voicing[-2:0:-1]]
                events.append(NoteEvent(start, end, cycle[hit % len(cycle)], velocity))
                continue
            notes: Sequence[int] = voicing
            if comp is HarmonyComp.STRUM and step not in beats:
                notes = voicing[::-1][:3]  # an up-strum catches the top strings first
            for order, note in enumerate(notes):
                offset = order * spread if comp is HarmonyComp.STRUM else 0
                events.append(NoteEvent(start + offset, max(start + offset + 1, end), note,
                                        velocity))
    return events
