"""The fixed set of sections `melodex eval generate` asks a model for.

Deterministic, so two models (or two checkpoints of one) are compared on the same requests:

* style: section i is style ``i mod 10`` (every corpus style, equally often);
* key: section i is key ``i mod 24`` (`Key.from_index`), so every key appears and both modes
  meet every style;
* meter: each style cycles through the meters it is written in (4/4, 3/4, 6/8): asking house
  for 6/8 would test a request the corpus never made; over 96 sections that is 59 / 18 / 19;
* tempo: spread over the style's BPM range by a golden-ratio sequence (70-170 BPM overall);
* section kind: the style's kinds except the breakdown (written without drums, so a beat tracker
  has nothing to lock on); energy cycles through 0.4-0.8;
* prompt: caption words of the style (mood, drums, production) plus tempo, meter and key words,
  in the form the captions the models were trained on take.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from melodex_studio.music.key import Key
from melodex_studio.music.meter import Meter
from melodex_studio.training.corpus.captions import SECTION_WORDS, meter_words, tempo_words
from melodex_studio.training.corpus.styles import STYLES
from melodex_studio.training.corpus.vocabulary import SectionKind

STYLE_ORDER: tuple[str, ...] = tuple(STYLES)
EVAL_METERS = ("4/4", "3/4", "6/8")
ENERGIES = (0.6, 0.8, 0.4, 0.7, 0.5)
DEFAULT_SECTIONS = 96
DEFAULT_BARS = 8
MIN_BPM, MAX_BPM = 70.0, 170.0
_GOLDEN = (math.sqrt(5.0) - 1.0) / 2.0


@dataclass(frozen=True)
class EvalSection:
    """One request: everything the plan and render pipelines are given for a section."""

    index: int
    style: str
    key: Key
    meter: Meter
    bpm: float
    section_kind: str
    energy: float
    n_bars: int
    prompt: str
    seed: int

    def to_dict(self) -> dict[str, object]:
        return {"index": self.index, "style": self.style, "key": str(self.key),
                "meter": str(self.meter), "bpm": self.bpm, "section_kind": self.section_kind,
                "energy": self.energy, "n_bars": self.n_bars, "prompt": self.prompt,
                "seed": self.seed}


def _prompt(style_name: str, kind: SectionKind, key: Key, meter: str, bpm: float,
            turn: int) -> str:
    style = STYLES[style_name]

    def word(options: tuple[str, ...], salt: int = 0) -> str:
        return options[(turn + salt) % len(options)]

    section = word(SECTION_WORDS[kind])
    return (f"{word(style.moods)} {word((style.label, *style.synonyms), 1)} {section}, "
            f"{word(style.drum_words, 2)}, {word(style.production, 3)}, "
            f"{word(tempo_words(bpm))} {bpm:.0f} BPM {word(meter_words(meter))}, in {key}")


def design_sections(count: int = DEFAULT_SECTIONS, n_bars: int = DEFAULT_BARS,
                    seed: int = 0) -> list[EvalSection]:
    """`count` sections of `n_bars` bars; section i renders from seed ``seed * 100003 + i``."""
    if count < 1:
        raise ValueError(f"an evaluation needs at least one section, got {count}")
    if n_bars < 4:
        raise ValueError(f"sections need at least 4 bars (a repaint of 2 in the middle), "
                         f"got {n_bars}")
    sections = []
    for index in range(count):
        style_name = STYLE_ORDER[index % len(STYLE_ORDER)]
        turn = index // len(STYLE_ORDER)  # how many times this style came up before
        style = STYLES[style_name]
        meters = [m for m in EVAL_METERS if m in style.meter_names()] or ["4/4"]
        meter = meters[turn % len(meters)]
        low, high = max(MIN_BPM, style.tempo[0]), min(MAX_BPM, style.tempo[1])
        bpm = float(round(low + (high - low) * ((0.5 + turn * _GOLDEN) % 1.0)))
        kinds = [k for k in style.sections if k is not SectionKind.BREAKDOWN]
        kind = kinds[turn % len(kinds)]
        key = Key.from_index(index % 24)
        sections.append(EvalSection(
            index=index, style=style_name, key=key, meter=Meter.parse(meter), bpm=bpm,
            section_kind=str(kind.value), energy=ENERGIES[index % len(ENERGIES)],
            n_bars=n_bars, prompt=_prompt(style_name, kind, key, meter, bpm, turn),
            seed=seed * 100003 + index,
        ))
    return sections
