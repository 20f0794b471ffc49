"""Headroom for lossy exports: MP3 and Ogg files must meet the true-peak ceiling once DECODED.

A lossy codec adds quantisation noise around every transient, so a mix limited to exactly
-1 dBTP decodes to about -0.3 dBTP. Measured on the export benchmark's song (libsndfile's
default quality, mono and stereo): +0.6 dB (Vorbis) and +0.7-0.9 dB (MP3) over a -1 dBTP
limit, and +1.0-1.3 dB for both once limited 0.5-2.5 dB deeper (the codec noise follows the
loudness, which stays at the target, more than the peak). So lossy files are limited
`LOSSY_HEADROOM_DB` under the ceiling asked for (the usual "-2 dBTP or lower for lossy"
advice), the written files are decoded and their 4x-oversampled true peak measured, and if
that is still over the ceiling, the headroom becomes the measured overshoot plus a margin and
the mix is normalised and encoded again from the unprocessed mix (so loudness still reaches
the target).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import soundfile

from melodex_studio.audio.loudness import true_peak_dbtp

LOSSY_FORMATS = ("mp3", "ogg")
#: The first encode's headroom under the ceiling, in dB: above every overshoot measured
#: (1.3 dB at most), so one encode is enough in the usual case; a second costs as much again.
LOSSY_HEADROOM_DB = 1.5
#: Added to a measured overshoot when an encode has to be redone: the overshoot moves by
#: +-0.2 dB from one limiter setting to the next.
LOSSY_SAFETY_DB = 0.25
#: Encodes at most, the first included; after that the export warns instead.
MAX_LOSSY_ENCODES = 3


def needs_headroom(fmt: str, normalising: bool) -> bool:
    """Lossy files get headroom when there is a ceiling to keep (loudness normalisation on)."""
    return normalising and fmt in LOSSY_FORMATS


def decoded_true_peak(paths: Iterable[Path]) -> float:
    """The highest true peak (dBTP, 4x oversampled) of any channel of the decoded files."""
    peak = -np.inf
    for path in paths:
        decoded, rate = soundfile.read(path, dtype="float32", always_2d=True)
        channels = [decoded[:, 0]]
        if decoded.shape[1] > 1 and not np.array_equal(decoded[:, 0], decoded[:, 1]):
            channels.append(decoded[:, 1])  # dual-mono decodes identical: measure once
        for channel in channels:
            peak = max(peak, true_peak_dbtp(np.ascontiguousarray(channel), rate))
    return float(peak)


def next_headroom(headroom_db: float, encoded_peak_db: float, decoded_peak_db: float) -> float:
    """Headroom for the next encode after `encoded_peak_db` decoded to `decoded_peak_db`
    (over the ceiling): the codec's overshoot plus a safety margin, and always more than now."""
    overshoot = decoded_peak_db - encoded_peak_db
    return max(headroom_db, overshoot) + LOSSY_SAFETY_DB


def overshoot_warning(fmt: str, decoded_peak_db: float, ceiling_db: float, headroom_db: float
                      ) -> str:
    return (
        f"{fmt.upper()} encoding raised the true peak to {decoded_peak_db:.1f} dBTP (ceiling "
        f"{ceiling_db:.1f}) even with {headroom_db:.1f} dB of headroom; export at a lower "
        f"ceiling, e.g. {ceiling_db - 1:.0f} dBTP, or to WAV/FLAC"
    )
