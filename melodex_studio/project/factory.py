"""Making a new project from the musician's first answers: title, tempo, key, meter, form."""

from __future__ import annotations

import hashlib
import math
import re
import secrets
from datetime import datetime
from typing import NamedTuple

from melodex_studio.music.meter import Meter
from melodex_studio.project.fields import (
    MAX_BPM,
    MAX_NAME_CHARS,
    MAX_PROJECT_BARS,
    MAX_SECTION_BARS,
    MAX_SECTIONS,
    MAX_SEED,
    MIN_BPM,
    SUPPORTED_METERS,
    new_id,
)
from melodex_studio.project.generation import GenerationSettings
from melodex_studio.project.project_model import Project
from melodex_studio.project.section import Section, SectionKind

DEFAULT_SECTIONS_SPEC = "Intro:8,Verse:16,Chorus:8"


class SectionsSpecError(ValueError):
    """A sections spec like "Intro:8,Verse:16" that cannot be read; the message says where."""


class SectionSpec(NamedTuple):
    """One item of a sections spec: "Bridge:8" or, with a tempo and/or meter of its own,
    "Bridge:8@90", "Bridge:8@3/4", "Bridge:8@90@3/4"."""

    name: str
    bars: int
    bpm: float | None = None
    meter: str | None = None


# Names musicians use for a form part, folded to letters only, mapped to the section kind.
_KIND_ALIASES: dict[str, SectionKind] = {
    "intro": SectionKind.INTRO,
    "opening": SectionKind.INTRO,
    "verse": SectionKind.VERSE,
    "prechorus": SectionKind.PRE_CHORUS,
    "build": SectionKind.PRE_CHORUS,
    "buildup": SectionKind.PRE_CHORUS,
    "lift": SectionKind.PRE_CHORUS,
    "chorus": SectionKind.CHORUS,
    "refrain": SectionKind.CHORUS,
    "hook": SectionKind.CHORUS,
    "bridge": SectionKind.BRIDGE,
    "middleeight": SectionKind.BRIDGE,
    "breakdown": SectionKind.BREAKDOWN,
    "break": SectionKind.BREAKDOWN,
    "drop": SectionKind.DROP,
    "outro": SectionKind.OUTRO,
    "ending": SectionKind.OUTRO,
    "coda": SectionKind.OUTRO,
}


def section_kind_for_name(name: str) -> SectionKind:
    """Infer the form role from a name: "Pre-Chorus" -> pre_chorus, "Verse 2" -> verse,
    anything unknown -> custom."""
    letters = re.sub(r"[^a-z]", "", name.casefold())
    return _KIND_ALIASES.get(letters, SectionKind.CUSTOM)


def parse_sections_spec(spec: str) -> list[SectionSpec]:
    """Read "Intro:8, Verse:16, Bridge:8@3/4, Outro:4@76" into `SectionSpec`s: after the bars,
    each "@" gives the section a tempo (a number of BPM) or a meter ("3/4") of its own."""
    items = [item.strip() for item in spec.split(",")]
    if not any(items):
        raise SectionsSpecError("the sections spec is empty; write it like 'Intro:8,Verse:16'")
    if len(items) > MAX_SECTIONS:
        raise SectionsSpecError(f"{len(items)} sections; the limit is {MAX_SECTIONS}")
    parsed: list[SectionSpec] = []
    for item in items:
        name, colon, bars_text = item.rpartition(":")
        bars_text, *timing = (part.strip() for part in bars_text.split("@"))
        name = name.strip()
        if not colon or not name:
            raise SectionsSpecError(f"{item!r} should be NAME:BARS, e.g. 'Verse:16'")
        if len(name) > MAX_NAME_CHARS:
            raise SectionsSpecError(f"section name {name!r} is over {MAX_NAME_CHARS} characters")
        if not bars_text.isdigit():
            raise SectionsSpecError(f"{item!r}: the bar count {bars_text!r} is not a whole number")
        bars = int(bars_text)
        if not 1 <= bars <= MAX_SECTION_BARS:
            raise SectionsSpecError(
                f"{item!r}: a section is 1 to {MAX_SECTION_BARS} bars long, not {bars}"
            )
        parsed.append(SectionSpec(name, bars, *_timing(item, timing)))
    total = sum(section.bars for section in parsed)
    if total > MAX_PROJECT_BARS:
        raise SectionsSpecError(
            f"the sections add up to {total} bars; the limit is {MAX_PROJECT_BARS}"
        )
    return parsed


def _timing(item: str, parts: list[str]) -> tuple[float | None, str | None]:
    """The tempo and meter an item's "@" parts give (None where it gives none)."""
    bpm: float | None = None
    meter: str | None = None
    for part in parts:
        if "/" in part:
            try:
                canonical = str(Meter.parse(part))
            except ValueError:
                canonical = ""
            if canonical not in SUPPORTED_METERS:
                raise SectionsSpecError(
                    f"{item!r}: {part!r} is not a meter the studio supports "
                    f"({', '.join(SUPPORTED_METERS)})")
            meter = canonical
            continue
        try:
            value = float(part)
        except ValueError:
            value = math.nan
        if not MIN_BPM <= value <= MAX_BPM:
            raise SectionsSpecError(
                f"{item!r}: {part!r} is neither a tempo of {MIN_BPM:g} to {MAX_BPM:g} BPM nor a "
                "meter like 3/4")
        bpm = value
    return bpm, meter


def derive_seed(base_seed: int, index: int) -> int:
    """A seed for section `index` derived from the project's base seed: reproducible, and
    different per section so two sections with the same prompt do not sound identical."""
    digest = hashlib.sha256(f"melodex-section-seed:{base_seed}:{index}".encode()).digest()
    return int.from_bytes(digest[:8], "big") & MAX_SEED


def new_project(
    title: str,
    bpm: float = 120.0,
    key: str = "C major",
    meter: str = "4/4",
    sections_spec: str = DEFAULT_SECTIONS_SPEC,
    sample_rate: int = 44100,
    seed: int | None = None,
    *,
    created: datetime | None = None,
) -> Project:
    """A project whose sections are laid end to end from bar 0, each in its own tempo and meter
    where the spec gives one. `seed` is the base from which each section's seed is derived;
    None draws a random one (a new song should not repeat the last one). Repeated names are
    numbered ("Verse", "Verse 2")."""
    if seed is None:
        seed = secrets.randbits(63)
    if not 0 <= seed <= MAX_SEED:
        raise ValueError(f"seed must be in 0..{MAX_SEED}, got {seed}")
    taken: set[str] = set()
    used_seeds: set[int] = set()
    sections: list[Section] = []
    start = 0
    for index, (name, bars, own_bpm, own_meter) in enumerate(parse_sections_spec(sections_spec)):
        unique = name
        number = 2
        while unique.casefold() in taken:
            suffix = f" {number}"
            unique = name[: MAX_NAME_CHARS - len(suffix)].rstrip() + suffix
            number += 1
        taken.add(unique.casefold())
        section_seed = derive_seed(seed, index)
        while section_seed in used_seeds:  # vanishingly rare, but "distinct" is promised
            section_seed = (section_seed + 1) & MAX_SEED
        used_seeds.add(section_seed)
        sections.append(
            Section(
                id=new_id(),
                name=unique,
                kind=section_kind_for_name(name),
                start_bar=start,
                length_bars=bars,
                settings=GenerationSettings(seed=section_seed),
                bpm=own_bpm,
                meter=own_meter,
            )
        )
        start += bars
    return Project(
        id=new_id(),
        title=title,
        sample_rate=sample_rate,
        bpm=bpm,
        key=key,
        meter=meter,
        sections=tuple(sections),
        created=created,
        modified=created,
    )
