from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from melodex_studio.music.errors import MusicParseError
from melodex_studio.music.meter import (
    COMMON_METERS,
    DENOMINATORS,
    MAX_SIXTEENTHS_PER_BAR,
    MIN_SIXTEENTHS_PER_BAR,
    Meter,
)

# text, quarter notes, 16ths, counted beats, grouping (denominator notes), beat starts (16ths)
METER_TABLE = [
    ("4/4", 4.0, 16, 4, (1, 1, 1, 1), (0, 4, 8, 12)),
    ("3/4", 3.0, 12, 3, (1, 1, 1), (0, 4, 8)),
    ("6/8", 3.0, 12, 2, (3, 3), (0, 6)),
    ("5/4", 5.0, 20, 5, (1, 1, 1, 1, 1), (0, 4, 8, 12, 16)),
    ("7/8", 3.5, 14, 3, (2, 2, 3), (0, 4, 8)),
    ("12/8", 6.0, 24, 4, (3, 3, 3, 3), (0, 6, 12, 18)),
    ("2/4", 2.0, 8, 2, (1, 1), (0, 4)),
    ("9/8", 4.5, 18, 3, (3, 3, 3), (0, 6, 12)),
    ("5/8", 2.5, 10, 2, (2, 3), (0, 4)),
    ("3/8", 1.5, 6, 3, (1, 1, 1), (0, 2, 4)),
    ("2/2", 4.0, 16, 2, (1, 1), (0, 8)),
]


@pytest.mark.parametrize(
    ("text", "quarters", "sixteenths", "beats", "grouping", "starts"), METER_TABLE
)
def test_meter_properties(
    text: str,
    quarters: float,
    sixteenths: int,
    beats: int,
    grouping: tuple[int, ...],
    starts: tuple[int, ...],
) -> None:
    meter = Meter.parse(text)
    assert str(meter) == text
    assert meter.quarter_notes_per_bar == quarters
    assert meter.sixteenths_per_bar == sixteenths
    assert meter.beats_per_bar == beats
    assert meter.beat_grouping == grouping
    assert meter.beat_starts_16ths() == starts
    assert sum(meter.beat_lengths_16ths()) == sixteenths


def test_common_meters_all_parse() -> None:
    assert [str(Meter.parse(text)) for text in COMMON_METERS] == list(COMMON_METERS)


def test_parse_is_lenient_about_spacing_and_names() -> None:
    assert Meter.parse(" 7 / 8 ") == Meter(7, 8)
    assert Meter.parse("C") == Meter(4, 4)
    assert Meter.parse("¢") == Meter(2, 2)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("4/5", "lower number"),
        ("0/4", "at least one beat"),
        ("x", "two numbers"),
        ("", "empty"),
        ("4/4/4", "two numbers"),
        ("33/4", "sixteenth"),
        ("1/16", "sixteenth"),
        ("-3/4", "two numbers"),
    ],
)
def test_parse_rejects_nonsense(text: str, fragment: str) -> None:
    with pytest.raises(MusicParseError) as error:
        Meter.parse(text)
    message = str(error.value)
    assert repr(text) in message
    assert fragment in message


def test_constructor_rejects_invalid_meters() -> None:
    with pytest.raises(ValueError, match="lower number"):
        Meter(3, 3)




@st.composite
def valid_meters(draw: st.DrawFn) -> Meter:
    denominator = draw(st.sampled_from(DENOMINATORS))
    per_count = 16 // denominator
    low = -(-MIN_SIXTEENTHS_PER_BAR // per_count)
    numerator = draw(st.integers(low, MAX_SIXTEENTHS_PER_BAR // per_count))
    return Meter(numerator, denominator)


@given(valid_meters())
def test_meter_text_round_trips_and_beats_tile_the_bar(meter: Meter) -> None:
    assert Meter.parse(str(meter)) == meter
    starts = meter.beat_starts_16ths()
    assert starts[0] == 0
    assert list(starts) == sorted(set(starts))
    assert sum(meter.beat_lengths_16ths()) == meter.sixteenths_per_bar
    assert meter.quarter_notes_per_bar * 4 == meter.sixteenths_per_bar
    assert sum(meter.beat_grouping) == meter.numerator
    for beat, start in enumerate(starts):
        assert meter.beat_of_step(start) == beat
    assert meter.beat_of_step(meter.sixteenths_per_bar - 1) == meter.beats_per_bar - 1


def test_beat_of_step_rejects_steps_outside_the_bar() -> None:
    with pytest.raises(ValueError, match="step 16"):
        Meter(4, 4).beat_of_step(16)
