"""Where each part sounds: the MIDI note of scale degree 0 for bass and melody, and the range
chord voicings live in. Plans store degrees; these functions are the one mapping to pitch, so
the renderer, the evaluation and any later control raster agree on it."""

from __future__ import annotations

from melodex_studio.music.key import Key

# The same registers as the plan's MIDI export (`music.plan_midi`, `audio.midi_export`), so a
# plan exported as MIDI sounds in the octaves the corpus taught the model.
#: The bass tonic lies in C2..B2 (MIDI 36..47); bass degrees -3..4 span about G1..F#3.
BASS_TONIC_LOW = 36
#: The melody tonic lies in C4..B4 (MIDI 60..71); degrees 0..11 reach an octave and a half up.
MELODY_TONIC_LOW = 60
#: Chord voicings stay inside this MIDI range (E3..G5).
HARMONY_RANGE = (52, 79)


def bass_root_midi(key: Key) -> int:
    """MIDI note of degree 0 (the tonic) in the bass register."""
    return BASS_TONIC_LOW + (key.tonic - BASS_TONIC_LOW) % 12


def melody_root_midi(key: Key) -> int:
    """MIDI note of degree 0 (the tonic) in the melody register."""
    return MELODY_TONIC_LOW + (key.tonic - MELODY_TONIC_LOW) % 12


def bass_midi(key: Key, degree: int) -> int:
    return key.degree_to_midi(degree, bass_root_midi(key))


def melody_midi(key: Key, degree: int) -> int:
    return key.degree_to_midi(degree, melody_root_midi(key))
