"""The procedural composer: style + key + meter + tempo + section kind -> an exact `Plan`.

`compose_section` writes one section; `compose_song` chains sections of a form so a song keeps
its instruments, reuses each section kind's progression (every chorus has the chorus chords)
and carries the melody across section boundaries. Every random draw comes from generators
derived from the seed (see `seeding`), so the same arguments give the same section.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from pydantic import BaseModel, ConfigDict

from melodex_studio.music.chord import Chord
from melodex_studio.music.key import Key
from melodex_studio.music.meter import Meter
from melodex_studio.music.plan import Plan, PlanBar
from melodex_studio.training.corpus import bass as bass_writer
from melodex_studio.training.corpus.drums import write_drums
from melodex_studio.training.corpus.harmony import progression_chords
from melodex_studio.training.corpus.instruments import comps_for
from melodex_studio.training.corpus.melody import write_melody
from melodex_studio.training.corpus.section import ComposedSection, Instrumentation
from melodex_studio.training.corpus.seeding import derive_seed, pick, rng_for
from melodex_studio.training.corpus.styles import Progression, Style
from melodex_studio.training.corpus.vocabulary import Role, SectionKind

#: Typical nominal energy of each section kind (low, high), for sampling and for songs.
TYPICAL_ENERGY: dict[SectionKind, tuple[float, float]] = {
    SectionKind.INTRO: (0.25, 0.5),
    SectionKind.VERSE: (0.35, 0.6),
    SectionKind.PRE_CHORUS: (0.5, 0.7),
    SectionKind.CHORUS: (0.7, 0.95),
    SectionKind.BRIDGE: (0.35, 0.6),
    SectionKind.BREAKDOWN: (0.15, 0.35),
    SectionKind.DROP: (0.85, 1.0),
    SectionKind.OUTRO: (0.3, 0.5),
}


def energy_curve(kind: SectionKind, n_bars: int, energy: float) -> list[float]:
    """Per-bar energy: intros build, pre-choruses rise, outros fade, breakdowns stay low."""
    ramp = np.linspace(0.0, 1.0, n_bars) if n_bars > 1 else np.ones(1)
    if kind is SectionKind.INTRO:
        values = energy * (0.45 + 0.55 * ramp)
    elif kind is SectionKind.PRE_CHORUS:
        values = energy + 0.25 * ramp
    elif kind is SectionKind.OUTRO:
        values = energy - (energy - 0.12) * ramp
    elif kind is SectionKind.BREAKDOWN:
        values = np.full(n_bars, min(energy, 0.35))
    elif kind is SectionKind.DROP:
        values = np.full(n_bars, max(energy, 0.85))
    elif kind is SectionKind.VERSE:
        values = energy + 0.05 * ramp
    else:
        values = np.full(n_bars, float(energy))
    return [round(float(v), 3) for v in np.clip(values, 0.0, 1.0)]


def bar_density(bar: PlanBar) -> float:
    """Onsets in the bar (drum steps + bass + melody notes) per two 16th steps, capped at 1."""
    onsets = sum(1 for mask in bar.drums if mask) + len(bar.bass) + len(bar.melody)
    return round(min(1.0, onsets / (2.0 * len(bar.drums))), 3)


def choose_instruments(style: Style, seed: int) -> Instrumentation:
    rng = rng_for(seed, "instruments")
    harmony = int(pick(rng, style.programs[Role.HARMONY]))
    # A different instrument for the lead, so the two parts stay distinguishable.
    leads = tuple(p for p in style.programs[Role.MELODY] if p != harmony)
    return Instrumentation(
        drum_kit=int(pick(rng, style.kits)),
        bass=int(pick(rng, style.programs[Role.BASS])),
        harmony=harmony,
        melody=int(pick(rng, leads or style.programs[Role.MELODY])),
        harmony_comp=pick(rng, comps_for(harmony, style.comps)),
        bass_motion=pick(rng, style.bass),
        melody_motion=pick(rng, style.melody),
    )


def choose_progression(style: Style, key: Key, seed: int, kind: SectionKind) -> Progression:
    return pick(rng_for(seed, "progression", kind.value), style.progressions[key.mode])


def choose_swing(style: Style, meter: Meter, seed: int) -> float:
    low, high = style.swing
    if high <= 0.0 or meter.beat_lengths_16ths() != (4,) * meter.beats_per_bar:
        return 0.0
    return round(float(rng_for(seed, "swing").uniform(low, high)), 3)


def _melody_active(kind: SectionKind, n_bars: int, rng: np.random.Generator) -> list[bool]:
    if kind is SectionKind.INTRO:
        return [i >= n_bars // 2 and n_bars > 1 for i in range(n_bars)]
    if kind is SectionKind.OUTRO:
        return [i < max(1, n_bars // 2) for i in range(n_bars)]
    if kind in (SectionKind.VERSE, SectionKind.BRIDGE) and rng.random() < 0.1:
        return [False] * n_bars  # an instrumental bed (room for a vocal)
    return [True] * n_bars


def _last_melody_degree(plan: Plan | None) -> int | None:
    if plan is None:
        return None
    for bar in reversed(plan.bars):
        if bar.melody:
            return bar.melody[-1].degree
    return None


def compose_section(
    style: Style,
    key: Key,
    meter: Meter,
    bpm: float,
    section_kind: SectionKind,
    n_bars: int,
    energy: float,
    seed: int,
    previous_plan: Plan | None = None,
    *,
    instruments: Instrumentation | None = None,
    progression: Progression | None = None,
    swing: float | None = None,
) -> ComposedSection:
    """Write one section. `instruments`, `progression` and `swing` default to the seed's
    choice; `compose_song` passes them so a song's sections agree."""
    if str(meter) not in style.meter_names():
        raise ValueError(f"style {style.name} does not play in {meter}")
    if n_bars < 1:
        raise ValueError("a section needs at least one bar")
    kind = SectionKind(section_kind)
    instruments = instruments or choose_instruments(style, seed)
    progression = progression or choose_progression(style, key, seed, kind)
    swing = choose_swing(style, meter, seed) if swing is None else swing
    steps = meter.sixteenths_per_bar

    cycle = progression_chords(progression, key)
    chords: list[Chord] = [cycle[i % len(cycle)] for i in range(n_bars)]
    energies = energy_curve(kind, n_bars, energy)
    drums = write_drums(
        style, str(meter), kind, energies, rng_for(seed, "drums"),
        follows_section=previous_plan is not None,
    )
    bass_rng = rng_for(seed, "bass")
    bass_bars = [
        bass_writer.write_bass_bar(
            instruments.bass_motion, chord, chords[i + 1] if i + 1 < n_bars else None,
            key, meter, drums[i], energies[i], i, bass_rng,
        )
        for i, chord in enumerate(chords)
    ]
    melody_rng = rng_for(seed, "melody")
    previous_degree = _last_melody_degree(previous_plan)
    start = previous_degree if previous_degree is not None else int(melody_rng.integers(2, 8))
    melody_bars = write_melody(
        instruments.melody_motion, chords, key, meter, energies,
        _melody_active(kind, n_bars, melody_rng), start, melody_rng,
    )
    bars = []
    for i in range(n_bars):
        bar = PlanBar(
            chord=str(chords[i]), energy=energies[i], drums=drums[i],
            bass=bass_bars[i], melody=melody_bars[i],
        )
        bars.append(bar.model_copy(update={"density": bar_density(bar)}))
    return ComposedSection(
        style=style.name, key=key.name, meter=str(meter), bpm=float(bpm), section_kind=kind,
        energy=round(float(energy), 3), swing=swing, swing_unit=style.swing_unit,
        instruments=instruments, plan=Plan(steps_per_bar=steps, bars=tuple(bars)), seed=seed,
    )


class ComposedSong(BaseModel):
    """Sections of one song in order; they share style, key, meter, tempo and instruments."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    sections: tuple[ComposedSection, ...]

    @property
    def n_bars(self) -> int:
        return sum(section.n_bars for section in self.sections)

    def bar_offsets(self) -> list[int]:
        offsets, total = [], 0
        for section in self.sections:
            offsets.append(total)
            total += section.n_bars
        return offsets


def compose_song(
    style: Style,
    key: Key,
    meter: Meter,
    bpm: float,
    form: Sequence[tuple[SectionKind | str, int]],
    seed: int,
    energies: Sequence[float] | None = None,
) -> ComposedSong:
    """Write a song section by section, e.g. form=[("intro", 4), ("verse", 8), ("chorus", 8)].

    Section energies default to the middle of `TYPICAL_ENERGY` for each kind.
    """
    if not form:
        raise ValueError("a song needs at least one section")
    instruments = choose_instruments(style, seed)
    swing = choose_swing(style, meter, seed)
    sections: list[ComposedSection] = []
    previous: Plan | None = None
    for index, (kind_value, n_bars) in enumerate(form):
        kind = SectionKind(kind_value)
        low, high = TYPICAL_ENERGY[kind]
        energy = (low + high) / 2 if energies is None else float(energies[index])
        section = compose_section(
            style, key, meter, bpm, kind, int(n_bars), energy,
            derive_seed(seed, "section", index), previous,
            instruments=instruments, progression=choose_progression(style, key, seed, kind),
            swing=swing,
        )
        sections.append(section)
        previous = section.plan
    return ComposedSong(sections=tuple(sections))
