"""Fit the planner's ear (`engine.key_hearing.KeyHearing`) on corpus audio and its scores.

Each one-section corpus example gives a score (its plan, split into chord tones, bass and
melody) and the key vector a key finder measures on its audio (`audio_key.key_vector` of
librosa's chroma, what the evaluation's key judge correlates with the key profiles). The
kernels are the least-squares map from the one to the other. Both sides are made offset- and
scale-free per example first (the judge's Pearson correlation ignores both), so long and loud
examples do not outweigh the rest.

The check that matters is on the held-out split: among clips whose score the kernels say will
be heard clearly in their key, how many the judge hears in it, against the same for the
score's own reading (`summary_rows`).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from melodex_studio.engine.audio_key import key_vector
from melodex_studio.engine.key_hearing import N_PARTS, KeyHearing, circulant_rows
from melodex_studio.music.key import Key, Mode
from melodex_studio.music.key_reading import pitch_margin, plan_part_weights
from melodex_studio.music.plan import Plan
from melodex_studio.training.eval_metrics import chroma_frames, estimate_key

MARGIN_BANDS = (0.0, 0.1, 0.2, 0.25, np.inf)  # upper edges of the bands; the first is open below


@dataclass(frozen=True)
class HearingExamples:
    """Per example: part weights [N, 3, 12], measured chroma [N, 12] and key indices [N]."""

    parts: np.ndarray
    chroma: np.ndarray
    keys: np.ndarray

    def __len__(self) -> int:
        return len(self.keys)


def load_hearing_examples(corpus_dir: Path | str, held_out: bool, limit: int,
                          progress: Callable[[int], None] | None = None) -> HearingExamples:
    """Up to `limit` one-section examples of a corpus split of at least `MIN_SECONDS`."""
    from melodex_studio.training.eval_reference import MIN_SECONDS, long_section_clips

    parts, chroma, keys = [], [], []
    for _, mono, rate, label in itertools.islice(long_section_clips(corpus_dir, held_out), limit):
        key = Key.parse(label["key"])
        parts.append(plan_part_weights(Plan.model_validate(label["plan"]), key))
        chroma.append(key_vector(chroma_frames(mono, rate)))
        keys.append(key.index)
        if progress is not None:
            progress(len(keys))
    if not keys:
        raise ValueError(f"no one-section examples of {MIN_SECONDS:.0f} s or more in {corpus_dir}")
    return HearingExamples(np.asarray(parts), np.asarray(chroma), np.asarray(keys))


def _standardised(vector: np.ndarray) -> np.ndarray:
    centred = vector - vector.mean()
    norm = np.linalg.norm(centred)
    return centred / norm if norm > 0 else centred


def fit_key_hearing(examples: HearingExamples) -> KeyHearing:
    """Least-squares kernels from `examples` (see the module text)."""
    rows, targets = [], []
    for parts, chroma in zip(examples.parts, examples.chroma, strict=True):
        total = parts.sum()
        if total <= 0 or np.ptp(chroma) == 0:
            continue  # silence, or a score without notes: nothing to learn
        design = np.concatenate([circulant_rows(parts[p]) for p in range(N_PARTS)], axis=1)
        rows.append((design - design.mean(axis=0)) / total)
        targets.append(_standardised(chroma))
    if not rows:
        raise ValueError("no example has both notes and a measurable chroma")
    solution, *_ = np.linalg.lstsq(np.concatenate(rows), np.concatenate(targets), rcond=None)
    return KeyHearing(solution.reshape(N_PARTS, 12), {"fitted_on": len(rows)})


def _margins(weights: Sequence[np.ndarray], keys: np.ndarray) -> np.ndarray:
    return np.asarray([pitch_margin(vector, Key.from_index(int(key)))
                       for vector, key in zip(weights, keys, strict=True)])


def reading_margins(hearing: KeyHearing, examples: HearingExamples) -> dict[str, np.ndarray]:
    """Per example: the score's margin, the predicted hearing's, and whether the judge (the
    measured chroma's best key profile) heard the labelled key (1.0 or 0.0)."""
    heard = [hearing.heard(parts) for parts in examples.parts]
    judged = [estimate_key(chroma).index for chroma in examples.chroma]
    return {"score": _margins([p.sum(axis=0) for p in examples.parts], examples.keys),
            "heard": _margins(heard, examples.keys),
            "correct": (np.asarray(judged) == examples.keys).astype(float)}


def summary_rows(hearing: KeyHearing, examples: HearingExamples) -> list[dict[str, object]]:
    """Per margin band and mode: clips (score reading / predicted hearing) and the share the
    judge heard in their key."""
    margins = reading_margins(hearing, examples)
    minor = np.asarray([Key.from_index(int(k)).mode is Mode.MINOR for k in examples.keys])
    rows: list[dict[str, object]] = []
    for low, high in zip((-np.inf, *MARGIN_BANDS[:-1]), MARGIN_BANDS, strict=True):
        for mode, selected in (("major", ~minor), ("minor", minor)):
            row: dict[str, object] = {"band": _band_name(low, high), "mode": mode}
            for reading in ("score", "heard"):
                inside = selected & (margins[reading] > low) & (margins[reading] <= high)
                row[f"{reading}_clips"] = int(inside.sum())
                row[f"{reading}_heard_in_key"] = (
                    round(float(margins["correct"][inside].mean()), 3) if inside.any() else None)
            rows.append(row)
    return rows


def _band_name(low: float, high: float) -> str:
    if low == -np.inf:
        return "another key"
    return f"{low:g} - {high:g}" if np.isfinite(high) else f"above {low:g}"


def format_summary(rows: Sequence[dict[str, object]]) -> str:
    def share(value: object) -> str:
        return "-" if value is None else f"{float(value):.0%}"  # type: ignore[arg-type]

    lines = ["margin band   mode    score: clips heard   hearing: clips heard"]
    for row in rows:
        lines.append(f"{row['band']:<13} {row['mode']:<7} {row['score_clips']:>12} "
                     f"{share(row['score_heard_in_key']):>5} {row['heard_clips']:>16} "
                     f"{share(row['heard_heard_in_key']):>5}")
    return "\n".join(lines)
