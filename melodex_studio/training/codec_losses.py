"""Spectral distances used both as codec training losses and as evaluation metrics.

Multi-resolution STFT distance (Parallel WaveGAN): per resolution, spectral convergence plus mean
absolute log-magnitude difference, averaged over resolutions. Short windows (64-256 samples) see
transients and expose phase smearing that a 1024-sample mel cannot; long windows (1024-2048) see
harmonic detail.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

STFT_RESOLUTIONS: tuple[int, ...] = (64, 128, 256, 512, 1024, 2048)
MAGNITUDE_FLOOR = 1e-5

_windows: dict[tuple[int, str], Tensor] = {}


def _window(n_fft: int, device: torch.device) -> Tensor:
    key = (n_fft, str(device))
    if key not in _windows:
        _windows[key] = torch.hann_window(n_fft, periodic=True, device=device)
    return _windows[key]


def stft_magnitude(audio: Tensor, n_fft: int) -> Tensor:
    """Magnitude [b, n_fft // 2 + 1, frames], hop n_fft / 4, zero-padded centred frames."""
    spec = torch.stft(
        audio,
        n_fft=n_fft,
        hop_length=n_fft // 4,
        window=_window(n_fft, audio.device),
        center=True,
        pad_mode="constant",
        return_complex=True,
    )
    return (spec.real.square() + spec.imag.square()).clamp_min(1e-12).sqrt()


def stft_distance(pred: Tensor, target: Tensor, n_fft: int) -> Tensor:
    """Spectral convergence + log-magnitude L1 at one resolution (batch pooled)."""
    pred_mag, target_mag = stft_magnitude(pred, n_fft), stft_magnitude(target, n_fft)
    convergence = torch.linalg.vector_norm(target_mag - pred_mag) / torch.linalg.vector_norm(
        target_mag
    ).clamp_min(1e-8)
    log_l1 = (
        target_mag.clamp_min(MAGNITUDE_FLOOR).log() - pred_mag.clamp_min(MAGNITUDE_FLOOR).log()
    ).abs().mean()
    return convergence + log_l1


def multi_resolution_stft_distance(
    pred: Tensor, target: Tensor, resolutions: tuple[int, ...] = STFT_RESOLUTIONS
) -> tuple[Tensor, dict[int, Tensor]]:
    """(mean over resolutions, per-resolution distances) between audio batches [b, n]."""
    length = min(pred.shape[-1], target.shape[-1])
    pred, target = pred[..., :length], target[..., :length]
    per_resolution = {n: stft_distance(pred, target, n) for n in resolutions}
    total = torch.stack(list(per_resolution.values())).mean()
    return total, per_resolution


def anti_wrapped(angle: Tensor) -> Tensor:
    """|angle| after wrapping into [-pi, pi]: phase errors of 2*pi are no errors."""
    return (angle - 2 * math.pi * torch.round(angle / (2 * math.pi))).abs()


def phase_distance(pred_phase: Tensor, target: Tensor) -> Tensor:
    """APNet-style anti-wrapped phase losses: group delay (phase difference along frequency)
    and instantaneous frequency (along time).

    The absolute phase of a held note cannot be known from a mel, only how it changes, so the
    instantaneous-phase term of APNet is left out. Weighted by the square root of the target
    magnitude, so the random phase of near-silent bins does not drown what is actually heard.
    """
    target_phase = target.angle()
    weight = target.abs().sqrt()
    weight = weight / weight.mean().clamp_min(1e-8)
    group_delay = (weight[:, 1:] * anti_wrapped(
        torch.diff(pred_phase, dim=1) - torch.diff(target_phase, dim=1))).mean()
    frequency = (weight[..., 1:] * anti_wrapped(
        torch.diff(pred_phase, dim=2) - torch.diff(target_phase, dim=2))).mean()
    return group_delay + frequency


def log_magnitude_l1(pred_magnitude: Tensor, target: Tensor) -> Tensor:
    floor = MAGNITUDE_FLOOR
    target_magnitude = target.abs().clamp_min(floor)
    return (pred_magnitude.clamp_min(floor).log() - target_magnitude.log()).abs().mean()


def mel_bins_below(filterbank: Tensor, sample_rate: int, max_hz: float) -> int:
    """How many of a mel filterbank's [mels, freqs] lowest bands peak at or below `max_hz`."""
    n_freqs = filterbank.shape[1]
    peak_hz = filterbank.argmax(dim=1).float() * (sample_rate / 2) / (n_freqs - 1)
    return int((peak_hz <= max_hz).sum())


def pitch_detail_distance(pred: Tensor, target: Tensor, bins: int) -> Tensor:
    """L1 between the frequency slopes of two log-mels [b, mels, frames] over the lowest `bins`.

    Below about 600 Hz a mel band is wider than a semitone, so a note's pitch lives in the
    height of a band against its neighbours, not in which band is loudest. A plain L1 pays
    little for flattening those ratios, and a flattened low end decodes to the wrong chord.
    """
    return (torch.diff(pred[:, :bins], dim=1) - torch.diff(target[:, :bins], dim=1)).abs().mean()


def consistency_distance(pred_spec: Tensor, resynthesised_spec: Tensor, target: Tensor) -> Tensor:
    """How far the predicted STFT is from the STFT of its own inverse (relative to the target).

    A consistent prediction is one that overlap-add does not change, so its magnitude and phase
    mean what they say instead of relying on cancellation between frames.
    """
    return (pred_spec - resynthesised_spec).abs().mean() / target.abs().mean().clamp_min(1e-8)
