from __future__ import annotations

import math

import numpy as np
import pyloudnorm
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from melodex_studio.audio.limiter import (
    block_true_peaks,
    limit,
    limit_overs,
    limiter_gain,
    row_max,
    running_min,
    trailing_mean,
)
from melodex_studio.audio.loudness import integrated_loudness, normalize_loudness, true_peak_dbtp
from melodex_studio.audio.resample import oversample

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


def test_limit_overs_touches_only_the_overs_and_leaves_quiet_audio_alone() -> None:
    rate, ceiling = 24000, 10 ** (-0.5 / 20)
    t = np.arange(rate * 4) / rate
    music = (0.4 * np.sin(2 * np.pi * 220 * t) + 0.3 * np.sin(2 * np.pi * 331 * t)).astype(
        np.float32)
    assert np.array_equal(limit_overs(music, rate, ceiling), music)  # peaks at 0.72: untouched
    loud = music.copy()
    loud[rate : rate + 50] += 0.9  # a click: sample peak 0.92, true peak over 1.0
    limited = limit_overs(loud, rate, ceiling)
    assert true_peak_dbtp(limited, rate) <= -0.5 + 0.05
    changed = np.flatnonzero(limited != loud)
    # Only the limiter's attack, hold and release around the click: everything else is exact.
    assert rate - 0.05 * rate < changed.min() and changed.max() < rate + 50 + 0.08 * rate
    assert limited.dtype == np.float32


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


@pytest.mark.parametrize("rate", [24000, 44100, 48000])
@pytest.mark.parametrize("seconds", [0.1, 0.41, 3.3])
def test_integrated_loudness_equals_pyloudnorm(rate: int, seconds: float) -> None:
    # Ours is vectorised; pyloudnorm is the reference implementation of BS.1770-4 it follows.
    rng = np.random.default_rng(rate + int(seconds * 10))
    n = int(seconds * rate)
    envelope = np.sin(np.arange(n) / rate * 2.0) ** 4  # quiet stretches the gates drop
    mono = (0.3 * rng.standard_normal(n) * envelope).astype(np.float32)
    stereo = np.stack([mono, 0.5 * mono], axis=1)
    for audio in (mono, stereo):
        # pyloudnorm refuses audio shorter than a 400 ms block: ours measures it padded.
        missing = max(0, math.ceil(0.4 * rate) + 1 - n)
        padded = np.concatenate([audio, np.zeros((missing, *audio.shape[1:]))]).astype(float)
        expected = pyloudnorm.Meter(rate).integrated_loudness(padded)
        measured = integrated_loudness(audio, rate)
        assert measured == expected if math.isinf(expected) else measured == pytest.approx(
            expected, abs=1e-6
        )


def test_silence_and_near_silence_measure_minus_infinity() -> None:
    assert integrated_loudness(np.zeros(RATE), RATE) == -math.inf
    assert integrated_loudness(np.full(RATE, 1e-6), RATE) == -math.inf  # under the -70 gate


@pytest.mark.parametrize("n", [1, 15, 16, 17, 1000, 65536 * 2 + 5, 200_003])
def test_streamed_block_true_peaks_equal_the_whole_signal_measurement(n: int) -> None:
    # The streamed measurement (chunk boundaries, carried points, the zero tail) must give
    # exactly what measuring the whole oversampled signal at once gives.
    rng = np.random.default_rng(n)
    audio = (rng.standard_normal(n) * 0.3).astype(np.float32)
    block, factor = 16, 4
    n_blocks = -(-n // block)
    up = np.zeros(n_blocks * block * factor + 1, dtype=np.float32)
    whole = oversample(audio, RATE, factor)
    up[: min(len(whole), len(up))] = np.abs(whole[: len(up)])
    expected = up[:-1].reshape(n_blocks, block * factor).max(axis=1)
    expected = np.maximum(expected, up[block * factor :: block * factor][:n_blocks])
    samples = np.zeros(n_blocks * block, dtype=np.float32)
    samples[:n] = np.abs(audio)
    expected = np.maximum(expected, samples.reshape(n_blocks, block).max(axis=1))
    np.testing.assert_array_equal(block_true_peaks(audio, RATE), expected)
    assert true_peak_dbtp(audio, RATE) == pytest.approx(
        20 * math.log10(max(float(np.abs(whole).max()), float(np.abs(audio).max()))), abs=1e-9
    )


def test_row_max_matches_numpy() -> None:
    rows = np.random.default_rng(0).standard_normal((100, 64)).astype(np.float32)
    for width in (1, 2, 16, 64, 12):
        np.testing.assert_array_equal(row_max(rows[:, :width]), rows[:, :width].max(axis=1))
