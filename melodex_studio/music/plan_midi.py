"""Plan <-> Standard MIDI File (type 1) with mido: export a plan to any DAW, import a sketch.

Layout written:
- track 0 (conductor): tempo, time signature, key signature; its end marks the plan's end;
- "chords" (channel 1): a block chord per bar (root from MIDI 48, slash bass from 36), a text
  event ``chord <symbol>`` (or ``chord N.C.``) at each bar line so symbols come back exactly,
  and the bar's energy and density on the general-purpose controllers CC 16 and CC 17;
- "bass" (channel 2) and "melody" (channel 3): scale degrees of the key, degree 0 at
  `BASS_ROOT_MIDI` / `MELODY_ROOT_MIDI` + the tonic's pitch class (bass around MIDI 36-48,
  melody 60-84);
- "drums" (channel 10): General MIDI percussion (`GM_DRUM_NOTES`).

Reading quantises onsets and lengths to 16ths, maps pitches to the nearest scale degree,
energy and density to the 0.1 grid, and unknown percussion keys to the nearest voice. A plan in
the token vocabulary (`engine.plan_tokens`) round-trips exactly.
"""

from __future__ import annotations

import io
import math
from collections import defaultdict
from dataclasses import dataclass

import mido

from melodex_studio.music.chord import QUALITIES, Chord
from melodex_studio.music.errors import MusicParseError
from melodex_studio.music.key import Key
from melodex_studio.music.meter import Meter
from melodex_studio.music.plan import (
    ALL_DRUM_VOICES,
    GM_DRUM_NOTES,
    DrumVoice,
    Plan,
    PlanBar,
    PlanNote,
)

TICKS_PER_BEAT = 480
BASS_ROOT_MIDI = 36
MELODY_ROOT_MIDI = 60
CHORD_ROOT_MIDI = 48
SLASH_BASS_MIDI = 36
# Same channels, programs and registers as the song export in `audio.midi_export`.
CHORD_CHANNEL, BASS_CHANNEL, MELODY_CHANNEL, DRUM_CHANNEL = 0, 1, 2, 9
PROGRAMS = {CHORD_CHANNEL: 4, BASS_CHANNEL: 33, MELODY_CHANNEL: 73}  # e-piano, finger bass, flute
TRACK_NAMES = {
    CHORD_CHANNEL: "chords",
    BASS_CHANNEL: "bass",
    MELODY_CHANNEL: "melody",
    DRUM_CHANNEL: "drums",
}
ENERGY_CC, DENSITY_CC = 16, 17
CHORD_TEXT_PREFIX = "chord "
NO_CHORD_TEXT = "N.C."

#: Other General MIDI percussion keys and the plan voice that sounds most like them.
EXTRA_DRUM_NOTES: dict[int, DrumVoice] = {
    35: DrumVoice.KICK,
    37: DrumVoice.SNARE,
    40: DrumVoice.SNARE,
    41: DrumVoice.LOW_TOM,
    43: DrumVoice.LOW_TOM,
    44: DrumVoice.CLOSED_HAT,
    47: DrumVoice.HIGH_TOM,
    48: DrumVoice.HIGH_TOM,
    52: DrumVoice.CRASH,
    53: DrumVoice.RIDE,
    55: DrumVoice.CRASH,
    57: DrumVoice.CRASH,
    59: DrumVoice.RIDE,
}
_VOICE_OF_NOTE = {note: voice for voice, note in GM_DRUM_NOTES.items()} | EXTRA_DRUM_NOTES
#: (absolute tick, order within the tick, message)
_Event = tuple[int, int, mido.Message | mido.MetaMessage]


@dataclass(frozen=True)
class MidiPlan:
    """A plan read from MIDI with the musical frame it was written in."""

    plan: Plan
    key: Key
    meter: Meter
    bpm: float


# --- writing -------------------------------------------------------------------------------------


def plan_to_midi(
    plan: Plan, key: Key, meter: Meter, bpm: float, ticks_per_beat: int = TICKS_PER_BEAT
) -> mido.MidiFile:
    if plan.steps_per_bar != meter.sixteenths_per_bar:
        raise ValueError(
            f"the plan has {plan.steps_per_bar} steps per bar, {meter} has "
            f"{meter.sixteenths_per_bar}"
        )
    step_ticks = ticks_per_beat / 4
    steps = plan.steps_per_bar

    def tick(bar: int, step: int) -> int:
        return round((bar * steps + step) * step_ticks)

    signature = mido.MetaMessage(
        "time_signature", numerator=meter.numerator, denominator=meter.denominator
    )
    conductor: list[_Event] = [
        (0, 0, mido.MetaMessage("track_name", name="conductor")),
        (0, 0, mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(bpm))),
        (0, 0, signature),
        (0, 0, mido.MetaMessage("key_signature", key=key.short_name)),
    ]
    parts: dict[int, list[_Event]] = {channel: [] for channel in TRACK_NAMES}
    for index, bar in enumerate(plan.bars):
        start, velocity = tick(index, 0), 50 + round(60 * bar.energy)
        symbol = CHORD_TEXT_PREFIX + (bar.chord or NO_CHORD_TEXT)
        parts[CHORD_CHANNEL] += [
            (start, 1, mido.MetaMessage("text", text=symbol)),
            (start, 1, _cc(CHORD_CHANNEL, ENERGY_CC, bar.energy)),
            (start, 1, _cc(CHORD_CHANNEL, DENSITY_CC, bar.density)),
        ]
        chord = bar.chord_value()
        if chord is not None:
            end_of_bar = tick(index + 1, 0)
            parts[CHORD_CHANNEL] += _notes(
                CHORD_CHANNEL, _chord_pitches(chord), start, end_of_bar, velocity
            )
        for notes, channel, root in (
            (bar.bass, BASS_CHANNEL, BASS_ROOT_MIDI + key.tonic),
            (bar.melody, MELODY_CHANNEL, MELODY_ROOT_MIDI + key.tonic),
        ):
            for note in notes:
                pitch = key.degree_to_midi(note.degree, root)
                on, off = tick(index, note.step), tick(index, note.step + note.length)
                if 0 <= pitch <= 127:
                    parts[channel] += _notes(channel, [pitch], on, off, velocity)
        for step, mask in enumerate(bar.drums):
            on = tick(index, step)
            hits = [GM_DRUM_NOTES[voice] for voice in ALL_DRUM_VOICES if mask & voice]
            off = on + max(1, round(step_ticks / 2))
            parts[DRUM_CHANNEL] += _notes(DRUM_CHANNEL, hits, on, off, 100)
    end = tick(plan.n_bars, 0)
    midi = mido.MidiFile(type=1, ticks_per_beat=ticks_per_beat)
    midi.tracks.append(_track(conductor, end))
    for channel, name in TRACK_NAMES.items():
        header: list[_Event] = [(0, 0, mido.MetaMessage("track_name", name=name))]
        if channel in PROGRAMS:
            program = mido.Message("program_change", channel=channel, program=PROGRAMS[channel])
            header.append((0, 0, program))
        midi.tracks.append(_track(header + parts[channel], end))
    return midi


def plan_to_midi_bytes(plan: Plan, key: Key, meter: Meter, bpm: float) -> bytes:
    buffer = io.BytesIO()
    plan_to_midi(plan, key, meter, bpm).save(file=buffer)
    return buffer.getvalue()


def _cc(channel: int, control: int, value: float) -> mido.Message:
    value_7bit = round(value * 127)
    return mido.Message("control_change", channel=channel, control=control, value=value_7bit)


def _chord_pitches(chord: Chord) -> list[int]:
    root = CHORD_ROOT_MIDI + chord.root
    pitches = [root + interval for interval in chord.intervals]
    if chord.bass is not None:
        pitches.insert(0, SLASH_BASS_MIDI + chord.bass)
    return pitches


def _notes(channel: int, pitches: list[int], on: int, off: int, velocity: int) -> list[_Event]:
    # Order 0 for note-offs: a note that ends where the next one starts is released first.
    events: list[_Event] = []
    for pitch in pitches:
        start = mido.Message("note_on", channel=channel, note=pitch, velocity=velocity)
        events.append((on, 2, start))
        events.append((off, 0, mido.Message("note_off", channel=channel, note=pitch, velocity=0)))
    return events


def _track(events: list[_Event], end: int) -> mido.MidiTrack:
    track = mido.MidiTrack()
    now = 0
    for time, _, message in sorted(events, key=lambda event: (event[0], event[1])):
        track.append(message.copy(time=time - now))
        now = time
    track.append(mido.MetaMessage("end_of_track", time=max(0, end - now)))
    return track


# --- reading -------------------------------------------------------------------------------------


@dataclass
class _Note:
    channel: int
    pitch: int
    start: int
    end: int


def midi_to_plan(
    midi: mido.MidiFile,
    key: Key | None = None,
    meter: Meter | None = None,
    n_bars: int | None = None,
) -> MidiPlan:
    """Read a plan back. `key` and `meter` default to the file's signatures (else C major,
    4/4); `n_bars` defaults to the file's length in whole bars."""
    header = _read_header(midi)
    key = key or header["key"] or Key.parse("C")
    meter = meter or header["meter"] or Meter(4, 4)
    steps_per_bar = meter.sixteenths_per_bar
    step_ticks = midi.ticks_per_beat / 4
    bar_ticks = steps_per_bar * step_ticks
    notes, texts, controls, last_tick = _read_events(midi)
    if n_bars is None:
        n_bars = max(1, math.ceil(last_tick / bar_ticks - 1e-6))

    def step_of(tick: float) -> int:
        return round(tick / step_ticks)

    bars: list[dict] = [
        {"chord": None, "drums": [0] * steps_per_bar, "bass": [], "melody": [], "chord_notes": []}
        for _ in range(n_bars)
    ]
    for tick, text in texts:
        bar = step_of(tick) // steps_per_bar
        if text.startswith(CHORD_TEXT_PREFIX) and 0 <= bar < n_bars:
            symbol = text[len(CHORD_TEXT_PREFIX) :].strip()
            bars[bar]["chord"] = _parse_chord_text(symbol)
    for note in notes:
        onset = step_of(note.start)
        bar, step = divmod(onset, steps_per_bar)
        if not 0 <= bar < n_bars:
            continue
        if note.channel == DRUM_CHANNEL:
            bars[bar]["drums"][step] |= int(_VOICE_OF_NOTE.get(note.pitch, DrumVoice.PERCUSSION))
        elif note.channel == CHORD_CHANNEL:
            bars[bar]["chord_notes"].append(note.pitch)
        else:
            part = "bass" if note.channel == BASS_CHANNEL else "melody"
            root = (BASS_ROOT_MIDI if part == "bass" else MELODY_ROOT_MIDI) + key.tonic
            length = min(128, max(1, step_of(note.end) - onset))
            degree = _nearest_degree(key, note.pitch - root)
            bars[bar][part].append(PlanNote(step=step, length=length, degree=degree))
    levels: dict[tuple[int, int], float] = {}
    for tick, control, value in controls:
        bar = step_of(tick) // steps_per_bar
        levels[(bar, control)] = round(value / 127 * 10) / 10
    plan_bars = []
    for index, bar in enumerate(bars):
        chord = bar["chord"]
        if chord is None and not header["chord_texts"]:
            chord = _recognise_chord(bar["chord_notes"])
        plan_bars.append(
            PlanBar(
                chord=chord if chord != NO_CHORD_TEXT else None,
                energy=levels.get((index, ENERGY_CC), 0.5),
                density=levels.get((index, DENSITY_CC), 0.5),
                drums=tuple(bar["drums"]),
                bass=tuple(sorted(bar["bass"], key=lambda n: (n.step, n.degree))),
                melody=tuple(sorted(bar["melody"], key=lambda n: (n.step, n.degree))),
            )
        )
    plan = Plan(steps_per_bar=steps_per_bar, bars=tuple(plan_bars))
    return MidiPlan(plan, key, meter, header["bpm"])


def midi_bytes_to_plan(data: bytes, **kwargs: object) -> MidiPlan:
    return midi_to_plan(mido.MidiFile(file=io.BytesIO(data)), **kwargs)  # type: ignore[arg-type]


def _read_header(midi: mido.MidiFile) -> dict:
    header: dict = {"key": None, "meter": None, "bpm": 120.0, "chord_texts": False}
    tempo_seen = False
    for track in midi.tracks:
        for message in track:
            if message.type == "set_tempo" and not tempo_seen:
                header["bpm"] = round(mido.tempo2bpm(message.tempo), 3)
                tempo_seen = True
            elif message.type == "time_signature" and header["meter"] is None:
                header["meter"] = Meter(message.numerator, message.denominator)
            elif message.type == "key_signature" and header["key"] is None:
                header["key"] = Key.parse(message.key)
            elif message.type == "text" and message.text.startswith(CHORD_TEXT_PREFIX):
                header["chord_texts"] = True
    return header


def _read_events(midi: mido.MidiFile) -> tuple[list[_Note], list, list, int]:
    notes: list[_Note] = []
    texts: list[tuple[int, str]] = []
    controls: list[tuple[int, int, int]] = []
    last_tick = 0
    for track in midi.tracks:
        now = 0
        sounding: dict[tuple[int, int], list[int]] = defaultdict(list)
        for message in track:
            now += message.time
            if message.type == "note_on" and message.velocity > 0:
                sounding[(message.channel, message.note)].append(now)
            elif message.type in ("note_on", "note_off"):
                starts = sounding[(message.channel, message.note)]
                if starts:
                    notes.append(_Note(message.channel, message.note, starts.pop(0), now))
            elif message.type == "text":
                texts.append((now, message.text))
            elif message.type == "control_change" and message.control in (ENERGY_CC, DENSITY_CC):
                controls.append((now, message.control, message.value))
        for (channel, pitch), starts in sounding.items():  # never released: ring to the end
            notes += [_Note(channel, pitch, start, now) for start in starts]
        last_tick = max(last_tick, now)
    return notes, texts, controls, last_tick


def _parse_chord_text(symbol: str) -> str | None:
    if symbol == NO_CHORD_TEXT:
        return NO_CHORD_TEXT
    try:
        return Chord.parse(symbol).symbol
    except MusicParseError:
        return None


def _recognise_chord(pitches: list[int]) -> str | None:
    """The chord whose tones are exactly the pitch classes played (lowest note as slash bass
    when it is not the root); None when no chord quality fits."""
    if not pitches:
        return None
    classes = {pitch % 12 for pitch in pitches}
    bass = min(pitches) % 12
    for root in sorted(classes, key=lambda pc: (pc != bass, pc)):
        for candidate_bass in (None, bass):
            for quality in QUALITIES:
                chord = Chord(root, quality, candidate_bass)
                if set(chord.pitch_classes) == classes:
                    return chord.symbol
    return None


def _nearest_degree(key: Key, semitones: int) -> int:
    """The scale degree nearest `semitones` above the part's tonic (the lower one on a tie)."""
    candidates = range(-21, 29)
    return min(candidates, key=lambda d: (abs(key.scale.degree_to_semitones(d) - semitones), d))
