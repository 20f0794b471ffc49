"""Stems -> a finished mono mix: balance, pan, reverb, bus compression, limiting.

Pedalboard does the processing. The stems are panned into a stereo bus so the stereo reverb
and the pan law colour the mix as in a real session, then folded to mono (the model works on
mono 24 kHz). The mix is brought to a common loudness and kept below full scale.
"""

from __future__ import annotations

import math

import numpy as np
import pedalboard

from melodex_studio.training.corpus.styles import MixProfile
from melodex_studio.training.corpus.vocabulary import Role

TARGET_RMS_DBFS = -18.0
BUS_RMS_DBFS = -20.0
#: JUCE's limiter adds make-up gain of -threshold, so the stems get it too.
LIMITER_THRESHOLD_DB = -3.0
PEAK_CEILING = 0.97  # about -0.26 dBFS


def _db(value: float) -> float:
    return float(10.0 ** (value / 20.0))


def _stem_chain(role: Role) -> pedalboard.Pedalboard:
    if role is Role.DRUMS:
        return pedalboard.Pedalboard(
            [pedalboard.Compressor(threshold_db=-14.0, ratio=2.5, attack_ms=8.0, release_ms=90.0)]
        )
    if role is Role.BASS:
        return pedalboard.Pedalboard([pedalboard.LowpassFilter(cutoff_frequency_hz=2500.0)])
    return pedalboard.Pedalboard([pedalboard.HighpassFilter(cutoff_frequency_hz=140.0)])


def vinyl_bed(n_samples: int, level_db: float, rng: np.random.Generator) -> np.ndarray:
    """Soft hiss plus sparse crackles, the "dusty record" texture of lo-fi beats."""
    hiss = rng.standard_normal(n_samples).astype(np.float32) * _db(level_db)
    crackles = np.zeros(n_samples, dtype=np.float32)
    count = int(n_samples / 24000 * 6)  # about six clicks a second at 24 kHz
    positions = rng.integers(0, max(1, n_samples), size=count)
    crackles[positions] = rng.uniform(-1.0, 1.0, size=count).astype(np.float32) * _db(
        level_db + 18.0
    )
    return hiss + crackles


def mix_stems(
    stems: dict[Role, np.ndarray],
    profile: MixProfile,
    sample_rate: int,
    rng: np.random.Generator,
) -> tuple[np.ndarray, dict[Role, np.ndarray]]:
    """The mono mix (float32) and the stems at the level they sit in it.

    The returned stems are the processed, balanced stems before the bus (reverb, compression,
    limiting), scaled by the same final gain as the mix.
    """
    if not stems:
        raise ValueError("nothing to mix")
    n_samples = len(next(iter(stems.values())))
    balanced: dict[Role, np.ndarray] = {}
    bus = np.zeros((2, n_samples), dtype=np.float32)
    for role, audio in stems.items():
        gain = _db(profile.stem_gain_db.get(role, 0.0) + float(rng.uniform(-1.5, 1.5)))
        processed = _stem_chain(role)(audio[np.newaxis, :] * gain, sample_rate)[0]
        balanced[role] = processed.astype(np.float32)
        angle = (profile.stem_pan.get(role, 0.0) + 1.0) * math.pi / 4.0
        bus[0] += processed * math.cos(angle) * math.sqrt(2.0)
        bus[1] += processed * math.sin(angle) * math.sqrt(2.0)
    # Bring the bus to a fixed level first so compressor thresholds and the vinyl level mean
    # the same thing for every example, whatever the sample bank's loudness.
    bus_rms = float(np.sqrt(np.mean(np.square(bus, dtype=np.float64))))
    bus_gain = _db(BUS_RMS_DBFS) / bus_rms if bus_rms > 1e-7 else 1.0
    bus *= bus_gain
    if profile.vinyl_noise_db is not None:
        bus += vinyl_bed(n_samples, profile.vinyl_noise_db, rng)[np.newaxis, :]
    effects: list = [
        # JUCE's reverb scales dry by 2 (and wet by 3): dry_level 0.5 keeps the dry signal at unity.
        pedalboard.Reverb(
            room_size=profile.reverb_room, damping=0.5, wet_level=profile.reverb_wet,
            dry_level=0.5, width=1.0,
        ),
        pedalboard.Compressor(
            threshold_db=profile.compressor_threshold_db, ratio=profile.compressor_ratio,
            attack_ms=10.0, release_ms=150.0,
        ),
    ]
    if profile.lowpass_hz is not None:
        effects.append(pedalboard.LowpassFilter(cutoff_frequency_hz=profile.lowpass_hz))
    effects.append(pedalboard.Limiter(threshold_db=LIMITER_THRESHOLD_DB, release_ms=80.0))
    wet = pedalboard.Pedalboard(effects)(bus, sample_rate)
    mono = (0.5 * (wet[0] + wet[1])).astype(np.float32)
    out_gain = final_gain(mono)
    stem_gain = bus_gain * _db(-LIMITER_THRESHOLD_DB) * out_gain
    stems_out = {role: (audio * stem_gain).astype(np.float32) for role, audio in balanced.items()}
    return (mono * out_gain).astype(np.float32), stems_out


def final_gain(mono: np.ndarray) -> float:
    """Gain to the target loudness, lowered if the peak would pass the ceiling."""
    rms = float(np.sqrt(np.mean(np.square(mono, dtype=np.float64))))
    peak = float(np.max(np.abs(mono))) if mono.size else 0.0
    if rms < 1e-7 or peak == 0.0:
        return 1.0
    gain = _db(TARGET_RMS_DBFS) / rms
    return min(gain, PEAK_CEILING / peak)
