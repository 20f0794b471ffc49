"""Audio for codec training: an in-memory pool of mono clips and seeded random crops from it.

The pool is small enough to hold in memory (minutes of 24 kHz mono), and crops are drawn only from a
caller's generator, so a training step's batch is a pure function of the step's seed.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".npy")
CORPUS_MANIFEST = "corpus.json"
SILENCE_RMS = 1e-4
SILENCE_RETRIES = 4


def to_mono(audio: Any) -> np.ndarray:
    """Float32 mono samples from an array/tensor shaped [n], [channels, n] or [n, channels]."""
    if isinstance(audio, Tensor):
        audio = audio.detach().cpu().numpy()
    arr = np.asarray(audio, dtype=np.float32)
    if arr.ndim == 2:
        channel_axis = 0 if arr.shape[0] <= arr.shape[1] else 1
        arr = arr.mean(axis=channel_axis)
    if arr.ndim != 1:
        raise ValueError(f"expected mono or multichannel audio, got shape {arr.shape}")
    return np.ascontiguousarray(arr)


def audio_of(item: Any) -> Any:
    """The audio of one corpus item: the item itself, its ``audio`` key/attribute, or item[0]."""
    if isinstance(item, dict):
        return item["audio"]
    if hasattr(item, "audio"):
        return item.audio
    if isinstance(item, tuple):
        return item[0]
    return item


def read_audio_file(path: Path, sample_rate: int) -> np.ndarray:
    """Mono float32 samples of an audio (or .npy / .safetensors) file at `sample_rate`."""
    if path.suffix == ".npy":
        return to_mono(np.load(path, allow_pickle=False))
    if path.suffix == ".safetensors":
        from safetensors.numpy import load_file

        return to_mono(load_file(str(path))["audio"])
    import soundfile

    data, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    mono = to_mono(data.T)
    if rate != sample_rate:
        import soxr

        mono = soxr.resample(mono, rate, sample_rate, quality="HQ").astype(np.float32)
    return mono


def corpus_audio_files(folder: Path, held_out: bool = False) -> list[Path]:
    """Mix files of a corpus folder (``corpus.json`` + ``examples/*.json``) of one split.

    Reads the per-example label documents, so stems and the other split are never mixed in.
    """
    paths = []
    for doc_path in sorted((folder / "examples").glob("*.json")):
        document = json.loads(doc_path.read_text(encoding="utf-8"))
        if bool(document.get("held_out")) == held_out:
            paths.append(doc_path.parent / document["audio"])
    return paths


def audio_files(folder: Path, held_out: bool = False) -> list[Path]:
    """A corpus folder's split, or else every audio file below ``folder`` (sorted; no stems)."""
    if (folder / CORPUS_MANIFEST).is_file():
        return corpus_audio_files(folder, held_out)
    suffixes = (*AUDIO_SUFFIXES, ".safetensors")
    return sorted(p for p in folder.rglob("*")
                  if p.suffix.lower() in suffixes and ".stems." not in p.name)


def load_audio_pool(
    source: Path | str | Iterable[Any],
    sample_rate: int,
    max_clips: int | None = None,
    held_out: bool = False,
) -> list[Tensor]:
    """Clips from a folder (a corpus split, or all audio files) or from an iterable of clips."""
    clips: list[Tensor] = []
    if isinstance(source, str | Path):
        folder = Path(source)
        if not folder.is_dir():
            raise FileNotFoundError(f"training data folder not found: {folder}")
        for path in audio_files(folder, held_out)[:max_clips]:
            clips.append(torch.from_numpy(read_audio_file(path, sample_rate)))
    else:
        for item in source:
            if max_clips is not None and len(clips) >= max_clips:
                break
            clips.append(torch.from_numpy(to_mono(audio_of(item)).copy()))
    clips = [c for c in clips if c.numel() > 0]
    if not clips:
        raise ValueError(f"no audio clips found in {source!r}")
    return clips


def sample_segments(
    pool: list[Tensor],
    length: int,
    batch: int,
    generator: torch.Generator,
    gain_db_range: tuple[float, float] = (0.0, 0.0),
) -> Tensor:
    """``batch`` random crops of ``length`` samples with a random gain: [batch, length].

    Near-silent crops are redrawn a few times: they teach the vocoder nothing. Short clips are
    zero-padded at the end.
    """
    out = torch.zeros(batch, length)
    low, high = gain_db_range
    for row in range(batch):
        segment = torch.zeros(0)
        for _ in range(SILENCE_RETRIES):
            clip = pool[int(torch.randint(len(pool), (1,), generator=generator))]
            offset = 0
            if clip.numel() > length:
                offset = int(torch.randint(clip.numel() - length + 1, (1,), generator=generator))
            segment = clip[offset : offset + length]
            if segment.square().mean().sqrt() > SILENCE_RMS:
                break
        gain_db = low + (high - low) * float(torch.rand(1, generator=generator))
        out[row, : segment.numel()] = segment * 10.0 ** (gain_db / 20.0)
    return out
