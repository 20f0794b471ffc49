"""The control raster draws every event on the frame the tempo grid gives it."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from melodex_studio.engine.control_raster import (
    CHANNEL_INDEX,
    CONTROL_CHANNELS,
    DEFAULT_FRAME_RATE,
    IMPULSE_FRAMES,
    N_CONTROL_CHANNELS,
    control_raster,
)
from melodex_studio.music.key import Key
from melodex_studio.music.meter import Meter
from melodex_studio.music.plan import DrumVoice, Plan, PlanBar, PlanNote
from melodex_studio.music.tempo import TempoGrid

FR = DEFAULT_FRAME_RATE
KEY = Key.parse("A minor")


def row(raster: torch.Tensor, name: str) -> torch.Tensor:
    return raster[CHANNEL_INDEX[name]]


def test_layout_is_documented_and_stable() -> None:
    assert len(CONTROL_CHANNELS) == N_CONTROL_CHANNELS == 51
    assert len(set(CONTROL_CHANNELS)) == N_CONTROL_CHANNELS
    assert CONTROL_CHANNELS[:6] == (
        "beat_sin",
        "beat_cos",
        "bar_sin",
        "bar_cos",
        "downbeat",
        "beat",
    )


@settings(max_examples=40, deadline=None)
@given(
    bpm=st.floats(50.0, 200.0),
    meter=st.sampled_from(("4/4", "3/4", "6/8", "7/8", "5/4")),
    first_frame=st.integers(0, 500),
)
def test_downbeats_land_on_grid_frames(bpm: float, meter: str, first_frame: int) -> None:
    grid = TempoGrid(bpm, Meter.parse(meter), 24_000)
    n_frames = 300
    raster = control_raster(None, KEY, grid, n_frames, FR, first_frame=first_frame)
    downbeats = row(raster, "downbeat")
    expected = set()
    for bar in range(0, 200):
        frame = grid.bar_to_frame(bar, FR) - first_frame
        if 0 <= frame < n_frames:
            expected.add(frame)
            assert downbeats[frame] == 1.0
    assert {int(i) for i in torch.nonzero(downbeats == 1.0)} == expected
    # the bar phase restarts at every downbeat: cos(phase) is close to 1 there
    for frame in expected:
        assert row(raster, "bar_cos")[frame] > math.cos(
            2 * math.pi * 0.6 / grid.seconds_per_bar / FR
        )


def test_beats_follow_the_meter_grouping() -> None:
    grid = TempoGrid(120.0, Meter.parse("7/8"), 24_000)  # beats of 2+2+3 eighths
    raster = control_raster(None, KEY, grid, 200, FR)
    beats = {int(i) for i in torch.nonzero(row(raster, "beat") == 1.0)}
    expected = set()
    for bar in range(5):
        for start in (0, 4, 8):
            expected.add(grid.bar_to_frame(bar + start / 14, FR))
    assert {f for f in expected if f < 200} == beats


def test_plan_events_and_chroma() -> None:
    grid = TempoGrid(100.0, Meter.parse("4/4"), 24_000)
    bar = PlanBar(
        chord="F/A",
        energy=0.8,
        density=0.3,
        drums=(int(DrumVoice.KICK),) + (0,) * 3 + (int(DrumVoice.CLAP),) + (0,) * 11,
        bass=(PlanNote(step=0, length=8, degree=-2),),  # F in A minor
        melody=(PlanNote(step=4, length=2, degree=2),),  # C
    )
    plan = Plan(steps_per_bar=16, bars=(bar, bar))
    start_bar, first_frame = 3, 40
    raster = control_raster(
        plan, KEY, grid, 250, FR, plan_start_bar=start_bar, first_frame=first_frame
    )

    def frame(bar_index: float, step: int = 0) -> int:
        return grid.bar_to_frame(start_bar + bar_index + step / 16, FR) - first_frame

    plan_start, plan_end = frame(0), frame(2)
    in_plan = row(raster, "in_plan")
    assert in_plan[plan_start:plan_end].eq(1).all() and in_plan[:plan_start].eq(0).all()
    assert in_plan[plan_end:].eq(0).all()
    for b in (0, 1):
        assert row(raster, "kick")[frame(b)] == 1.0
        assert row(raster, "snare")[frame(b, 4)] == 1.0
        assert row(raster, "bass_onset")[frame(b)] == 1.0
        assert row(raster, "melody_onset")[frame(b, 4)] == 1.0
    assert row(raster, "hats").eq(0).all()
    chord_frames = slice(plan_start, plan_end)
    for pc in range(12):
        expected = 1.0 if pc in (5, 9, 0) else 0.0  # F A C (bass A is a chord tone)
        assert row(raster, f"chord_chroma_{pc}")[chord_frames].eq(expected).all()
    assert row(raster, "bass_chroma_5")[frame(0) : frame(0, 8)].eq(1).all()
    assert row(raster, "bass_chroma_5")[frame(0, 8) : frame(1)].eq(0).all()
    assert row(raster, "melody_chroma_0")[frame(0, 4) : frame(0, 6)].eq(1).all()
    assert row(raster, "energy")[chord_frames].eq(0.8).all()
    assert row(raster, "density")[chord_frames].sub(0.3).abs().max() < 1e-6
    # impulses decay and stay within [0, 1]
    kick = row(raster, "kick")[frame(0) : frame(0) + IMPULSE_FRAMES]
    assert (kick[1:] < kick[:-1]).all()
    assert raster.min() >= -1.0 and raster.max() <= 1.0


def test_deterministic_and_meter_checked() -> None:
    grid = TempoGrid(128.0, Meter.parse("3/4"), 24_000)
    plan = Plan.empty(2, 12)
    first = control_raster(plan, KEY, grid, 100)
    assert torch.equal(first, control_raster(plan, KEY, grid, 100))
    assert first.dtype == torch.float32 and first.shape == (N_CONTROL_CHANNELS, 100)
    with pytest.raises(ValueError, match="steps per bar"):
        control_raster(Plan.empty(2, 16), KEY, grid, 100)
