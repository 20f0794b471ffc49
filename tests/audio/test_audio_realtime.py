"""Playback in real time (clock-paced NullBackend) while another process keeps the CPU busy."""

from __future__ import annotations

import time

import numpy as np
from conftest import BlobStore, make_take, rendered_project, with_take

from melodex_studio.audio.backends import NullBackend
from melodex_studio.audio.player import ProjectPlayer
from melodex_studio.audio.transport import Transport, TransportState

RATE = 48000


def test_real_time_playback_misses_no_deadline_while_another_process_burns_cpu(cpu_hog) -> None:
    """The pacing thread asks for audio-thread scheduling as PortAudio's does (see
    `raise_thread_priority`); each 20 ms block must be done within 20 ms of its request."""
    backend = NullBackend(sample_rate=RATE, block_seconds=0.02)  # paced at 1x, 20 ms blocks
    transport = Transport(backend)
    transport.load(np.zeros(RATE * 10, dtype=np.float32))
    transport.set_loop(0, RATE)
    assert cpu_hog.poll() is None  # the CPU-heavy job is running
    assert transport.play()
    time.sleep(3.0)
    transport.pause()
    stats = backend.stats
    assert stats.callbacks >= 140  # 3 s of 20 ms blocks (minus start-up)
    assert stats.missed_deadlines == 0, (
        f"{stats.missed_deadlines} late blocks; worst lateness "
        f"{stats.worst_lateness_seconds * 1000:.1f} ms; thread {backend.thread_priority}"
    )
    assert stats.worst_callback_seconds < 0.02
    assert cpu_hog.poll() is None


def test_player_swaps_a_take_at_the_next_bar_while_playing(store: BlobStore) -> None:
    project = rendered_project(store, "Intro:2,Verse:2", sample_rate=48000)
    backend = NullBackend(sample_rate=RATE, block_frames=480, manual=True,
                          capture_frames=RATE * 8)
    transport = Transport(backend)
    player = ProjectPlayer(transport, store.read_audio)
    player.show(project)
    transport.play()
    backend.pump(200)  # 2 s = one bar at 120 BPM 4/4
    verse = project.section_by_name("Verse")
    new_audio = np.full(24000 * 4, 0.1, dtype=np.float32)
    project2 = with_take(project, "Verse", make_take(store, verse, new_audio))
    update = player.show(project2)
    grid = project.grid()
    assert (update.start, update.stop) == grid.bar_span_samples(2, 2)
    assert transport.poll().swap_pending
    backend.pump(400)
    out = backend.captured[: backend.captured_frames, 0]
    swap_at = grid.bar_to_sample(2)  # playhead on bar line 1 (inside the guard): next is 2
    assert transport.engine.last_swap_sample == swap_at
    before = player.mixer.buffer
    np.testing.assert_array_equal(out[swap_at + 240 : swap_at + RATE], before[swap_at + 240 :
                                                                              swap_at + RATE])
    assert np.allclose(out[swap_at + 240 : swap_at + RATE], 0.1, atol=1e-3)
    assert transport.poll().state is TransportState.PLAYING
