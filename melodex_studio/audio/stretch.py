"""Audio played at another tempo (and, for an imported recording, in another key), the way a
DAW warps audio to its grid: Rubber Band through pedalboard.

A section whose tempo changed keeps its takes; each records the tempo it was rendered at
(`Take.bpm`). Played as it is, such a take would run past or stop short of its bars and drift
off the metronome, so it plays time-stretched to the section's tempo, its pitch kept. A
recording imported at another tempo or key than its section's is stretched and transposed once,
when it is read. Stretching 30 s takes about a second, so it runs on the file thread, and a
take's stretched audio is cached with its audio.
"""

from __future__ import annotations

import numpy as np

from melodex_studio.music.tempo import tempo_factor

__all__ = ["stretched", "tempo_factor"]


def stretched(audio: np.ndarray, sample_rate: int, factor: float,
              semitones: float = 0.0) -> np.ndarray:
    """Mono float32 `audio` played `factor` times as fast, `semitones` higher (0: at the same
    pitch): exactly round(len / factor) samples."""
    if (factor == 1.0 and semitones == 0.0) or len(audio) == 0:
        return audio
    import pedalboard  # only when a take needs it: it adds a tenth of a second to start-up

    length = round(len(audio) / factor)
    out = pedalboard.time_stretch(np.ascontiguousarray(audio, dtype=np.float32)[None],
                                  float(sample_rate), stretch_factor=float(factor),
                                  pitch_shift_in_semitones=float(semitones))[0]
    if len(out) < length:
        out = np.concatenate([out, np.zeros(length - len(out), dtype=np.float32)])
    return np.ascontiguousarray(out[:length], dtype=np.float32)
