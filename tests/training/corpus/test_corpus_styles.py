"""The style table is the corpus's coverage: check it is complete and musically valid."""

from __future__ import annotations

import pytest

from melodex_studio.music.chord import Chord
from melodex_studio.music.key import Key, Mode
from melodex_studio.music.meter import Meter
from melodex_studio.music.plan import DrumVoice
from melodex_studio.training.corpus.grooves import (
    EnergyBand,
    fills_for,
    grooves_for,
    parse_lines,
)
from melodex_studio.training.corpus.harmony import chord_root_degree, roman_to_chord
from melodex_studio.training.corpus.instruments import DRUM_KITS, FAMILY_COMPS, instrument
from melodex_studio.training.corpus.styles import STYLES, style
from melodex_studio.training.corpus.vocabulary import Role


def test_enough_styles_and_named_ones_exist() -> None:
    assert len(STYLES) >= 8
    for name in ("pop", "rock", "house", "lofi", "synthwave", "jazz", "ambient", "cinematic",
                 "funk"):
        assert style(name).name == name
    with pytest.raises(ValueError, match="unknown style"):
        style("polka-metal")


def test_meters_tempos_and_modes_cover_the_evaluation() -> None:
    meters = [s.meter_names() for s in STYLES.values()]
    assert all("4/4" in m for m in meters)
    assert sum("3/4" in m for m in meters) >= 3
    assert sum("6/8" in m for m in meters) >= 3
    assert min(s.tempo[0] for s in STYLES.values()) <= 70
    assert max(s.tempo[1] for s in STYLES.values()) >= 170
    for s in STYLES.values():
        assert {mode for mode, _ in s.modes} == {Mode.MAJOR, Mode.MINOR}, s.name
        assert s.tempo[0] < s.tempo[1]


@pytest.mark.parametrize("name", sorted(STYLES))
def test_every_progression_has_diatonic_roots_in_every_key(name: str) -> None:
    s = STYLES[name]
    for mode, progressions in s.progressions.items():
        for tonic in range(12):
            key = Key(tonic, mode)
            for progression in progressions:
                assert len(progression) in (2, 4, 8)
                for numeral in progression:
                    chord = roman_to_chord(numeral, key)
                    assert 0 <= chord_root_degree(chord, key) <= 6


@pytest.mark.parametrize("name", sorted(STYLES))
def test_every_style_plays_each_of_its_meters_with_known_instruments(name: str) -> None:
    s = STYLES[name]
    for meter in s.meter_names():
        bands = grooves_for(s.groove, meter)
        assert set(bands) == set(EnergyBand)
        steps = Meter.parse(meter).sixteenths_per_bar
        assert all(len(g.masks) == steps for g in bands.values())
        assert fills_for(s.fills, meter)
    for role in (Role.BASS, Role.HARMONY, Role.MELODY):
        for program in s.programs[role]:
            assert instrument(program).family in FAMILY_COMPS or role is not Role.HARMONY
    assert set(s.kits) <= set(DRUM_KITS)
    assert s.moods and s.production and s.drum_words and s.synonyms


def test_roman_numerals_name_the_expected_chords() -> None:
    c_major, a_minor = Key.parse("C major"), Key.parse("A minor")
    assert roman_to_chord("V7", c_major) == Chord.parse("G7")
    assert roman_to_chord("ii7", c_major) == Chord.parse("Dm7")
    assert roman_to_chord("Imaj7", c_major) == Chord.parse("Cmaj7")
    assert roman_to_chord("bVI", a_minor) == Chord.parse("F")
    assert roman_to_chord("VI", a_minor) == Chord.parse("F")
    assert roman_to_chord("bVII", a_minor) == Chord.parse("G")
    assert roman_to_chord("V", a_minor) == Chord.parse("E")  # harmonic-minor dominant
    assert roman_to_chord("iiø7", a_minor) == Chord.parse("Bm7b5")
    with pytest.raises(ValueError):
        roman_to_chord("Q7", c_major)
    with pytest.raises(ValueError, match="outside"):
        chord_root_degree(roman_to_chord("bVII", c_major), c_major)


def test_groove_lines_parse_to_masks() -> None:
    masks = parse_lines(4, {"kick": "x...", "snare": "..x.", "hat": "xxxx"})
    assert masks == (
        DrumVoice.KICK | DrumVoice.CLOSED_HAT,
        DrumVoice.CLOSED_HAT,
        DrumVoice.SNARE | DrumVoice.CLOSED_HAT,
        DrumVoice.CLOSED_HAT,
    )
    with pytest.raises(ValueError):
        parse_lines(4, {"kick": "x.."})
