"""A picture of a rendered section for the docs and the model card: log-mel spectrogram on top,
chroma (C at the bottom) below, white lines on bar lines and grey ticks on beats from the
tempo grid, so one can see at a glance whether onsets sit on the grid and the harmony moves
with the bars. Written with `eval_codec.write_spectrogram_png` (no plotting package)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from melodex_studio.engine.mel import LogMel, MelConfig
from melodex_studio.music.tempo import TempoGrid
from melodex_studio.training.eval_codec import write_spectrogram_png

CHROMA_ROWS = 6  # image rows per pitch class


def section_image(audio: np.ndarray, grid: TempoGrid, n_bars: int, mel: MelConfig,
                  path: Path) -> Path:
    """Write the PNG of mono `audio` at ``mel.sample_rate`` whose bar 0 starts at sample 0."""
    import librosa

    frontend = LogMel(mel)
    log_mel = frontend(torch.from_numpy(np.ascontiguousarray(audio, dtype=np.float32))[None])
    spectrum = log_mel[0].numpy()[::-1]
    low, high = float(np.percentile(spectrum, 2)), float(spectrum.max())
    chroma = librosa.feature.chroma_stft(y=audio.astype(np.float32), sr=mel.sample_rate,
                                         n_fft=mel.n_fft, hop_length=mel.hop)[::-1]
    width = min(spectrum.shape[1], chroma.shape[1])
    chroma_rows = np.repeat(chroma[:, :width], CHROMA_ROWS, axis=0)
    chroma_scaled = low + chroma_rows * (high - low)
    gap = np.full((3, width), np.nan)
    image = np.concatenate([spectrum[:, :width], gap, chroma_scaled])
    frames_per_second = mel.sample_rate / mel.hop
    for bar in range(n_bars + 1):
        for beat, start in enumerate(grid.meter.beat_starts_16ths()):
            seconds = grid.bar_to_seconds(bar + start / grid.meter.sixteenths_per_bar)
            column = round(seconds * frames_per_second)
            if not 0 <= column < width or (bar == n_bars and beat):
                continue
            if beat == 0:
                image[:, column] = high  # bar line: full height, brightest colour
            else:
                image[: image.shape[0] // 12, column] = high  # beat tick at the top
    return write_spectrogram_png(path, image, low, high)
