"""The composer writes exact, musically valid `Plan` labels, deterministically from the seed."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from melodex_studio.music.chord import Chord
from melodex_studio.music.key import Key
from melodex_studio.music.meter import Meter
from melodex_studio.music.plan import DrumVoice, Plan
from melodex_studio.training.corpus.composer import (
    bar_density,
    compose_section,
    compose_song,
    energy_curve,
)
from melodex_studio.training.corpus.harmony import chord_root_degree, roman_to_chord
from melodex_studio.training.corpus.melody import HIGHEST, LOWEST
from melodex_studio.training.corpus.section import ComposedSection
from melodex_studio.training.corpus.styles import STYLES
from melodex_studio.training.corpus.vocabulary import SectionKind

STYLE_NAMES = sorted(STYLES)


def _allowed_chords(section: ComposedSection) -> set[Chord]:
    key = section.key_value
    progressions = STYLES[section.style].progressions[key.mode]
    return {roman_to_chord(numeral, key) for p in progressions for numeral in p}


def _strong_beat_chord_tone_share(section: ComposedSection) -> tuple[int, int]:
    key, beats = section.key_value, set(section.meter_value.beat_starts_16ths())
    hits = total = 0
    for bar in section.plan.bars:
        chord = bar.chord_value()
        for note in bar.melody:
            if note.step in beats:
                total += 1
                hits += key.degree_to_pitch_class(note.degree) in chord.pitch_classes
    return hits, total


@settings(max_examples=40, deadline=None)
@given(
    style_name=st.sampled_from(STYLE_NAMES),
    key_index=st.integers(0, 23),
    meter_pick=st.integers(0, 2),
    kind=st.sampled_from(list(SectionKind)),
    n_bars=st.integers(1, 9),
    energy=st.floats(0.0, 1.0),
    seed=st.integers(0, 2**31),
)
def test_sections_are_valid_plans_in_key(
    style_name, key_index, meter_pick, kind, n_bars, energy, seed
) -> None:
    style = STYLES[style_name]
    meter = Meter.parse(style.meter_names()[meter_pick % len(style.meters)])
    key = Key.from_index(key_index)
    section = compose_section(style, key, meter, 100.0, kind, n_bars, energy, seed)

    plan = section.plan
    assert isinstance(plan, Plan)
    assert plan.n_bars == n_bars and plan.steps_per_bar == meter.sixteenths_per_bar
    assert section.key == key.name and section.meter == str(meter)
    allowed = _allowed_chords(section)
    for bar in plan.bars:
        chord = bar.chord_value()
        assert chord in allowed  # the style's own vocabulary, in this key
        assert str(chord) == bar.chord  # canonical symbol
        assert 0.0 <= bar.energy <= 1.0 and bar.density == bar_density(bar)
        if bar.bass:  # every bass line starts the bar on the chord's root
            first = bar.bass[0]
            assert first.step == 0 and first.degree % 7 == chord_root_degree(chord, key)
        assert all(LOWEST <= n.degree <= HIGHEST for n in bar.melody)
        assert all(n.step + n.length <= plan.steps_per_bar for n in bar.melody)
    if kind is SectionKind.BREAKDOWN:  # the kit drops out (a fill may lead out of it)
        assert not any(any(bar.drums) for bar in plan.bars[:-1])


def test_melody_lands_on_chord_tones_on_strong_beats() -> None:
    hits = total = 0
    for seed, name in enumerate(STYLE_NAMES * 3):
        style = STYLES[name]
        meter = Meter.parse(style.meter_names()[seed % len(style.meters)])
        section = compose_section(
            style, Key.from_index(seed % 24), meter, 110.0, SectionKind.CHORUS, 4, 0.8, seed
        )
        h, t = _strong_beat_chord_tone_share(section)
        hits, total = hits + h, total + t
    assert total > 100
    assert hits / total >= 0.95


def test_same_seed_same_section_other_seed_other_section() -> None:
    style, key, meter = STYLES["pop"], Key.parse("E minor"), Meter.parse("4/4")
    first = compose_section(style, key, meter, 104, "verse", 8, 0.5, seed=42)
    again = compose_section(style, key, meter, 104, "verse", 8, 0.5, seed=42)
    other = compose_section(style, key, meter, 104, "verse", 8, 0.5, seed=43)
    assert first == again
    assert first.model_dump_json() == again.model_dump_json()
    assert first.plan != other.plan
    assert ComposedSection.model_validate_json(first.model_dump_json()) == first


def test_energy_curves_shape_the_sections() -> None:
    intro = energy_curve(SectionKind.INTRO, 8, 0.6)
    outro = energy_curve(SectionKind.OUTRO, 8, 0.5)
    assert intro == sorted(intro) and intro[-1] > intro[0]
    assert outro == sorted(outro, reverse=True) and outro[-1] < outro[0]
    assert max(energy_curve(SectionKind.BREAKDOWN, 4, 0.9)) <= 0.35
    assert min(energy_curve(SectionKind.DROP, 4, 0.2)) >= 0.85


def test_quiet_bars_and_breakdowns_have_fewer_hits_than_choruses() -> None:
    style, key, meter = STYLES["house"], Key.parse("F minor"), Meter.parse("4/4")

    def hits(kind: SectionKind, energy: float) -> int:
        section = compose_section(style, key, meter, 124, kind, 8, energy, seed=5)
        return sum(bin(m).count("1") for bar in section.plan.bars for m in bar.drums)

    assert hits(SectionKind.BREAKDOWN, 0.2) < hits(SectionKind.VERSE, 0.5)
    assert hits(SectionKind.VERSE, 0.5) < hits(SectionKind.DROP, 0.95)
    drop = compose_section(style, key, meter, 124, SectionKind.DROP, 4, 0.95, seed=5)
    assert drop.plan.bars[0].drums[0] & DrumVoice.CRASH  # the drop lands with a crash


def test_songs_keep_instruments_progressions_and_melodic_continuity() -> None:
    form = [("intro", 4), ("verse", 8), ("chorus", 8), ("verse", 8), ("chorus", 8),
            ("outro", 4)]
    song = compose_song(STYLES["synthwave"], Key.parse("D minor"), Meter.parse("4/4"), 100,
                        form, seed=9)
    assert [s.section_kind.value for s in song.sections] == [k for k, _ in form]
    assert song.n_bars == sum(n for _, n in form)
    assert song.bar_offsets() == [0, 4, 12, 20, 28, 36]
    assert len({s.instruments for s in song.sections}) == 1
    choruses = [s.plan.chords() for s in song.sections if s.section_kind is SectionKind.CHORUS]
    assert choruses[0] == choruses[1]
    energies = [float(np.mean([b.energy for b in s.plan.bars])) for s in song.sections]
    assert energies[2] > energies[1] and energies[-1] < energies[2]
    for before, after in zip(song.sections, song.sections[1:], strict=False):
        last = [n for b in before.plan.bars for n in b.melody]
        first = [n for b in after.plan.bars for n in b.melody]
        if last and first:
            assert abs(first[0].degree - last[-1].degree) <= 4
    assert song == compose_song(STYLES["synthwave"], Key.parse("D minor"), Meter.parse("4/4"),
                                100, form, seed=9)
