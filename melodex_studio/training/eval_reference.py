"""The ceiling of the generation judges: the same judges on labelled corpus audio.

The corpus was rendered from exact labels (tempo, key, per-bar chords), so scoring it against
them says what a *perfect* renderer would score: a short modal section can be heard in a
neighbouring key, and a beat tracker sometimes taps in half time. The generation table shows
this row next to the model's, so a number is read against what is reachable, not against 100 %.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from melodex_studio.music.key import Key
from melodex_studio.music.key_reading import plan_pitch_weights
from melodex_studio.music.meter import Meter
from melodex_studio.music.plan import Plan
from melodex_studio.music.tempo import TempoGrid
from melodex_studio.training.eval_metrics import (
    chroma_frames,
    judge_chords,
    judge_key,
    judge_tempo,
)

MIN_SECONDS = 4.0  # shorter clips hold too few beats for a tempo


def one_section_examples(corpus_dir: Path | str,
                         held_out: bool) -> Iterator[tuple[Path, dict[str, Any]]]:
    """(audio path, section label) of each one-section example of a corpus split, in order:
    the examples whose labels describe the whole clip."""
    folder = Path(corpus_dir)
    documents = sorted((folder / "examples").glob("*.json"))
    if not documents:
        raise FileNotFoundError(f"no corpus examples in {folder / 'examples'}")
    for path in documents:
        document = json.loads(path.read_text(encoding="utf-8"))
        sections = document.get("labels", {}).get("sections", [])
        if bool(document.get("held_out")) == held_out and len(sections) == 1:
            yield path.parent / document["audio"], sections[0]


def long_section_clips(corpus_dir: Path | str, held_out: bool
                       ) -> Iterator[tuple[Path, np.ndarray, int, dict[str, Any]]]:
    """(audio path, mono audio, sample rate, section label) of each one-section example of a
    corpus split that lasts at least `MIN_SECONDS`, in order."""
    import soundfile

    for path, label in one_section_examples(corpus_dir, held_out):
        audio, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
        mono = np.ascontiguousarray(audio.mean(axis=1))
        if mono.size >= MIN_SECONDS * rate:
            yield path, mono, rate, label


def judge_corpus_examples(corpus_dir: Path | str, max_examples: int = 48,
                          held_out: bool = True) -> list[dict[str, Any]]:
    """Records like `eval_generate.evaluate_section`'s (without seams) for up to `max_examples`
    one-section examples of a corpus split, judged against their own labels."""
    records: list[dict[str, Any]] = []
    clips = long_section_clips(corpus_dir, held_out)
    for audio_path, audio, rate, label in itertools.islice(clips, max_examples):
        meter, key = Meter.parse(label["meter"]), Key.parse(label["key"])
        grid = TempoGrid(float(label["bpm"]), meter, rate)
        chroma = chroma_frames(audio, rate)
        plan = Plan.model_validate(label["plan"])
        records.append({
            "example": audio_path.stem, "style": label["style"], "key": str(key),
            "meter": str(meter), "bpm": float(label["bpm"]),
            "tempo": asdict(judge_tempo(audio, rate, float(label["bpm"]), meter)),
            "key_result": asdict(judge_key(chroma, key)),
            "score_key_result": asdict(judge_key(plan_pitch_weights(plan, key), key)),
            "chords": asdict(judge_chords(chroma, grid, plan)),
            "audio_seconds": audio.size / rate,
        })
    if not records:
        raise ValueError(f"no one-section examples of at least {MIN_SECONDS:.0f} s in "
                         f"the {'held-out' if held_out else 'training'} split of {corpus_dir}")
    return records
