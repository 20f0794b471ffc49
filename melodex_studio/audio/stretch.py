"""A take's audio played at another tempo than it was rendered at, until it is rendered again.

A section whose tempo changed keeps its takes; each records the tempo it was rendered at
(`Take.bpm`). Played as it is, such a take would run past or stop short of its bars and drift
off the metronome, so it plays time-stretched to the section's tempo, its pitch kept (Rubber
Band, through pedalboard), the way a DAW warps audio to its grid. Stretching 30 s takes about a
second, so it runs where take audio is prepared (the file thread), and the result is cached with
the take's audio.
"""

from __future__ import annotations

import numpy as np

from melodex_studio.music.tempo import tempo_factor

__all__ = ["stretched", "tempo_factor"]


def stretched(audio: np.ndarray, sample_rate: int, factor: float) -> np.ndarray:
    """Mono float32 `audio` played `factor` times as fast at the same pitch: exactly
    round(len / factor) samples."""
    if factor == 1.0 or len(audio) == 0:
        return audio
    import pedalboard  # only when a take needs it: it adds a tenth of a second to start-up

    length = round(len(audio) / factor)
    out = pedalboard.time_stretch(np.ascontiguousarray(audio, dtype=np.float32)[None],
                                  float(sample_rate), stretch_factor=float(factor))[0]
    if len(out) < length:
        out = np.concatenate([out, np.zeros(length - len(out), dtype=np.float32)])
    return np.ascontiguousarray(out[:length], dtype=np.float32)
