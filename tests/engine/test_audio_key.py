"""The studio's listener names the key of audio from its pitch content."""

from __future__ import annotations

import numpy as np
import pytest
from cadences import RATE, progression

from melodex_studio.engine.audio_key import (
    heard_key,
    key_vector,
    semitone_chroma,
    semitone_filterbank,
)
from melodex_studio.music.key import Key


@pytest.mark.parametrize(("tonic", "minor"), [(9, True), (3, False), (0, False), (6, True)])
def test_a_cadence_is_heard_in_its_key(tonic: int, minor: bool) -> None:
    expected = Key(tonic, "minor" if minor else "major")
    assert heard_key(progression(tonic, minor), RATE) == expected


def test_the_parallel_major_is_not_the_minor() -> None:
    minor, major = progression(9, True), progression(9, False)
    assert heard_key(minor, RATE) != heard_key(major, RATE)


def test_silence_has_no_key() -> None:
    assert heard_key(np.zeros(RATE * 2, dtype=np.float32), RATE) is None


def test_a_tone_lands_on_its_pitch_class_and_short_audio_is_padded() -> None:
    t = np.arange(2 * RATE) / RATE
    chroma = semitone_chroma(np.sin(2 * np.pi * 440.0 * t), RATE)
    assert chroma.shape[1] > 1
    assert (np.argmax(chroma, axis=0) == 9).all()  # A
    assert (chroma[9] > 20 * np.delete(chroma, 9, axis=0).max(axis=0)).all()
    short = semitone_chroma(np.sin(2 * np.pi * 440.0 * t[: RATE // 4]), RATE)  # < one window
    assert short.shape == (12, 1) and int(np.argmax(short[:, 0])) == 9


def test_filterbank_rows_are_normalised_and_centred() -> None:
    bank = semitone_filterbank(RATE)
    np.testing.assert_allclose(bank.sum(axis=1), 1.0)
    freqs = np.fft.rfftfreq((bank.shape[1] - 1) * 2, 1 / RATE)
    a4 = 45  # A4 (MIDI 69) is 45 semitones above C1 (MIDI 24)
    assert abs(freqs[int(np.argmax(bank[a4]))] - 440.0) < 1.5


def test_key_vector_compresses_frames_and_keeps_a_vector() -> None:
    frames = np.zeros((12, 2))
    frames[0] = [1.0, 100.0]
    frames[7] = [1.0, 1.0]
    vector = key_vector(frames)
    # log1p compression: the loud frame does not outweigh the fifth a hundred to one
    assert vector[0] / vector[7] < 5.0
    plain = np.arange(12.0)
    np.testing.assert_array_equal(key_vector(plain), plain)
