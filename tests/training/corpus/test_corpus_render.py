"""Rendered audio agrees with its labels: onsets on the labelled grid, bass at the labelled
pitch, exact length, and identical bytes for identical input."""

from __future__ import annotations

import librosa
import numpy as np
import pytest

from melodex_studio.music.key import Key
from melodex_studio.music.meter import Meter
from melodex_studio.music.plan import DrumVoice
from melodex_studio.training.corpus.composer import compose_section, compose_song
from melodex_studio.training.corpus.events import merge_events
from melodex_studio.training.corpus.notes import NoteEvent
from melodex_studio.training.corpus.registers import bass_midi
from melodex_studio.training.corpus.render import SAMPLE_RATE, render_section, render_song
from melodex_studio.training.corpus.section import ComposedSection, swung_step
from melodex_studio.training.corpus.styles import STYLES
from melodex_studio.training.corpus.synth import SampleBank
from melodex_studio.training.corpus.vocabulary import BassMotion, Role, SectionKind

pytest.importorskip("tinysoundfont")
if not all(bank.path.is_file() for bank in SampleBank):
    pytest.skip("the Debian GM sample banks are not installed", allow_module_level=True)

KICK_AND_SNARE = int(DrumVoice.KICK | DrumVoice.SNARE)
TOLERANCE_SECONDS = 0.010


def detect_onsets(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """Onset times (s) where the energy of the next 10 ms jumps 8 dB over the last 10 ms.

    The signal is differentiated first: a drum attack is broadband, while the slow low-frequency
    swell of a kick would otherwise make a short energy window wobble.
    """
    window, hop = int(0.010 * sample_rate), int(0.001 * sample_rate)
    signal = np.concatenate([np.zeros(window + 1), np.diff(audio.astype(np.float64), prepend=0)])
    energy = np.concatenate([[0.0], np.cumsum(signal * signal)])
    centres = np.arange(window, len(signal) - window, hop)
    after = energy[centres + window] - energy[centres]
    before = energy[centres] - energy[centres - window]
    rise = 10 * np.log10((after + 1e-12) / (before + 1e-12))
    loud = after > after.max() * 10 ** (-45 / 10)
    candidates = np.nonzero((rise > 8.0) & loud)[0]
    onsets: list[int] = []
    group_gap = int(0.030 / 0.001)
    start = 0
    while start < len(candidates):
        end = start
        while end + 1 < len(candidates) and candidates[end + 1] - candidates[start] <= group_gap:
            end += 1
        group = candidates[start : end + 1]
        onsets.append(int(centres[group[np.argmax(rise[group])]]) - window - 1)
        start = end + 1
    return np.asarray(onsets, dtype=np.float64) / sample_rate


def _kick_and_snare_only(section: ComposedSection) -> ComposedSection:
    bars = tuple(
        bar.model_copy(update={"drums": tuple(m & KICK_AND_SNARE for m in bar.drums)})
        for bar in section.plan.bars
    )
    return section.model_copy(update={"plan": section.plan.model_copy(update={"bars": bars})})


CASES = [  # style, meter, bpm, bank, seed: straight, 16th swing, 8th swing, 3/4, 6/8, fast
    ("lofi", "4/4", 78, SampleBank.FLUID, 11),
    ("jazz", "4/4", 150, SampleBank.TIMGM, 11),
    ("jazz", "3/4", 120, SampleBank.FLUID, 12),
    ("folk", "6/8", 132, SampleBank.FLUID, 11),
    ("pop", "3/4", 96, SampleBank.TIMGM, 12),
    ("rock", "4/4", 168, SampleBank.FLUID, 12),
    ("funk", "4/4", 110, SampleBank.TIMGM, 11),
]


@pytest.mark.parametrize(("name", "meter", "bpm", "bank", "seed"), CASES)
def test_drum_onsets_fall_on_the_labelled_grid(name, meter, bpm, bank, seed) -> None:
    section = compose_section(STYLES[name], Key.parse("A minor"), Meter.parse(meter), bpm,
                              SectionKind.CHORUS, 4, 0.8, seed)
    if name in ("lofi", "jazz"):
        assert section.swing >= 0.15  # these cases check the swung label timing
    section = _kick_and_snare_only(section)
    rendered = render_section(section, bank=bank, roles=(Role.DRUMS,), mix=False)
    labelled = rendered.labels.drum_onset_samples(KICK_AND_SNARE) / SAMPLE_RATE
    detected = detect_onsets(rendered.audio, SAMPLE_RATE)
    assert len(labelled) >= 8 and len(detected) >= 0.8 * len(labelled)
    off_label = [t for t in detected if np.min(np.abs(labelled - t)) > TOLERANCE_SECONDS]
    assert not off_label, f"onsets at {off_label} s match no label"
    found = np.mean([np.min(np.abs(detected - t)) <= TOLERANCE_SECONDS for t in labelled])
    assert found >= 0.8
    if section.swing:  # the labels moved the swung steps, and the audio followed them
        swung = [s for _, s in section.drum_hits(KICK_AND_SNARE) if s % 2]
        assert not swung or swung_step(swung[0], section.swing, section.swing_unit) != swung[0]


def test_swing_moves_off_beats_and_never_beats() -> None:
    assert swung_step(1, 0.25, 16) == pytest.approx(1.25)
    assert swung_step(4, 0.25, 16) == 4
    assert swung_step(2, 1 / 3, 8) == pytest.approx(2 + 2 / 3)  # triplet swing
    assert swung_step(8, 1 / 3, 8) == 8
    assert swung_step(3, 0.0, 8) == 3


def test_bass_sounds_at_the_labelled_pitch() -> None:
    for key_name, bank in (("E minor", SampleBank.FLUID), ("Bb major", SampleBank.TIMGM)):
        section = compose_section(STYLES["ambient"], Key.parse(key_name), Meter.parse("4/4"), 80,
                                  SectionKind.VERSE, 4, 0.3, seed=5)
        instruments = section.instruments.model_copy(
            update={"bass": 33, "bass_motion": BassMotion.ROOT_WHOLE}
        )
        section = section.model_copy(update={"instruments": instruments})
        rendered = render_section(section, bank=bank, roles=(Role.BASS,), mix=False)
        grid = section.grid(SAMPLE_RATE)
        checked = 0
        for index, bar in enumerate(section.plan.bars):
            for note in bar.bass:
                start = section.step_sample(index, note.step, grid) + 1200  # past the attack
                window = rendered.audio[start : start + 9600]
                f0 = np.median(librosa.yin(window, fmin=25, fmax=500, sr=SAMPLE_RATE,
                                           frame_length=4096))
                heard = 12 * np.log2(f0 / 440.0) + 69
                assert abs(heard - bass_midi(section.key_value, note.degree)) < 1.0
                checked += 1
        assert checked >= 4


def test_render_shapes_levels_and_identical_bytes() -> None:
    style, key, meter = STYLES["house"], Key.parse("G minor"), Meter.parse("4/4")
    section = compose_section(style, key, meter, 124, SectionKind.DROP, 2, 0.9, seed=3)
    other = compose_section(STYLES["rock"], key, meter, 150, SectionKind.CHORUS, 2, 0.8, seed=4)
    first = render_section(section, bank=SampleBank.TIMGM)
    render_section(other, bank=SampleBank.TIMGM)  # whatever ran before must not leak in
    again = render_section(section, bank=SampleBank.TIMGM)

    grid = section.grid(SAMPLE_RATE)
    assert first.sample_rate == SAMPLE_RATE == first.labels.sample_rate
    assert first.audio.dtype == np.float32 and first.audio.ndim == 1
    assert len(first.audio) == grid.bar_to_sample(2) == first.labels.n_samples
    assert set(first.stems) == {r.value for r in Role}
    assert all(s.dtype == np.float32 and s.shape == first.audio.shape
               for s in first.stems.values())
    assert 0.05 < np.max(np.abs(first.audio)) <= 0.97
    assert np.all(np.isfinite(first.audio))
    assert first.audio.tobytes() == again.audio.tobytes()
    assert all(first.stems[r].tobytes() == again.stems[r].tobytes() for r in first.stems)
    assert first.labels == again.labels


def test_song_renders_sections_end_to_end() -> None:
    song = compose_song(STYLES["folk"], Key.parse("D major"), Meter.parse("3/4"), 150,
                        [("intro", 2), ("verse", 2), ("outro", 2)], seed=1)
    rendered = render_song(song, bank=SampleBank.TIMGM, roles=(Role.DRUMS, Role.BASS))
    grid = song.sections[0].grid(SAMPLE_RATE)
    assert len(rendered.audio) == grid.bar_to_sample(6)
    assert rendered.labels.bar_offsets == (0, 2, 4)
    assert set(rendered.stems) == {"drums", "bass"}
    bar_four = grid.bar_to_sample(4)  # the outro's first bar has sound
    assert np.max(np.abs(rendered.stems["bass"][bar_four : bar_four + 2400])) > 0.0


def test_a_note_ends_before_its_key_sounds_again() -> None:
    crash = NoteEvent(0, 19200, 49, 0.8)
    again = NoteEvent(6000, 25200, 49, 0.8)
    hat = NoteEvent(100, 19300, 42, 0.5)
    merged = merge_events([{Role.DRUMS: [crash, hat]}, {Role.DRUMS: [again]}])[Role.DRUMS]
    assert merged == [NoteEvent(0, 6000, 49, 0.8), hat, again]
