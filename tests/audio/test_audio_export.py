from __future__ import annotations

import errno
from pathlib import Path

import numpy as np
import pytest
import soundfile
from conftest import BlobStore, make_take, rendered_project, with_take

import melodex_studio.audio.export as export_module
from melodex_studio.audio.arrangement import arrangement_from_project
from melodex_studio.audio.errors import ExportError, MissingTakeAudioError
from melodex_studio.audio.export import ExportOptions, export_audio, export_project
from melodex_studio.audio.loudness import integrated_loudness, true_peak_dbtp
from melodex_studio.audio.mixer import render_arrangement
from melodex_studio.project.models import Project

TAKE_RATE = 24000


def drum_and_tone(n: int, rate: int, seed: int) -> np.ndarray:
    """Quiet tones under loud noise bursts: loud enough peaks that -14 LUFS needs limiting."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) / rate
    audio = 0.02 * np.sin(2 * np.pi * 110 * t) + 0.01 * np.sin(2 * np.pi * 660 * t)
    hits = np.zeros(n)
    hits[:: rate // 4] = 1.0
    decay = np.exp(-np.arange(rate // 20) / (rate / 200))
    audio += 0.5 * np.convolve(hits, decay)[:n] * rng.standard_normal(n)
    return audio.astype(np.float32)


def peaky_project(store: BlobStore) -> Project:
    project = rendered_project(store, "Intro:2,Verse:4,Chorus:2", bpm=128.0, sample_rate=44100)
    grid = project.grid().with_sample_rate(TAKE_RATE)
    for index, section in enumerate(project.sections):
        start, end = grid.bar_span_samples(section.start_bar, section.length_bars)
        take = make_take(store, section, drum_and_tone(end - start, TAKE_RATE, index))
        project = with_take(project, section.name, take)
    return project


@pytest.mark.parametrize(
    ("suffix", "subtype", "channels"), [(".wav", "PCM_24", None), (".flac", "PCM_16", 2)]
)
def test_export_reaches_the_loudness_target_under_the_true_peak_ceiling(
    tmp_path: Path, store: BlobStore, suffix: str, subtype: str, channels: int | None
) -> None:
    project = peaky_project(store)
    fractions: list[float] = []
    report = export_project(
        project,
        store.read_audio,
        ExportOptions(tmp_path / f"song{suffix}", subtype=subtype, sample_rate=48000,
                      channels=channels),
        progress=fractions.append,
    )
    audio, rate = soundfile.read(tmp_path / f"song{suffix}", dtype="float32", always_2d=True)
    # The mix is mono: by default the file is too; asked for stereo, both channels carry it.
    assert rate == 48000 and audio.shape[1] == report.channels == (channels or 1)
    np.testing.assert_array_equal(audio[:, 0], audio[:, -1])
    mono = audio[:, 0]
    assert abs(integrated_loudness(mono, rate) - -14.0) <= 0.5
    assert true_peak_dbtp(mono, rate) <= -1.0 + 0.01  # quantisation of the file format
    assert report.loudness is not None and report.loudness.limited
    assert report.loudness.input_lufs < -20  # the material really was raised and limited
    assert report.true_peak_dbtp <= -1.0
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert [p.name for p in tmp_path.iterdir()] == [f"song{suffix}"]  # no temp files left


def test_float_wav_with_loudness_off_is_the_mixer_render_bit_for_bit(
    tmp_path: Path, store: BlobStore
) -> None:
    project = peaky_project(store)
    for off in (None, "off"):
        path = tmp_path / f"mix-{off}.wav"
        options = ExportOptions(path, subtype="FLOAT", loudness_lufs=off, channels=1)
        report = export_project(project, store.read_audio, options)
        written, rate = soundfile.read(path, dtype="float32")
        render = render_arrangement(arrangement_from_project(project, store.read_audio, 44100))
        assert rate == 44100 and report.loudness is None
        assert written.dtype == np.float32
        np.testing.assert_array_equal(written, render)


def test_lossy_formats_and_per_section_files_and_midi(tmp_path: Path, store: BlobStore) -> None:
    project = rendered_project(store, "Intro:2,Verse:2", sample_rate=48000)
    for fmt in ("mp3", "ogg"):
        report = export_project(
            project,
            store.read_audio,
            ExportOptions(tmp_path / f"song.{fmt}", per_section=True, midi=(fmt == "mp3")),
        )
        audio, rate = soundfile.read(report.mixdown, dtype="float32")
        assert rate == 44100
        assert abs(len(audio) - 44100 * 8) < 44100 * 0.1  # 4 bars at 120 BPM, codec padding
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == [
        "song - 01 Intro.mp3", "song - 01 Intro.ogg", "song - 02 Verse.mp3",
        "song - 02 Verse.ogg", "song.mid", "song.mp3", "song.ogg",
    ]


def test_per_section_files_butt_together_into_the_mixdown(tmp_path: Path, store: BlobStore) -> None:
    project = rendered_project(store, "Intro:2,Verse:2,Outro:1", sample_rate=44100)
    options = ExportOptions(tmp_path / "mix.wav", subtype="FLOAT", loudness_lufs=None,
                            per_section=True, channels=1)
    report = export_project(project, store.read_audio, options)
    mix, _ = soundfile.read(report.mixdown, dtype="float32")
    parts = [soundfile.read(p, dtype="float32")[0] for p in report.files[1:]]
    np.testing.assert_array_equal(np.concatenate(parts), mix[: sum(len(p) for p in parts)])
    assert len(parts[0]) == project.grid().bar_to_sample(2)


def test_full_disk_gives_a_clear_message_and_leaves_no_partial_file(
    tmp_path: Path, monkeypatch
) -> None:
    def no_space(self, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(soundfile.SoundFile, "write", no_space)
    audio = np.zeros(44100, dtype=np.float32)
    with pytest.raises(ExportError, match="not enough disk space"):
        export_audio(audio, 44100, ExportOptions(tmp_path / "song.wav", loudness_lufs=None))
    assert list(tmp_path.iterdir()) == []


def test_an_existing_file_survives_a_failed_export(tmp_path: Path, monkeypatch) -> None:
    target = tmp_path / "song.wav"
    target.write_bytes(b"previous export")

    def broken(self, data):
        raise RuntimeError("Internal error")

    monkeypatch.setattr(soundfile.SoundFile, "write", broken)
    with pytest.raises(ExportError, match=r"could not write song\.wav"):
        export_audio(np.zeros(100, np.float32), 44100, ExportOptions(target, loudness_lufs=None))
    assert target.read_bytes() == b"previous export"
    assert list(tmp_path.iterdir()) == [target]


def test_bad_options_are_refused_with_a_reason(tmp_path: Path, store: BlobStore) -> None:
    project = rendered_project(store, "Intro:1")
    with pytest.raises(ExportError, match="unknown audio format 'aiff'"):
        export_project(project, store.read_audio, ExportOptions(tmp_path / "a.aiff"))
    with pytest.raises(ExportError, match="44100 or 48000"):
        export_project(project, store.read_audio, ExportOptions(tmp_path / "a.wav",
                                                                sample_rate=22050))
    with pytest.raises(ExportError, match="PCM_24, PCM_16"):
        export_project(project, store.read_audio, ExportOptions(tmp_path / "a.flac",
                                                                subtype="FLOAT"))
    with pytest.raises(ExportError, match="does not exist"):
        export_project(project, store.read_audio, ExportOptions(tmp_path / "no" / "a.wav"))


def test_pcm_export_clips_overs_and_says_so(tmp_path: Path) -> None:
    audio = np.array([0.5, 1.5, -2.0, 0.25] * 20000, dtype=np.float32)
    report = export_audio(
        audio, 44100, ExportOptions(tmp_path / "hot.wav", subtype="PCM_16", loudness_lufs=None,
                                    channels=1)
    )
    written, _ = soundfile.read(tmp_path / "hot.wav", dtype="float32")
    assert report.clipped_samples == 40000 and "clipped" in report.warnings[0]
    assert written.max() <= 1.0 and written.min() >= -1.0


@pytest.mark.parametrize("fmt", ["mp3", "ogg"])
def test_lossy_files_meet_the_ceiling_once_decoded(tmp_path: Path, store: BlobStore, fmt) -> None:
    project = peaky_project(store)
    report = export_project(
        project, store.read_audio,
        ExportOptions(tmp_path / f"song.{fmt}", per_section=True, true_peak_dbtp=-1.0),
    )
    for path in report.files:  # the mixdown and every section file, as decoded
        decoded, rate = soundfile.read(path, dtype="float32")
        assert true_peak_dbtp(decoded, rate) <= -1.0
    decoded, rate = soundfile.read(report.mixdown, dtype="float32")
    assert report.true_peak_dbtp <= -1.0
    assert report.lossy_headroom_db >= export_module.LOSSY_HEADROOM_DB
    assert abs(integrated_loudness(decoded, rate) - -14.0) <= 0.5
    assert not any("true peak" in warning for warning in report.warnings)


def test_a_lossy_overshoot_is_measured_and_encoded_again(
    tmp_path: Path, store: BlobStore, monkeypatch
) -> None:
    # Without the first encode's headroom, MP3's overshoot puts the decoded file over -1 dBTP:
    # the export must see that, lower the encode ceiling by what it measured, and redo it.
    monkeypatch.setattr(export_module, "LOSSY_HEADROOM_DB", 0.0)
    project = peaky_project(store)
    report = export_project(project, store.read_audio, ExportOptions(tmp_path / "song.mp3"))
    decoded, rate = soundfile.read(report.mixdown, dtype="float32")
    assert report.encodes >= 2 and report.lossy_headroom_db > 0.0
    assert true_peak_dbtp(decoded, rate) == pytest.approx(report.true_peak_dbtp, abs=1e-6)
    assert report.true_peak_dbtp <= -1.0
    assert abs(integrated_loudness(decoded, rate) - -14.0) <= 0.5  # loudness kept, not gained
    assert [p.name for p in tmp_path.iterdir()] == ["song.mp3"]


def test_lossy_overshoot_past_the_last_encode_is_reported(
    tmp_path: Path, store: BlobStore, monkeypatch
) -> None:
    # One encode allowed and no headroom: the overshoot stays, and the report must say so.
    monkeypatch.setattr(export_module, "LOSSY_HEADROOM_DB", 0.0)
    monkeypatch.setattr(export_module, "MAX_LOSSY_ENCODES", 1)
    project = peaky_project(store)
    report = export_project(project, store.read_audio, ExportOptions(tmp_path / "song.mp3"))
    assert report.encodes == 1 and report.true_peak_dbtp > -1.0
    assert any("MP3 encoding raised the true peak" in w for w in report.warnings)


def test_undecoded_takes_are_named_and_empty_sections_are_warned_about(
    tmp_path: Path, store: BlobStore
) -> None:
    project = rendered_project(store, "Intro:2,Verse:2,Outro:1", sample_rate=44100)
    verse = project.section_by_name("Verse")
    latent_only = verse.active_take.model_copy(update={"audio": None, "final_latent": "a" * 64})
    broken = project.replace_section(verse.model_copy(update={"takes": (latent_only,)}))
    with pytest.raises(MissingTakeAudioError, match=r"'Verse' \(bars 3-4\).*latent but no"):
        export_project(broken, store.read_audio, ExportOptions(tmp_path / "a.wav"))
    assert list(tmp_path.iterdir()) == []
    outro = project.section_by_name("Outro")
    empty = project.replace_section(outro.model_copy(update={"takes": (), "active_take_id": None}))
    report = export_project(empty, store.read_audio, ExportOptions(tmp_path / "a.wav"))
    assert any("silence: 'Outro'" in warning for warning in report.warnings)


def test_section_files_and_midi_can_go_elsewhere(tmp_path: Path, store: BlobStore) -> None:
    project = rendered_project(store, "Intro:2,Verse:2", sample_rate=44100)
    (tmp_path / "stems").mkdir()
    options = ExportOptions(tmp_path / "mix.flac", per_section=True, midi=True,
                            sections_folder=tmp_path / "stems", midi_path=tmp_path / "x.mid")
    report = export_project(project, store.read_audio, options)
    assert [p.relative_to(tmp_path).as_posix() for p in report.files] == [
        "mix.flac", "stems/mix - 01 Intro.flac", "stems/mix - 02 Verse.flac", "x.mid",
    ]
    assert all(path.is_file() for path in report.files)
