"""Bar-synced take swaps: where they land, and that they do not click.

Click threshold, justified: the crossfade output is y[k] = a[k] * c[k] + b[k] * s[k] with
c = cos, s = sin sampled at (k + 0.5) * (pi / 2) / n. Then
|y[k+1] - y[k]| <= max(|a[k+1] - a[k]|, |b[k+1] - b[k]|) + (max|a| + max|b|) * (pi / 2) / n:
the signals' own steepest step plus the fade's own slope. The test signals sit on opposite DC
offsets (+0.4 and -0.4 plus a small sine), so a hard switch jumps by about 0.8 wherever it
happens, while the bound allows about 0.0068 + 1.0 * pi / 480 = 0.0133: a click is 60 times
over it.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from melodex_studio.audio.backends import NullBackend
from melodex_studio.audio.engine import PlaybackEngine
from melodex_studio.audio.fades import equal_power_fades
from melodex_studio.audio.swap import build_swap_request, next_swap_sample
from melodex_studio.audio.transport import Transport
from melodex_studio.music.meter import Meter
from melodex_studio.music.tempo import TempoGrid

RATE = 48000
SECONDS = 12


def offset_tone(offset: float, freq: float = 50.0, n: int = RATE * SECONDS) -> np.ndarray:
    t = np.arange(n) / RATE
    return (offset + 0.05 * np.sin(2 * np.pi * freq * t + 0.3)).astype(np.float32)


OLD, NEW = offset_tone(0.4), offset_tone(-0.4, freq=70.0)


def max_jump(x: np.ndarray) -> float:
    return float(np.max(np.abs(np.diff(x.astype(np.float64)))))


def start_transport(
    bpm: float, meter: str, block: int, capture: int
) -> tuple[Transport, NullBackend]:
    backend = NullBackend(sample_rate=RATE, block_frames=block, manual=True, capture_frames=capture)
    transport = Transport(backend, TempoGrid(bpm, Meter.parse(meter), RATE))
    transport.load(OLD)
    return transport, backend


@settings(max_examples=20, deadline=None)
@given(
    bpm=st.floats(70.0, 180.0),
    meter=st.sampled_from(["4/4", "3/4", "6/8", "7/8"]),
    block=st.integers(100, 2048),
    blocks_before=st.integers(1, 100),
)
def test_swap_lands_on_the_next_bar_line_exactly_and_does_not_click(
    bpm, meter, block, blocks_before
) -> None:
    capture = RATE * SECONDS
    transport, backend = start_transport(bpm, meter, block, capture)
    transport.play()
    backend.pump(blocks_before)
    requested_at = transport.playhead
    switch = transport.swap_at_next_bar(NEW)
    grid = transport.grid
    # the first bar line at least crossfade + one block after the playhead
    bar = math.ceil(grid.sample_to_bar(requested_at + transport.guard_samples) - 1e-9)
    assert switch == grid.bar_to_sample(bar)
    assert switch - requested_at >= transport.guard_samples
    assert switch - grid.bar_to_sample(bar - 1) > 0
    n = transport.crossfade_samples
    assert n == 240  # 5 ms at 48 kHz
    if switch + 2 * n + 2 * block > capture:
        return
    backend.pump((switch + 2 * n - transport.playhead) // block + 2)
    out = backend.captured[: backend.captured_frames, 0]
    np.testing.assert_array_equal(out[:switch], OLD[:switch])  # untouched before the bar line
    fade_out, fade_in = equal_power_fades(n)
    mixed = OLD[switch : switch + n] * fade_out + NEW[switch : switch + n] * fade_in
    np.testing.assert_array_equal(out[switch : switch + n], mixed)
    end = len(out)
    np.testing.assert_array_equal(out[switch + n : end], NEW[switch + n : end])
    assert transport.engine.last_swap_sample == switch
    bound = max(max_jump(OLD), max_jump(NEW)) + (0.45 + 0.45) * (math.pi / 2) / n + 1e-6
    assert max_jump(out[: end]) <= bound
    assert max_jump(np.concatenate([OLD[:switch], NEW[switch:end]])) > 50 * bound  # a click


def test_a_swap_inside_the_crossfade_window_of_a_bar_line_goes_to_the_next_one() -> None:
    grid = TempoGrid(120.0, Meter(4, 4), RATE)  # a bar is 96000 samples
    guard = 240 + 480
    assert next_swap_sample(grid, 0, guard) == 96000
    assert next_swap_sample(grid, 96000 - guard, guard) == 96000
    assert next_swap_sample(grid, 96000 - guard + 1, guard) == 192000
    assert next_swap_sample(grid, 96000 - 10, guard) == 192000
    assert next_swap_sample(grid, 96000, guard) == 192000


def test_swap_while_looping_beyond_the_loop_lands_on_the_wrap() -> None:
    bar = 96000  # 120 BPM, 4/4
    transport, backend = start_transport(120.0, "4/4", 1000, capture=4 * bar)
    transport.set_loop(bar // 2, bar)  # half a bar: no bar line inside the loop
    transport.seek(bar // 2)
    transport.play()
    backend.pump(10)
    assert transport.swap_at_next_bar(NEW) == bar // 2
    backend.pump(140)
    out = backend.captured[: backend.captured_frames, 0]
    n = transport.crossfade_samples
    loop_len = bar // 2
    wrap = loop_len  # output index of the first wrap
    np.testing.assert_array_equal(out[:wrap], OLD[bar // 2 : bar])
    fade_out, fade_in = equal_power_fades(n)
    start = bar // 2
    mixed = OLD[start : start + n] * fade_out + NEW[start : start + n] * fade_in
    np.testing.assert_array_equal(out[wrap : wrap + n], mixed)
    np.testing.assert_array_equal(out[wrap + n : wrap + loop_len], NEW[start + n : bar])
    np.testing.assert_array_equal(out[wrap + loop_len : wrap + 2 * loop_len], NEW[start:bar])


def test_a_newer_swap_supersedes_one_that_has_not_started() -> None:
    transport, backend = start_transport(120.0, "4/4", 480, capture=3 * 96000)
    transport.play()
    backend.pump(2)
    first = transport.swap_at_next_bar(np.zeros_like(OLD))
    second = transport.swap_at_next_bar(NEW)
    assert first == second == 96000
    backend.pump(420)
    out = backend.captured[: backend.captured_frames, 0]
    np.testing.assert_array_equal(out[96000 + 240 : 96000 * 2], NEW[96000 + 240 : 96000 * 2])


def test_swap_when_stopped_is_immediate() -> None:
    transport, _ = start_transport(120.0, "4/4", 480, capture=0)
    transport.seek(1000)
    assert transport.swap_at_next_bar(NEW) == 1000
    assert transport.engine.buffer is not None
    np.testing.assert_array_equal(transport.engine.buffer, NEW)


def test_a_late_request_retargets_to_the_next_bar_line_in_the_callback() -> None:
    """If the UI computed a bar line the audio thread has already passed, the swap moves to
    the following bar line instead of landing mid-bar."""
    engine = PlaybackEngine()
    engine.request_swap(build_swap_request(OLD, 0, 240, immediate=True))
    engine.apply_requests_now()
    engine.request_seek(5000)
    engine.apply_requests_now()
    late = build_swap_request(NEW, 4000, 240, bar_lines=(0, 4000, 8000, 12000))
    engine.request_swap(late)
    out = np.zeros((1000, 1), dtype=np.float32)
    for _ in range(2):  # 5000 -> 7000: the bar line at 4000 is behind, 8000 not reached
        engine.render(out)
    assert engine.last_applied_swap is not late
    for _ in range(2):  # -> 9000: past 8000 + the 240-sample crossfade
        engine.render(out)
    assert engine.last_applied_swap is late and engine.last_swap_sample == 8000


def test_crossfade_length_is_configurable() -> None:
    backend = NullBackend(sample_rate=RATE, block_frames=480, manual=True)
    transport = Transport(backend, TempoGrid(120.0, Meter(4, 4), RATE), crossfade_seconds=0.02)
    assert transport.crossfade_samples == 960
    with pytest.raises(ValueError):
        build_swap_request(NEW, 0, 0)


def test_a_swapped_out_buffer_is_freed_by_poll_not_by_the_callback() -> None:
    """The callback drops its references to the old buffer when the crossfade ends; the last
    reference stays with the transport until the UI thread has polled twice after that (so no
    callback still running can hold it), so the song-sized free never happens in the callback."""
    import gc
    import weakref

    backend = NullBackend(sample_rate=RATE, block_frames=480, manual=True)
    transport = Transport(backend, TempoGrid(120.0, Meter(4, 4), RATE))
    old, new = offset_tone(0.4), offset_tone(-0.4)
    transport.load(old)
    gone = weakref.ref(transport.engine.buffer)  # the prepared copy the callback plays
    del old
    transport.play()
    backend.pump(10)
    transport.swap_at_next_bar(new)
    for _ in range(3):  # polls while the old buffer still plays: it must stay
        transport.poll()
        backend.pump(1)
    gc.collect()
    assert gone() is not None and gone() is transport.engine.buffer
    backend.pump(2 * RATE // 480 + 10)  # past the next bar line (2 s at 120 BPM) and its fade
    playing = transport.engine.buffer
    assert playing is not gone() and not transport.engine.swap_pending
    np.testing.assert_array_equal(playing, new)
    gc.collect()
    assert gone() is not None  # the callback let go, the transport still holds it
    transport.poll()
    gc.collect()
    assert gone() is not None  # unused once: a callback might still have it in a local
    transport.poll()
    assert gone() is None  # unused twice: freed here, on the polling thread
    for _ in range(3):
        transport.poll()
    position = transport.playhead
    backend.pump(1)
    assert transport.engine.buffer is playing  # the playing buffer is never released
    np.testing.assert_array_equal(backend._out[:, 0], playing[position : position + 480])


def test_buffers_loaded_while_stopped_do_not_pile_up() -> None:
    """Stopped, nothing runs the callback: each load frees the buffer it replaces at once."""
    import weakref

    backend = NullBackend(sample_rate=RATE, block_frames=480, manual=True)
    transport = Transport(backend, TempoGrid(120.0, Meter(4, 4), RATE))
    refs = []
    for offset in (0.1, 0.2, 0.3, 0.4):
        transport.load(offset_tone(offset, n=RATE))
        refs.append(weakref.ref(transport.engine.buffer))
    assert [ref() is not None for ref in refs] == [False, False, False, True]
    assert transport.engine.buffer is refs[-1]()
