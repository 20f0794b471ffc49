"""Composed sections -> audio: MIDI events, per-stem GM rendering, and the mix.

The result's length is exactly the bars' span on the `TempoGrid` (bar n starts at
`grid.bar_to_sample(n)`), every onset sits on the sample the labels give (swing included, see
`ComposedSection.step_sample`), and the same input renders to the same bytes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pydantic import BaseModel, ConfigDict

from melodex_studio.music.tempo import TempoGrid
from melodex_studio.training.corpus.composer import ComposedSong
from melodex_studio.training.corpus.events import CHANNELS, merge_events, section_events
from melodex_studio.training.corpus.mixing import final_gain, mix_stems
from melodex_studio.training.corpus.section import ComposedSection
from melodex_studio.training.corpus.seeding import pick, rng_for
from melodex_studio.training.corpus.styles import style as style_named
from melodex_studio.training.corpus.synth import Program, SampleBank, render_stem
from melodex_studio.training.corpus.vocabulary import STEM_ORDER, Role

SAMPLE_RATE = 24_000
END_FADE_SECONDS = 0.01


class RenderLabels(BaseModel):
    """What was rendered: the sections (with their plans) and how."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    sections: tuple[ComposedSection, ...]
    bar_offsets: tuple[int, ...]
    sample_rate: int
    n_samples: int
    sample_bank: SampleBank
    stems: tuple[Role, ...]

    @property
    def section(self) -> ComposedSection:
        """The section of a one-section example."""
        if len(self.sections) != 1:
            raise ValueError(f"these labels hold {len(self.sections)} sections, not one")
        return self.sections[0]

    def grid(self) -> TempoGrid:
        return self.sections[0].grid(self.sample_rate)

    def drum_onset_samples(self, voices: int) -> np.ndarray:
        """Sorted samples where any of the `voices` (DrumVoice bits) is labelled to hit."""
        grid = self.grid()
        samples = [
            section.step_sample(offset + bar, step, grid)
            for section, offset in zip(self.sections, self.bar_offsets, strict=True)
            for bar, step in section.drum_hits(voices)
        ]
        return np.unique(np.asarray(samples, dtype=np.int64))


@dataclass(frozen=True, eq=False)
class RenderedExample:
    """Mono float32 mix, mono float32 stems by role name, and the labels."""

    audio: np.ndarray
    stems: dict[str, np.ndarray]
    sample_rate: int
    labels: RenderLabels


def choose_bank(seed: int) -> SampleBank:
    return pick(rng_for(seed, "sample bank"), (SampleBank.FLUID, SampleBank.TIMGM))


def _programs(section: ComposedSection) -> dict[Role, Program]:
    instruments = section.instruments
    return {
        Role.DRUMS: Program(instruments.drum_kit, drums=True),
        Role.BASS: Program(instruments.bass),
        Role.HARMONY: Program(instruments.harmony),
        Role.MELODY: Program(instruments.melody),
    }


def render_song(
    song: ComposedSong,
    *,
    sample_rate: int = SAMPLE_RATE,
    bank: SampleBank | None = None,
    roles: tuple[Role, ...] = STEM_ORDER,
    mix: bool = True,
) -> RenderedExample:
    """Render all sections of a song end to end.

    `roles` picks the stems (tests render drums alone); with `mix` False the audio is the plain
    sum of the raw stems, scaled below full scale, with no effects.
    """
    first = song.sections[0]
    if any((s.bpm, s.meter, s.key) != (first.bpm, first.meter, first.key) for s in song.sections):
        raise ValueError("every section of a song must share tempo, meter and key")
    bank = bank or choose_bank(first.seed)
    grid = first.grid(sample_rate)
    offsets = song.bar_offsets()
    n_samples = grid.bar_to_sample(song.n_bars)
    events = merge_events(
        [section_events(s, o, grid) for s, o in zip(song.sections, offsets, strict=True)]
    )
    programs = _programs(first)
    raw = {
        role: render_stem(events[role], programs[role], n_samples, sample_rate, bank,
                          channel=CHANNELS[role])
        for role in roles
    }
    if mix:
        profile = style_named(first.style).mix
        audio, stems = mix_stems(raw, profile, sample_rate, rng_for(first.seed, "mix"))
    else:
        total = np.sum(np.stack(list(raw.values())), axis=0, dtype=np.float32)
        gain = final_gain(total)
        audio = (total * gain).astype(np.float32)
        stems = {role: (a * gain).astype(np.float32) for role, a in raw.items()}
    fade = min(n_samples, int(END_FADE_SECONDS * sample_rate))
    if fade:
        audio[-fade:] *= np.linspace(1.0, 0.0, fade, dtype=np.float32)
    labels = RenderLabels(
        sections=song.sections, bar_offsets=tuple(offsets), sample_rate=sample_rate,
        n_samples=n_samples, sample_bank=bank, stems=tuple(roles),
    )
    return RenderedExample(
        audio=audio, stems={role.value: a for role, a in stems.items()},
        sample_rate=sample_rate, labels=labels,
    )


def render_section(section: ComposedSection, **options) -> RenderedExample:
    """Render one section (see `render_song` for the options)."""
    return render_song(ComposedSong(sections=(section,)), **options)
