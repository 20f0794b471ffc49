"""The metronome: clicks on the counted beats, in the output only, exact across block sizes."""

from __future__ import annotations

import numpy as np
import pytest

from melodex_studio.audio.backends import NullBackend
from melodex_studio.audio.metronome import ClickTrack
from melodex_studio.audio.transport import Transport
from melodex_studio.music.meter import Meter
from melodex_studio.music.tempo import TempoGrid

RATE = 48000


def play_silence(
    meter: str, bpm: float, bars: int, block: int = 480, loop: tuple[int, int] | None = None,
    frames: int | None = None,
) -> tuple[np.ndarray, Transport]:
    grid = TempoGrid(bpm, Meter.parse(meter), RATE)
    length = grid.bar_to_sample(bars)
    frames = frames or length
    backend = NullBackend(
        sample_rate=RATE, block_frames=block, manual=True, capture_frames=frames
    )
    transport = Transport(backend, grid)
    transport.load(np.zeros(length, dtype=np.float32))
    transport.set_metronome(True)
    if loop is not None:
        transport.set_loop(*loop)
    assert transport.play()
    backend.pump(frames // block + 1)
    out = backend.captured[: backend.captured_frames]
    np.testing.assert_array_equal(out[:, 0], out[:, 1])
    return out[:, 0], transport


def onsets(signal: np.ndarray) -> list[int]:
    """First sample of each click: nonzero after at least 10 ms of silence."""
    nonzero = np.flatnonzero(signal)
    if len(nonzero) == 0:
        return []
    gaps = np.diff(nonzero) > RATE // 100
    return [int(nonzero[0]), *(int(x) for x in nonzero[1:][gaps])]


@pytest.mark.parametrize(
    ("meter", "bpm", "beats_per_bar"),
    [("4/4", 120.0, 4), ("3/4", 97.0, 3), ("6/8", 133.0, 2), ("7/8", 150.0, 3)],
)
def test_clicks_fall_on_the_counted_beats(meter: str, bpm: float, beats_per_bar: int) -> None:
    bars = 3
    signal, transport = play_silence(meter, bpm, bars)
    grid = transport.grid
    starts = grid.meter.beat_starts_16ths()
    expected = [
        grid.sixteenth_to_sample(bar * grid.meter.sixteenths_per_bar + step)
        for bar in range(bars)
        for step in starts
    ]
    assert len(starts) == beats_per_bar
    # The click starts with a raised-cosine attack whose first sample is 0: the first audible
    # sample is the one after the beat's sample.
    assert onsets(signal) == [position + 1 for position in expected]
    peaks = [np.abs(signal[p : p + 800]).max() for p in expected]
    downbeats = peaks[::beats_per_bar]
    others = [peak for i, peak in enumerate(peaks) if i % beats_per_bar]
    assert min(downbeats) > 1.5 * max(others)  # the accent is clearly louder
    assert max(peaks) < 0.5  # and never loud enough to clip against a full mix


def test_clicks_do_not_depend_on_the_block_size() -> None:
    """A click split across two callbacks sounds the same as one inside a single block."""
    reference, _ = play_silence("4/4", 111.0, 2, block=960)
    for block in (1, 37, 480, 1023):
        signal, _ = play_silence("4/4", 111.0, 2, block=block)
        np.testing.assert_array_equal(signal, reference)


def test_clicks_are_output_only_and_switch_off() -> None:
    grid = TempoGrid(120.0, Meter(4, 4), RATE)
    length = grid.bar_to_sample(2)
    song = (0.1 * np.sin(np.arange(length) * 0.01)).astype(np.float32)
    backend = NullBackend(sample_rate=RATE, block_frames=480, manual=True, capture_frames=length)
    transport = Transport(backend, grid)
    transport.load(song)
    transport.set_metronome(True)
    transport.play()
    half = length // 2 // 480
    backend.pump(half)
    transport.set_metronome(False)
    backend.pump(length // 480 - half)
    out = backend.captured[: backend.captured_frames, 0]
    split = half * 480
    assert not np.array_equal(out[:split], song[:split])  # clicks on top while on
    np.testing.assert_array_equal(out[split:], song[split : len(out)])  # exact song when off
    np.testing.assert_array_equal(transport.engine.buffer, song)  # the mix never has clicks


def test_loop_wrap_hears_the_downbeat_again() -> None:
    grid = TempoGrid(120.0, Meter(4, 4), RATE)
    loop = grid.bar_span_samples(1, 1)  # bar 2
    frames = 3 * (loop[1] - loop[0])
    signal, _ = play_silence("4/4", 120.0, 4, loop=loop, frames=frames)
    bar = loop[1] - loop[0]
    # From bar 1 to the loop end, then bar 2 over and over: a click every beat, the downbeat
    # of every pass accented.
    found = onsets(signal)
    beat = bar // 4
    assert found == [1 + i * beat for i in range(len(found))]
    assert len(found) == frames // beat


def test_the_track_reaches_past_a_longer_buffer() -> None:
    """A swap that makes the song longer extends the clicks to its new end."""
    grid = TempoGrid(120.0, Meter(4, 4), RATE)
    backend = NullBackend(sample_rate=RATE, block_frames=480, manual=True)
    transport = Transport(backend, grid)
    transport.load(np.zeros(grid.bar_to_sample(2), dtype=np.float32))
    transport.set_metronome(True)
    short_end = transport.engine.metronome.positions[-1]
    transport.load(np.zeros(grid.bar_to_sample(10), dtype=np.float32))
    assert transport.engine.metronome.positions[-1] >= grid.bar_to_sample(10) > short_end


def test_click_sound_ends_silent() -> None:
    track = ClickTrack.for_grid(TempoGrid(120.0, Meter(4, 4), 44100), 44100)
    for sound in (track.accent_sound, track.beat_sound):
        assert sound[0] == 0.0
        assert abs(float(sound[-1])) < 1e-6


def test_count_in_plays_a_bar_of_clicks_then_the_song_from_the_playhead() -> None:
    grid = TempoGrid(120.0, Meter(4, 4), RATE)
    bar = grid.bar_to_sample(1)
    song = (0.1 + 0.01 * np.sin(np.arange(4 * bar) * 0.001)).astype(np.float32)
    block = 333  # blocks that do not divide the bar: the hand-over falls inside one
    frames = 3 * bar
    backend = NullBackend(sample_rate=RATE, block_frames=block, manual=True,
                          capture_frames=frames)
    transport = Transport(backend, grid)
    transport.load(song)
    transport.set_count_in(1)
    transport.seek(bar)  # play from bar 2
    assert transport.play()
    backend.pump(bar // block)
    assert transport.playhead == bar  # the playhead waits during the count-in
    backend.pump(frames // block - bar // block + 1)
    out = backend.captured[: backend.captured_frames, 0]
    count_in, rest = out[:bar], out[bar:]
    assert onsets(count_in) == [1 + beat * bar // 4 for beat in range(4)]
    peaks = [np.abs(count_in[p : p + 800]).max() for p in range(0, bar, bar // 4)]
    assert peaks[0] > 1.5 * max(peaks[1:])  # "ONE, two, three, four"
    np.testing.assert_array_equal(rest, song[bar : bar + len(rest)])  # then the song, exactly


def test_count_in_counts_at_the_tempo_where_playback_starts() -> None:
    grid = TempoGrid(120.0, Meter(4, 4), RATE, ((1, 60.0),))  # bar 2 on at half the tempo
    bar = grid.bar_to_sample(1)
    slow_bar = grid.bar_to_sample(2) - bar
    assert slow_bar == 2 * bar
    song = np.full(grid.bar_to_sample(3), 0.1, dtype=np.float32)
    block = 333
    backend = NullBackend(sample_rate=RATE, block_frames=block, manual=True,
                          capture_frames=slow_bar + bar)
    transport = Transport(backend, grid)
    transport.load(song)
    transport.set_count_in(1)
    transport.seek(bar)  # play from bar 2, at 60 BPM
    assert transport.play()
    backend.pump((slow_bar + bar) // block + 1)
    count_in = backend.captured[:slow_bar, 0]
    assert onsets(count_in) == [1 + beat * slow_bar // 4 for beat in range(4)]
    np.testing.assert_array_equal(backend.captured[slow_bar : slow_bar + bar, 0], song[bar:2 * bar])


def test_clicks_count_each_bar_in_its_own_meter() -> None:
    grid = TempoGrid(120.0, Meter(4, 4), RATE, ((1, 120.0, Meter(3, 4)), (2, 120.0, "7/8")))
    clicks = ClickTrack.for_grid(grid, grid.bar_to_sample(3) - 1)
    quarter = RATE // 2
    eighth = quarter // 2
    expected = [0, 1, 2, 3, 4, 5, 6]  # a 4/4 bar, then a 3/4 bar: every quarter
    expected = [q * quarter for q in expected] + [7 * quarter + e * eighth for e in (0, 2, 4)]
    assert list(clicks.positions[: len(expected)]) == expected  # 7/8 counts 2 + 2 + 3 eighths
    assert list(clicks.accents[: len(expected)]) == [True, False, False, False, True, False,
                                                     False, True, False, False]


def test_count_in_from_a_section_start_counts_in_that_sections_timing() -> None:
    # Bar 4 of a 95 BPM song rounds to a sample just before the exact bar line, where the
    # bridge's 3/4 at 140 BPM begins: the count-in must count the bridge, not the verse.
    rate = 44100
    grid = TempoGrid(95.0, Meter(4, 4), rate, ((4, 140.0, Meter(3, 4)), (8, 95.0, Meter(4, 4))))
    start = grid.bar_to_sample(4)
    assert grid.sample_to_bar(start) < 4  # the case this guards
    assert str(grid.position(start / rate)) == "5.1.1"  # the counter reads the bar it starts
    song = np.full(grid.bar_to_sample(10), 0.1, dtype=np.float32)
    bar = round(3 * 60 / 140 * rate)
    backend = NullBackend(sample_rate=rate, block_frames=512, manual=True,
                          capture_frames=bar + 1000)
    transport = Transport(backend, grid)
    transport.load(song)
    transport.set_count_in(1)
    transport.seek(start)
    assert transport.play()
    backend.pump((bar + 1000) // 512 + 1)
    count_in = backend.captured[:bar, 0]
    beat = 60 / 140 * rate
    assert onsets(count_in) == [1 + round(b * beat) for b in range(3)]


def test_count_in_is_played_at_every_start_and_cut_by_a_stop() -> None:
    grid = TempoGrid(100.0, Meter(3, 4), RATE)
    song = np.full(grid.bar_to_sample(4), 0.25, dtype=np.float32)
    backend = NullBackend(sample_rate=RATE, block_frames=480, manual=True,
                          capture_frames=RATE)
    transport = Transport(backend, grid)
    transport.load(song)
    transport.set_count_in(2)
    transport.play()
    backend.pump(10)
    transport.stop()  # in the middle of the count-in
    assert transport.engine.preroll is None and transport.playhead == 0
    transport.set_count_in(0)
    backend.captured_frames = 0
    transport.play()
    backend.pump(4)
    np.testing.assert_array_equal(backend.captured[:1920, 0], song[:1920])  # no count-in now
    with pytest.raises(ValueError):
        transport.set_count_in(5)
