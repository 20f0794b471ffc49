"""`melodex info`: what it says of each section's tempo, key and level."""

from __future__ import annotations

from melodex_studio.cli.project_commands import _format_summary, project_summary
from melodex_studio.project.models import new_project


def test_info_names_a_sections_own_tempo_key_gain_and_mute() -> None:
    project = new_project("Info", 100, "A minor", "4/4", "Verse:4,Chorus:4,Outro:2", seed=1)
    verse, chorus, outro = project.sections
    project = project.with_sections((
        verse.model_copy(update={"gain_db": -3.0}),
        chorus.model_copy(update={"key": "B minor", "bpm": 132.0, "meter": "3/4"}),
        outro.model_copy(update={"muted": True, "gain_db": 2.0}),
    ))
    summary = project_summary(project, {})
    assert [(s["key"], s["own_key"]) for s in summary["sections"]] == [
        ("A minor", False), ("B minor", True), ("A minor", False)]
    assert [(s["bpm"], s["own_bpm"]) for s in summary["sections"]] == [
        (100.0, False), (132.0, True), (100.0, False)]
    assert [(s["meter"], s["own_meter"]) for s in summary["sections"]] == [
        ("4/4", False), ("3/4", True), ("4/4", False)]
    assert [s["seconds"] for s in summary["sections"]] == [9.6, 5.455, 4.8]  # 4 3/4 bars at 132
    lines = _format_summary({**summary, "file_bytes": 1, "format_version": "1.3"}).splitlines()
    section_lines = [line for line in lines if line.startswith("  ")]
    assert section_lines[0].endswith("-3.0 dB") and "in " not in section_lines[0]
    assert section_lines[1].endswith("at 132 BPM  in 3/4  in B minor")
    assert section_lines[2].endswith("muted")


def test_info_spells_chords_in_each_sections_key() -> None:
    from melodex_studio.music.plan import Plan, PlanBar

    project = new_project("Info", 100, "A minor", "4/4", "Verse:1,Chorus:1", seed=1)
    bar = PlanBar(chord="F#", drums=(0,) * 16)
    verse, chorus = (s.model_copy(update={"plan": Plan(steps_per_bar=16, bars=(bar,))})
                     for s in project.sections)
    project = project.with_sections((verse, chorus.model_copy(update={"key": "Eb minor"})))
    chords = [s["chords"] for s in project_summary(project, {})["sections"]]
    assert chords == [["F#"], ["Gb"]]
