"""Plan -> note events with sample-exact times, one list per stem.

Every onset goes through `ComposedSection.step_sample`, the labels' own timing function, so
audio and labels cannot disagree. Only two things are not on the plan grid, on purpose: the
few milliseconds between the strings of a guitar strum, and note ends (a small gap keeps
repeated notes articulated).
"""

from __future__ import annotations

import numpy as np

from melodex_studio.music.plan import GM_DRUM_NOTES, DrumVoice, PlanNote
from melodex_studio.music.tempo import TempoGrid
from melodex_studio.training.corpus.comping import harmony_events
from melodex_studio.training.corpus.notes import NoteEvent, metric_accent
from melodex_studio.training.corpus.registers import bass_midi, melody_midi
from melodex_studio.training.corpus.section import ComposedSection
from melodex_studio.training.corpus.seeding import rng_for
from melodex_studio.training.corpus.vocabulary import Role

DRUM_CHANNEL = 9
DRUM_HOLD_SECONDS = 0.8
CHANNELS: dict[Role, int] = {
    Role.DRUMS: DRUM_CHANNEL,
    Role.BASS: 1,
    Role.HARMONY: 2,
    Role.MELODY: 3,
}

#: Loudness of each drum voice relative to the kick (a hat is played softer than a snare).
_DRUM_LEVEL: dict[DrumVoice, float] = {
    DrumVoice.KICK: 1.0,
    DrumVoice.SNARE: 0.9,
    DrumVoice.CLOSED_HAT: 0.55,
    DrumVoice.OPEN_HAT: 0.6,
    DrumVoice.CLAP: 0.85,
    DrumVoice.LOW_TOM: 0.85,
    DrumVoice.HIGH_TOM: 0.8,
    DrumVoice.CRASH: 0.75,
    DrumVoice.RIDE: 0.6,
    DrumVoice.PERCUSSION: 0.5,
}


def _note_end(section: ComposedSection, bar: int, note: PlanNote, start: int, grid) -> int:
    end = section.step_sample(bar, note.step + note.length, grid)
    gap = min(int(0.08 * (end - start)), int(0.03 * grid.sample_rate))
    return max(start + 1, end - gap)


def _line_events(
    section: ComposedSection, bar_offset: int, grid: TempoGrid, role: Role, rng
) -> list[NoteEvent]:
    key = section.key_value
    beats = section.meter_value.beat_starts_16ths()
    to_midi = bass_midi if role is Role.BASS else melody_midi
    events = []
    for index, bar in enumerate(section.plan.bars):
        notes = bar.bass if role is Role.BASS else bar.melody
        level = 0.55 + 0.35 * bar.energy
        for note in notes:
            start = section.step_sample(bar_offset + index, note.step, grid)
            velocity = level * metric_accent(note.step, beats) * float(rng.uniform(0.92, 1.0))
            events.append(
                NoteEvent(
                    start,
                    _note_end(section, bar_offset + index, note, start, grid),
                    to_midi(key, note.degree),
                    min(1.0, velocity),
                )
            )
    return events


def _drum_events(
    section: ComposedSection, bar_offset: int, grid: TempoGrid, rng
) -> list[NoteEvent]:
    beats = section.meter_value.beat_starts_16ths()
    hold = round(DRUM_HOLD_SECONDS * grid.sample_rate)  # let cymbals ring; see merge_events
    events = []
    for index, bar in enumerate(section.plan.bars):
        level = 0.6 + 0.4 * bar.energy
        for step, mask in enumerate(bar.drums):
            if not mask:
                continue
            start = section.step_sample(bar_offset + index, step, grid)
            for voice, midi_key in GM_DRUM_NOTES.items():
                if mask & voice:
                    velocity = level * _DRUM_LEVEL[voice] * metric_accent(step, beats)
                    velocity *= float(rng.uniform(0.9, 1.0))
                    events.append(NoteEvent(start, start + hold, midi_key, min(1.0, velocity)))
    return events


def section_events(
    section: ComposedSection, bar_offset: int, grid: TempoGrid
) -> dict[Role, list[NoteEvent]]:
    """Note events of every stem of a section that starts at bar `bar_offset` of the song."""
    rng = rng_for(section.seed, "performance")
    return {
        Role.DRUMS: _drum_events(section, bar_offset, grid, rng),
        Role.BASS: _line_events(section, bar_offset, grid, Role.BASS, rng),
        Role.HARMONY: harmony_events(section, bar_offset, grid, rng),
        Role.MELODY: _line_events(section, bar_offset, grid, Role.MELODY, rng),
    }


def merge_events(parts: list[dict[Role, list[NoteEvent]]]) -> dict[Role, list[NoteEvent]]:
    """All sections' events per stem, sorted, each note ended no later than the next note on
    the same key starts (a MIDI note-off stops every voice of its key, so an earlier note's
    late note-off would cut the later one short)."""
    merged: dict[Role, list[NoteEvent]] = {role: [] for role in CHANNELS}
    for part in parts:
        for role, events in part.items():
            merged[role].extend(events)
    return {role: _end_before_retrigger(sorted(events)) for role, events in merged.items()}


def _end_before_retrigger(events: list[NoteEvent]) -> list[NoteEvent]:
    next_start: dict[int, int] = {}
    clipped: list[NoteEvent] = []
    for event in reversed(events):
        following = next_start.get(event.key)
        if following is not None and event.end > following:
            event = NoteEvent(event.start, max(event.start + 1, following), event.key,
                              event.velocity)
        next_start[event.key] = event.start
        clipped.append(event)
    return sorted(clipped)


def event_times(events: list[NoteEvent]) -> np.ndarray:
    """Distinct onset samples of an event list, sorted."""
    return np.unique(np.asarray([e.start for e in events], dtype=np.int64))
