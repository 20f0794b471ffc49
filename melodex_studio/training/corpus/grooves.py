"""Drum grooves and fills as 16th-step patterns, grouped by feel and meter.

A groove is written the way drummers sketch one on paper: a line per voice, one character per
16th step, ``x`` a hit and ``.`` a rest. Each feel has a low, mid and high energy variant per
meter so the composer can build a section up or strip it down bar by bar; fills replace the end
of a phrase's last bar. The patterns are on the straight grid: swing is applied at render time
and described by the labels (see `section.ComposedSection.step_seconds`).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from melodex_studio.music.plan import DrumVoice


class EnergyBand(StrEnum):
    LOW = "low"
    MID = "mid"
    HIGH = "high"


def energy_band(energy: float) -> EnergyBand:
    """Which groove variant a bar of this energy plays."""
    if energy < 0.4:
        return EnergyBand.LOW
    if energy < 0.7:
        return EnergyBand.MID
    return EnergyBand.HIGH


_VOICE_WORDS: dict[str, DrumVoice] = {
    "kick": DrumVoice.KICK,
    "snare": DrumVoice.SNARE,
    "hat": DrumVoice.CLOSED_HAT,
    "open_hat": DrumVoice.OPEN_HAT,
    "clap": DrumVoice.CLAP,
    "low_tom": DrumVoice.LOW_TOM,
    "high_tom": DrumVoice.HIGH_TOM,
    "crash": DrumVoice.CRASH,
    "ride": DrumVoice.RIDE,
    "perc": DrumVoice.PERCUSSION,
}


def parse_lines(steps: int, lines: dict[str, str]) -> tuple[int, ...]:
    """Turn voice lines ("kick": "x...x...") into one hit mask per 16th step."""
    masks = [0] * steps
    for word, line in lines.items():
        if len(line) != steps:
            raise ValueError(f"{word} line {line!r} has {len(line)} steps, expected {steps}")
        if set(line) - {"x", "."}:
            raise ValueError(f"{word} line {line!r} may only hold 'x' and '.'")
        voice = _VOICE_WORDS[word]
        for step, char in enumerate(line):
            if char == "x":
                masks[step] |= int(voice)
    return tuple(masks)


@dataclass(frozen=True)
class Groove:
    """One bar of drums for one meter and energy band."""

    name: str
    meter: str
    band: EnergyBand
    masks: tuple[int, ...]


@dataclass(frozen=True)
class Fill:
    """The end of a phrase: steps from `start` on replace the groove's steps."""

    name: str
    meter: str
    start: int
    masks: tuple[int, ...]

    def apply(self, bar: tuple[int, ...]) -> tuple[int, ...]:
        return bar[: self.start] + self.masks[self.start :]


_STEPS = {"4/4": 16, "3/4": 12, "6/8": 12}


def _grooves(name: str, meter: str, **bands: dict[str, str]) -> tuple[Groove, ...]:
    steps = _STEPS[meter]
    return tuple(
        Groove(name, meter, EnergyBand(band), parse_lines(steps, lines))
        for band, lines in bands.items()
    )


def _fill(name: str, meter: str, start: int, **lines: str) -> Fill:
    return Fill(name, meter, start, parse_lines(_STEPS[meter], lines))


# fmt: off
GROOVES: dict[str, tuple[Groove, ...]] = {
    "backbeat": (
        *_grooves("backbeat", "4/4",
            low={"kick": "x.......x.......", "snare": "....x.......x...",
                 "hat": "x...x...x...x..."},
            mid={"kick": "x.......x.x.....", "snare": "....x.......x...",
                 "hat": "x.x.x.x.x.x.x.x."},
            high={"kick": "x.....x.x.x.....", "snare": "....x.......x...",
                  "hat": "xxxxxxxxxxxxxx.x", "open_hat": "..............x."}),
        *_grooves("backbeat", "3/4",
            low={"kick": "x...........", "snare": "........x...", "hat": "x...x...x..."},
            mid={"kick": "x.....x.....", "snare": "....x...x...", "hat": "x.x.x.x.x.x."},
            high={"kick": "x.....x.x...", "snare": "....x...x...", "hat": "xxxxxxxxxxxx"}),
        *_grooves("backbeat", "6/8",
            low={"kick": "x...........", "snare": "......x.....", "hat": "x.x.x.x.x.x."},
            mid={"kick": "x.......x...", "snare": "......x.....", "hat": "x.x.x.x.x.x."},
            high={"kick": "x...x...x...", "snare": "......x.....", "ride": "x.x.x.x.x.x."}),
    ),
    "rock": (
        *_grooves("rock", "4/4",
            low={"kick": "x.......x.......", "snare": "....x.......x...",
                 "hat": "x.x.x.x.x.x.x.x."},
            mid={"kick": "x.....x.x.......", "snare": "....x.......x...",
                 "hat": "x.x.x.x.x.x.x.x."},
            high={"kick": "x.....x.x.x.....", "snare": "....x.......x...",
                  "ride": "x.x.x.x.x.x.x.x."}),
        *_grooves("rock", "6/8",
            low={"kick": "x.....x.....", "snare": "......x.....", "hat": "x.x.x.x.x.x."},
            mid={"kick": "x...x...x...", "snare": "......x.....", "hat": "x.x.x.x.x.x."},
            high={"kick": "x...x.x...x.", "snare": "......x.....", "ride": "x.x.x.x.x.x."}),
    ),
    "four_on_floor": (
        *_grooves("four_on_floor", "4/4",
            low={"kick": "x...x...x...x...", "hat": "..x...x...x...x."},
            mid={"kick": "x...x...x...x...", "clap": "....x.......x...",
                 "open_hat": "..x...x...x...x."},
            high={"kick": "x...x...x...x...", "clap": "....x.......x...",
                  "hat": "xx.xxx.xxx.xxx.x", "open_hat": "..x...x...x...x."}),
    ),
    "boom_bap": (
        *_grooves("boom_bap", "4/4",
            low={"kick": "x.........x.....", "snare": "....x.......x...",
                 "hat": "x...x...x...x..."},
            mid={"kick": "x......x..x.....", "snare": "....x.......x...",
                 "hat": "x.x.x.x.x.x.x.x."},
            high={"kick": "x......x..x..x..", "snare": "....x.......x...",
                  "hat": "x.xxx.x.x.xxx.x."}),
    ),
    "synth_pop": (
        *_grooves("synth_pop", "4/4",
            low={"kick": "x.......x.......", "snare": "....x.......x...",
                 "hat": "..x...x...x...x."},
            mid={"kick": "x...x...x...x...", "snare": "....x.......x...",
                 "hat": "x.x.x.x.x.x.x.x."},
            high={"kick": "x...x...x...x...", "snare": "....x.......x...",
                  "clap": "....x.......x...", "hat": "xxxxxxxxxxxxxxxx"}),
        *_grooves("synth_pop", "6/8",
            low={"kick": "x...........", "snare": "......x.....", "hat": "x.x.x.x.x.x."},
            mid={"kick": "x.....x.....", "snare": "......x.....", "hat": "x.x.x.x.x.x."},
            high={"kick": "x...x.x...x.", "snare": "......x.....", "hat": "xxxxxxxxxxxx"}),
    ),
    "swing": (
        *_grooves("swing", "4/4",
            low={"ride": "x...x.x.x...x.x.", "hat": "....x.......x..."},
            mid={"ride": "x...x.x.x...x.x.", "hat": "....x.......x...",
                 "kick": "x.........x....."},
            high={"ride": "x...x.x.x...x.x.", "hat": "....x.......x...",
                  "kick": "x.....x...x.....", "snare": "......x.......x."}),
        *_grooves("swing", "3/4",
            low={"ride": "x...x.x.x...", "hat": "....x...x..."},
            mid={"ride": "x...x.x.x.x.", "hat": "....x...x...", "kick": "x..........."},
            high={"ride": "x...x.x.x.x.", "hat": "....x...x...", "kick": "x.......x...",
                  "snare": "......x....."}),
    ),
    "funk": (
        *_grooves("funk", "4/4",
            low={"kick": "x.........x.....", "snare": "....x.......x...",
                 "hat": "x.x.x.x.x.x.x.x."},
            mid={"kick": "x.x.......x..x..", "snare": "....x..x.x..x...",
                 "hat": "xxxxxxxxxxxxxxxx"},
            high={"kick": "x.x...x...x..x..", "snare": "....x..x.x..x..x",
                  "hat": "xxxxxx.xxxxxxx.x", "open_hat": "......x.......x."}),
    ),
    "halftime": (
        *_grooves("halftime", "4/4",
            low={"kick": "x...............", "low_tom": "........x......."},
            mid={"kick": "x.........x.....", "snare": "........x.......",
                 "hat": "x.x.x.x.x.x.x.x."},
            high={"kick": "x.....x...x.....", "snare": "........x.......",
                  "low_tom": "...x.....x...x..", "high_tom": "..x.....x...x..."}),
        *_grooves("halftime", "3/4",
            low={"kick": "x...........", "low_tom": "....x...x..."},
            mid={"kick": "x...........", "snare": "........x...", "hat": "x.x.x.x.x.x."},
            high={"kick": "x.....x.....", "snare": "........x...",
                  "low_tom": "..x.x.....x.", "high_tom": "...x.....x.."}),
        *_grooves("halftime", "6/8",
            low={"kick": "x...........", "low_tom": "......x....."},
            mid={"kick": "x...........", "snare": "......x.....", "hat": "x.x.x.x.x.x."},
            high={"kick": "x.....x.....", "snare": "......x.....",
                  "low_tom": "..x.x...x.x.", "high_tom": "...x.....x.."}),
    ),
    "ambient": (
        *_grooves("ambient", "4/4",
            low={"perc": "........x......."},
            mid={"kick": "x.........x.....", "hat": "..x...x...x...x."},
            high={"kick": "x.........x.....", "snare": "........x.......",
                  "hat": "x.xxx.xxx.xxx.xx"}),
        *_grooves("ambient", "3/4",
            low={"perc": "....x......."},
            mid={"kick": "x...........", "hat": "..x...x...x."},
            high={"kick": "x.......x...", "snare": "....x.......", "hat": "x.xxx.xxx.xx"}),
    ),
    "folk": (
        *_grooves("folk", "3/4",
            low={"kick": "x...........", "hat": "....x...x..."},
            mid={"kick": "x...........", "snare": "....x...x...", "hat": "x.x.x.x.x.x."},
            high={"kick": "x.......x...", "snare": "....x...x...", "perc": "x.x.x.x.x.x."}),
        *_grooves("folk", "6/8",
            low={"kick": "x.....x.....", "hat": "x.x.x.x.x.x."},
            mid={"kick": "x.....x.....", "snare": "....x.....x.", "hat": "x.x.x.x.x.x."},
            high={"kick": "x...x.x...x.", "snare": "......x.....", "perc": "x.xxx.x.xxx."}),
        *_grooves("folk", "4/4",
            low={"kick": "x.......x.......", "hat": "x.x.x.x.x.x.x.x."},
            mid={"kick": "x.......x.......", "snare": "....x.......x...",
                 "hat": "x.x.x.x.x.x.x.x."},
            high={"kick": "x.....x.x.......", "snare": "....x.......x...",
                  "perc": "x.xxx.xxx.xxx.xx"}),
    ),
}

FILLS: dict[str, tuple[Fill, ...]] = {
    "kit": (
        _fill("snare_roll", "4/4", 12, kick="x...............", snare="............xxxx"),
        _fill("tom_run", "4/4", 8, high_tom="........xx.x....", low_tom="..........x.xxx."),
        _fill("snare_toms", "4/4", 8, snare="........x.x.....", high_tom="............x...",
              low_tom="..............x."),
        _fill("snare_roll", "3/4", 8, snare="........xxxx"),
        _fill("tom_run", "3/4", 8, high_tom="........xx..", low_tom="..........xx"),
        _fill("snare_roll", "6/8", 6, snare="......x.x.x."),
        _fill("tom_run", "6/8", 6, high_tom="......xx....", low_tom="........xxxx"),
    ),
    "electronic": (
        _fill("snare_build", "4/4", 8, kick="x...x...x...x...", snare="........x.x.xxxx"),
        _fill("clap_build", "4/4", 12, kick="x...x...x...x...", clap="............xxxx"),
        _fill("kick_stop", "4/4", 12, kick="x...x...x.......", snare="..............x."),
        _fill("snare_build", "6/8", 6, snare="......x.xxxx"),
    ),
    "brushes": (
        _fill("comp_snare", "4/4", 8, snare="........x..x..x.", ride="x...x.x.x...x.x."),
        _fill("kick_drop", "4/4", 12, ride="x...x.x.x...x.x.", kick="..............x.",
              snare="............x..."),
        _fill("comp_snare", "3/4", 8, snare="........x.x.", ride="x...x.x.x.x."),
    ),
    "soft": (
        _fill("tom_swell", "4/4", 8, low_tom="........x...x.x.", high_tom="..............x."),
        _fill("tom_swell", "3/4", 8, low_tom="........x.x."),
        _fill("tom_swell", "6/8", 6, low_tom="......x...x."),
    ),
}
# fmt: on


def grooves_for(family: str, meter: str) -> dict[EnergyBand, Groove]:
    """The low/mid/high variants of a feel in a meter; falls back to the backbeat feel so
    every style can play every meter it lists even where its own feel has no pattern."""
    chosen = [g for g in GROOVES[family] if g.meter == meter]
    if not chosen:
        chosen = [g for g in GROOVES["backbeat"] if g.meter == meter]
    if not chosen:
        raise ValueError(f"no groove for meter {meter}")
    return {g.band: g for g in chosen}


def fills_for(family: str, meter: str) -> tuple[Fill, ...]:
    """Fills of a family for a meter, falling back to the drum-kit fills."""
    chosen = tuple(f for f in FILLS[family] if f.meter == meter)
    return chosen or tuple(f for f in FILLS["kit"] if f.meter == meter)
