"""The small closed vocabularies the corpus speaks: parts, section kinds and playing styles.

They are string enums so labels written to JSON stay readable and stable across versions.
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    """A part of the arrangement; each is rendered to its own stem."""

    DRUMS = "drums"
    BASS = "bass"
    HARMONY = "harmony"
    MELODY = "melody"


STEM_ORDER: tuple[Role, ...] = (Role.DRUMS, Role.BASS, Role.HARMONY, Role.MELODY)


class SectionKind(StrEnum):
    INTRO = "intro"
    VERSE = "verse"
    PRE_CHORUS = "pre_chorus"
    CHORUS = "chorus"
    BRIDGE = "bridge"
    BREAKDOWN = "breakdown"
    DROP = "drop"
    OUTRO = "outro"


class BassMotion(StrEnum):
    """How the bass writer moves through the bar."""

    ROOT_WHOLE = "root_whole"  # one long root per bar (ambient, cinematic, pads)
    ROOT_PULSE = "root_pulse"  # straight 8th-note roots (rock, synthwave)
    OCTAVES = "octaves"  # root / octave alternating 8ths (disco, house, synthwave)
    WALKING = "walking"  # quarter notes through chord and passing tones (jazz)
    SYNCOPATED = "syncopated"  # follows the kick and anticipates (funk, lo-fi, pop)
    ROOT_FIFTH = "root_fifth"  # root on the downbeat, fifth after (waltz, folk, country)


class MelodyMotion(StrEnum):
    """How the melody writer fills a bar."""

    LYRICAL = "lyrical"  # singable quarter/8th lines, mostly stepwise
    RIFF = "riff"  # a short repeated 16th/8th motif
    ARPEGGIO = "arpeggio"  # broken chord tones in 8ths or 16ths
    SPARSE = "sparse"  # a few long notes (ambient, cinematic)
    BEBOP = "bebop"  # running 8th lines with chromatic-free approach tones


class HarmonyComp(StrEnum):
    """How the harmony part plays the bar's chord."""

    PAD = "pad"  # sustained chord, legato into the next
    BLOCK = "block"  # chord on the downbeat (and half bar), released before the next
    STABS = "stabs"  # short off-beat chords (house, funk, reggae-ish)
    STRUM = "strum"  # guitar strums, down on beats, up on off-beats, strings spread in time
    ARPEGGIO = "arpeggio"  # chord tones one at a time
    OOM_PAH = "oom_pah"  # chords on the weak beats (waltz, folk)
