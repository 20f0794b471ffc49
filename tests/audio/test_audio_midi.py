from __future__ import annotations

from pathlib import Path

import mido
import pytest

from melodex_studio.audio.midi_export import (
    TICKS_PER_QUARTER,
    chord_voicing,
    plan_to_midi,
    write_plan_midi,
)
from melodex_studio.music.chord import Chord
from melodex_studio.music.key import Key
from melodex_studio.music.plan import GM_DRUM_NOTES, DrumVoice, Plan, PlanBar, PlanNote
from melodex_studio.project.models import Project, new_project


def planned_project(meter: str = "6/8", key: str = "Eb major", bpm: float = 96.0) -> Project:
    project = new_project("Midi song", bpm=bpm, key=key, meter=meter,
                          sections_spec="Intro:1,Verse:2", seed=1)
    steps = project.steps_per_bar
    kick_snare = [0] * steps
    kick_snare[0] = DrumVoice.KICK | DrumVoice.CLOSED_HAT
    kick_snare[steps // 2] = DrumVoice.SNARE
    verse = Plan(
        steps_per_bar=steps,
        bars=(
            PlanBar(chord="Cm7", energy=0.8, drums=tuple(kick_snare),
                    bass=(PlanNote(step=0, length=4, degree=5),),
                    melody=(PlanNote(step=2, length=2, degree=7), PlanNote(step=4, length=1,
                                                                          degree=-1))),
            PlanBar(chord="Ab/C", energy=0.3, drums=(0,) * steps),
        ),
    )
    section = project.section_by_name("Verse").model_copy(update={"plan": verse})
    return project.replace_section(section)


def notes_of(track: mido.MidiTrack) -> list[tuple[int, int, int, int]]:
    """(start tick, end tick, note, channel) of every note in a track."""
    now, open_notes, found = 0, {}, []
    for message in track:
        now += message.time
        if message.type == "note_on" and message.velocity > 0:
            open_notes[(message.channel, message.note)] = now
        elif message.type in ("note_off", "note_on"):
            start = open_notes.pop((message.channel, message.note))
            found.append((start, now, message.note, message.channel))
    assert not open_notes
    return sorted(found)


def test_midi_file_has_tempo_meter_key_and_markers(tmp_path: Path) -> None:
    project = planned_project()
    path = write_plan_midi(project, tmp_path / "song.mid")
    midi = mido.MidiFile(path)
    assert midi.type == 1 and midi.ticks_per_beat == TICKS_PER_QUARTER
    meta = {message.type: message for message in midi.tracks[0] if message.is_meta}
    assert mido.tempo2bpm(meta["set_tempo"].tempo) == pytest.approx(96.0, abs=1e-3)
    assert (meta["time_signature"].numerator, meta["time_signature"].denominator) == (6, 8)
    assert meta["time_signature"].clocks_per_click == 36  # a dotted quarter in 6/8
    assert meta["key_signature"].key == "Eb"
    markers = [m.text for m in midi.tracks[0] if m.type == "marker"]
    assert markers == ["Intro", "Verse"]
    assert [track.name for track in midi.tracks] == ["Midi song", "Chords", "Bass", "Melody",
                                                      "Drums"]


def test_chords_bass_melody_and_drums_land_where_the_plan_says(tmp_path: Path) -> None:
    project = planned_project()
    midi = mido.MidiFile(write_plan_midi(project, tmp_path / "song.mid"))
    ticks_per_bar = 12 * TICKS_PER_QUARTER // 4  # 6/8: twelve 16ths
    verse_tick = 1 * ticks_per_bar
    chords = notes_of(midi.tracks[1])
    first = [n for n in chords if n[0] == verse_tick]
    second = [n for n in chords if n[0] == verse_tick + ticks_per_bar]
    assert {note % 12 for _, _, note, _ in first} == set(Chord.parse("Cm7").pitch_classes)
    assert {note % 12 for _, _, note, _ in second} == set(Chord.parse("Ab/C").pitch_classes)
    assert min(note for _, _, note, _ in second) % 12 == 0  # the slash bass is lowest
    assert all(end - start == ticks_per_bar for start, end, _, _ in chords)
    key = Key.parse("Eb major")
    sixteenth = TICKS_PER_QUARTER // 4
    bass = notes_of(midi.tracks[2])
    assert bass == [(verse_tick, verse_tick + 4 * sixteenth,
                     key.degree_to_midi(5, 36 + key.tonic), 1)]
    melody = notes_of(midi.tracks[3])
    assert [n[2] for n in melody] == [key.degree_to_midi(7, 60 + 3), key.degree_to_midi(-1, 63)]
    assert melody[0][0] == verse_tick + 2 * sixteenth
    drums = notes_of(midi.tracks[4])
    assert {channel for *_, channel in drums} == {9}  # General MIDI channel 10
    assert [(start - verse_tick, note) for start, _, note, _ in drums] == sorted([
        (0, GM_DRUM_NOTES[DrumVoice.KICK]),
        (0, GM_DRUM_NOTES[DrumVoice.CLOSED_HAT]),
        (6 * sixteenth, GM_DRUM_NOTES[DrumVoice.SNARE]),
    ])


def test_a_section_in_its_own_key_changes_the_signature_and_its_notes(tmp_path: Path) -> None:
    project = planned_project()
    verse = project.section_by_name("Verse")
    project = project.replace_section(verse.model_copy(update={"key": "F major"}))
    midi = mido.MidiFile(write_plan_midi(project, tmp_path / "song.mid"))
    now, signatures = 0, []
    for message in midi.tracks[0]:
        now += message.time
        if message.type == "key_signature":
            signatures.append((now, message.key))
    ticks_per_bar = 12 * TICKS_PER_QUARTER // 4
    assert signatures == [(0, "Eb"), (ticks_per_bar, "F")]  # the song's, then the verse's
    key = Key.parse("F major")
    assert [n[2] for n in notes_of(midi.tracks[2])] == [key.degree_to_midi(5, 36 + key.tonic)]


def test_a_section_at_its_own_tempo_writes_the_tempo_map(tmp_path: Path) -> None:
    project = new_project("Tempo song", bpm=96.0, key="A minor", meter="4/4",
                          sections_spec="Intro:2,Verse:4,Chorus:2,Outro:2", seed=1)
    verse = project.section_by_name("Verse").model_copy(update={"bpm": 140.0})
    project = project.replace_section(verse)
    midi = mido.MidiFile(write_plan_midi(project, tmp_path / "song.mid"))
    now, tempos, markers = 0, [], {}
    for message in midi.tracks[0]:
        now += message.time
        if message.type == "set_tempo":
            tempos.append((now // (4 * TICKS_PER_QUARTER), round(mido.tempo2bpm(message.tempo), 3)))
        elif message.type == "marker":
            markers[message.text] = now // (4 * TICKS_PER_QUARTER)
    assert tempos == [(0, 96.0), (2, 140.0), (6, 96.0)]  # from the verse's first bar to its last
    assert markers == {"Intro": 0, "Verse": 2, "Chorus": 6, "Outro": 8}
    # mido reads the map: up to the last event, the outro marker (nothing here is planned)
    assert midi.length == pytest.approx(2 * 2.5 + 4 * 240 / 140 + 2 * 2.5, abs=1e-4)


def test_a_section_in_its_own_meter_writes_time_signatures_and_bars_of_its_length(
        tmp_path: Path) -> None:
    project = new_project("Meter song", bpm=120.0, key="C major", meter="4/4",
                          sections_spec="Intro:2,Waltz:2,Outro:1", seed=1)
    waltz = project.section_by_name("Waltz")
    plan = Plan(steps_per_bar=12, bars=tuple(PlanBar(chord=c, drums=(0,) * 12) for c in "CG"))
    project = project.replace_section(waltz.model_copy(update={"meter": "3/4", "plan": plan}))
    midi = mido.MidiFile(write_plan_midi(project, tmp_path / "song.mid"))
    now, signatures, markers, tempos = 0, [], {}, 0
    for message in midi.tracks[0]:
        now += message.time
        if message.type == "time_signature":
            signatures.append((now, f"{message.numerator}/{message.denominator}"))
        elif message.type == "marker":
            markers[message.text] = now
        tempos += message.type == "set_tempo"
    quarter = TICKS_PER_QUARTER
    assert signatures == [(0, "4/4"), (8 * quarter, "3/4"), (14 * quarter, "4/4")]
    assert markers == {"Intro": 0, "Waltz": 8 * quarter, "Outro": 14 * quarter}
    assert tempos == 1  # the tempo never changes
    chords = notes_of(midi.tracks[1])
    assert sorted({(start, end) for start, end, _, _ in chords}) == [
        (8 * quarter, 11 * quarter), (11 * quarter, 14 * quarter)]  # two bars of 3 quarters


@pytest.mark.parametrize("key", ["C major", "A minor", "F# major", "Bb minor", "Db major",
                                 "G# minor", "Eb minor"])
def test_every_key_spelling_is_a_valid_midi_key_signature(key: str) -> None:
    project = new_project("k", key=key, sections_spec="A:1", seed=1)
    meta = [m for m in plan_to_midi(project).tracks[0] if m.type == "key_signature"]
    assert meta[0].key.replace("m", "") == Key.parse(key).tonic_name


def test_voicing_stacks_upward_from_the_root() -> None:
    assert chord_voicing(Chord.parse("G7")) == [55, 59, 62, 65]
    assert chord_voicing(Chord.parse("C/E")) == [40, 48, 52, 55]
