"""The General MIDI instruments the corpus uses, with the words captions call them by.

Programs are 0-based GM program numbers (0 = Acoustic Grand Piano); drum kits are presets of
bank 128, which both Debian sample banks (FluidR3_GM, TimGM6mb) provide. Each instrument has a
family that decides how it may accompany (a pad sustains, a guitar strums, a piano comps).
"""

from __future__ import annotations

from dataclasses import dataclass

from melodex_studio.training.corpus.vocabulary import HarmonyComp


@dataclass(frozen=True)
class Instrument:
    program: int
    family: str
    names: tuple[str, ...]  # what a caption may call it, most common first


# fmt: off
INSTRUMENTS: dict[int, Instrument] = {i.program: i for i in (
    Instrument(0, "piano", ("piano", "grand piano", "acoustic piano")),
    Instrument(1, "piano", ("bright piano", "upright piano")),
    Instrument(2, "piano", ("electric grand", "CP-70 piano")),
    Instrument(4, "keys", ("Rhodes", "electric piano", "mellow Rhodes", "Rhodes piano")),
    Instrument(5, "keys", ("FM electric piano", "DX7 keys", "bell-like electric piano")),
    Instrument(7, "keys", ("clavinet", "funky clav")),
    Instrument(11, "mallet", ("vibraphone", "vibes")),
    Instrument(12, "mallet", ("marimba",)),
    Instrument(8, "mallet", ("celesta",)),
    Instrument(10, "mallet", ("music box",)),
    Instrument(16, "organ", ("organ", "drawbar organ", "Hammond organ")),
    Instrument(18, "organ", ("rock organ",)),
    Instrument(19, "organ", ("church organ", "pipe organ")),
    Instrument(21, "reed", ("accordion",)),
    Instrument(24, "guitar", ("nylon guitar", "classical guitar")),
    Instrument(25, "guitar", ("acoustic guitar", "steel-string guitar")),
    Instrument(26, "guitar", ("jazz guitar", "hollow-body guitar")),
    Instrument(27, "guitar", ("clean electric guitar", "clean guitar")),
    Instrument(28, "guitar", ("muted guitar", "palm-muted guitar")),
    Instrument(29, "guitar", ("overdriven guitar", "crunchy guitar")),
    Instrument(30, "guitar", ("distorted guitar", "heavy guitar")),
    Instrument(32, "bass", ("upright bass", "double bass", "acoustic bass")),
    Instrument(33, "bass", ("electric bass", "fingered bass", "bass guitar")),
    Instrument(34, "bass", ("picked bass", "bass guitar")),
    Instrument(35, "bass", ("fretless bass",)),
    Instrument(36, "bass", ("slap bass",)),
    Instrument(38, "bass", ("synth bass", "analog synth bass")),
    Instrument(39, "bass", ("synth bass", "rubbery synth bass")),
    Instrument(40, "strings", ("violin",)),
    Instrument(42, "strings", ("cello",)),
    Instrument(45, "plucked", ("pizzicato strings",)),
    Instrument(46, "plucked", ("harp",)),
    Instrument(48, "strings", ("strings", "string ensemble", "lush strings")),
    Instrument(49, "strings", ("slow strings", "soft strings")),
    Instrument(50, "pad", ("synth strings", "string machine")),
    Instrument(52, "choir", ("choir", "choir aahs")),
    Instrument(53, "choir", ("voice oohs", "wordless vocals")),
    Instrument(56, "brass", ("trumpet",)),
    Instrument(57, "brass", ("trombone",)),
    Instrument(60, "brass", ("french horn", "horns")),
    Instrument(61, "brass", ("brass section", "horn section")),
    Instrument(62, "brass", ("synth brass",)),
    Instrument(65, "reed", ("alto sax", "saxophone")),
    Instrument(66, "reed", ("tenor sax", "saxophone")),
    Instrument(68, "reed", ("oboe",)),
    Instrument(71, "reed", ("clarinet",)),
    Instrument(73, "pipe", ("flute",)),
    Instrument(75, "pipe", ("pan flute",)),
    Instrument(79, "pipe", ("ocarina",)),
    Instrument(80, "synth_lead", ("square lead", "chiptune lead")),
    Instrument(81, "synth_lead", ("saw lead", "synth lead")),
    Instrument(85, "synth_lead", ("vocal synth lead", "voice lead")),
    Instrument(88, "pad", ("new age pad", "warm synth pad")),
    Instrument(89, "pad", ("warm pad", "analog pad")),
    Instrument(90, "pad", ("polysynth", "poly synth")),
    Instrument(91, "pad", ("choir pad", "vocal pad")),
    Instrument(92, "pad", ("bowed pad", "glassy pad")),
    Instrument(94, "pad", ("halo pad", "airy pad")),
    Instrument(95, "pad", ("sweep pad", "evolving pad")),
    Instrument(99, "pad", ("atmosphere pad", "atmospheric synth")),
    Instrument(105, "plucked", ("banjo",)),
    Instrument(108, "mallet", ("kalimba",)),
    Instrument(110, "strings", ("fiddle",)),
)}
# fmt: on

#: GM drum kits (bank 128 presets) and their caption words.
DRUM_KITS: dict[int, tuple[str, ...]] = {
    0: ("drums", "drum kit", "acoustic drums"),
    8: ("roomy drums", "room kit"),
    16: ("big rock drums", "power kit"),
    24: ("electronic drums", "drum machine"),
    25: ("808 drums", "TR-808", "drum machine"),
    32: ("jazz kit", "jazz drums"),
    40: ("brushed drums", "brushes"),
    48: ("orchestral percussion", "timpani and percussion"),
}

#: How an instrument family may play a chord, best fit first.
FAMILY_COMPS: dict[str, tuple[HarmonyComp, ...]] = {
    "piano": (HarmonyComp.BLOCK, HarmonyComp.STABS, HarmonyComp.ARPEGGIO, HarmonyComp.OOM_PAH),
    "keys": (HarmonyComp.STABS, HarmonyComp.BLOCK, HarmonyComp.ARPEGGIO, HarmonyComp.OOM_PAH),
    "organ": (HarmonyComp.PAD, HarmonyComp.BLOCK, HarmonyComp.STABS),
    "guitar": (HarmonyComp.STRUM, HarmonyComp.ARPEGGIO, HarmonyComp.STABS),
    "plucked": (HarmonyComp.ARPEGGIO, HarmonyComp.OOM_PAH, HarmonyComp.STRUM),
    "strings": (HarmonyComp.PAD, HarmonyComp.BLOCK),
    "pad": (HarmonyComp.PAD, HarmonyComp.BLOCK, HarmonyComp.STABS),
    "choir": (HarmonyComp.PAD,),
    "brass": (HarmonyComp.BLOCK, HarmonyComp.STABS, HarmonyComp.PAD),
    "reed": (HarmonyComp.PAD, HarmonyComp.OOM_PAH),
    "mallet": (HarmonyComp.ARPEGGIO, HarmonyComp.BLOCK),
}


def instrument(program: int) -> Instrument:
    try:
        return INSTRUMENTS[program]
    except KeyError:
        raise ValueError(f"GM program {program} is not in the corpus instrument table") from None


def comps_for(program: int, allowed: tuple[HarmonyComp, ...]) -> tuple[HarmonyComp, ...]:
    """Ways this instrument may comp that the style allows (never empty)."""
    fitting = tuple(c for c in FAMILY_COMPS.get(instrument(program).family, ()) if c in allowed)
    return fitting or FAMILY_COMPS.get(instrument(program).family, (HarmonyComp.BLOCK,))[:1]
