"""The drum writer: per-bar hit masks from a style's grooves, the section's energy curve,
fills at phrase ends and crashes on arrivals."""

from __future__ import annotations

import numpy as np

from melodex_studio.music.plan import DrumVoice
from melodex_studio.training.corpus.grooves import energy_band, fills_for, grooves_for
from melodex_studio.training.corpus.styles import Style
from melodex_studio.training.corpus.vocabulary import SectionKind

_KEEP_WHEN_QUIET = int(DrumVoice.CLOSED_HAT | DrumVoice.RIDE | DrumVoice.PERCUSSION)
_ARRIVALS = (SectionKind.CHORUS, SectionKind.DROP)
PHRASE_BARS = 4


def write_drums(
    style: Style,
    meter: str,
    kind: SectionKind,
    energies: list[float],
    rng: np.random.Generator,
    *,
    follows_section: bool,
) -> list[tuple[int, ...]]:
    """One tuple of hit masks per bar.

    Breakdowns drop the kit (a build may return in the last bar); very quiet bars keep only
    time-keeping cymbals; phrase ends may get a fill and the bar after a fill, or the first
    bar of a chorus or drop, opens with a crash.
    """
    grooves = grooves_for(style.groove, meter)
    fills = fills_for(style.fills, meter)
    n_bars = len(energies)
    bars: list[tuple[int, ...]] = []
    crash_next = kind in _ARRIVALS or (follows_section and rng.random() < 0.5)
    for index, energy in enumerate(energies):
        pattern = list(grooves[energy_band(energy)].masks)
        last = index == n_bars - 1
        if kind is SectionKind.BREAKDOWN:
            pattern = [0] * len(pattern)
        elif energy < 0.25:
            pattern = [mask & _KEEP_WHEN_QUIET for mask in pattern]
        _vary(pattern, energy, rng)
        phrase_end = (index + 1) % PHRASE_BARS == 0 or last
        wants_fill = phrase_end and rng.random() < style.fill_chance
        if kind is SectionKind.OUTRO and last:
            pattern = [0] * len(pattern)
            pattern[0] = int(DrumVoice.KICK | DrumVoice.CRASH)
            wants_fill = False
        if kind is SectionKind.BREAKDOWN and not (last and n_bars >= 2 and wants_fill):
            wants_fill = False
        if wants_fill:
            fill = fills[int(rng.integers(len(fills)))]
            pattern = list(fill.apply(tuple(pattern)))
        if crash_next and any(pattern) and kind is not SectionKind.BREAKDOWN:
            pattern[0] |= int(DrumVoice.CRASH)
        crash_next = wants_fill
        bars.append(tuple(pattern))
    return bars


def _vary(pattern: list[int], energy: float, rng: np.random.Generator) -> None:
    """Small human variation that keeps the feel: an extra kick on an empty 8th now and then
    in busier bars, a dropped hat in quiet ones."""
    steps = len(pattern)
    if energy >= 0.45 and rng.random() < 0.25:
        empty_eighths = [s for s in range(2, steps, 2) if not pattern[s] & DrumVoice.KICK]
        if empty_eighths:
            pattern[int(rng.choice(empty_eighths))] |= int(DrumVoice.KICK)
    if energy < 0.55 and rng.random() < 0.25:
        hats = [s for s in range(steps) if pattern[s] & DrumVoice.CLOSED_HAT]
        if len(hats) > 2:
            pattern[int(rng.choice(hats))] &= ~int(DrumVoice.CLOSED_HAT)
