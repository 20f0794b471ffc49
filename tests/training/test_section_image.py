"""The section picture: PNG of the right size, with bar lines drawn where the grid puts them."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np

from melodex_studio.engine.mel import MelConfig
from melodex_studio.music.meter import Meter
from melodex_studio.music.tempo import TempoGrid
from melodex_studio.training.section_image import CHROMA_ROWS, section_image


def _pixels(path: Path) -> np.ndarray:
    data = path.read_bytes()
    width, height = struct.unpack(">II", data[16:24])
    start = data.index(b"IDAT") + 4
    length = struct.unpack(">I", data[start - 8:start - 4])[0]
    raw = zlib.decompress(data[start:start + length])
    rows = np.frombuffer(raw, dtype=np.uint8).reshape(height, 1 + 3 * width)
    assert np.all(rows[:, 0] == 0)  # filter type "none" on every row
    return rows[:, 1:].reshape(height, width, 3)


def test_bar_lines_sit_on_the_grid(tmp_path: Path) -> None:
    mel = MelConfig()
    grid = TempoGrid(bpm=120.0, meter=Meter.parse("4/4"), sample_rate=mel.sample_rate)
    seconds = grid.bar_to_seconds(2)
    t = np.arange(int(seconds * mel.sample_rate)) / mel.sample_rate
    audio = (0.3 * np.sin(2 * np.pi * 220.0 * t)).astype(np.float32)
    pixels = _pixels(section_image(audio, grid, 2, mel, tmp_path / "s.png"))
    frames = -(-len(audio) // mel.hop)
    assert pixels.shape[0] == 2 * (mel.n_mels + 3 + 12 * CHROMA_ROWS)
    assert pixels.shape[1] in (frames, frames + 1)
    brightness = pixels.sum(axis=2)
    bar_one = round(grid.bar_to_seconds(1) * mel.sample_rate / mel.hop)
    full_height = (brightness > 650).mean(axis=0) > 0.9
    assert full_height[bar_one] and full_height[0]
    assert full_height.sum() <= 3  # bars 0 and 1 (bar 2 falls just past the end)
