"""Time and theory: the tempo grid, keys, scales, chords, meters and plan tokens. Pure Python."""

from __future__ import annotations

from melodex_studio.music.chord import CHORD_VOCAB_SIZE, QUALITIES, Chord
from melodex_studio.music.errors import MusicParseError
from melodex_studio.music.key import Key, Mode, Scale
from melodex_studio.music.meter import COMMON_METERS, Meter
from melodex_studio.music.plan import DrumVoice, Plan, PlanBar, PlanNote
from melodex_studio.music.tempo import BarBeatPosition, TempoGrid

__all__ = [
    "CHORD_VOCAB_SIZE",
    "COMMON_METERS",
    "QUALITIES",
    "BarBeatPosition",
    "Chord",
    "DrumVoice",
    "Key",
    "Meter",
    "Mode",
    "MusicParseError",
    "Plan",
    "PlanBar",
    "PlanNote",
    "Scale",
    "TempoGrid",
]
