"""new_project: the sections spec, kinds from names, derived seeds."""

from __future__ import annotations

import pytest
from project_builders import T0

from melodex_studio.project.models import (
    SectionKind,
    SectionsSpecError,
    derive_seed,
    new_project,
    parse_sections_spec,
    section_kind_for_name,
)


def test_sections_are_laid_end_to_end_from_bar_zero():
    project = new_project("Demo", 128, "am", "4/4", "Intro:8, Verse:16 ,Chorus:8", seed=1)
    layout = [(s.name, s.kind, s.start_bar, s.length_bars) for s in project.sections]
    assert layout == [
        ("Intro", SectionKind.INTRO, 0, 8),
        ("Verse", SectionKind.VERSE, 8, 16),
        ("Chorus", SectionKind.CHORUS, 24, 8),
    ]
    assert project.length_bars == 32
    assert (project.title, project.bpm, project.key, project.meter) == (
        "Demo",
        128.0,
        "A minor",
        "4/4",
    )
    assert all(s.plan is None and s.takes == () for s in project.sections)


def test_default_spec_and_times_are_passed_through():
    project = new_project("Demo", seed=0, created=T0)
    assert [s.name for s in project.sections] == ["Intro", "Verse", "Chorus"]
    assert project.created == project.modified == T0


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("Pre-Chorus", SectionKind.PRE_CHORUS),
        ("pre chorus", SectionKind.PRE_CHORUS),
        ("Verse 2", SectionKind.VERSE),
        ("HOOK", SectionKind.CHORUS),
        ("Break", SectionKind.BREAKDOWN),
        ("Drop", SectionKind.DROP),
        ("Middle Eight", SectionKind.BRIDGE),
        ("Outro", SectionKind.OUTRO),
        ("Solo", SectionKind.CUSTOM),
    ],
)
def test_kind_is_inferred_from_the_name(name, kind):
    assert section_kind_for_name(name) == kind


def test_seeds_are_distinct_and_derived_from_the_base_seed():
    first = new_project("A", sections_spec="A:1,B:1,C:1,D:1", seed=42)
    again = new_project("A", sections_spec="A:1,B:1,C:1,D:1", seed=42)
    other = new_project("A", sections_spec="A:1,B:1,C:1,D:1", seed=43)
    seeds = [s.settings.seed for s in first.sections]
    assert len(set(seeds)) == 4
    assert seeds == [s.settings.seed for s in again.sections]
    assert seeds != [s.settings.seed for s in other.sections]
    assert seeds[2] == derive_seed(42, 2)
    assert first.sections[0].id != again.sections[0].id  # ids are fresh every time


def test_repeated_names_are_numbered():
    project = new_project("A", sections_spec="Verse:4,Chorus:4,Verse:4,verse:2", seed=1)
    assert [s.name for s in project.sections] == ["Verse", "Chorus", "Verse 2", "verse 3"]
    assert project.sections[3].kind == SectionKind.VERSE


def test_names_may_contain_colons():
    assert parse_sections_spec("Part: A:4") == [("Part: A", 4, None, None)]


def test_a_section_spec_may_give_a_tempo_and_a_meter_of_its_own():
    parsed = parse_sections_spec("Intro:4, Bridge:8@3/4, Outro:4 @ 76 @ 6/8, Drop:8@140.5")
    assert [(s.name, s.bars, s.bpm, s.meter) for s in parsed] == [
        ("Intro", 4, None, None), ("Bridge", 8, None, "3/4"), ("Outro", 4, 76.0, "6/8"),
        ("Drop", 8, 140.5, None)]
    project = new_project("A", 100, "A minor", "4/4", "Intro:4,Bridge:8@3/4,Outro:4@76@6/8",
                          seed=1)
    assert project.tempo_changes() == ((4, 100.0, "3/4"), (12, 76.0, "6/8"))


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("Intro:x", "bar count 'x' is not a whole number"),
        ("Intro:0", "1 to 512 bars long, not 0"),
        ("Intro:513", "not 513"),
        ("Intro:-2", "not a whole number"),
        ("Intro", "should be NAME:BARS"),
        (":8", "should be NAME:BARS"),
        ("Intro:8@fast", "'fast' is neither a tempo of 20 to 400 BPM nor a meter"),
        ("Intro:8@500", "'500' is neither a tempo"),
        ("Intro:8@nan", "'nan' is neither a tempo"),
        ("Intro:8@5/8", "'5/8' is not a meter the studio supports"),
        ("Intro:8@x/y", "'x/y' is not a meter"),
        ("Intro:8,,Verse:8", "should be NAME:BARS"),
        ("  ", "is empty"),
    ],
)
def test_bad_specs_say_what_is_wrong(spec, message):
    with pytest.raises(SectionsSpecError, match=message):
        new_project("Demo", sections_spec=spec, seed=1)


def test_bad_project_values_are_refused():
    with pytest.raises(ValueError, match="'H major' is not a key"):
        new_project("Demo", key="H major", seed=1)
    with pytest.raises(ValueError, match="not supported"):
        new_project("Demo", meter="12/8", seed=1)
    with pytest.raises(ValueError, match="seed must be in"):
        new_project("Demo", seed=-1)
    with pytest.raises(SectionsSpecError, match="add up to 4608 bars; the limit is 4096"):
        new_project("Demo", sections_spec=",".join(f"S{i}:512" for i in range(9)), seed=1)
