"""The corpus on disk: one folder per corpus seed, a JSON manifest, and per example an audio
file (FLAC, 24-bit, or float32 .npy), optional stems, and a JSON file of labels and caption.

Files are written under a temporary name and renamed, the JSON last, so an example whose JSON
exists is complete; an interrupted build resumes where it stopped. Nothing is pickled.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Literal

import numpy as np
import soundfile

from melodex_studio.training.corpus.dataset import CorpusExample, generate_example
from melodex_studio.training.corpus.render import RenderLabels
from melodex_studio.training.corpus.vocabulary import STEM_ORDER

FORMAT_VERSION = 1
AudioFormat = Literal["flac", "npy"]


def default_corpus_dir() -> Path:
    """$MELODEX_CORPUS_DIR, else `corpus` in the studio's cache folder (data is generated,
    never committed)."""
    configured = os.environ.get("MELODEX_CORPUS_DIR")
    if configured:
        return Path(configured).expanduser()
    from melodex_studio.settings.paths import cache_dir

    return cache_dir() / "corpus"


def _replace_atomically(path: Path, write) -> None:
    temporary = path.with_name(f".{path.name}.partial")
    write(temporary)
    os.replace(temporary, path)


def _write_audio(path: Path, audio: np.ndarray, sample_rate: int, fmt: AudioFormat) -> None:
    if fmt == "npy":
        with open(path, "wb") as handle:  # np.save on a path would append ".npy" to the temp
            np.save(handle, np.ascontiguousarray(audio, dtype=np.float32), allow_pickle=False)
    else:
        soundfile.write(path, audio, sample_rate, format="FLAC", subtype="PCM_24")


def _read_audio(path: Path) -> np.ndarray:
    if path.suffix == ".npy":
        return np.load(path, allow_pickle=False).astype(np.float32, copy=False)
    audio, _ = soundfile.read(path, dtype="float32", always_2d=False)
    return audio


class CorpusStore:
    """The examples of corpus `seed` under `root`."""

    def __init__(self, root: Path, seed: int, audio_format: AudioFormat = "flac") -> None:
        if audio_format not in ("flac", "npy"):
            raise ValueError(f"audio format must be flac or npy, not {audio_format!r}")
        self.root = Path(root)
        self.seed = seed
        self.audio_format = audio_format
        self.examples_dir = self.root / "examples"

    def label_path(self, index: int) -> Path:
        return self.examples_dir / f"{index:08d}.json"

    def has(self, index: int) -> bool:
        return self.label_path(index).is_file()

    def save(self, example: CorpusExample, keep_stems: bool = False) -> None:
        if example.seed != self.seed:
            raise ValueError(f"example of corpus {example.seed} saved into corpus {self.seed}")
        self.examples_dir.mkdir(parents=True, exist_ok=True)
        stem = f"{example.index:08d}"
        audio_name = f"{stem}.{self.audio_format}"
        rate = example.sample_rate
        _replace_atomically(
            self.examples_dir / audio_name,
            lambda p: _write_audio(p, example.audio, rate, self.audio_format),
        )
        stems_name = None
        stem_order = [role.value for role in STEM_ORDER if role.value in example.stems]
        if keep_stems and stem_order:
            stems_name = f"{stem}.stems.{self.audio_format}"
            stacked = np.stack([example.stems[name] for name in stem_order], axis=1)
            _replace_atomically(
                self.examples_dir / stems_name,
                lambda p: _write_audio(p, stacked, rate, self.audio_format),
            )
        document = {
            "format": FORMAT_VERSION,
            "index": example.index,
            "seed": example.seed,
            "caption": example.caption,
            "held_out": example.held_out,
            "audio": audio_name,
            "stems": stems_name,
            "stem_order": stem_order if stems_name else [],
            "labels": example.labels.model_dump(mode="json"),
        }
        _replace_atomically(
            self.label_path(example.index),
            lambda p: p.write_text(json.dumps(document, separators=(",", ":")), "utf-8"),
        )

    def load(self, index: int) -> CorpusExample:
        document = json.loads(self.label_path(index).read_text("utf-8"))
        if document.get("format") != FORMAT_VERSION:
            raise ValueError(f"{self.label_path(index)} has format {document.get('format')}")
        audio = _read_audio(self.examples_dir / document["audio"])
        stems: dict[str, np.ndarray] = {}
        if document["stems"]:
            stacked = _read_audio(self.examples_dir / document["stems"])
            stacked = stacked.reshape(len(stacked), -1)
            stems = {name: stacked[:, i].copy() for i, name in enumerate(document["stem_order"])}
        return CorpusExample(
            index=document["index"],
            seed=document["seed"],
            caption=document["caption"],
            labels=RenderLabels.model_validate(document["labels"]),
            audio=audio,
            stems=stems,
        )

    def get(self, index: int, seconds_max: float, keep_stems: bool = False) -> CorpusExample:
        """The stored example, or a freshly generated one that is then stored."""
        if self.has(index):
            return self.load(index)
        example = generate_example(index, seed=self.seed, seconds_max=seconds_max)
        self.save(example, keep_stems=keep_stems)
        return example
