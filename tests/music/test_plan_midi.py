"""Plan <-> MIDI: what a DAW receives, and exact round trips for in-vocabulary plans."""

from __future__ import annotations

import mido
from hypothesis import given, settings
from hypothesis import strategies as st

from melodex_studio.engine import plan_tokens as pt
from melodex_studio.music.key import Key
from melodex_studio.music.meter import Meter
from melodex_studio.music.plan import DrumVoice, Plan, PlanBar, PlanNote
from melodex_studio.music.plan_midi import (
    BASS_CHANNEL,
    CHORD_CHANNEL,
    DRUM_CHANNEL,
    MELODY_CHANNEL,
    midi_bytes_to_plan,
    midi_to_plan,
    plan_to_midi,
    plan_to_midi_bytes,
)
from tests.token_sequences import random_valid_tokens

METERS = [Meter.parse(text) for text in ("4/4", "3/4", "6/8", "7/8", "5/4")]
KEYS = [Key.from_index(index) for index in range(24)]


def vocabulary_plan(seed: int, steps: int, n_bars: int, key: Key) -> Plan:
    """A random plan inside the token vocabulary (decoded from grammar-valid tokens)."""
    tokens = random_valid_tokens(seed, steps, n_bars, quiet=0.7)
    return pt.decode_plan(tokens, key, steps)


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 100_000),
    meter=st.sampled_from(METERS),
    key=st.sampled_from(KEYS),
    n_bars=st.integers(1, 3),
    bpm=st.sampled_from((60.0, 97.0, 120.0, 174.5)),
)
def test_in_vocabulary_plans_round_trip(
    seed: int, meter: Meter, key: Key, n_bars: int, bpm: float
) -> None:
    plan = vocabulary_plan(seed, meter.sixteenths_per_bar, n_bars, key)
    back = midi_bytes_to_plan(plan_to_midi_bytes(plan, key, meter, bpm))
    assert back.plan == plan
    assert back.key == key and back.meter == meter
    assert abs(back.bpm - bpm) < 1e-3


def test_what_a_daw_receives() -> None:
    key, meter = Key.parse("G major"), Meter.parse("4/4")
    bar = PlanBar(
        chord="D/F#",
        energy=0.6,
        drums=(int(DrumVoice.KICK | DrumVoice.CLOSED_HAT),) + (0,) * 15,
        bass=(PlanNote(step=0, length=4, degree=0),),
        melody=(PlanNote(step=8, length=8, degree=4),),
    )
    midi = plan_to_midi(Plan(steps_per_bar=16, bars=(bar,)), key, meter, 90.0)
    assert midi.type == 1 and len(midi.tracks) == 5
    conductor = {message.type: message for message in midi.tracks[0]}
    assert conductor["set_tempo"].tempo == mido.bpm2tempo(90.0)
    assert (conductor["time_signature"].numerator, conductor["time_signature"].denominator) == (
        4,
        4,
    )
    assert conductor["key_signature"].key == "G"
    starts: dict[int, list[tuple[int, int]]] = {}
    for track in midi.tracks[1:]:
        now = 0
        for message in track:
            now += message.time
            if message.type == "note_on":
                starts.setdefault(message.channel, []).append((now, message.note))
    assert sorted(starts[DRUM_CHANNEL]) == [(0, 36), (0, 42)]
    assert starts[BASS_CHANNEL] == [(0, 43)]  # G2: the bass register
    assert starts[MELODY_CHANNEL] == [(960, 74)]  # degree 4 of G from G4 = D5, on beat 3
    assert sorted(note for _, note in starts[CHORD_CHANNEL]) == [42, 50, 54, 57]  # F#2 + D F# A


def test_foreign_midi_is_quantised_to_the_plan_grid() -> None:
    """No chord text, off-grid timing, a chromatic note and an unknown drum key."""
    midi = mido.MidiFile(type=1, ticks_per_beat=96)
    track = mido.MidiTrack()
    track.append(mido.MetaMessage("key_signature", key="Am"))
    events = [
        (0, mido.Message("note_on", channel=CHORD_CHANNEL, note=53, velocity=80)),  # F
        (0, mido.Message("note_on", channel=CHORD_CHANNEL, note=57, velocity=80)),  # A
        (0, mido.Message("note_on", channel=CHORD_CHANNEL, note=60, velocity=80)),  # C
        (3, mido.Message("note_on", channel=DRUM_CHANNEL, note=35, velocity=90)),  # bass drum 1
        (25, mido.Message("note_on", channel=MELODY_CHANNEL, note=70, velocity=90)),  # Bb4
        (70, mido.Message("note_off", channel=MELODY_CHANNEL, note=70, velocity=0)),
        (384, mido.Message("note_off", channel=CHORD_CHANNEL, note=53, velocity=0)),
        (384, mido.Message("note_off", channel=CHORD_CHANNEL, note=57, velocity=0)),
        (384, mido.Message("note_off", channel=CHORD_CHANNEL, note=60, velocity=0)),
    ]
    now = 0
    for time, message in events:
        track.append(message.copy(time=time - now))
        now = time
    midi.tracks.append(track)
    result = midi_to_plan(midi)
    assert result.key == Key.parse("A minor") and result.meter == Meter(4, 4)
    bar = result.plan.bars[0]
    assert result.plan.n_bars == 1
    assert bar.chord == "F"
    assert bar.drums[0] == int(DrumVoice.KICK)
    # 25 ticks is one 16th (24 ticks); Bb4 lies between the melody's tonic A4 (degree 0) and
    # B4 (degree 1): a tie goes to the lower degree
    assert bar.melody == (PlanNote(step=1, length=2, degree=0),)
