from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from melodex_studio.music.meter import COMMON_METERS, Meter
from melodex_studio.music.tempo import BarBeatPosition, TempoGrid, round_half_up

METERS = [Meter.parse(text) for text in (*COMMON_METERS, "2/4", "12/8", "9/8", "2/2", "5/8")]
SAMPLE_RATES = (8000, 16000, 22050, 24000, 32000, 44100, 48000, 88200, 96000, 192000, 384000)
FRAME_RATES = (23.4375, 44100 / 2048, 24000 / 1024, 21.5, 25.0, 50.0, 86.1328125, 75.0)

grids = st.builds(
    TempoGrid,
    bpm=st.floats(20.0, 400.0, allow_nan=False) | st.integers(20, 400) | st.sampled_from([128.0]),
    meter=st.sampled_from(METERS),
    sample_rate=st.sampled_from(SAMPLE_RATES) | st.integers(8000, 384000),
)
frame_rates = st.sampled_from(FRAME_RATES) | st.floats(1.0, 200.0, allow_nan=False)
bars = st.floats(-4.0, 2000.0, allow_nan=False)
whole_bars = st.integers(0, 1000)


def test_known_lengths_at_120_bpm() -> None:
    grid = TempoGrid(120, Meter.parse("4/4"), 44100)
    assert grid.seconds_per_quarter == 0.5
    assert grid.seconds_per_bar == 2.0
    assert grid.samples_per_bar == 88200.0
    assert grid.bar_to_sample(1) == 88200
    assert grid.bar_span_samples(2, 3) == (176400, 441000)
    assert grid.sixteenth_to_seconds(1) == 0.125
    assert grid.bar_to_frame(1, 23.4375) == 47  # 46.875 rounds up
    # BPM counts quarter notes in every meter.
    assert TempoGrid(120, Meter.parse("6/8"), 44100).seconds_per_bar == 1.5
    assert TempoGrid(120, Meter.parse("7/8"), 44100).seconds_per_bar == 1.75
    assert TempoGrid(120, Meter.parse("3/4"), 48000).samples_per_bar == 72000.0


def test_half_sample_bar_lines_round_up_exactly() -> None:
    grid = TempoGrid(128, Meter.parse("4/4"), 44100)
    assert grid.samples_per_bar == 82687.5
    assert grid.bar_to_sample(1) == 82688
    assert grid.bar_to_sample(3) == 248063  # 248062.5
    assert grid.bar_to_sample(2) == 165375
    assert grid.bar_span_samples(0, 1) == (0, 82688)
    assert grid.bar_span_samples(1, 1) == (82688, 165375)


@pytest.mark.parametrize(
    ("value", "expected"), [(0.5, 1), (1.5, 2), (2.5, 3), (-0.5, 0), (-1.5, -1), (2.4999, 2)]
)
def test_round_half_up(value: float, expected: int) -> None:
    assert round_half_up(value) == expected


@given(grids, bars)
def test_bar_seconds_round_trip(grid: TempoGrid, bar: float) -> None:
    seconds = grid.bar_to_seconds(bar)
    assert math.isclose(grid.seconds_to_bar(seconds), bar, rel_tol=1e-12, abs_tol=1e-9)
    quarters = grid.seconds_to_beat(seconds)
    assert math.isclose(quarters, bar * grid.meter.quarter_notes_per_bar, abs_tol=1e-8)
    assert math.isclose(grid.beat_to_seconds(quarters), seconds, rel_tol=1e-12, abs_tol=1e-9)
    sixteenths = grid.seconds_to_sixteenth(seconds)
    assert math.isclose(grid.sixteenth_to_seconds(sixteenths), seconds, abs_tol=1e-9)


@given(grids, st.integers(-10**6, 10**9))
def test_sample_index_round_trips_exactly(grid: TempoGrid, sample: int) -> None:
    assert grid.bar_to_sample(grid.sample_to_bar(sample)) == sample
    assert grid.seconds_to_sample(grid.sample_to_seconds(sample)) == sample


@given(grids, bars)
def test_bar_to_sample_is_within_half_a_sample(grid: TempoGrid, bar: float) -> None:
    sample = grid.bar_to_sample(bar)
    exact = bar * grid.samples_per_bar
    assert abs(sample - exact) <= 0.5 + 1e-6 * max(1.0, abs(exact))
    assert abs(grid.sample_to_bar(sample) - bar) * grid.samples_per_bar <= 0.5 + 1e-6
    # Through seconds agrees up to the one tie the float path may break differently.
    assert abs(grid.seconds_to_sample(grid.bar_to_seconds(bar)) - sample) <= 1


@given(grids, frame_rates, st.integers(0, 10**6))
def test_frame_index_round_trips_exactly(grid: TempoGrid, frame_rate: float, frame: int) -> None:
    assert grid.bar_to_frame(grid.frame_to_bar(frame, frame_rate), frame_rate) == frame
    seconds = grid.frame_to_seconds(frame, frame_rate)
    assert grid.seconds_to_frame(seconds, frame_rate) == frame


@given(grids, frame_rates, bars)
def test_bar_to_frame_is_within_half_a_frame(
    grid: TempoGrid, frame_rate: float, bar: float
) -> None:
    frame = grid.bar_to_frame(bar, frame_rate)
    exact = grid.bar_to_seconds(bar) * frame_rate
    assert abs(frame - exact) <= 0.5 + 1e-9 * max(1.0, abs(exact))
    back = grid.frame_to_bar(frame, frame_rate)
    frames_per_bar = grid.seconds_per_bar * frame_rate
    assert abs(back - bar) * frames_per_bar <= 0.5 + 1e-6


@given(grids, whole_bars, st.integers(0, 64), st.integers(0, 64))
def test_adjacent_sample_spans_tile(grid: TempoGrid, start: int, first: int, second: int) -> None:
    a = grid.bar_span_samples(start, first)
    b = grid.bar_span_samples(start + first, second)
    assert a[1] == b[0]  # no gap, no overlap
    assert grid.bar_span_samples(start, first + second) == (a[0], b[1])
    assert a[0] == grid.bar_to_sample(start)
    assert abs((a[1] - a[0]) - first * grid.samples_per_bar) < 1.0 + 1e-9 * a[1]


@given(grids, frame_rates, whole_bars, st.integers(0, 64), st.integers(0, 64))
def test_adjacent_frame_spans_tile(
    grid: TempoGrid, frame_rate: float, start: int, first: int, second: int
) -> None:
    a = grid.bar_span_frames(start, first, frame_rate)
    b = grid.bar_span_frames(start + first, second, frame_rate)
    assert a[1] == b[0]
    assert grid.bar_span_frames(start, first + second, frame_rate) == (a[0], b[1])
    assert a[0] <= a[1]


@given(grids, st.integers(0, 100_000))
def test_position_counts_sixteenths(grid: TempoGrid, sixteenth: int) -> None:
    position = grid.position(grid.sixteenth_to_seconds(sixteenth))
    meter = grid.meter
    bar, step = divmod(sixteenth, meter.sixteenths_per_bar)
    assert position.bar == bar
    assert meter.beat_starts_16ths()[position.beat] + position.tick == step
    assert 0 <= position.tick < meter.beat_lengths_16ths()[position.beat]


def test_position_display_is_one_based() -> None:
    grid = TempoGrid(100, Meter.parse("4/4"), 48000)
    assert str(grid.position(0.0)) == "1.1.1"
    assert str(grid.position(grid.bar_to_seconds(4) + 2 * grid.seconds_per_quarter)) == "5.3.1"
    assert str(grid.position(grid.sixteenth_to_seconds(16 * 4 + 9))) == "5.3.2"
    six_eight = TempoGrid(90, Meter.parse("6/8"), 48000)
    assert six_eight.position(six_eight.sixteenth_to_seconds(7)) == BarBeatPosition(0, 1, 1)
    assert str(six_eight.position(six_eight.sixteenth_to_seconds(7))) == "1.2.2"
    seven_eight = TempoGrid(140, Meter.parse("7/8"), 48000)
    assert str(seven_eight.position(seven_eight.sixteenth_to_seconds(13))) == "1.3.6"


@pytest.mark.parametrize(
    ("kwargs", "error", "fragment"),
    [
        ({"bpm": 19.9}, ValueError, "19.9 BPM"),
        ({"bpm": 401}, ValueError, "401 BPM"),
        ({"bpm": float("nan")}, ValueError, "BPM"),
        ({"bpm": "fast"}, TypeError, "fast"),
        ({"bpm": True}, TypeError, "True"),
        ({"sample_rate": 7999}, ValueError, "7999 Hz"),
        ({"sample_rate": 400_000}, ValueError, "400000 Hz"),
        ({"sample_rate": 44100.5}, TypeError, "44100.5"),
        ({"meter": 4}, TypeError, "Meter"),
    ],
)
def test_constructor_validates(kwargs: dict, error: type[Exception], fragment: str) -> None:
    arguments = {"bpm": 120.0, "meter": Meter(4, 4), "sample_rate": 44100} | kwargs
    with pytest.raises(error, match=fragment):
        TempoGrid(**arguments)


def test_other_arguments_are_validated() -> None:
    grid = TempoGrid(120, "3/4", 48000.0)
    assert grid.meter == Meter(3, 4)
    assert grid.sample_rate == 48000
    assert isinstance(grid.sample_rate, int)
    with pytest.raises(ValueError, match="frame rate"):
        grid.bar_to_frame(1, 0.0)
    with pytest.raises(ValueError, match="negative"):
        grid.bar_span_samples(-1, 2)
    with pytest.raises(TypeError, match="whole bars"):
        grid.bar_span_samples(0, 1.5)


def test_with_copies_are_new_validated_grids() -> None:
    grid = TempoGrid(120, Meter(4, 4), 44100)
    faster = grid.with_bpm(140)
    assert faster.bpm == 140.0 and grid.bpm == 120.0
    assert faster.seconds_per_bar == pytest.approx(240 / 140)
    assert grid.with_sample_rate(48000).bar_to_sample(1) == 96000
    assert grid.with_bpm(120) == grid
    assert hash(grid.with_bpm(120)) == hash(grid)
    with pytest.raises(ValueError, match="BPM"):
        grid.with_bpm(1000)


# --- tempo changes ---------------------------------------------------------------------------

tempo_maps = st.builds(
    lambda bpm, gaps, tempos, rate: TempoGrid(
        bpm, Meter(4, 4), rate,
        tuple(zip([sum(gaps[: i + 1]) for i in range(len(gaps))], tempos, strict=False))),
    st.floats(20.0, 400.0, allow_nan=False),
    st.lists(st.integers(1, 64), min_size=1, max_size=5),
    st.lists(st.floats(20.0, 400.0, allow_nan=False), min_size=5, max_size=5),
    st.sampled_from(SAMPLE_RATES),
)


def test_a_tempo_change_starts_on_its_bar_line() -> None:
    # 4 bars at 120 (2 s each), then 60 BPM from bar 4 (4 s a bar), 240 from bar 6 (1 s a bar).
    grid = TempoGrid(120, Meter(4, 4), 48000, ((4, 60.0), (6, 240.0)))
    assert [grid.bar_to_seconds(bar) for bar in (0, 4, 5, 6, 8)] == [0.0, 8.0, 12.0, 16.0, 18.0]
    assert grid.seconds_to_bar(14.0) == 5.5
    assert [grid.bpm_at(bar) for bar in (0, 3.99, 4, 5.5, 6, 100)] == [120, 120, 60, 60, 240, 240]
    assert grid.seconds_per_bar_at(4) == 4.0 and grid.seconds_per_bar_at(7) == 1.0
    assert grid.bar_span_samples(3, 2) == (6 * 48000, 12 * 48000)
    assert grid.bar_to_frame(6, 23.4375) == 375  # 16 s
    assert str(grid.position(13.0)) == "6.2.1"  # bar 5 (0-based) from 12 s, beats of 1 s
    assert [segment.start_seconds for segment in grid.segments] == [0.0, 8.0, 16.0]
    assert grid != TempoGrid(120, Meter(4, 4), 48000)  # the map is part of the grid's value


@given(tempo_maps, st.integers(0, 400))
def test_bar_lines_keep_their_order_and_round_trip_across_tempo_changes(
        grid: TempoGrid, bar: int) -> None:
    sample = grid.bar_to_sample(bar)
    assert grid.bar_to_sample(bar + 1) > sample
    assert grid.bar_to_sample(grid.sample_to_bar(sample)) == sample
    assert abs(grid.seconds_to_bar(grid.bar_to_seconds(bar)) - bar) < 1e-9 * max(1, bar)


@pytest.mark.parametrize(
    ("changes", "fragment"),
    [
        (((0, 90.0),), "bar 0"),
        (((4, 90.0), (4, 100.0)), "increasing"),
        (((8, 90.0), (4, 100.0)), "increasing"),
        (((2.5, 90.0),), "bar line"),
        (((-1, 90.0),), "bar line"),
        (((4, 1000.0),), "BPM"),
    ],
)
def test_impossible_tempo_changes_are_refused(changes: tuple, fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment):
        TempoGrid(120, Meter(4, 4), 44100, changes)


def test_a_meter_change_counts_its_bars_in_its_own_meter() -> None:
    # Two 4/4 bars at 120 (2 s each), then 3/4 at 120 (1.5 s bars, 12 16ths), then 6/8 at 90.
    grid = TempoGrid(120, Meter(4, 4), 48000, ((2, 120.0, Meter(3, 4)), (4, 90.0, "6/8")))
    assert [grid.bar_to_seconds(bar) for bar in (2, 3, 4, 5)] == [4.0, 5.5, 7.0, 9.0]
    assert [grid.bar_to_sixteenth(bar) for bar in (2, 3, 4, 5)] == [32, 44, 56, 68]
    assert grid.sixteenth_to_bar(50) == 3.5
    assert grid.meter_at(3) == Meter(3, 4) and grid.meter_at(4.5) == Meter(6, 8)
    assert grid.seconds_per_bar_at(4) == 2.0  # 6/8 is three quarters: 3 * 60 / 90
    assert str(grid.position(6.0)) == "4.2.1"  # the second beat of the 3/4 bar from 5.5 s
    assert str(grid.position(8.0)) == "5.2.1"  # 6/8 from 7 s counts dotted quarters of 1 s
    assert grid.beat_to_seconds(9) == 4.5  # quarters run on across the change
    assert grid.changes[1] == (4, 90.0, Meter(6, 8))  # a meter given as text is parsed
    with pytest.raises(TypeError, match="Meter"):
        TempoGrid(120, Meter(4, 4), 48000, ((2, 120.0, 3),))
