"""The peak-locked starting phase: partials keep their own frequency, and windows agree."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from melodex_studio.engine.mel import MelConfig, centred_istft, centred_stft, overlap_add_envelope
from melodex_studio.engine.peak_phase import peak_locked_phase

CONFIG = MelConfig()
WINDOW = torch.hann_window(CONFIG.n_fft, periodic=True)


def _magnitude(audio: torch.Tensor) -> torch.Tensor:
    return centred_stft(audio[None], CONFIG, WINDOW).abs()


def _synthesise(magnitude: torch.Tensor, phase: torch.Tensor) -> torch.Tensor:
    envelope = overlap_add_envelope(WINDOW, CONFIG.hop, magnitude.shape[-1])
    return centred_istft(torch.polar(magnitude, phase), CONFIG, WINDOW, envelope)[0]


def _peak_frequency(audio: torch.Tensor) -> float:
    """Frequency of the strongest partial, from a long zero-padded FFT (0.1 Hz grid)."""
    samples = audio.double().numpy() * np.hanning(audio.numel())
    spectrum = np.abs(np.fft.rfft(samples, n=CONFIG.sample_rate * 10))
    return float(np.argmax(spectrum)) / 10.0


def _ramp_phase(frames: int) -> torch.Tensor:
    """Each bin advancing at its centre frequency: what the peak-locked phase replaces."""
    bins = torch.arange(CONFIG.n_fft // 2 + 1)[:, None]
    steps = torch.arange(frames)[None, :]
    return (2 * math.pi * bins * steps * CONFIG.hop / CONFIG.n_fft)[None].float()


@pytest.mark.parametrize("frequency", [55.0, 110.0, 146.8])
def test_a_note_between_bins_keeps_its_pitch(frequency: float) -> None:
    t = torch.arange(2 * CONFIG.sample_rate) / CONFIG.sample_rate
    magnitude = _magnitude(0.3 * torch.sin(2 * math.pi * frequency * t))
    locked = _synthesise(magnitude, peak_locked_phase(magnitude, CONFIG.hop, CONFIG.n_fft))
    ramp = _synthesise(magnitude, _ramp_phase(magnitude.shape[-1]))
    middle = slice(CONFIG.sample_rate // 4, -CONFIG.sample_rate // 4)
    # Within 14 cents (the parabola's bias, 0.4 Hz at most); the bin-centre ramp lands on a bin,
    # a semitone or more off.
    assert abs(_peak_frequency(locked[middle]) / frequency - 1.0) < 0.008
    assert abs(_peak_frequency(ramp[middle]) / frequency - 1.0) > 0.03


def test_a_window_matches_the_same_frames_of_the_whole() -> None:
    gen = torch.Generator().manual_seed(3)
    t = torch.arange(3 * CONFIG.sample_rate) / CONFIG.sample_rate
    notes = torch.tensor([110.0, 277.2, 415.3, 659.3])  # partials four bins or more apart
    audio = sum(0.1 * torch.sin(2 * math.pi * f * t) for f in notes)
    audio = audio + 1e-4 * torch.randn(audio.shape, generator=gen)
    magnitude = _magnitude(audio)
    whole = peak_locked_phase(magnitude, CONFIG.hop, CONFIG.n_fft, first_frame=0,
                              anchor_frames=32)
    start = 50
    part = peak_locked_phase(magnitude[..., start:], CONFIG.hop, CONFIG.n_fft,
                             first_frame=start, anchor_frames=32)
    # One anchor period after the window starts, both integrations have restarted inside it.
    settled = 32
    assert torch.equal(part[..., settled:], whole[..., start + settled :])
    # Before that the window starts its partials where the whole has them (a steady partial's
    # phase is a function of its frequency and the absolute frame), so only noise bins differ.
    wrapped = torch.remainder(part[..., :settled] - whole[..., start : start + settled] + math.pi,
                              2 * math.pi) - math.pi
    loud = magnitude[..., start : start + settled] > 0.1 * magnitude.max()
    assert wrapped[loud].abs().max() < 0.25  # radians; unrelated phases differ by up to pi
    # Shifting the anchors (another song position) changes the phase.
    shifted = peak_locked_phase(magnitude, CONFIG.hop, CONFIG.n_fft, first_frame=7,
                                anchor_frames=32)
    assert not torch.allclose(shifted, whole)


def test_silence_and_bad_settings() -> None:
    silent = torch.full((1, CONFIG.n_fft // 2 + 1, 10), 1e-5)
    phase = peak_locked_phase(silent, CONFIG.hop, CONFIG.n_fft)
    assert phase.shape == silent.shape and torch.isfinite(phase).all()
    with pytest.raises(ValueError, match="anchor_frames"):
        peak_locked_phase(silent, CONFIG.hop, CONFIG.n_fft, anchor_frames=7)
