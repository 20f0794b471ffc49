"""Codec evaluation: distances, Griffin-Lim baseline, targets, PNGs (tiny random codec)."""

from __future__ import annotations

import math
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch

from melodex_studio.engine.codec import Codec
from melodex_studio.training.codec_losses import multi_resolution_stft_distance
from melodex_studio.training.eval_codec import evaluate_codec, griffin_lim_from_mel

pytest.importorskip("librosa")


def tone(seconds: float, freq: float) -> np.ndarray:
    t = np.arange(int(seconds * 24000)) / 24000
    return (0.3 * np.sin(2 * math.pi * freq * t) * np.exp(-3 * (t % 0.25))).astype(np.float32)


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    # The image data must decompress to one filter byte + RGB per pixel per row.
    start = data.index(b"IDAT") + 4
    length = struct.unpack(">I", data[start - 8 : start - 4])[0]
    assert len(zlib.decompress(data[start : start + length])) == height * (1 + 3 * width)
    return width, height


def test_distances_are_zero_for_identical_audio_and_grow_with_noise() -> None:
    clean = torch.from_numpy(tone(0.5, 440.0)).reshape(1, -1)
    same, _ = multi_resolution_stft_distance(clean, clean)
    assert float(same) == pytest.approx(0.0, abs=1e-6)
    gen = torch.Generator().manual_seed(0)
    noise = torch.randn(clean.shape, generator=gen)
    little, _ = multi_resolution_stft_distance(clean + 0.001 * noise, clean)
    lots, per_res = multi_resolution_stft_distance(clean + 0.05 * noise, clean)
    assert 0 < float(little) < float(lots)
    assert sorted(per_res) == [64, 128, 256, 512, 1024, 2048]


def test_griffin_lim_reconstructs_the_magnitude() -> None:
    codec = Codec.tiny_random(0)
    audio = torch.from_numpy(tone(1.0, 330.0))[: 23 * 1024]
    mel = codec.mel(audio)[0]
    rebuilt = griffin_lim_from_mel(mel, codec.config.mel, iterations=16, seed=0)
    assert rebuilt.shape == (mel.shape[-1] * 256,)
    assert np.array_equal(rebuilt, griffin_lim_from_mel(mel, codec.config.mel, 16, seed=0))
    mel_error = (codec.mel(torch.from_numpy(rebuilt)) - codec.mel(audio)).abs().mean()
    silence_error = (codec.mel(torch.zeros_like(audio)) - codec.mel(audio)).abs().mean()
    assert mel_error < 0.25 * silence_error


def test_evaluate_codec_reports_table_targets_and_pngs(tmp_path: Path) -> None:
    codec = Codec.tiny_random(0)
    result = evaluate_codec(codec, [tone(0.6, 220.0), {"audio": tone(0.5, 523.0)}], tmp_path,
                            griffin_lim_iterations=4, speed_seconds=2.0, print_table=False)
    assert result["clips"] == 2
    assert set(result["methods"]) == {"griffin_lim", "vocoder", "round_trip"}
    for row in result["methods"].values():
        assert {"mel_l1", "mrstft", "stft_64", "stft_2048"} <= set(row)
        assert all(math.isfinite(v) and v > 0 for v in row.values())
    # An untrained vocoder is far worse than Griffin-Lim: the target check must say so.
    assert result["targets"]["vocoder_beats_griffin_lim_by_30pct"] is False
    assert result["speed"]["decode_x_real_time"] > 0
    assert "griffin_lim" in result["table"] and "NOT met" in result["table"]
    names = sorted(Path(p).name for p in result["pngs"])
    assert names == ["spectrogram_griffin_lim.png", "spectrogram_original.png",
                     "spectrogram_round_trip.png", "spectrogram_trio.png"]
    width, height = _png_size(tmp_path / "spectrogram_original.png")
    assert height == 2 * 32 and width > 40
    assert _png_size(tmp_path / "spectrogram_trio.png") == (width, 2 * (3 * 32 + 6))
