"""The musical styles the procedural composer writes in.

Each style is one frozen value: the tempo range, meters and modes it uses, its chord
progressions (roman numerals, see `harmony`), the drum feel and fills it plays, how its bass,
melody and chords move, the General MIDI instruments per part, the words captions use for it,
and a light mix. The corpus draws uniformly over styles, so the table also decides coverage:
3/4 and 6/8 come from pop, rock, jazz, ambient, cinematic, synthwave and folk, tempos span
70-170 BPM, and every style writes in both major and minor so all 24 keys appear.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from melodex_studio.music.key import Mode
from melodex_studio.training.corpus.vocabulary import (
    BassMotion,
    HarmonyComp,
    MelodyMotion,
    Role,
    SectionKind,
)

Progression = tuple[str, ...]
S = SectionKind


@dataclass(frozen=True)
class MixProfile:
    """Per-style mix: reverb, bus compression, tone, stem balance (dB) and pan (-1..1)."""

    reverb_room: float = 0.35
    reverb_wet: float = 0.12
    compressor_threshold_db: float = -16.0
    compressor_ratio: float = 2.5
    lowpass_hz: float | None = None
    vinyl_noise_db: float | None = None  # level of a soft crackle bed, for dusty styles
    stem_gain_db: dict[Role, float] = field(
        default_factory=lambda: {Role.DRUMS: 0.0, Role.BASS: -1.0, Role.HARMONY: -4.0,
                                 Role.MELODY: -2.0}
    )
    stem_pan: dict[Role, float] = field(
        default_factory=lambda: {Role.DRUMS: 0.0, Role.BASS: 0.0, Role.HARMONY: -0.3,
                                 Role.MELODY: 0.25}
    )


@dataclass(frozen=True)
class Style:
    name: str
    label: str  # the main caption name, e.g. "lo-fi hip hop"
    synonyms: tuple[str, ...]
    tempo: tuple[int, int]  # inclusive BPM range (quarter notes per minute)
    meters: tuple[tuple[str, float], ...]  # meter and relative weight
    modes: tuple[tuple[Mode, float], ...]
    progressions: dict[Mode, tuple[Progression, ...]]
    groove: str  # feel in `grooves.GROOVES`
    fills: str  # family in `grooves.FILLS`
    fill_chance: float
    bass: tuple[BassMotion, ...]
    melody: tuple[MelodyMotion, ...]
    comps: tuple[HarmonyComp, ...]
    programs: dict[Role, tuple[int, ...]]  # GM programs per pitched part, most typical first
    kits: tuple[int, ...]  # GM drum kit presets (bank 128)
    sections: tuple[SectionKind, ...]
    moods: tuple[str, ...]
    production: tuple[str, ...]
    drum_words: tuple[str, ...]
    swing: tuple[float, float] = (0.0, 0.0)  # delay of swung steps, fraction of the swing unit
    swing_unit: int = 16  # 16: odd 16ths swing; 8: off-beat 8ths swing (jazz)
    mix: MixProfile = field(default_factory=MixProfile)

    def meter_names(self) -> tuple[str, ...]:
        return tuple(meter for meter, _ in self.meters)


_SONG = (S.INTRO, S.VERSE, S.PRE_CHORUS, S.CHORUS, S.BRIDGE, S.OUTRO)
_CLUB = (S.INTRO, S.VERSE, S.BREAKDOWN, S.DROP, S.CHORUS, S.OUTRO)
_ATMOS = (S.INTRO, S.VERSE, S.CHORUS, S.BRIDGE, S.BREAKDOWN, S.OUTRO)
MAJOR, MINOR = Mode.MAJOR, Mode.MINOR

# fmt: off
STYLES: dict[str, Style] = {s.name: s for s in (
    Style(
        "pop", "pop", ("pop", "pop song", "radio pop", "indie pop", "mainstream pop"),
        tempo=(88, 128), meters=(("4/4", 0.8), ("3/4", 0.1), ("6/8", 0.1)),
        modes=((MAJOR, 0.7), (MINOR, 0.3)),
        progressions={
            MAJOR: (("I", "V", "vi", "IV"), ("vi", "IV", "I", "V"), ("I", "vi", "IV", "V"),
                    ("IV", "I", "V", "vi"), ("I", "V", "vi", "iii", "IV", "I", "IV", "V"),
                    ("Iadd9", "V", "vi7", "IVmaj7")),
            MINOR: (("i", "bVI", "bIII", "bVII"), ("i", "iv", "bVI", "V"),
                    ("i", "bVII", "bVI", "bVII"), ("i", "bIII", "bVII", "iv")),
        },
        groove="backbeat", fills="kit", fill_chance=0.6,
        bass=(BassMotion.ROOT_PULSE, BassMotion.SYNCOPATED, BassMotion.OCTAVES),
        melody=(MelodyMotion.LYRICAL, MelodyMotion.RIFF),
        comps=(HarmonyComp.BLOCK, HarmonyComp.STRUM, HarmonyComp.PAD, HarmonyComp.STABS,
               HarmonyComp.ARPEGGIO),
        programs={Role.BASS: (33, 34, 38), Role.HARMONY: (0, 25, 4, 48, 89, 27),
                  Role.MELODY: (0, 11, 81, 85, 73, 65)},
        kits=(0, 8, 24), sections=_SONG,
        moods=("catchy", "upbeat", "bright", "feel-good", "bittersweet", "heartfelt"),
        production=("polished", "radio-ready", "clean mix", "modern production", "punchy"),
        drum_words=("tight drums", "snappy backbeat", "steady drums"),
    ),
    Style(
        "rock", "rock", ("rock", "indie rock", "alt rock", "garage rock", "classic rock"),
        tempo=(100, 170), meters=(("4/4", 0.85), ("6/8", 0.15)),
        modes=((MAJOR, 0.55), (MINOR, 0.45)),
        progressions={
            MAJOR: (("I", "IV", "V", "IV"), ("I", "V", "IV", "IV"), ("I5", "IV5", "V5", "IV5"),
                    ("vi", "IV", "I", "V"), ("I", "iii", "IV", "V")),
            MINOR: (("i", "bVII", "bVI", "bVII"), ("i5", "bVI5", "bVII5", "i5"),
                    ("i", "iv", "bVII", "i"), ("i", "bIII", "bVII", "iv")),
        },
        groove="rock", fills="kit", fill_chance=0.75,
        bass=(BassMotion.ROOT_PULSE, BassMotion.ROOT_PULSE, BassMotion.OCTAVES),
        melody=(MelodyMotion.RIFF, MelodyMotion.LYRICAL),
        comps=(HarmonyComp.STRUM, HarmonyComp.BLOCK, HarmonyComp.PAD),
        programs={Role.BASS: (34, 33), Role.HARMONY: (29, 30, 27, 25, 18),
                  Role.MELODY: (29, 30, 27, 81)},
        kits=(16, 0, 8), sections=_SONG,
        moods=("energetic", "gritty", "raw", "anthemic", "rebellious", "driving"),
        production=("live-sounding", "roomy", "loud guitars", "garage production", "big mix"),
        drum_words=("pounding drums", "hard-hitting drums", "crashing cymbals"),
    ),
    Style(
        "house", "house", ("house", "deep house", "EDM", "dance", "club house", "electronic dance"),
        tempo=(118, 132), meters=(("4/4", 1.0),),
        modes=((MINOR, 0.65), (MAJOR, 0.35)),
        progressions={
            MINOR: (("i7", "iv7", "bVII", "bIIImaj7"), ("i7", "bVImaj7", "bVII", "i7"),
                    ("i9", "iv9", "i9", "v7"), ("i", "bVI", "bIII", "bVII")),
            MAJOR: (("IVmaj7", "iii7", "ii7", "Imaj7"), ("I", "V", "vi", "IV"),
                    ("Imaj7", "vi7", "ii7", "V7sus4")),
        },
        groove="four_on_floor", fills="electronic", fill_chance=0.7,
        bass=(BassMotion.OCTAVES, BassMotion.SYNCOPATED),
        melody=(MelodyMotion.RIFF, MelodyMotion.ARPEGGIO),
        comps=(HarmonyComp.STABS, HarmonyComp.PAD),
        programs={Role.BASS: (38, 39), Role.HARMONY: (4, 0, 90, 89, 16),
                  Role.MELODY: (81, 80, 90, 5)},
        kits=(24, 25), sections=_CLUB,
        moods=("euphoric", "hypnotic", "groovy", "uplifting", "late-night"),
        production=("club mix", "sidechained", "wide stereo", "four-on-the-floor", "big room"),
        drum_words=("four-on-the-floor kick", "crisp claps", "open hi-hats"),
        mix=MixProfile(reverb_room=0.4, reverb_wet=0.1, compressor_threshold_db=-18.0,
                       compressor_ratio=4.0),
    ),
    Style(
        "lofi", "lo-fi hip hop", ("lo-fi hip hop", "lofi", "lo-fi beat", "chillhop",
                                  "lofi hip hop", "study beat"),
        tempo=(70, 92), meters=(("4/4", 1.0),),
        modes=((MAJOR, 0.5), (MINOR, 0.5)),
        progressions={
            MAJOR: (("ii9", "V9", "Imaj9", "vi9"), ("IVmaj7", "iii7", "vi7", "ii7"),
                    ("Imaj7", "vi7", "ii7", "V7")),
            MINOR: (("i7", "iv7", "bVII7", "bIIImaj7"), ("i9", "bVImaj7", "iv7", "v7"),
                    ("iiø7", "v7", "i7", "i7")),
        },
        groove="boom_bap", fills="soft", fill_chance=0.3,
        bass=(BassMotion.SYNCOPATED, BassMotion.ROOT_WHOLE),
        melody=(MelodyMotion.LYRICAL, MelodyMotion.SPARSE),
        comps=(HarmonyComp.BLOCK, HarmonyComp.PAD, HarmonyComp.ARPEGGIO),
        programs={Role.BASS: (33, 32, 38), Role.HARMONY: (4, 0, 26, 11),
                  Role.MELODY: (11, 4, 73, 26)},
        kits=(0, 8, 40), sections=(S.INTRO, S.VERSE, S.CHORUS, S.BRIDGE, S.OUTRO),
        moods=("chill", "mellow", "nostalgic", "cozy", "dreamy", "relaxed"),
        production=("dusty", "tape-saturated", "vinyl crackle", "warm lo-fi", "muffled"),
        drum_words=("lazy swung drums", "dusty boom-bap drums", "laid-back beat"),
        swing=(0.15, 0.3), swing_unit=16,
        mix=MixProfile(reverb_room=0.3, reverb_wet=0.1, lowpass_hz=5200.0,
                       vinyl_noise_db=-42.0),
    ),
    Style(
        "synthwave", "synthwave", ("synthwave", "retrowave", "80s synth pop", "outrun"),
        tempo=(84, 118), meters=(("4/4", 0.9), ("6/8", 0.1)),
        modes=((MINOR, 0.7), (MAJOR, 0.3)),
        progressions={
            MINOR: (("i", "bVI", "bIII", "bVII"), ("i", "bVII", "bVI", "bVII"),
                    ("i", "iv", "bVI", "bVII"), ("iadd9", "bVI", "bVII", "i")),
            MAJOR: (("I", "V", "vi", "IV"), ("vi", "IV", "I", "V"), ("Iadd9", "IV", "vi", "V")),
        },
        groove="synth_pop", fills="electronic", fill_chance=0.55,
        bass=(BassMotion.OCTAVES, BassMotion.ROOT_PULSE),
        melody=(MelodyMotion.ARPEGGIO, MelodyMotion.LYRICAL, MelodyMotion.RIFF),
        comps=(HarmonyComp.PAD, HarmonyComp.STABS, HarmonyComp.ARPEGGIO),
        programs={Role.BASS: (38, 39), Role.HARMONY: (90, 89, 50, 95, 5),
                  Role.MELODY: (81, 80, 62, 85)},
        kits=(24, 25), sections=_SONG,
        moods=("nostalgic", "neon", "nocturnal", "cinematic", "driving", "retro"),
        production=("gated reverb", "analog synths", "80s production", "lush chorus"),
        drum_words=("gated drums", "drum machine", "punchy electronic drums"),
        mix=MixProfile(reverb_room=0.6, reverb_wet=0.2),
    ),
    Style(
        "jazz", "jazz", ("jazz", "swing jazz", "jazz trio", "cool jazz", "smoky jazz club"),
        tempo=(90, 170), meters=(("4/4", 0.75), ("3/4", 0.25)),
        modes=((MAJOR, 0.6), (MINOR, 0.4)),
        progressions={
            MAJOR: (("ii7", "V7", "Imaj7", "Imaj7"), ("Imaj7", "vi7", "ii7", "V7"),
                    ("iii7", "vi7", "ii7", "V7"), ("Imaj7", "VI7", "ii7", "V7")),
            MINOR: (("iiø7", "V7", "i7", "i7"), ("i7", "iv7", "bVII7", "bIIImaj7"),
                    ("i6", "iiø7", "V7", "i6")),
        },
        groove="swing", fills="brushes", fill_chance=0.4,
        bass=(BassMotion.WALKING,),
        melody=(MelodyMotion.BEBOP, MelodyMotion.LYRICAL),
        comps=(HarmonyComp.STABS, HarmonyComp.BLOCK),
        programs={Role.BASS: (32,), Role.HARMONY: (0, 4, 26), Role.MELODY: (65, 66, 56, 11, 0)},
        kits=(32, 40), sections=(S.INTRO, S.VERSE, S.CHORUS, S.BRIDGE, S.OUTRO),
        moods=("smoky", "sophisticated", "late-night", "relaxed", "swinging", "elegant"),
        production=("live trio recording", "warm room sound", "intimate", "vintage"),
        drum_words=("swinging ride cymbal", "brushed snare", "light jazz drums"),
        swing=(0.2, 0.33), swing_unit=8,
        mix=MixProfile(reverb_room=0.45, reverb_wet=0.14, compressor_ratio=1.8),
    ),
    Style(
        "ambient", "ambient", ("ambient", "ambient electronic", "drone", "chillout",
                               "atmospheric music"),
        tempo=(70, 100), meters=(("4/4", 0.75), ("3/4", 0.25)),
        modes=((MAJOR, 0.5), (MINOR, 0.5)),
        progressions={
            MAJOR: (("Imaj7", "IVmaj7", "Imaj7", "IVmaj7"), ("Iadd9", "IVadd9", "vi7", "IVmaj7"),
                    ("Isus2", "IVmaj7", "vi7", "Vsus4")),
            MINOR: (("i9", "bVImaj7", "i9", "bVImaj7"), ("i", "bVI", "iv", "iv"),
                    ("iadd9", "bIIImaj7", "bVImaj7", "bVII")),
        },
        groove="ambient", fills="soft", fill_chance=0.15,
        bass=(BassMotion.ROOT_WHOLE,),
        melody=(MelodyMotion.SPARSE, MelodyMotion.ARPEGGIO),
        comps=(HarmonyComp.PAD, HarmonyComp.ARPEGGIO),
        programs={Role.BASS: (38, 35, 42), Role.HARMONY: (94, 92, 88, 91, 99, 49),
                  Role.MELODY: (108, 10, 8, 73, 11)},
        kits=(24, 0), sections=_ATMOS,
        moods=("calm", "meditative", "floating", "spacious", "serene", "ethereal"),
        production=("washed in reverb", "airy", "soft textures", "slow-evolving"),
        drum_words=("soft percussion", "minimal beat", "gentle pulse"),
        mix=MixProfile(reverb_room=0.85, reverb_wet=0.3, compressor_ratio=1.5,
                       stem_gain_db={Role.DRUMS: -4.0, Role.BASS: -2.0, Role.HARMONY: -2.0,
                                     Role.MELODY: -3.0}),
    ),
    Style(
        "cinematic", "cinematic", ("cinematic", "orchestral", "film score", "epic trailer",
                                   "soundtrack"),
        tempo=(70, 124), meters=(("4/4", 0.6), ("3/4", 0.2), ("6/8", 0.2)),
        modes=((MINOR, 0.65), (MAJOR, 0.35)),
        progressions={
            MINOR: (("i", "bVI", "bIII", "bVII"), ("i", "bVI", "iv", "V"),
                    ("i", "iv", "bVI", "bVII"), ("i", "bVII", "bVI", "V")),
            MAJOR: (("I", "V", "vi", "IV"), ("vi", "IV", "I", "V"), ("IV", "I", "V", "vi"),
                    ("I", "iii", "IV", "iv")),
        },
        groove="halftime", fills="soft", fill_chance=0.5,
        bass=(BassMotion.ROOT_WHOLE, BassMotion.ROOT_PULSE),
        melody=(MelodyMotion.SPARSE, MelodyMotion.LYRICAL),
        comps=(HarmonyComp.PAD, HarmonyComp.ARPEGGIO),
        programs={Role.BASS: (42, 32, 57), Role.HARMONY: (48, 49, 52, 46, 61),
                  Role.MELODY: (60, 40, 56, 73, 68)},
        kits=(48, 16), sections=(S.INTRO, S.VERSE, S.PRE_CHORUS,
                                 S.CHORUS, S.BREAKDOWN, S.BRIDGE, S.OUTRO),
        moods=("epic", "heroic", "tense", "emotional", "dramatic", "majestic"),
        production=("orchestral", "hall reverb", "huge dynamics", "trailer-style"),
        drum_words=("thundering toms", "taiko-like percussion", "big orchestral drums"),
        mix=MixProfile(reverb_room=0.8, reverb_wet=0.25, compressor_ratio=2.0),
    ),
    Style(
        "funk", "funk", ("funk", "funky groove", "disco funk", "soul funk", "neo-soul"),
        tempo=(92, 122), meters=(("4/4", 1.0),),
        modes=((MINOR, 0.6), (MAJOR, 0.4)),
        progressions={
            MINOR: (("i7", "iv7", "i7", "iv7"), ("i9", "i9", "iv9", "iv9"),
                    ("i7", "IV9", "i7", "IV9"), ("i7", "bVII7", "bVI7", "v7")),
            MAJOR: (("I7", "IV7", "I7", "IV7"), ("I9", "I9", "IV9", "V9"),
                    ("ii7", "V9", "ii7", "V9")),
        },
        groove="funk", fills="kit", fill_chance=0.5,
        bass=(BassMotion.SYNCOPATED, BassMotion.OCTAVES),
        melody=(MelodyMotion.RIFF, MelodyMotion.LYRICAL),
        comps=(HarmonyComp.STABS, HarmonyComp.STRUM),
        programs={Role.BASS: (36, 33), Role.HARMONY: (28, 7, 27, 4, 61),
                  Role.MELODY: (61, 65, 56, 7, 81)},
        kits=(0, 8), sections=_SONG,
        moods=("funky", "groovy", "playful", "tight", "sweaty", "confident"),
        production=("tight rhythm section", "dry and punchy", "70s production", "in the pocket"),
        drum_words=("tight 16th hi-hats", "ghost-note snare", "syncopated kick"),
        swing=(0.0, 0.12), swing_unit=16,
        mix=MixProfile(reverb_room=0.25, reverb_wet=0.07, compressor_threshold_db=-18.0,
                       compressor_ratio=3.0),
    ),
    Style(
        "folk", "folk", ("folk", "acoustic folk", "waltz", "celtic folk", "americana",
                         "country waltz"),
        tempo=(84, 170), meters=(("3/4", 0.45), ("6/8", 0.4), ("4/4", 0.15)),
        modes=((MAJOR, 0.6), (MINOR, 0.4)),
        progressions={
            MAJOR: (("I", "IV", "I", "V"), ("I", "V", "vi", "IV"), ("I", "IV", "V", "I"),
                    ("vi", "IV", "I", "V")),
            MINOR: (("i", "bVII", "i", "v"), ("i", "bIII", "bVII", "i"), ("i", "iv", "v", "i"),
                    ("i", "bVII", "bVI", "bVII")),
        },
        groove="folk", fills="kit", fill_chance=0.35,
        bass=(BassMotion.ROOT_FIFTH, BassMotion.ROOT_WHOLE),
        melody=(MelodyMotion.LYRICAL, MelodyMotion.RIFF),
        comps=(HarmonyComp.STRUM, HarmonyComp.OOM_PAH, HarmonyComp.ARPEGGIO),
        programs={Role.BASS: (32, 33), Role.HARMONY: (25, 24, 21, 105, 46),
                  Role.MELODY: (110, 73, 40, 21, 71)},
        kits=(0, 40, 8), sections=(S.INTRO, S.VERSE, S.CHORUS, S.BRIDGE, S.OUTRO),
        moods=("rustic", "warm", "wistful", "lively", "homely", "earthy"),
        production=("acoustic", "unplugged", "natural room sound", "campfire recording"),
        drum_words=("light percussion", "stomping kick", "brushed drums"),
    ),
)}
# fmt: on


def style(name: str) -> Style:
    try:
        return STYLES[name]
    except KeyError:
        raise ValueError(f"unknown style {name!r}; one of {', '.join(STYLES)}") from None
