"""The plan as a Standard MIDI File (type 1), for taking a song's harmony and parts to a DAW.

Tracks: a conductor track (tempo, time signature, key signature, a marker per section), then
Chords (channel 1, the bar's chord voiced around C3-C4), Bass (channel 2) and Melody (channel 3)
from scale degrees through the key (bass register: tonic in octave 2, melody: tonic in octave 4),
and Drums on channel 10 with General MIDI notes. Velocities follow each bar's energy.
Musical time maps to ticks by 16th steps (the plan grid); the tempo comes from the tempo grid.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import mido

from melodex_studio.audio.audio_files import atomic_target
from melodex_studio.music.chord import Chord
from melodex_studio.music.plan import ALL_DRUM_VOICES, GM_DRUM_NOTES, PlanNote

if TYPE_CHECKING:
    from melodex_studio.music.key import Key
    from melodex_studio.music.meter import Meter
    from melodex_studio.project.models import Project

TICKS_PER_QUARTER = 480
TICKS_PER_SIXTEENTH = TICKS_PER_QUARTER // 4
CHORD_CHANNEL, BASS_CHANNEL, MELODY_CHANNEL, DRUM_CHANNEL = 0, 1, 2, 9
#: General MIDI programs (0-based): electric piano, fingered bass, flute.
CHORD_PROGRAM, BASS_PROGRAM, MELODY_PROGRAM = 4, 33, 73
CHORD_ROOT_OCTAVE_START = 48  # chord roots C3..B3
BASS_TONIC_OCTAVE_START = 36  # bass degree 0 in C2..B2
MELODY_TONIC_OCTAVE_START = 60  # melody degree 0 in C4..B4
DRUM_NOTE_TICKS = TICKS_PER_SIXTEENTH // 2


@dataclass
class _Note:
    start: int
    end: int
    pitch: int
    velocity: int


def chord_voicing(chord: Chord) -> list[int]:
    """MIDI notes of `chord`: root in octave 3, tones stacked upward in order, a slash bass
    below the root."""
    root = CHORD_ROOT_OCTAVE_START + chord.root
    notes = [root]
    for interval in chord.intervals[1:]:
        notes.append(root + interval)
    if chord.bass is not None:
        notes.insert(0, root - ((chord.root - chord.bass) % 12 or 12))
    return notes


def _velocity(energy: float, low: int, span: int) -> int:
    return max(1, min(127, round(low + span * energy)))


def _time_signature(meter: Meter) -> mido.MetaMessage:
    # MIDI clocks (24 per quarter) per metronome click: one counted beat.
    clocks = round(24 * meter.quarter_notes_per_bar / meter.beats_per_bar)
    return mido.MetaMessage(
        "time_signature",
        numerator=meter.numerator,
        denominator=meter.denominator,
        clocks_per_click=clocks,
        notated_32nd_notes_per_beat=8,
        time=0,
    )


def _track(name: str, channel: int, program: int | None, notes: list[_Note]) -> mido.MidiTrack:
    track = mido.MidiTrack()
    track.append(mido.MetaMessage("track_name", name=name, time=0))
    if program is not None:
        track.append(mido.Message("program_change", channel=channel, program=program, time=0))
    # A repeated pitch cuts the earlier note where the later one starts (no overlapping pairs).
    notes.sort(key=lambda note: (note.start, note.pitch))
    sounding: dict[int, _Note] = {}
    for note in notes:
        earlier = sounding.get(note.pitch)
        if earlier is not None and earlier.end > note.start:
            earlier.end = note.start
        sounding[note.pitch] = note
    events: list[tuple[int, int, mido.Message]] = []
    for note in notes:
        if note.end <= note.start:
            continue
        events.append((note.start, 1, mido.Message("note_on", channel=channel, note=note.pitch,
                                                   velocity=note.velocity)))
        events.append((note.end, 0, mido.Message("note_off", channel=channel, note=note.pitch,
                                                 velocity=0)))
    events.sort(key=lambda event: (event[0], event[1]))
    now = 0
    for tick, _, message in events:
        track.append(message.copy(time=tick - now))
        now = tick
    track.append(mido.MetaMessage("end_of_track", time=0))
    return track


def _part_notes(
    notes: tuple[PlanNote, ...], bar_tick: int, key: Key, tonic_octave_start: int, velocity: int
) -> list[_Note]:
    root_midi = tonic_octave_start + key.tonic
    found = []
    for note in notes:
        pitch = max(0, min(127, key.degree_to_midi(note.degree, root_midi)))
        start = bar_tick + note.step * TICKS_PER_SIXTEENTH
        found.append(_Note(start, start + note.length * TICKS_PER_SIXTEENTH, pitch, velocity))
    return found


def plan_to_midi(project: Project) -> mido.MidiFile:
    """The project's plans (sections without a plan are rests) as a type-1 MIDI file."""
    grid = project.grid()
    song_key = project.key_value()

    def tick_of(bar: int) -> int:  # bars of different meters have different lengths
        return round(grid.bar_to_sixteenth(bar)) * TICKS_PER_SIXTEENTH

    # Conductor events as (tick, message), in song order: the tempo and meter map, section
    # markers and key signature changes.
    events: list[tuple[int, mido.MetaMessage]] = [
        (0, mido.MetaMessage("track_name", name=project.title)),
        (0, _set_tempo(grid.bpm)),
        (0, _time_signature(grid.meter)),
        (0, mido.MetaMessage("key_signature", key=song_key.short_name)),
    ]
    tempo, meter = grid.bpm, grid.meter
    for bar, new_tempo, new_meter in grid.changes:
        if new_tempo != tempo:
            events.append((tick_of(bar), _set_tempo(new_tempo)))
        if new_meter != meter:
            events.append((tick_of(bar), _time_signature(new_meter)))
        tempo, meter = new_tempo, new_meter
    sounding = song_key  # the key signature in force; a section with its own key changes it
    chords: list[_Note] = []
    bass: list[_Note] = []
    melody: list[_Note] = []
    drums: list[_Note] = []
    for section in project.sections:
        section_tick = tick_of(section.start_bar)
        ticks_per_bar = project.section_steps(section) * TICKS_PER_SIXTEENTH
        events.append((section_tick, mido.MetaMessage("marker", text=section.name)))
        key = project.section_key(section)
        if key != sounding:
            events.append((section_tick, mido.MetaMessage("key_signature", key=key.short_name)))
            sounding = key
        if section.plan is None:
            continue
        for index, bar in enumerate(section.plan.bars):
            bar_tick = section_tick + index * ticks_per_bar
            chord = bar.chord_value()
            if chord is not None:
                velocity = _velocity(bar.energy, 45, 50)
                for pitch in chord_voicing(chord):
                    chords.append(_Note(bar_tick, bar_tick + ticks_per_bar, pitch, velocity))
            velocity = _velocity(bar.energy, 55, 60)
            bass += _part_notes(bar.bass, bar_tick, key, BASS_TONIC_OCTAVE_START, velocity)
            melody += _part_notes(bar.melody, bar_tick, key, MELODY_TONIC_OCTAVE_START, velocity)
            drum_velocity = _velocity(bar.energy, 60, 60)
            for step, mask in enumerate(bar.drums):
                start = bar_tick + step * TICKS_PER_SIXTEENTH
                for voice in ALL_DRUM_VOICES:
                    if mask & voice:
                        pitch = GM_DRUM_NOTES[voice]
                        drums.append(_Note(start, start + DRUM_NOTE_TICKS, pitch, drum_velocity))
    conductor = mido.MidiTrack()
    now = 0
    for tick, message in sorted(events, key=lambda event: event[0]):  # stable: order kept
        conductor.append(message.copy(time=tick - now))
        now = tick
    conductor.append(mido.MetaMessage("end_of_track", time=0))
    midi = mido.MidiFile(type=1, ticks_per_beat=TICKS_PER_QUARTER)
    midi.tracks.append(conductor)
    midi.tracks.append(_track("Chords", CHORD_CHANNEL, CHORD_PROGRAM, chords))
    midi.tracks.append(_track("Bass", BASS_CHANNEL, BASS_PROGRAM, bass))
    midi.tracks.append(_track("Melody", MELODY_CHANNEL, MELODY_PROGRAM, melody))
    midi.tracks.append(_track("Drums", DRUM_CHANNEL, None, drums))
    return midi


def _set_tempo(bpm: float) -> mido.MetaMessage:
    return mido.MetaMessage("set_tempo", tempo=round(60_000_000 / bpm))


def write_plan_midi(project: Project, path: Path) -> Path:
    """Write `plan_to_midi(project)` to `path` (atomically) and return the path."""
    path = Path(path)
    midi = plan_to_midi(project)
    with atomic_target(path) as temporary:
        midi.save(temporary)
    return path
