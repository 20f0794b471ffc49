"""Captions vary like real prompts, name the style and only say what is true of the audio."""

from __future__ import annotations

import re

from melodex_studio.music.key import Key
from melodex_studio.music.meter import Meter
from melodex_studio.training.corpus.captions import caption_for, tempo_words
from melodex_studio.training.corpus.composer import compose_section
from melodex_studio.training.corpus.instruments import instrument
from melodex_studio.training.corpus.styles import STYLES
from melodex_studio.training.corpus.vocabulary import SectionKind


def _section(name: str, seed: int, kind: SectionKind = SectionKind.VERSE, energy: float = 0.5):
    style = STYLES[name]
    meter = Meter.parse(style.meter_names()[seed % len(style.meters)])
    bpm = style.tempo[0] + seed % (style.tempo[1] - style.tempo[0])
    return compose_section(style, Key.from_index(seed % 24), meter, bpm, kind, 4, energy, seed)


def test_captions_vary_and_mention_the_style() -> None:
    captions = []
    for seed in range(50):
        name = sorted(STYLES)[seed % len(STYLES)]
        section = _section(name, seed)
        caption = caption_for(section, seed)
        captions.append(caption)
        synonyms = [s.lower() for s in STYLES[name].synonyms]
        assert any(s in caption.lower() for s in synonyms), caption
    assert len(set(captions)) >= 48
    templates = {re.sub(r"[^,:;]", "", c) for c in captions}  # punctuation shape ~ template
    assert len(templates) >= 8


def test_same_section_gets_many_wordings_but_one_per_seed() -> None:
    section = _section("lofi", 3)
    wordings = {caption_for(section, seed) for seed in range(30)}
    assert len(wordings) >= 25
    assert caption_for(section, 7) == caption_for(section, 7)


def test_captions_tell_the_truth() -> None:
    section = _section("jazz", 4)
    names = {n.lower() for p in (section.instruments.melody, section.instruments.harmony,
                                 section.instruments.bass) for n in instrument(p).names}
    for seed in range(20):
        caption = caption_for(section, seed).lower()
        assert any(name in caption for name in names), caption
        bpm = re.search(r"(\d+) bpm|tempo (\d+)", caption)
        if bpm:
            assert int(bpm.group(1) or bpm.group(2)) == round(section.bpm)
    breakdown = _section("house", 2, SectionKind.BREAKDOWN, 0.2)
    assert not any(any(bar.drums) for bar in breakdown.plan.bars[:-1])
    for seed in range(20):
        caption = caption_for(breakdown, seed).lower()
        if not any(any(bar.drums) for bar in breakdown.plan.bars):
            assert re.search(r"no drums|without drums|drumless", caption), caption


def test_tempo_words_follow_the_bpm() -> None:
    assert "slow" in tempo_words(72)
    assert "driving" in tempo_words(128)
    assert "uptempo" in tempo_words(165)
    assert set(tempo_words(72)).isdisjoint(tempo_words(165))
