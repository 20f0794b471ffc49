"""A tiny two-style corpus (soft pads and four-on-the-floor beats) for the style probe."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import soundfile

SR = 24000


def pad(seed: int) -> np.ndarray:
    """A slow, soft low chord: the 'ambient' of this test."""
    rng = np.random.default_rng(seed)
    t = np.arange(5 * SR) / SR
    root = rng.uniform(100.0, 160.0)
    return 0.1 * sum(np.sin(2 * np.pi * root * r * t) for r in (1.0, 1.25, 1.5)) * (
        0.6 + 0.4 * np.sin(2 * np.pi * 0.2 * t))


def beat(seed: int) -> np.ndarray:
    """Four-on-the-floor kicks and noisy hats: the 'house' of this test."""
    rng = np.random.default_rng(seed)
    t = np.arange(5 * SR) / SR
    bpm = rng.uniform(120.0, 128.0)
    phase = (t * bpm / 60.0) % 1.0
    kick = np.sin(2 * np.pi * 55.0 * t) * np.exp(-phase * 25.0)
    hat = rng.standard_normal(t.size) * np.exp(-((phase + 0.5) % 1.0) * 60.0)
    return 0.5 * kick + 0.15 * hat


def write_corpus(folder: Path, train: int = 6, held_out: int = 2) -> Path:
    (folder / "examples").mkdir(parents=True)
    index = 0
    for style, make in (("ambient", pad), ("house", beat)):
        for n in range(train + held_out):
            name = f"{index:08d}"
            soundfile.write(str(folder / "examples" / f"{name}.flac"), make(index), SR)
            document = {"index": index, "held_out": n >= train, "audio": f"{name}.flac",
                        "labels": {"sections": [{"style": style}]}}
            (folder / "examples" / f"{name}.json").write_text(json.dumps(document))
            index += 1
    return folder
