"""Training data of the structure transformer: composer sections as (conditioning, plan tokens).

Examples come straight from the procedural composer (no audio), so data is unlimited and free:
example `index` of corpus `corpus_seed` takes that corpus example's musical parameters (style,
key, meter, tempo, section kind, energy), gets a length drawn for planning (1-16 bars, not the
corpus's 12-second clips) and, half of the time, a preceding section written by `compose_song`
as continuity context. Training indices are never in the corpus's held-out split.

Everything the model sees is built by the functions `pipelines/plan.py` and the worker use at
inference (`StructureConfig.style_id`, `Key.index`, `meter_id`, `tempo_bucket`,
`section_kind_id`, `level_of`, the "(style: ...)" prompt text), so training and planning
cannot disagree. Prompts vary like a user's: full captions, captions with words left out,
a few words, a style name or a free style tag (style id 0), nothing at all; the section kind
is sometimes "custom".
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from torch import Tensor

from melodex_studio.engine.networks.structure_transformer import (
    StructureConditioning,
    StructureConfig,
)
from melodex_studio.engine.plan_tokens import (
    TokenGroups,
    encode_plan,
    level_of,
    meter_id,
    section_kind_id,
    tempo_bucket,
    to_groups,
)
from melodex_studio.music.key import Key
from melodex_studio.music.meter import Meter
from melodex_studio.music.plan import Plan
from melodex_studio.training.corpus import (
    ComposedSection,
    caption_for,
    compose_example,
    compose_section,
    compose_song,
    is_held_out,
)
from melodex_studio.training.corpus.composer import TYPICAL_ENERGY
from melodex_studio.training.corpus.seeding import derive_seed, pick, rng_for
from melodex_studio.training.corpus.styles import STYLES
from melodex_studio.training.corpus.vocabulary import SectionKind

BAR_CHOICES = (1, 2, 4, 8, 12, 16)
BAR_WEIGHTS = (0.03, 0.12, 0.30, 0.33, 0.05, 0.17)
CONTEXT_SHARE = 0.5
CUSTOM_KIND_SHARE = 0.1
S = SectionKind
#: Sections that plausibly come right before each kind (filtered by what the style plays).
PREDECESSORS: dict[SectionKind, tuple[SectionKind, ...]] = {
    S.INTRO: (),
    S.VERSE: (S.INTRO, S.CHORUS, S.VERSE),
    S.PRE_CHORUS: (S.VERSE,),
    S.CHORUS: (S.PRE_CHORUS, S.VERSE, S.CHORUS, S.BREAKDOWN),
    S.BRIDGE: (S.CHORUS, S.VERSE),
    S.BREAKDOWN: (S.CHORUS, S.DROP, S.VERSE),
    S.DROP: (S.BREAKDOWN, S.VERSE),
    S.OUTRO: (S.CHORUS, S.BRIDGE, S.DROP, S.VERSE),
}


@dataclass(frozen=True)
class PlanningRequest:
    """What a musician asks the planner for: the arguments of `plan_section` without the
    model and sampling settings (the worker embeds `text`, see `prompt_text`)."""

    prompt: str
    style: str | None
    key: Key
    meter: Meter
    bpm: float
    section_kind: str
    energy: float
    n_bars: int
    previous_plan: Plan | None = None

    @property
    def text(self) -> str:
        return prompt_text(self.prompt, self.style)


@dataclass(frozen=True)
class StructureExample:
    """One training example: the request and the composer's section (its plan is the answer)."""

    index: int
    request: PlanningRequest
    section: ComposedSection

    def target(self, steps_per_group: int = 1) -> TokenGroups:
        plan = self.section.plan
        return to_groups(encode_plan(plan, self.request.key), plan.steps_per_bar,
                         steps_per_group)


def prompt_text(prompt: str, style: str | None) -> str:
    """The text the worker embeds for a prompt and style (`LoadedModels.embed`)."""
    return prompt if not style else f"{prompt} (style: {style})".strip()


def conditioning_for(
    config: StructureConfig, request: PlanningRequest, text_embedding: Tensor
) -> StructureConditioning:
    """The batch-1 prefix `plan_section` builds for `request`."""
    return StructureConditioning.single(
        text_embedding,
        style=config.style_id(request.style),
        key=request.key.index,
        meter=meter_id(request.meter),
        tempo=tempo_bucket(request.bpm),
        section=section_kind_id(request.section_kind),
        energy=level_of(request.energy),
        n_bars=request.n_bars,
    )


def example_indices(corpus_seed: int, count: int, held_out: bool, start: int = 0) -> list[int]:
    """The first `count` corpus indices from `start` on in the training (or held-out) split."""
    found: list[int] = []
    index = start
    while len(found) < count:
        if is_held_out(index, corpus_seed) == held_out:
            found.append(index)
        index += 1
    return found


# --- composing one example ---------------------------------------------------------------------


def _phrases(caption: str) -> list[str]:
    parts = caption.replace(";", ",").replace(":", ",").split(",")
    return [part.strip() for part in parts if part.strip()]


def _exact_phrase(phrase: str) -> bool:
    """Tempo, key and meter phrases lose their meaning when a word goes ("key of major")."""
    words = phrase.lower().split()
    return any(ch.isdigit() for ch in phrase) or bool({"bpm", "key", "major", "minor"} & set(words))


def _leave_out_words(caption: str, rng: np.random.Generator) -> str:
    """Drop whole phrases and single descriptive words, sometimes reorder the phrases: the
    partial descriptions people type."""
    phrases = _phrases(caption)
    kept = [p for p in phrases if rng.random() >= 0.3] or [phrases[int(rng.integers(len(phrases)))]]
    out = []
    for phrase in kept:
        if not _exact_phrase(phrase):
            phrase = " ".join(w for w in phrase.split() if rng.random() >= 0.12)
        if phrase:
            out.append(phrase)
    if rng.random() < 0.2:
        rng.shuffle(out)
    return ", ".join(out) or kept[0]


def _few_words(caption: str, rng: np.random.Generator) -> str:
    """Up to four consecutive words of one phrase ("dusty boom-bap drums", "at 117 bpm")."""
    words = pick(rng, _phrases(caption)).split()
    count = min(len(words), int(rng.integers(1, 5)))
    start = int(rng.integers(0, len(words) - count + 1))
    return " ".join(words[start : start + count])


def prompt_variant(
    caption: str, style_name: str, rng: np.random.Generator
) -> tuple[str, str | None]:
    """(prompt, style) as a user might give them for a section described by `caption`."""
    style = STYLES[style_name]
    full = caption if rng.random() < 0.5 else _leave_out_words(caption, rng)
    draw = rng.random()
    if draw < 0.38:
        return full, None
    if draw < 0.66:
        return full, style_name  # a known style: its id and "(style: name)" in the text
    if draw < 0.76:
        return full, pick(rng, (style.label, *style.synonyms))  # free tag: id 0 unless a name
    if draw < 0.86:
        return _few_words(caption, rng), None
    if draw < 0.92:
        return _few_words(caption, rng), style_name
    if draw < 0.98:
        return "", style_name
    return "", None


def draw_example(index: int, corpus_seed: int = 0) -> StructureExample:
    """Example `index`: the corpus example's parameters, a planning length, maybe a previous
    section, and a user-like prompt. Deterministic in (index, corpus_seed)."""
    base = compose_example(index, corpus_seed)
    rng = rng_for(corpus_seed, "structure", index)
    style, key, meter = STYLES[base.style], base.key_value, base.meter_value
    kind = SectionKind(base.section_kind)
    n_bars = int(pick(rng, BAR_CHOICES, BAR_WEIGHTS))
    before = tuple(k for k in PREDECESSORS[kind] if k in style.sections)
    previous = None
    if before and rng.random() < CONTEXT_SHARE:
        previous_kind = pick(rng, before)
        low, high = TYPICAL_ENERGY[previous_kind]
        form = [(previous_kind, int(pick(rng, (2, 4, 8)))), (kind, n_bars)]
        song = compose_song(style, key, meter, base.bpm, form,
                            derive_seed(corpus_seed, "structure-song", index),
                            energies=[round(float(rng.uniform(low, high)), 3), base.energy])
        previous, section = song.sections[0].plan, song.sections[1]
    else:
        section = compose_section(style, key, meter, base.bpm, kind, n_bars, base.energy,
                                  base.seed)
    caption = caption_for(section, derive_seed(corpus_seed, "caption", index))
    prompt, style_text = prompt_variant(caption, style.name, rng)
    kind_text = "custom" if rng.random() < CUSTOM_KIND_SHARE else kind.value
    request = PlanningRequest(prompt, style_text, key, meter, section.bpm, kind_text,
                              section.energy, n_bars, previous)
    return StructureExample(index, request, section)
