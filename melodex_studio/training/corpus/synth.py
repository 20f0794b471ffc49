"""Sample-accurate General MIDI rendering of one stem with TinySoundFont.

The synth renders in chunks that end exactly at the next event's sample, so a note starts on
the sample its label gives. Parsed sample banks are cached per process (FluidR3 takes about a
second to parse) and `reset()` before every stem, which stops all voices and clears channel
state (and the quick release it starts is rendered away), so a stem renders to identical bytes
whatever was rendered before it. That reset is only
on tinysoundfont's native SoundFont object, which is why this module drives it directly rather
than through `tinysoundfont.Synth`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import numpy as np

from melodex_studio.training.corpus.notes import NoteEvent

SAMPLE_BANK_DIR = Path(os.environ.get("MELODEX_SF2_DIR", "/usr/share/sounds/sf2"))
MAX_VOICES = 96
FLUSH_SAMPLES = 8192


class SampleBank(StrEnum):
    """The General MIDI sample banks the corpus renders with (Debian packages
    fluid-soundfont-gm and timgm6mb-soundfont)."""

    FLUID = "FluidR3_GM.sf2"
    TIMGM = "TimGM6mb.sf2"

    @property
    def path(self) -> Path:
        return SAMPLE_BANK_DIR / self.value


class SampleBankMissingError(RuntimeError):
    pass


_loaded: dict[SampleBank, object] = {}


def _soundfont(bank: SampleBank, sample_rate: int):
    try:
        from tinysoundfont import _tinysoundfont as native
    except ImportError as error:  # the "train" extra
        raise SampleBankMissingError(
            "rendering the corpus needs tinysoundfont (pip install 'melodex-studio[train]')"
        ) from error
    font = _loaded.get(bank)
    if font is None:
        if not bank.path.is_file():
            raise SampleBankMissingError(
                f"sample bank {bank.path} is missing: install the Debian packages "
                "fluid-soundfont-gm and timgm6mb-soundfont, or point MELODEX_SF2_DIR at them"
            )
        font = native.SoundFont(str(bank.path))
        font.set_max_voices(MAX_VOICES)
        _loaded[bank] = font
    font.set_output(native.OutputMode.Mono, sample_rate, 0.0)
    font.reset()
    # reset() only starts a quick release of sounding voices; render it away so no tail of an
    # earlier stem leaks into this one and every voice slot is free again.
    font.render(np.zeros(FLUSH_SAMPLES, dtype=np.float32).view(np.uint8), False)
    return font


@dataclass(frozen=True)
class Program:
    """A GM program (or drum kit preset when `drums`)."""

    preset: int
    drums: bool = False


def render_stem(
    events: list[NoteEvent],
    program: Program,
    n_samples: int,
    sample_rate: int,
    bank: SampleBank,
    channel: int = 0,
) -> np.ndarray:
    """Mono float32 audio of `events` played on `program`, exactly `n_samples` long.

    Notes still sounding at the end are cut there (sections tile end to end).
    """
    font = _soundfont(bank, sample_rate)
    font.channel_set_bank(channel, 128 if program.drums else 0)
    font.channel_set_preset_number(channel, program.preset, program.drums)
    # (sample, 0 = off / 1 = on, key, velocity): offs sort first so a repeated key retriggers
    schedule = sorted(
        [(e.start, 1, e.key, e.velocity) for e in events if e.start < n_samples]
        + [(e.end, 0, e.key, 0.0) for e in events if e.start < n_samples and e.end < n_samples]
    )
    audio = np.zeros(n_samples, dtype=np.float32)
    output = audio.view(np.uint8)  # the binding takes raw bytes; 4 per mono float32 sample
    position = 0
    for sample, is_on, key, velocity in schedule:
        if sample > position:
            font.render(output[4 * position : 4 * sample], False)
            position = sample
        if is_on:
            font.channel_note_on(channel, key, float(velocity))
        else:
            font.channel_note_off(channel, key)
    if position < n_samples:
        font.render(output[4 * position :], False)
    return audio
