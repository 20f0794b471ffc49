from __future__ import annotations

import numpy as np
import pytest
from conftest import BlobStore, make_take, rendered_project, tone, with_active, with_take
from hypothesis import given, settings
from hypothesis import strategies as st

from melodex_studio.audio.arrangement import (
    Arrangement,
    ArrangementClip,
    TakeAudioCache,
    arrangement_from_project,
    decode_take_audio,
    encode_take_audio,
)
from melodex_studio.audio.errors import MissingTakeAudioError
from melodex_studio.audio.fades import db_to_gain, equal_power_fades
from melodex_studio.audio.mixer import Mixer, layout_clips, render_arrangement
from melodex_studio.audio.resample import resample

RATE = 48000


def clip(section_id: str, start: int, audio: np.ndarray, **kwargs) -> ArrangementClip:
    return ArrangementClip(section_id, start, np.asarray(audio, dtype=np.float32), **kwargs)


def test_clips_are_placed_at_their_samples_with_gain_gaps_and_master() -> None:
    a = np.full(100, 0.5, dtype=np.float32)
    b = np.full(50, 0.25, dtype=np.float32)
    arrangement = Arrangement(
        RATE, 400, (clip("a", 10, a, gain=2.0), clip("b", 200, b)), master_gain=0.5
    )
    out = render_arrangement(arrangement)
    assert out.dtype == np.float32 and len(out) == 400
    assert np.all(out[:10] == 0) and np.all(out[110:200] == 0) and np.all(out[250:] == 0)
    assert np.all(out[10:110] == np.float32(0.5))  # 0.5 * 2 * 0.5
    assert np.all(out[200:250] == np.float32(0.125))


def test_clips_that_only_touch_are_not_faded() -> None:
    """Takes rendered with their neighbours as context butt together: no fade at all."""
    a, b = tone(1000, RATE, 300.0), tone(800, RATE, 500.0)
    out = render_arrangement(Arrangement(RATE, 1800, (clip("a", 0, a), clip("b", 1000, b))))
    np.testing.assert_array_equal(out, np.concatenate([a, b]))


def test_overlap_gets_a_short_equal_power_crossfade_then_the_later_clip_wins() -> None:
    fade = 240  # 5 ms at 48 kHz
    a = np.full(1500, 0.8, dtype=np.float32)  # runs 500 samples past b's start
    b = np.full(1000, 0.6, dtype=np.float32)
    out = render_arrangement(Arrangement(RATE, 2000, (clip("a", 0, a), clip("b", 1000, b))))
    fade_out, fade_in = equal_power_fades(fade)
    np.testing.assert_array_equal(out[:1000], a[:1000])
    expected = a[:fade] * fade_out + b[:fade] * fade_in
    np.testing.assert_array_equal(out[1000 : 1000 + fade], expected)
    np.testing.assert_array_equal(out[1000 + fade :], b[fade:])
    np.testing.assert_allclose(fade_out**2 + fade_in**2, 1.0, atol=1e-6)


def test_muted_clip_is_silent_but_still_ends_the_clip_before_it() -> None:
    a = np.full(1500, 0.8, dtype=np.float32)
    b = np.full(1000, 0.6, dtype=np.float32)
    arrangement = Arrangement(RATE, 2000, (clip("a", 0, a), clip("b", 1000, b, muted=True)))
    out = render_arrangement(arrangement)
    assert np.all(out[1000 + 240 :] == 0.0)
    assert np.all(np.diff(out[1000 : 1000 + 240]) < 0)  # a fades out instead of being cut


def test_a_tail_past_the_song_end_extends_the_render() -> None:
    out = render_arrangement(Arrangement(RATE, 100, (clip("a", 50, np.ones(80)),)))
    assert len(out) == 130


def test_arrangement_rejects_bad_clips() -> None:
    with pytest.raises(ValueError, match="mono"):
        clip("a", 0, np.zeros((10, 2)))
    with pytest.raises(ValueError, match="same sample"):
        Arrangement(RATE, 10, (clip("a", 0, np.zeros(3)), clip("b", 0, np.zeros(3))))
    with pytest.raises(ValueError, match="before the song"):
        clip("a", -1, np.zeros(3))


def _random_arrangement(seed: int, n_clips: int) -> Arrangement:
    rng = np.random.default_rng(seed)
    clips, start = [], 0
    for index in range(n_clips):
        start += int(rng.integers(50, 400))
        length = int(rng.integers(30, 600))
        audio = rng.standard_normal(length).astype(np.float32) * 0.3
        gain = float(rng.uniform(0.2, 2.0))
        clips.append(clip(f"s{index}", start, audio, gain=gain, muted=bool(rng.random() < 0.2)))
    return Arrangement(RATE, start + 100, tuple(clips), master_gain=float(rng.uniform(0.5, 1.5)))


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), n_clips=st.integers(1, 6), data=st.data())
def test_incremental_update_equals_a_full_render_bit_for_bit(seed, n_clips, data) -> None:
    before = _random_arrangement(seed, n_clips)
    clips = list(before.clips)
    index = data.draw(st.integers(0, n_clips - 1))
    rng = np.random.default_rng(seed + 1)
    change = data.draw(st.sampled_from(["audio", "gain", "mute", "remove"]))
    old = clips[index]
    if change == "audio":
        length = int(rng.integers(10, 700))
        new_audio = rng.standard_normal(length).astype(np.float32)
        clips[index] = clip(old.section_id, old.start_sample, new_audio, gain=old.gain)
    elif change == "gain":
        clips[index] = clip(old.section_id, old.start_sample, old.audio, gain=old.gain * 0.5)
    elif change == "mute":
        clips[index] = clip(old.section_id, old.start_sample, old.audio, muted=not old.muted)
    else:
        del clips[index]
    after = Arrangement(RATE, before.length_samples, tuple(clips), before.master_gain)
    mixer = Mixer(before)
    playing = mixer.buffer
    snapshot = playing.copy()
    update = mixer.update(after)
    np.testing.assert_array_equal(update.buffer, render_arrangement(after))
    np.testing.assert_array_equal(playing, snapshot)  # the playing buffer is never touched
    outside = np.ones(max(len(update.buffer), len(snapshot)), dtype=bool)
    outside[update.start : update.stop] = False
    common = min(len(update.buffer), len(snapshot))
    np.testing.assert_array_equal(update.buffer[:common][outside[:common]],
                                  snapshot[:common][outside[:common]])


def test_unchanged_arrangement_renders_nothing() -> None:
    arrangement = _random_arrangement(3, 4)
    mixer = Mixer(arrangement)
    update = mixer.update(Arrangement(RATE, arrangement.length_samples, arrangement.clips,
                                      arrangement.master_gain))
    assert not update.changed and update.buffer is mixer.buffer


def test_layout_crossfade_never_longer_than_the_overlap() -> None:
    clips = (clip("a", 0, np.ones(1010)), clip("b", 1000, np.ones(500)))
    first, second = layout_clips(clips, 240)
    assert (first.stop, first.fade_out, second.fade_in) == (1010, 10, 10)


# --- the project adapter --------------------------------------------------------------------------


def test_take_audio_blob_round_trip() -> None:
    audio = tone(1234, 24000, 440.0)
    np.testing.assert_array_equal(decode_take_audio(encode_take_audio(audio)), audio)


def test_project_arrangement_places_resampled_takes_on_the_grid(store: BlobStore) -> None:
    project = rendered_project(store, "Intro:2,Verse:4", bpm=117.0, sample_rate=44100)
    arrangement = arrangement_from_project(project, store.read_audio)
    grid = project.grid()
    assert arrangement.sample_rate == 44100
    assert arrangement.length_samples == grid.bar_to_sample(6)
    for section, placed in zip(project.sections, arrangement.clips, strict=True):
        start, end = grid.bar_span_samples(section.start_bar, section.length_bars)
        assert placed.start_sample == start
        assert abs(len(placed.audio) - (end - start)) <= 1  # resampled 24 kHz -> 44.1 kHz
        raw = store.read_audio(section.active_take)
        np.testing.assert_array_equal(placed.audio, resample(raw, 24000, 44100))


def test_a_section_at_its_own_tempo_moves_the_sections_after_it(store: BlobStore) -> None:
    project = rendered_project(store, "Intro:2,Verse:4", bpm=120.0, sample_rate=48000)
    intro = project.section_by_name("Intro").model_copy(update={"bpm": 80.0})  # 3 s bars
    project = project.replace_section(intro)
    arrangement = arrangement_from_project(project, store.read_audio)
    verse = project.section_by_name("Verse")
    assert arrangement.clip(verse.id).start_sample == 6 * 48000  # not 4 s: two bars of 3 s
    assert arrangement.length_samples == (6 + 4 * 2) * 48000


def test_take_region_gain_and_mute_come_from_the_section(store: BlobStore) -> None:
    project = rendered_project(store, "Intro:2,Verse:4")
    verse = project.section_by_name("Verse")
    take = make_take(store, verse, tone(24000 * 2, 24000, 330.0), region=(2, 4))
    project = with_take(project, "Verse", take)
    verse = project.section_by_name("Verse").model_copy(update={"gain_db": -6.0})
    project = project.replace_section(verse)
    intro = project.section_by_name("Intro").model_copy(update={"muted": True})
    project = project.replace_section(intro)
    arrangement = arrangement_from_project(project, store.read_audio, 48000)
    grid = project.grid().with_sample_rate(48000)
    verse_clip = arrangement.clip(verse.id)
    assert verse_clip.start_sample == grid.bar_to_sample(2 + 2)
    assert verse_clip.gain == pytest.approx(db_to_gain(-6.0))
    assert arrangement.clip(intro.id).muted


def test_cache_reuses_arrays_so_only_the_changed_section_rerenders(store: BlobStore) -> None:
    project = rendered_project(store, "Intro:2,Verse:2,Chorus:2")
    cache = TakeAudioCache()
    mixer = Mixer(arrangement_from_project(project, store.read_audio, cache=cache))
    reads = store.reads
    verse = project.section_by_name("Verse")
    new_take = make_take(store, verse, tone(96000, 24000, 770.0))
    project2 = with_take(project, "Verse", new_take)
    update = mixer.update(arrangement_from_project(project2, store.read_audio, cache=cache))
    assert store.reads == reads + 1  # only the new take was read
    grid = project.grid()
    start, end = grid.bar_span_samples(verse.start_bar, verse.length_bars)
    assert (update.start, update.stop) == (start, end)
    # switching back to the old take costs no read at all
    back = with_active(project2, "Verse", verse.active_take_id)
    mixer.update(arrangement_from_project(back, store.read_audio, cache=cache))
    assert store.reads == reads + 1


def test_unreadable_take_audio_names_the_section(store: BlobStore) -> None:
    project = rendered_project(store, "Intro:2,Verse:2")
    store.blobs.clear()
    with pytest.raises(MissingTakeAudioError, match="Intro"):
        arrangement_from_project(project, store.read_audio)


def test_a_fitting_preview_replaces_its_sections_take_and_a_stale_one_does_not(store) -> None:
    from melodex_studio.audio.arrangement import PreviewAudio, with_previews

    project = rendered_project(store)
    rate = 48000
    base = arrangement_from_project(project, store.read_audio, rate)
    verse = project.section_by_name("Verse")
    audio = np.full(24000 * 8, 0.5, dtype=np.float32)  # 4 bars at 120 BPM, 24 kHz
    fits = PreviewAudio(audio, 24000, verse.start_bar, verse.length_bars, project.bpm,
                        project.meter)
    stale = PreviewAudio(audio, 24000, verse.start_bar, verse.length_bars + 1, project.bpm,
                         project.meter)
    heard = with_previews(base, project, {verse.id: fits})
    clip = heard.clip(verse.id)
    assert clip.start_sample == base.clip(verse.id).start_sample
    assert len(clip.audio) == 48000 * 8 and clip.audio[1000] == pytest.approx(0.5, abs=1e-3)
    for section_id in ("Intro", "Chorus"):
        other = project.section_by_name(section_id).id
        assert heard.clip(other) is base.clip(other)  # every other section untouched
    unchanged = with_previews(base, project, {verse.id: stale})
    assert unchanged.clip(verse.id).audio is base.clip(verse.id).audio
    # The verse given a tempo or a meter of its own after the render began: no longer fits.
    for change in ({"bpm": 140.0}, {"meter": "3/4"}):
        retimed = project.replace_section(verse.model_copy(update=change))
        assert not fits.fits(retimed, retimed.section_by_name("Verse"))
        assert fits.fits(project, verse)


def test_a_take_rendered_at_another_tempo_plays_stretched_to_the_sections_at_its_pitch(
        store: BlobStore) -> None:
    project = rendered_project(store, "Intro:2,Verse:2", bpm=120.0, sample_rate=48000)
    verse = project.section_by_name("Verse")
    take = make_take(store, verse, tone(24000 * 4, 24000, 440.0)).model_copy(
        update={"bpm": 120.0, "meter": "4/4"})
    project = with_take(project, "Verse", take)
    cache = TakeAudioCache()
    as_rendered = arrangement_from_project(project, store.read_audio, cache=cache)
    assert len(as_rendered.clip(verse.id).audio) == 4 * 48000  # at its own tempo: as it is
    slower = project.replace_section(project.section_by_name("Verse").model_copy(
        update={"bpm": 80.0}))
    arrangement = arrangement_from_project(slower, store.read_audio, cache=cache)
    clip = arrangement.clip(verse.id)
    assert len(clip.audio) == 6 * 48000  # two bars of 3 s: it fills them
    spectrum = np.abs(np.fft.rfft(clip.audio[48000:5 * 48000]))
    assert abs(np.argmax(spectrum) / 4 - 440.0) < 2.0  # same pitch (bins of 0.25 Hz)
    assert arrangement_from_project(slower, store.read_audio, cache=cache).clip(
        verse.id).audio is clip.audio  # stretched once, then cached
    # Rendered in another meter its bars cannot line up: it plays as it is.
    waltz = slower.replace_section(slower.section_by_name("Verse").model_copy(
        update={"meter": "3/4"}))
    assert len(arrangement_from_project(waltz, store.read_audio).clip(verse.id).audio) == (
        4 * 48000)


def test_a_stretched_take_keeps_its_place_inside_the_section(store: BlobStore) -> None:
    # A repaint-like take of bars 3-4 of a 4-bar verse, rendered at 120 BPM; the verse now at
    # 80 BPM: the take starts on the verse's bar 3 and fills its two 3 s bars.
    project = rendered_project(store, "Intro:2,Verse:4", bpm=120.0, sample_rate=48000)
    verse = project.section_by_name("Verse")
    take = make_take(store, verse, tone(24000 * 4, 24000, 330.0), region=(2, 4)).model_copy(
        update={"bpm": 120.0, "meter": "4/4"})
    project = with_take(project, "Verse", take)
    project = project.replace_section(project.section_by_name("Verse").model_copy(
        update={"bpm": 80.0}))
    clip = arrangement_from_project(project, store.read_audio).clip(verse.id)
    grid = project.grid()
    assert clip.start_sample == grid.bar_to_sample(2 + 2) == (4 + 6) * 48000
    assert len(clip.audio) == 6 * 48000


def test_the_take_audio_cache_is_bounded_by_bytes(store: BlobStore) -> None:
    project = rendered_project(store, "Intro:2,Verse:2,Chorus:2")  # 4 s each at 48 kHz
    cache = TakeAudioCache(max_bytes=2 * 4 * 48000 * 4)  # room for two takes
    arrangement_from_project(project, store.read_audio, cache=cache)
    assert len(cache) == 2 and cache.nbytes <= cache.max_bytes
