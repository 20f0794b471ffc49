"""Which key rendered audio is heard in: a semitone chroma and the Krumhansl-Kessler profiles.

The planner's ear (`engine.key_hearing`) predicts the key from the score, before anything is
rendered. It cannot know what a render will make of that score: in the built-in model's
evaluation, plans heard in their key were heard in it again from 93 of 99 other seeds, and 15
of 32 plans heard off key had a seed that brought them into it. So a whole-section render is
listened to (`pipelines.render_in_key`), with this module.

The chroma is the magnitude of a long-window STFT (16,384 samples: 1.5 Hz bins at 24 kHz,
finer than a semitone from C1 up) pooled per semitone from C1 to B7 with triangular weights in
log frequency, then folded to 12 pitch classes. The low octave counts: a bass on the tonic is
much of what says a key. Each semitone's weights sum to 1, so a high semitone, many bins wide,
averages its bins and low notes weigh more; with peak-normalised weights the finder agreed with
the evaluation's judge on only 60 % of the renders below. Frames are log-compressed before they
are averaged, so held chords do not outweigh the bass and melody (`key_vector`); the
evaluation's judge reads its constant-Q chroma the same way. On 260 renders of the evaluation
design this finder named the same key as that judge 235 times (90 %).
"""

from __future__ import annotations

import numpy as np

from melodex_studio.music.key import Key

N_FFT = 16_384
HOP = 4_096
LOWEST_HZ = 32.70319566257483  # C1: row 0 of the chroma is C
N_SEMITONES = 84  # C1..B7
BIN_WIDTH_SEMITONES = 0.35  # half-width of a semitone's triangular weights
_filterbanks: dict[int, np.ndarray] = {}


def semitone_filterbank(sample_rate: int) -> np.ndarray:
    """[N_SEMITONES, N_FFT // 2 + 1] triangular weights of each semitone over the STFT bins,
    each row summing to 1 (cached per sample rate)."""
    if sample_rate not in _filterbanks:
        freqs = np.fft.rfftfreq(N_FFT, 1.0 / sample_rate)
        semitones = np.full(len(freqs), -1e9)
        semitones[1:] = 12.0 * np.log2(freqs[1:] / LOWEST_HZ)
        centres = np.arange(N_SEMITONES)[:, None]
        weights = np.clip(1.0 - np.abs(semitones[None, :] - centres) / (2 * BIN_WIDTH_SEMITONES),
                          0.0, None)
        _filterbanks[sample_rate] = weights / np.maximum(weights.sum(axis=1, keepdims=True),
                                                         1e-12)
    return _filterbanks[sample_rate]


def semitone_chroma(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """Chroma magnitude [12, frames] of mono `audio` (C = row 0; audio shorter than one window
    is zero-padded to it)."""
    samples = np.asarray(audio, dtype=np.float64).reshape(-1)
    if len(samples) < N_FFT:
        samples = np.pad(samples, (0, N_FFT - len(samples)))
    frames = np.lib.stride_tricks.sliding_window_view(samples, N_FFT)[::HOP] * np.hanning(N_FFT)
    magnitude = np.abs(np.fft.rfft(frames, axis=1))
    per_semitone = magnitude @ semitone_filterbank(sample_rate).T  # [frames, N_SEMITONES]
    return per_semitone.reshape(len(frames), N_SEMITONES // 12, 12).sum(axis=1).T


def key_vector(chroma: np.ndarray) -> np.ndarray:
    """The [12] vector a key is read from: chroma frames [12, F] log-compressed and averaged
    (a [12] chroma is taken as it is)."""
    values = np.asarray(chroma, dtype=np.float64)
    if values.ndim == 2:
        values = np.log1p(100.0 * values / max(float(values.max()), 1e-12)).mean(axis=1)
    return values


def key_correlations(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """[24] correlation of the audio's key vector with each key's profile (`Key.index` order);
    all zeros for audio with no pitch content."""
    return Key.correlations(key_vector(semitone_chroma(audio, sample_rate)))


def heard_key(audio: np.ndarray, sample_rate: int) -> Key | None:
    """The key `audio` is heard in, or None for audio with no pitch content (silence)."""
    return key_from_correlations(key_correlations(audio, sample_rate))


def key_from_correlations(correlations: np.ndarray) -> Key | None:
    if not correlations.any():
        return None
    return Key.from_index(int(np.argmax(correlations)))


def key_margin(correlations: np.ndarray, key: Key) -> float:
    """How clearly `key` is heard: its correlation minus the best other key's (positive when it
    is the key heard)."""
    others = np.delete(correlations, key.index)
    return float(correlations[key.index] - others.max())
