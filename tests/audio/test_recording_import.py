"""Reading a recording to import: mono, at the model's rate, refused with a reason when it
cannot be used."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile

from melodex_studio.audio.errors import RecordingError
from melodex_studio.audio.recording_import import IMPORT_PEAK, read_recording


def noise(frames: int, channels: int, level: float = 0.3) -> np.ndarray:
    rng = np.random.default_rng(frames + channels)
    return rng.uniform(-level, level, (frames, channels)).astype(np.float32)


def test_a_stereo_flac_at_another_rate_arrives_mono_at_the_models_rate(tmp_path) -> None:
    path = tmp_path / "loop.flac"
    soundfile.write(path, noise(48000, 2), 48000, subtype="PCM_24")
    recording = read_recording(path, 24000)
    assert recording.audio.dtype == np.float32 and recording.audio.ndim == 1
    assert len(recording.audio) == 24000 and recording.seconds == pytest.approx(1.0)
    assert (recording.source_rate, recording.source_channels, recording.name) == (
        48000, 2, "loop.flac")


def test_the_same_rate_is_read_as_it_is_and_a_hot_file_gets_headroom(tmp_path) -> None:
    quiet = noise(12000, 1)
    soundfile.write(tmp_path / "quiet.wav", quiet, 24000, subtype="FLOAT")
    np.testing.assert_array_equal(read_recording(tmp_path / "quiet.wav", 24000).audio,
                                  quiet[:, 0])
    soundfile.write(tmp_path / "hot.wav", noise(12000, 1, level=1.8), 24000, subtype="FLOAT")
    hot = read_recording(tmp_path / "hot.wav", 24000).audio
    assert np.abs(hot).max() == pytest.approx(IMPORT_PEAK, rel=1e-6)


@pytest.mark.parametrize(("make", "message"), [
    (lambda path: None, "does not exist"),
    (lambda path: path.write_bytes(b"RIFF....WAVEfmt nonsense"), "not an audio file"),
    (lambda path: path.write_text(""), "not an audio file"),
    (lambda path: soundfile.write(path, np.zeros((0, 1), np.float32), 24000), "no audio"),
])
def test_unusable_files_are_refused_with_a_reason(tmp_path, make, message) -> None:
    path = tmp_path / "take.wav"
    make(path)
    with pytest.raises(RecordingError, match=message):
        read_recording(path, 24000)


def test_a_recording_too_long_is_refused_before_it_is_read(tmp_path) -> None:
    path = tmp_path / "long.wav"
    soundfile.write(path, noise(24000 * 3, 1), 24000)
    with pytest.raises(RecordingError, match=r"it is 3.0 s long; recordings of up to 2.0 s"):
        read_recording(path, 24000, max_seconds=2.0)
    assert read_recording(path, 24000, max_seconds=3.0).seconds == pytest.approx(3.0)


def test_only_what_the_section_holds_is_read_from_a_long_file(tmp_path) -> None:
    path = tmp_path / "long.flac"
    long = noise(48000 * 5, 2)
    soundfile.write(path, long, 48000, subtype="PCM_24")
    start = read_recording(path, 48000, seconds=1.5)
    assert len(start.audio) == 72000
    whole = read_recording(path, 48000)
    np.testing.assert_allclose(start.audio, whole.audio[:72000], atol=1e-6)
    with pytest.raises(RecordingError, match=r"up to 2\.0 s"):
        read_recording(path, 48000, max_seconds=2.0)
    assert len(read_recording(path, 48000, seconds=1.0, max_seconds=2.0).audio) == 48000


def test_damaged_headers_are_refused_or_read_never_crash(tmp_path) -> None:
    import random

    good = tmp_path / "good.wav"
    soundfile.write(good, noise(4800, 1), 48000)
    raw = good.read_bytes()
    rng = random.Random(0)
    refused = 0
    for index in range(120):
        damaged = bytearray(raw)
        for _ in range(rng.randint(1, 8)):
            damaged[rng.randrange(44)] = rng.randrange(256)
        if rng.random() < 0.3:
            damaged = damaged[: rng.randrange(10, len(damaged))]
        path = tmp_path / f"damaged{index}.wav"
        path.write_bytes(bytes(damaged))
        try:
            recording = read_recording(path, 24000, seconds=2.0)
        except RecordingError as error:
            refused += 1
            assert str(error).startswith(f"cannot import damaged{index}.wav: ")
        else:
            assert recording.audio.dtype == np.float32 and np.isfinite(recording.audio).all()
    assert refused > 60  # most damage is caught; the rest still reads as audio


@pytest.mark.parametrize("factor", [1.25, 0.8])
def test_a_stretched_recording_reads_what_fills_the_section_and_no_more(tmp_path,
                                                                        factor) -> None:
    """Played `factor` times as fast, `seconds` of section hold `seconds * factor` of the
    file: the result is `seconds` long and sound to its end (a file 3 times as long)."""
    rate, seconds = 8000, 2.0
    path = tmp_path / "long.wav"
    soundfile.write(path, noise(rate * 6, 1), rate, subtype="FLOAT")
    audio = read_recording(path, rate, seconds, tempo_factor=factor).audio
    assert abs(len(audio) - seconds * rate) <= 1
    tail = audio[-rate // 4 :]
    assert np.sqrt(np.mean(tail**2)) > 0.05  # not silence: enough of the file was read
    with pytest.raises(RecordingError, match="from a quarter to four times"):
        read_recording(path, rate, seconds, tempo_factor=5.0)


def test_a_transposed_hot_recording_still_gets_headroom_after_the_shift(tmp_path) -> None:
    rate = 16000
    t = np.arange(rate) / rate
    loud = (1.6 * np.sin(2 * np.pi * 330 * t)).astype(np.float32)
    soundfile.write(tmp_path / "hot.wav", loud, rate, subtype="FLOAT")
    audio = read_recording(tmp_path / "hot.wav", rate, semitones=3).audio
    assert np.abs(audio).max() <= IMPORT_PEAK * (1 + 1e-6)
    spectrum = np.abs(np.fft.rfft(audio[rate // 4 : 3 * rate // 4]))
    assert abs(np.argmax(spectrum) * 2 - 330 * 2 ** (3 / 12)) < 4  # 392 Hz


def test_the_take_name_keeps_what_was_done_whatever_the_file_name() -> None:
    from melodex_studio.audio.recording_import import ImportOptions

    options = ImportOptions.onto(120.0, 96.5, -2)
    assert options.take_name("riff.wav", 120.0) == "riff.wav (96.5→120 BPM, -2 st)"
    long = options.take_name("Guitar_riff_session_2024-05-01_take3_final_bounce.wav", 120.0)
    assert len(long) <= 64 and long.endswith("… (96.5→120 BPM, -2 st)")
    assert ImportOptions.onto(120.0).take_name("riff.wav", 120.0) == "riff.wav"
