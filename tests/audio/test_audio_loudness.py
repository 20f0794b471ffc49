from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from melodex_studio.audio.limiter import (
    block_true_peaks,
    limit,
    limiter_gain,
    running_min,
    trailing_mean,
)
from melodex_studio.audio.loudness import integrated_loudness, normalize_loudness, true_peak_dbtp

RATE = 48000


@settings(max_examples=50, deadline=None)
@given(values=st.lists(st.floats(0, 1), min_size=1, max_size=200), width=st.integers(1, 50))
def test_running_min_matches_brute_force(values, width) -> None:
    array = np.asarray(values)
    expected = [min(values[i : i + width]) for i in range(len(values))]
    np.testing.assert_array_equal(running_min(array, width), expected)


def test_trailing_mean_uses_the_stand_in_before_the_start() -> None:
    np.testing.assert_allclose(trailing_mean(np.array([3.0, 6.0, 9.0]), 2, before=1.0),
                               [2.0, 4.5, 7.5])


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 1000), n_blocks=st.integers(1, 400), ceiling=st.floats(0.1, 1.0))
def test_limiter_gain_never_lets_a_block_peak_over_the_ceiling(seed, n_blocks, ceiling) -> None:
    rng = np.random.default_rng(seed)
    peaks = (rng.random(n_blocks) ** 4 * 3).astype(np.float32)
    gain = limiter_gain(peaks, ceiling, RATE, n_blocks * 16)
    assert gain.max() <= 1.0 and gain.min() > 0.0
    per_block_max_gain = gain.reshape(n_blocks, 16).max(axis=1)
    assert np.all(peaks * per_block_max_gain <= ceiling * (1 + 1e-5))


def test_true_peak_sees_inter_sample_peaks() -> None:
    # A quarter-rate sine sampled at +-45 degrees: samples reach 0.707, the wave reaches 1.0.
    n = np.arange(4800)
    audio = np.sin(2 * np.pi * n / 4 + np.pi / 4).astype(np.float32)
    assert np.max(np.abs(audio)) == pytest.approx(math.sqrt(0.5), abs=1e-3)
    assert true_peak_dbtp(audio, RATE) == pytest.approx(0.0, abs=0.1)
    # away from the abrupt start and end (where the oversampling filter rings)
    assert block_true_peaks(audio, RATE)[10:-10].max() == pytest.approx(1.0, abs=0.01)


def test_limit_brings_the_true_peak_under_the_ceiling_without_touching_quiet_parts() -> None:
    rng = np.random.default_rng(1)
    audio = (0.1 * rng.standard_normal(RATE)).astype(np.float32)
    audio[RATE // 2 : RATE // 2 + 100] *= 20  # a burst far over full scale
    limited, reduction = limit(audio, RATE, 0.5)
    assert true_peak_dbtp(limited, RATE) <= 20 * math.log10(0.5) + 0.1
    assert reduction > 10
    np.testing.assert_array_equal(limited[: RATE // 4], audio[: RATE // 4])


def test_normalize_hits_the_target_for_material_that_needs_no_limiting() -> None:
    t = np.arange(RATE * 5) / RATE
    audio = (0.05 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    result = normalize_loudness(audio, RATE, -20.0, -1.0)
    assert not result.limited and result.iterations == 0
    assert integrated_loudness(result.audio, RATE) == pytest.approx(-20.0, abs=0.05)
    assert result.true_peak_dbtp <= -1.0


def test_normalize_leaves_silence_alone() -> None:
    result = normalize_loudness(np.zeros(RATE, np.float32), RATE)
    assert result.gain_db == 0.0 and "silent" in result.warnings[0]
    assert not np.any(result.audio)


def test_short_audio_is_measurable() -> None:
    t = np.arange(RATE // 10) / RATE
    assert math.isfinite(integrated_loudness(0.5 * np.sin(2 * np.pi * 440 * t), RATE))
