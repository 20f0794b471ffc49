"""High-quality sample-rate conversion (soxr), always outside the audio callback.

Take audio comes from the renderer at its own rate (24 kHz for the built-in model); playback and
export run at the project's or device's rate. Converting once, when a buffer is prepared, keeps
the callback a plain copy.
"""

from __future__ import annotations

import numpy as np
import soxr

#: soxr's "very high quality": 175 dB stopband, linear phase. Cheap enough for whole songs
#: (3 minutes of 24 kHz -> 44.1 kHz in well under 0.1 s on one core).
RESAMPLE_QUALITY = "VHQ"


def resample(audio: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    """`audio` (mono float32, or frames x channels) converted from `from_rate` to `to_rate`.

    The same rate returns the input unchanged (no copy), so callers can rely on identity to
    know nothing was done; otherwise a new contiguous float32 array.
    """
    if from_rate <= 0 or to_rate <= 0:
        raise ValueError(f"sample rates must be positive, got {from_rate} -> {to_rate}")
    data = np.asarray(audio, dtype=np.float32)
    if from_rate == to_rate:
        return data
    if data.shape[0] == 0:
        return np.zeros((0, *data.shape[1:]), dtype=np.float32)
    converted = soxr.resample(np.ascontiguousarray(data), from_rate, to_rate, RESAMPLE_QUALITY)
    return np.ascontiguousarray(converted, dtype=np.float32)


def oversample(audio: np.ndarray, sample_rate: int, factor: int) -> np.ndarray:
    """`audio` at `factor` times its rate: what true-peak measurement looks at."""
    return resample(audio, sample_rate, sample_rate * factor)
