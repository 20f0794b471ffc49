"""A MIDI sketch becomes a section's plan: the plan's own layout round-trips, a plain chord
track is read bar by bar, and what is not a MIDI plan is refused with the reason."""

from __future__ import annotations

import io

import mido
import pytest

from melodex_studio.music.key import Key
from melodex_studio.music.meter import Meter
from melodex_studio.music.plan import Plan, PlanBar, PlanNote
from melodex_studio.music.plan_midi import plan_to_midi_bytes
from melodex_studio.project.document import Document
from melodex_studio.project.models import new_project
from melodex_studio.project.operations import OperationError, midi_plan_command


@pytest.fixture
def document() -> Document:
    return Document(new_project("Midi", 100, "A minor", "4/4", "Verse:4,Chorus:2", seed=1))


def chord_track(chords: list[list[int]], channel: int = 0) -> bytes:
    """A one-track file from a DAW: a block chord a bar (four quarters of 480 ticks)."""
    track = mido.MidiTrack()
    for pitches in chords:
        for pitch in pitches:
            track.append(mido.Message("note_on", note=pitch, velocity=80, channel=channel,
                                      time=0))
        for index, pitch in enumerate(pitches):
            track.append(mido.Message("note_off", note=pitch, velocity=0, channel=channel,
                                      time=1920 if index == 0 else 0))
    midi = mido.MidiFile(ticks_per_beat=480)
    midi.tracks.append(track)
    out = io.BytesIO()
    midi.save(file=out)
    return out.getvalue()


def test_the_plans_own_midi_layout_comes_back_as_the_plan(document) -> None:
    verse = document.project.section_by_name("Verse")
    bar = PlanBar(chord="Dm7", energy=0.7, density=0.4, drums=(1, 0, 4, 0) * 4,
                  bass=(PlanNote(step=0, length=4, degree=3),),
                  melody=(PlanNote(step=2, length=2, degree=5),))
    plan = Plan(steps_per_bar=16, bars=(bar,) * 4)
    data = plan_to_midi_bytes(plan, Key.parse("A minor"), Meter(4, 4), 100.0)
    command = midi_plan_command(document.project, verse.id, data, "sketch.mid")
    document.history.push(command)
    assert document.project.section_by_name("Verse").plan == plan


def test_a_plain_chord_track_is_read_bar_by_bar_and_fitted_to_the_section(document) -> None:
    chorus = document.project.section_by_name("Chorus")
    a_minor, f_major, c_major = [57, 60, 64], [53, 57, 60], [48, 52, 55]
    data = chord_track([a_minor, f_major, c_major])  # three bars into a two-bar section
    plan = midi_plan_command(document.project, chorus.id, data, "keys.mid").plan
    assert plan.n_bars == 2 and plan.chords() == ["Am", "F"]


@pytest.mark.parametrize(("data", "message"), [
    (b"not a midi file at all", "cannot read junk.mid as a MIDI plan"),
    (b"MThd\x00\x00\x00\x06\x00\x01", "cannot read junk.mid as a MIDI plan"),
    (b"\x00" * (1 << 20) + b"x", "a plan's MIDI file is at most 1024 KB"),
])
def test_what_is_not_a_midi_plan_is_refused(document, data, message) -> None:
    verse = document.project.section_by_name("Verse")
    with pytest.raises(OperationError, match=message):
        midi_plan_command(document.project, verse.id, data, "junk.mid")
