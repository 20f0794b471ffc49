"""High-quality sample-rate conversion (soxr), always outside the audio callback.

Take audio comes from the renderer at its own rate (24 kHz for the built-in model); playback and
export run at the project's or device's rate. Converting once, when a buffer is prepared, keeps
the callback a plain copy.

True-peak measurement oversamples whole songs several times per export, so it streams: soxr
gives bit-identical output chunk by chunk, and each chunk is measured while it is still in the
CPU cache instead of materialising a 4x copy of the song (2x faster on a 3-minute song).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import soxr

#: soxr's "very high quality": 175 dB stopband, linear phase. Cheap enough for whole songs
#: (3 minutes of 24 kHz -> 44.1 kHz in well under 0.1 s on one core).
RESAMPLE_QUALITY = "VHQ"
#: For measuring (true peak), soxr's "high quality" (20-bit): far past the 48-tap filter that
#: ITU-R BS.1770 asks for, within 0.002 dB of VHQ on music, and a third cheaper.
MEASURE_QUALITY = "HQ"
#: Input samples per streamed chunk: the 4x output (1 MB of float32) stays in the L2 cache.
OVERSAMPLE_CHUNK = 1 << 16


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


def oversampled_chunks(
    audio: np.ndarray, sample_rate: int, factor: int, chunk: int = OVERSAMPLE_CHUNK
) -> Iterator[np.ndarray]:
    """Mono `audio` at `factor` times its rate (MEASURE_QUALITY), as consecutive float32
    pieces that concatenate to exactly `factor * len(audio)` samples."""
    x = np.ascontiguousarray(np.asarray(audio, dtype=np.float32).reshape(-1))
    if len(x) == 0:
        return
    stream = soxr.ResampleStream(
        sample_rate, sample_rate * factor, 1, dtype="float32", quality=MEASURE_QUALITY
    )
    for start in range(0, len(x), chunk):
        last = start + chunk >= len(x)
        piece = stream.resample_chunk(x[start : start + chunk], last=last)
        if len(piece):
            yield piece.reshape(-1)


def oversample(audio: np.ndarray, sample_rate: int, factor: int) -> np.ndarray:
    """Mono `audio` at `factor` times its rate: what true-peak measurement looks at."""
    pieces = list(oversampled_chunks(audio, sample_rate, factor))
    return np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.float32)


def peak_magnitude(audio: np.ndarray) -> float:
    """max(|audio|) without writing an |audio| temporary."""
    if len(audio) == 0:
        return 0.0
    return max(float(audio.max()), -float(audio.min()))
