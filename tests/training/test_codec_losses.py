"""The autoencoder's pitch-detail term: what it pays for, and which bands it looks at."""

from __future__ import annotations

import torch

from melodex_studio.engine.mel import LogMel, MelConfig
from melodex_studio.training.codec_losses import mel_bins_below, pitch_detail_distance


def test_low_bands_are_counted_by_their_peak_frequency() -> None:
    frontend = LogMel(MelConfig())
    counts = [mel_bins_below(frontend.filters, 24000, hz) for hz in (300.0, 600.0, 2000.0)]
    assert counts == sorted(counts) and len(set(counts)) == 3
    # Slaney bands are about 34 Hz apart below 1 kHz: 600 Hz is the 17th or 18th band.
    assert 16 <= counts[1] <= 19
    assert mel_bins_below(frontend.filters, 24000, 12000.0) == MelConfig().n_mels


def test_slope_term_ignores_a_level_change_and_charges_a_flattened_peak() -> None:
    target = torch.full((1, 40, 8), -6.0)
    target[:, 10] = -1.0  # a partial between bands 9 and 11: its pitch is the peak's shape
    louder = target + 2.0
    flattened = target.clone()
    flattened[:, 9:12] = -4.0  # the partial smeared flat over three bands: no peak left
    assert pitch_detail_distance(louder, target, bins=20).item() == 0.0
    assert pitch_detail_distance(flattened, target, bins=20).item() > 0.1
    # Bands above `bins` are not its business.
    high = target.clone()
    high[:, 30] = 3.0
    assert pitch_detail_distance(high, target, bins=20).item() == 0.0
