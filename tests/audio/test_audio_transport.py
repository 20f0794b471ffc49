from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from melodex_studio.audio.backends import NullBackend, SoundDeviceBackend, find_output_device
from melodex_studio.audio.errors import AudioDeviceError
from melodex_studio.audio.transport import Transport, TransportState
from melodex_studio.music.meter import Meter
from melodex_studio.music.tempo import TempoGrid

RATE = 48000


def ramp(n: int) -> np.ndarray:
    """Sample i holds the value i: any dropped, repeated or shifted sample shows."""
    return np.arange(n, dtype=np.float32)


def manual_transport(
    buffer: np.ndarray, block: int = 480, capture: int = 0, rate: int = RATE, **kwargs
) -> tuple[Transport, NullBackend]:
    backend = NullBackend(
        sample_rate=rate, block_frames=block, manual=True, capture_frames=capture, **kwargs
    )
    transport = Transport(backend, TempoGrid(120.0, Meter(4, 4), rate))
    transport.load(buffer)
    return transport, backend


def played(backend: NullBackend) -> np.ndarray:
    out = backend.captured[: backend.captured_frames]
    np.testing.assert_array_equal(out[:, 0], out[:, 1])  # mono buffer on every channel
    return out[:, 0]


@settings(max_examples=60, deadline=None)
@given(
    start=st.integers(0, 5000),
    length=st.integers(1, 3000),
    block=st.integers(1, 1100),
    playhead=st.integers(0, 9000),
)
def test_loop_wraps_on_the_exact_sample(start, length, block, playhead) -> None:
    """The output stream is exactly the buffer up to the loop end, then the loop repeated."""
    buffer = ramp(20000)
    end = start + length
    playhead = min(playhead, end - 1)
    frames = 3 * length + 4000
    transport, backend = manual_transport(buffer, block, capture=frames)
    transport.set_loop(start, end)
    transport.seek(playhead)
    assert transport.play()
    backend.pump(frames // block + 1)
    # From the playhead (before or inside the loop) to the loop end, then the loop forever.
    repeats = np.tile(np.arange(start, end), frames // length + 2)
    expected = np.concatenate([np.arange(playhead, end), repeats])
    np.testing.assert_array_equal(played(backend), expected[:frames].astype(np.float32))


def test_playhead_is_a_number_that_follows_the_callback() -> None:
    transport, backend = manual_transport(ramp(10000), block=256)
    assert transport.playhead == 0 and transport.state is TransportState.STOPPED
    transport.play()
    backend.pump(3)
    assert transport.playhead == 768
    assert isinstance(transport.playhead, int)
    status = transport.poll()
    assert status.state is TransportState.PLAYING and status.position == 768
    assert status.seconds == pytest.approx(768 / RATE)
    assert status.bar == pytest.approx(transport.grid.sample_to_bar(768))


def test_seek_while_playing_is_sample_exact() -> None:
    transport, backend = manual_transport(ramp(50000), block=100, capture=300)
    transport.play()
    backend.pump(1)
    transport.seek(12345)
    backend.pump(2)
    np.testing.assert_array_equal(
        played(backend), np.concatenate([np.arange(100), np.arange(12345, 12545)])
    )
    assert transport.playhead == 12545


def test_pause_keeps_the_playhead_and_stop_returns_to_where_play_started() -> None:
    transport, backend = manual_transport(ramp(50000), block=100)
    transport.seek(1000)
    transport.play()
    backend.pump(5)
    transport.pause()
    assert transport.state is TransportState.PAUSED and transport.playhead == 1500
    transport.play()
    backend.pump(5)
    assert transport.playhead == 2000
    transport.stop()
    assert transport.state is TransportState.STOPPED and transport.playhead == 1500
    transport.seek(10**9)
    assert transport.playhead == 50000  # clamped to the buffer


def test_playback_stops_at_the_end_and_play_starts_over() -> None:
    transport, backend = manual_transport(ramp(1000), block=300, capture=1200)
    transport.play()
    backend.pump(4)
    out = played(backend)
    np.testing.assert_array_equal(out[:1000], np.arange(1000))
    assert np.all(out[1000:] == 0.0)
    assert transport.poll().state is TransportState.STOPPED
    assert transport.playhead == 1000
    transport.play()
    assert transport.playhead == 0


def test_no_device_gives_a_clear_message_and_the_transport_keeps_working() -> None:
    backend = NullBackend(sample_rate=RATE, manual=True, available=False)
    transport = Transport(backend)
    transport.load(ramp(1000))
    assert transport.play() is False
    status = transport.poll()
    assert status.state is TransportState.DEVICE_ERROR
    assert "No audio output device" in status.last_error
    transport.seek(500)  # the rest keeps working
    assert transport.playhead == 500


def test_device_lost_mid_play_is_reported_through_poll() -> None:
    transport, backend = manual_transport(ramp(100000), block=100, fail_after_blocks=3)
    transport.play()
    backend.pump(10)
    assert transport.playhead == 300
    status = transport.poll()
    assert status.state is TransportState.DEVICE_ERROR
    assert "disappeared" in status.last_error
    transport.seek(0)
    assert transport.playhead == 0


def test_real_sounddevice_backend_without_a_sound_card_explains_itself(monkeypatch) -> None:
    import sounddevice

    monkeypatch.setattr(sounddevice, "query_devices", lambda *a, **k: [])
    with pytest.raises(AudioDeviceError, match="No audio output device found"):
        find_output_device(None)
    backend = SoundDeviceBackend()
    assert not backend.available and "No audio output device" in backend.problem
    transport = Transport(backend)
    assert transport.play() is False
    assert transport.state is TransportState.DEVICE_ERROR
    assert "No audio output device" in transport.last_error


def test_device_by_name_and_rate_fallback(monkeypatch) -> None:
    import sounddevice

    devices = [
        {"index": 0, "name": "HDA Intel PCH: ALC3246 Analog", "hostapi": 0,
         "max_output_channels": 2, "default_samplerate": 44100.0},
        {"index": 1, "name": "USB Audio Interface", "hostapi": 0,
         "max_output_channels": 4, "default_samplerate": 48000.0},
        {"index": 2, "name": "Microphone", "hostapi": 0,
         "max_output_channels": 0, "default_samplerate": 48000.0},
    ]
    monkeypatch.setattr(sounddevice, "query_devices", lambda *a, **k: devices)
    monkeypatch.setattr(sounddevice, "query_hostapis", lambda *a, **k: [{"name": "ALSA"}])

    def check(device=None, samplerate=None, **kwargs):
        if samplerate != 44100:
            raise sounddevice.PortAudioError("Invalid sample rate")

    monkeypatch.setattr(sounddevice, "check_output_settings", check)
    assert find_output_device("usb audio interface").index == 1
    assert find_output_device("alc3246").index == 0
    with pytest.raises(AudioDeviceError, match="No audio output device is called 'Microphone'"):
        find_output_device("Microphone")
    backend = SoundDeviceBackend("ALC3246", sample_rate=48000)
    assert backend.available and backend.sample_rate == 44100  # the device's own rate


def test_a_buffer_at_another_rate_is_resampled_once_when_loaded() -> None:
    backend = NullBackend(sample_rate=44100, manual=True)
    transport = Transport(backend)
    transport.load(np.zeros(48000, dtype=np.float32), sample_rate=48000)
    assert transport.length == 44100
    transport.set_backend(NullBackend(sample_rate=48000, manual=True))
    assert transport.output_rate == 48000 and transport.length == 48000
