"""Writes `night-drive.mlx`, the demo song the studio offers under Help > Open Demo Song.

A hand-written arrangement (no renders: the musician's first Generate fills it in) that shows
what a project holds: seven sections with prompts, energy and instrumentation, and a bar-level
plan for each (chords, energy, drum grooves, bass and melody as scale degrees of A minor).
The progressions lean on the tonic and the major V (E, E7): with the earlier ones (F G Am C/E,
Am7 Dm7 G7 Cmaj7) the studio's listener heard four of seven rendered sections in C or G major;
with these, six of seven in A minor.

    .venv/bin/python resources/demo/make_demo.py
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

from melodex_studio.music.plan import DrumVoice, Plan, PlanBar, PlanNote
from melodex_studio.project.models import SectionKind, new_project
from melodex_studio.store import MemoryBlobs, save_project

HERE = Path(__file__).resolve().parent
TARGET = HERE / "night-drive.mlx"
CREATED = datetime(2025, 1, 1, tzinfo=UTC)

KICK, SNARE, HAT, OPEN_HAT, CLAP, CRASH = (
    DrumVoice.KICK, DrumVoice.SNARE, DrumVoice.CLOSED_HAT, DrumVoice.OPEN_HAT, DrumVoice.CLAP,
    DrumVoice.CRASH,
)

#: name -> (bars, prompt, energy, instruments, chords (cycled), groove)
SECTIONS = {
    "Intro": (8, "dusty lo-fi keys, vinyl crackle, soft pads, no drums", 0.25,
              ("rhodes", "pad"), ("Am", "Fmaj7", "Dm7", "E7"), "none"),
    "Verse": (16, "lazy swing drums, warm rhodes, round upright bass", 0.5,
              ("rhodes", "upright bass", "brushed kit"), ("Am7", "Dm7", "E7", "Am7"), "swing"),
    "Pre-Chorus": (8, "rising strings, filtered drums, tension", 0.65,
                   ("strings", "rhodes", "kit"), ("F", "G", "E", "Am"), "build"),
    "Chorus": (16, "full band, bright synth lead, punchy kick, wide pads", 0.9,
               ("synth lead", "pad", "electric bass", "kit"), ("Am", "F", "G", "E"), "four"),
    "Bridge": (8, "half-time breakdown, reverb piano, sub bass", 0.4,
               ("piano", "sub bass"), ("Dm7", "Em7", "Fmaj7", "E7"), "half"),
    "Final Chorus": (16, "full band, bright synth lead, bigger and wider", 0.95,
                     ("synth lead", "pad", "electric bass", "kit"), ("Am", "F", "G", "E"),
                     "four"),
    "Outro": (8, "keys alone, tape slowing down, fade out", 0.2,
              ("rhodes",), ("Am7", "Fmaj7", "Am7", "Am7"), "none"),
}

#: chord root -> scale degree of A minor (0 = A) for the bass line
ROOT_DEGREE = {"A": 0, "B": 1, "C": 2, "D": 3, "E": 4, "F": 5, "G": 6}


def groove(kind: str, bar: int) -> tuple[int, ...]:
    steps = [0] * 16
    if kind == "none":
        return tuple(steps)
    if kind == "half":
        steps[0] |= KICK
        steps[8] |= SNARE
        for s in range(0, 16, 4):
            steps[s] |= HAT
        return tuple(steps)
    kicks = {"swing": (0, 7, 10), "build": (0, 4, 8, 12), "four": (0, 4, 8, 12)}[kind]
    for s in kicks:
        steps[s] |= KICK
    for s in (4, 12):
        steps[s] |= SNARE if kind != "four" else SNARE | CLAP
    for s in range(0, 16, 2):
        steps[s] |= HAT
    if kind == "four" and bar % 4 == 3:
        steps[14] |= OPEN_HAT
    if kind in ("four", "build") and bar % 8 == 0:
        steps[0] |= CRASH
    return tuple(steps)


def bar_plan(name: str, index: int) -> PlanBar:
    bars, _prompt, energy, _inst, chords, kind = SECTIONS[name]
    chord = chords[index % len(chords)]
    root = ROOT_DEGREE[chord[0]]
    bass = (
        PlanNote(step=0, length=6, degree=root - 7),
        PlanNote(step=8, length=4, degree=root - 7),
        PlanNote(step=12, length=4, degree=root - 3),
    )
    # Over the major V (E, E7) the scale's third (G) would clash with its G#: sing its root
    # and fifth instead, which is also what makes the cadence sound in A minor.
    major_fifth = chord[0] == "E" and not chord[1:].startswith("m")
    thirds = (4, 7, 4) if major_fifth else (2, 4, 3 if index % 2 else 2)
    melody = () if kind == "none" and name == "Outro" else (
        PlanNote(step=0, length=4, degree=root + thirds[0]),
        PlanNote(step=6, length=2, degree=root + thirds[1]),
        PlanNote(step=8, length=8, degree=root + thirds[2]))
    rise = index / max(1, bars - 1) * (0.15 if name == "Pre-Chorus" else 0.05)
    return PlanBar(chord=chord, energy=min(1.0, energy + rise), density=0.3 + 0.5 * energy,
                   drums=groove(kind, index), bass=bass, melody=melody,
                   locked=name == "Chorus" and index < 4)


def demo_project():
    spec = ", ".join(f"{name}:{spec[0]}" for name, spec in SECTIONS.items())
    project = new_project("Night Drive", 92, "A minor", "4/4", spec, seed=2025, created=CREATED)
    sections = []
    for section in project.sections:
        bars, prompt, energy, instruments, _chords, _kind = SECTIONS[section.name]
        plan = Plan(steps_per_bar=16, bars=tuple(bar_plan(section.name, i) for i in range(bars)))
        kind = SectionKind.CHORUS if section.name == "Final Chorus" else section.kind
        sections.append(section.model_copy(update={
            "prompt": prompt, "energy": energy, "instrumentation": instruments, "plan": plan,
            "kind": kind,
        }))
    return project.with_sections(tuple(sections))


def main() -> int:
    project = demo_project()
    save_project(TARGET, project, MemoryBlobs(), keep_backup_file=False)
    print(f"wrote {TARGET} ({TARGET.stat().st_size} bytes, {len(project.sections)} sections)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
