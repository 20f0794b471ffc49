"""The training corpus: example `index` of corpus `seed`, generated on demand or read from disk.

An example is fully determined by (seed, index): style, key (all 24), meter, tempo, section
kind, length and energy are drawn from generators derived from them, the section is composed,
captioned and rendered. A held-out evaluation split is chosen by hashing (seed, index), so it
never depends on how many examples were built. On disk each example is a FLAC (or .npy) file
of audio, optionally a multichannel FLAC of stems, and a JSON file of labels and caption;
nothing is pickled.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

import numpy as np

from melodex_studio.music.key import Key
from melodex_studio.music.meter import Meter
from melodex_studio.training.corpus.captions import caption_for
from melodex_studio.training.corpus.composer import TYPICAL_ENERGY, compose_section
from melodex_studio.training.corpus.render import SAMPLE_RATE, RenderLabels, render_section
from melodex_studio.training.corpus.seeding import derive_seed, pick, rng_for
from melodex_studio.training.corpus.styles import STYLES

DEFAULT_SECONDS_MAX = 12.0
HELD_OUT_FRACTION = 0.05
_BAR_CHOICES = (2, 4, 8)
_BAR_WEIGHTS = (0.25, 0.5, 0.25)


@dataclass(frozen=True, eq=False)
class CorpusExample:
    """One training example: caption, exact labels, mono mix and stems (float32)."""

    index: int
    seed: int
    caption: str
    labels: RenderLabels
    audio: np.ndarray
    stems: dict[str, np.ndarray]

    @property
    def sample_rate(self) -> int:
        return self.labels.sample_rate

    @property
    def held_out(self) -> bool:
        return is_held_out(self.index, self.seed)


def is_held_out(index: int, seed: int, fraction: float = HELD_OUT_FRACTION) -> bool:
    """Whether example `index` belongs to the evaluation split (stable hash of seed and index)."""
    digest = hashlib.blake2b(f"{seed}:{index}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2.0**64 < fraction


def split_indices(n: int, seed: int, fraction: float = HELD_OUT_FRACTION) -> tuple[list, list]:
    """(training indices, held-out indices) among 0..n-1."""
    held = [i for i in range(n) if is_held_out(i, seed, fraction)]
    held_set = set(held)
    return [i for i in range(n) if i not in held_set], held


def _bars_that_fit(meter: Meter, bpm: float, seconds_max: float, rng) -> int:
    bar_seconds = meter.quarter_notes_per_bar * 60.0 / bpm
    fitting = [(b, w) for b, w in zip(_BAR_CHOICES, _BAR_WEIGHTS, strict=True)
               if b * bar_seconds <= seconds_max]
    if not fitting:
        return max(1, math.floor(seconds_max / bar_seconds))
    choices, weights = zip(*fitting, strict=True)
    return int(pick(rng, choices, weights))


def compose_example(index: int, seed: int, seconds_max: float = DEFAULT_SECONDS_MAX):
    """The composed section of example `index` (no audio), with its section seed."""
    rng = rng_for(seed, "example", index)
    style = pick(rng, tuple(STYLES.values()))
    meters, meter_weights = zip(*style.meters, strict=True)
    meter = Meter.parse(pick(rng, meters, meter_weights))
    modes, mode_weights = zip(*style.modes, strict=True)
    key = Key(int(rng.integers(12)), pick(rng, modes, mode_weights))
    bpm = float(rng.integers(style.tempo[0], style.tempo[1] + 1))
    kind = pick(rng, style.sections)
    low, high = TYPICAL_ENERGY[kind]
    energy = round(float(rng.uniform(low, high)), 3)
    n_bars = _bars_that_fit(meter, bpm, seconds_max, rng)
    section_seed = derive_seed(seed, "section", index)
    return compose_section(style, key, meter, bpm, kind, n_bars, energy, section_seed)


def generate_example(
    index: int,
    *,
    seed: int = 0,
    seconds_max: float = DEFAULT_SECONDS_MAX,
    sample_rate: int = SAMPLE_RATE,
) -> CorpusExample:
    """Compose, caption and render example `index` of corpus `seed`."""
    if index < 0:
        raise ValueError(f"example index must not be negative, got {index}")
    section = compose_example(index, seed, seconds_max)
    rendered = render_section(section, sample_rate=sample_rate)
    return CorpusExample(
        index=index,
        seed=seed,
        caption=caption_for(section, derive_seed(seed, "caption", index)),
        labels=rendered.labels,
        audio=rendered.audio,
        stems=rendered.stems,
    )
