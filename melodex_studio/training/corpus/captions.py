"""Natural-language captions written from a section's generating parameters.

Captions teach the text conditioning what words mean musically, so they vary the way people
write prompts: genre synonyms, moods, instrument names taken from the actual GM programs,
production words, tempo words derived from the BPM, sometimes the key, meter and BPM, the
section's role and energy, in several templates and word orders. Every word is true of the
audio (a breakdown never mentions drums, a swung groove says so). Deterministic from the seed.
"""

from __future__ import annotations

import numpy as np

from melodex_studio.training.corpus.instruments import DRUM_KITS, instrument
from melodex_studio.training.corpus.section import ComposedSection
from melodex_studio.training.corpus.seeding import pick, rng_for
from melodex_studio.training.corpus.styles import style as style_named
from melodex_studio.training.corpus.vocabulary import SectionKind

SECTION_WORDS: dict[SectionKind, tuple[str, ...]] = {
    SectionKind.INTRO: ("intro", "opening", "intro section", "build-up intro"),
    SectionKind.VERSE: ("verse", "verse section", "verse groove"),
    SectionKind.PRE_CHORUS: ("pre-chorus", "build", "rising pre-chorus"),
    SectionKind.CHORUS: ("chorus", "hook", "main theme", "refrain"),
    SectionKind.BRIDGE: ("bridge", "interlude", "middle eight"),
    SectionKind.BREAKDOWN: ("breakdown", "stripped-back breakdown", "quiet breakdown"),
    SectionKind.DROP: ("drop", "main drop", "peak-time drop"),
    SectionKind.OUTRO: ("outro", "ending", "fade-out outro", "closing section"),
}


def tempo_words(bpm: float) -> tuple[str, ...]:
    if bpm < 80:
        return ("slow", "laid-back", "downtempo", "unhurried")
    if bpm < 100:
        return ("relaxed", "mid-tempo", "easygoing", "laid-back")
    if bpm < 120:
        return ("mid-tempo", "steady", "groovy", "moderate-tempo")
    if bpm < 140:
        return ("upbeat", "driving", "energetic", "brisk")
    return ("fast", "uptempo", "racing", "high-tempo")


def energy_words(energy: float) -> tuple[str, ...]:
    if energy < 0.35:
        return ("soft", "gentle", "quiet", "sparse", "minimal")
    if energy < 0.7:
        return ("steady", "flowing", "moderate", "warm")
    return ("powerful", "full", "intense", "big", "high-energy")


def meter_words(meter: str) -> tuple[str, ...]:
    return {
        "3/4": ("in 3/4", "waltz time", "3/4 time", "in three"),
        "6/8": ("in 6/8", "6/8 feel", "compound 6/8 time", "lilting 6/8"),
    }.get(meter, ("in 4/4", "4/4 time", "common time"))


def _article(word: str) -> str:
    return "an" if word[:1].lower() in "aeiou" else "a"


def _has_drums(section: ComposedSection) -> bool:
    return any(any(bar.drums) for bar in section.plan.bars)


def caption_for(section: ComposedSection, seed: int) -> str:
    """One caption for a section; other seeds give other wordings of the same facts."""
    rng = rng_for(seed, "caption")
    style = style_named(section.style)
    parts = section.instruments
    lead = pick(rng, instrument(parts.melody).names)
    chords = pick(rng, instrument(parts.harmony).names)
    if chords == lead:
        chords = instrument(parts.harmony).names[-1]
    bass = pick(rng, instrument(parts.bass).names)
    has_melody = any(bar.melody for bar in section.plan.bars)
    if _has_drums(section):
        drums = pick(rng, (*style.drum_words, *DRUM_KITS[parts.drum_kit]))
        if section.swing >= 0.1 and rng.random() < 0.6:
            drums = f"{pick(rng, ('swung', 'shuffling', 'lazy swung'))} {drums}"
    else:
        drums = pick(rng, ("no drums", "without drums", "drumless"))
    mood = pick(rng, style.moods)
    words = {
        "genre": pick(rng, style.synonyms),
        "mood": mood,
        "mood2": pick(rng, tuple(m for m in style.moods if m != mood)),
        "tempo": pick(rng, tempo_words(section.bpm)),
        "energy": pick(rng, energy_words(section.energy)),
        "section": pick(rng, SECTION_WORDS[section.section_kind]),
        "lead": lead if has_melody else chords,
        "chords": chords,
        "bass": bass,
        "drums": drums,
        "production": pick(rng, style.production),
    }
    bpm = round(section.bpm)
    extras = []
    if rng.random() < 0.5:
        extras.append(pick(rng, (f"{bpm} bpm", f"{bpm} BPM", f"at {bpm} bpm", f"tempo {bpm}")))
    if rng.random() < 0.4:
        key = section.key_value
        extras.append(pick(rng, (key.name, f"in {key.name}", f"key of {key.name}",
                                 key.short_name)))
    if (section.meter != "4/4" and rng.random() < 0.7) or rng.random() < 0.1:
        extras.append(pick(rng, meter_words(section.meter)))
    template = pick(rng, _TEMPLATES)
    text = template.format(**words)
    if extras:
        rng.shuffle(extras)
        text = f"{text}, {', '.join(extras)}"
    return _tidy(text, rng)


_TEMPLATES: tuple[str, ...] = (
    "{mood} {genre} {section} with {lead} and {chords}, {drums}",
    "{genre} {section}: {lead}, {chords} and {bass}, {drums}, {production}",
    "{tempo} {mood} {genre} track, {lead} over {chords}, {drums}",
    "{lead} lead, {chords} chords, {bass}, {drums}; {genre}, {mood}",
    "{section} of a {mood} {genre} song, {energy} and {tempo}, featuring {lead}",
    "{production} {genre} with {chords} and {drums}, {tempo}",
    "{energy} {genre} {section}, {mood} and {mood2}, {chords}, {bass}, {drums}",
    "{tempo} {genre} groove with {bass}, {chords} and {lead}, {production}",
    "{mood} {section} in a {genre} style: {chords}, {lead}, {drums}",
)


def _tidy(text: str, rng: np.random.Generator) -> str:
    """Fix articles, drop a doubled word and sometimes capitalise, as people type."""
    words = text.split(" ")
    for index in range(len(words) - 1):
        if words[index] in ("a", "an"):
            words[index] = _article(words[index + 1])
    cleaned = [w for i, w in enumerate(words) if i == 0 or w.lower() != words[i - 1].lower()]
    text = " ".join(cleaned)
    return text[0].upper() + text[1:] if rng.random() < 0.5 else text
