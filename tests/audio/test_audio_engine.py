"""The audio callback itself: no allocation in the steady state, and the real sounddevice path."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from melodex_studio.audio.engine import LoopRange, PlaybackEngine
from melodex_studio.audio.swap import build_swap_request


def test_the_callback_allocates_no_arrays_while_looping_and_crossfading() -> None:
    from melodex_studio.audio.metronome import ClickTrack
    from melodex_studio.music.meter import Meter
    from melodex_studio.music.tempo import TempoGrid

    engine = PlaybackEngine()
    # The metronome clicks on every beat (each click spans two blocks) throughout.
    engine.metronome = ClickTrack.for_grid(TempoGrid(120.0, Meter(4, 4), 48000), 480000)
    engine.request_swap(build_swap_request(np.ones(480000, np.float32), 0, 240, immediate=True))
    engine.apply_requests_now()
    engine.loop = LoopRange(1000, 200000)
    out = np.zeros((960, 2), dtype=np.float32)  # 7.5 KB: any array we made would show
    for _ in range(10):
        engine.render(out)
    swap = build_swap_request(np.full(480000, 0.5, np.float32), 96000, 240, (0, 96000, 192000))
    engine.request_swap(swap)
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        for _ in range(2000):  # 40 s of audio: many loop wraps and the swap's crossfade
            engine.render(out)
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    assert engine.last_applied_swap is swap
    assert np.abs(out).max() > 0.0
    assert peak < 3000, f"the callback allocated {peak} bytes at its peak"


ALSA_CONF = Path("/usr/share/alsa/alsa.conf")
_NULL_DEVICE_SCRIPT = textwrap.dedent(
    """
    import time, numpy as np
    from melodex_studio.audio.backends import SoundDeviceBackend, list_output_devices
    from melodex_studio.audio.transport import Transport, TransportState
    print("devices", [d.name for d in list_output_devices()])
    backend = SoundDeviceBackend(sample_rate=48000)
    assert backend.available, backend.problem
    transport = Transport(backend)
    transport.load(np.zeros(48000 * 10, dtype=np.float32))
    transport.set_loop(0, 48000)  # the null device runs ~1000x real time: never reach the end
    assert transport.play(), transport.last_error
    time.sleep(0.2)
    assert transport.poll().state is TransportState.PLAYING
    assert backend.stats.callbacks > 0 and 0 <= transport.playhead < 48000
    transport.pause()
    assert transport.state is TransportState.PAUSED
    # A device that stops by itself (what an unplugged device does) is reported by poll().
    assert transport.play()
    backend._stream.abort()
    time.sleep(0.1)
    status = transport.poll()
    assert status.state is TransportState.DEVICE_ERROR, status
    assert "stopped responding" in status.last_error
    print("ok")
    """
)


@pytest.mark.skipif(not ALSA_CONF.exists(), reason="needs ALSA's configuration files")
def test_sounddevice_backend_plays_through_a_null_alsa_device(tmp_path: Path) -> None:
    """A null ALSA device opens like a sound card (it has no clock, so this checks the stream
    path, not timing)."""
    conf = tmp_path / "null.conf"
    conf.write_text("pcm.!default { type null }\nctl.!default { type hw card 0 }\n")
    env = dict(os.environ, ALSA_CONFIG_PATH=f"{ALSA_CONF}:{conf}")
    result = subprocess.run(
        [sys.executable, "-c", _NULL_DEVICE_SCRIPT],
        env=env, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ok" in result.stdout
