"""`melodex export` end to end: a .mlx file with decoded take audio built here, exported
through the real CLI entry, and the written files read back."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path

import mido
import numpy as np
import pytest
import soundfile
from strategies import audio_blob, latent_blob

from melodex_studio.audio.loudness import integrated_loudness, true_peak_dbtp
from melodex_studio.cli import main as cli
from melodex_studio.music.plan import Plan
from melodex_studio.project.models import Project, Take, TakeOperation, new_project
from melodex_studio.store import MemoryBlobs, save_project

TAKE_RATE = 24000
SECTIONS = "Intro:2,Verse:2,Outro:1"  # 5 bars of 4/4 at 120 BPM: 10 s


def _take_audio(n: int, seed: int) -> np.ndarray:
    """A tone with noise bursts on the beat: loud peaks, so normalising needs the limiter."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) / TAKE_RATE
    audio = 0.05 * np.sin(2 * np.pi * 110 * (seed + 1) * t)
    hits = np.zeros(n)
    hits[:: TAKE_RATE // 2] = 1.0
    decay = np.exp(-np.arange(TAKE_RATE // 10) / (TAKE_RATE / 100))
    audio += 0.6 * np.convolve(hits, decay)[:n] * rng.standard_normal(n)
    return audio.astype(np.float32)


def write_song(path: Path, *, undecoded: str | None = None) -> Project:
    """Save a project whose every section has an active take with a latent and decoded audio;
    the section named `undecoded` has the latent only (rendered, never decoded)."""
    project = new_project("Export me", bpm=120.0, key="A minor", sections_spec=SECTIONS,
                          sample_rate=48000, seed=5)
    grid = project.grid().with_sample_rate(TAKE_RATE)
    blobs: dict[str, bytes] = {}

    def add(data: bytes) -> str:
        ref = hashlib.sha256(data).hexdigest()
        blobs[ref] = data
        return ref

    sections = []
    for index, section in enumerate(project.sections):
        start, end = grid.bar_span_samples(section.start_bar, section.length_bars)
        latent = add(latent_blob(np.full((4, 8), index, dtype=np.float32)))
        audio = None if section.name == undecoded else add(
            audio_blob(_take_audio(end - start, index))
        )
        take = Take(
            id=hashlib.sha256(f"take{index}".encode()).hexdigest()[:32],
            section_id=section.id,
            region_start_bar=0,
            region_end_bar=section.length_bars,
            operation=TakeOperation.GENERATE,
            final_latent=latent,
            audio=audio,
            latent_frame_rate=TAKE_RATE / 1024,
            audio_sample_rate=TAKE_RATE,
            created=datetime(2024, 1, 1, tzinfo=UTC),
        )
        plan = Plan.empty(section.length_bars, 16) if index == 1 else None
        sections.append(section.model_copy(
            update={"takes": (take,), "active_take_id": take.id, "plan": plan}
        ))
    project = project.with_sections(tuple(sections))
    save_project(path, project, MemoryBlobs(blobs))
    return project


def test_wav_with_stems_and_midi(tmp_path: Path, capsys) -> None:
    song = tmp_path / "song.mlx"
    write_song(song)
    out, stems, midi = tmp_path / "mix.wav", tmp_path / "stems", tmp_path / "plan.mid"
    code = cli.main(["export", str(song), str(out), "--bit-depth", "16", "--lufs", "-16",
                     "--stems", str(stems), "--midi", str(midi)])
    assert code == 0, capsys.readouterr().err
    assert "mix.wav" in capsys.readouterr().out
    info = soundfile.info(str(out))
    assert (info.subtype, info.samplerate, info.channels) == ("PCM_16", 48000, 1)
    assert info.duration == pytest.approx(10.0, abs=0.01)
    mix, rate = soundfile.read(out, dtype="float32")
    assert integrated_loudness(mix, rate) == pytest.approx(-16.0, abs=0.5)
    assert true_peak_dbtp(mix, rate) <= -1.0 + 0.01  # the project's ceiling, 16-bit rounding
    names = sorted(p.name for p in stems.iterdir())
    assert names == ["mix - 01 Intro.wav", "mix - 02 Verse.wav", "mix - 03 Outro.wav"]
    parts = [soundfile.read(stems / name, dtype="float32")[0] for name in names]
    np.testing.assert_array_equal(np.concatenate(parts), mix[: sum(map(len, parts))])
    tempo = [m for m in mido.MidiFile(midi).tracks[0] if m.type == "set_tempo"]
    assert mido.tempo2bpm(tempo[0].tempo) == pytest.approx(120.0)


def test_stereo_mp3_meets_the_ceiling_once_decoded(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)  # relative paths all the way through the store
    write_song(Path("song.mlx"))
    code = cli.main(["export", "song.mlx", "song.mp3", "--sample-rate", "44100",
                     "--channels", "2", "--true-peak", "-1.5", "--quiet"])
    assert code == 0
    decoded, rate = soundfile.read(tmp_path / "song.mp3", dtype="float32", always_2d=True)
    assert rate == 44100 and decoded.shape[1] == 2
    assert max(true_peak_dbtp(np.ascontiguousarray(c), rate) for c in decoded.T) <= -1.5
    assert integrated_loudness(decoded[:, 0], rate) == pytest.approx(-14.0, abs=0.5)


def test_a_take_that_was_never_decoded_is_named(tmp_path: Path, capsys) -> None:
    song = tmp_path / "song.mlx"
    write_song(song, undecoded="Verse")
    assert cli.main(["export", str(song), str(tmp_path / "mix.flac"), "--stems",
                     str(tmp_path / "stems")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "'Verse' (bars 3-4)" in err and "latent but no decoded audio" in err
    assert "'Intro'" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["song.mlx"]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["mix.aiff"], "unknown audio format 'aiff'"),
        (["mix.mp3", "--bit-depth", "24"], "--bit-depth applies to WAV and FLAC"),
        (["mix.flac", "--bit-depth", "32f"], "FLAC files can be 16 or 24 bit"),
        (["mix.wav", "--sample-rate", "22050"], "44100 or 48000"),
        (["mix.wav", "--lufs", "loud"], "--lufs takes a number"),
        (["mix.wav", "--midi", "plan.txt"], "MIDI files end in .mid"),
        (["missing/mix.wav"], "does not exist"),
    ],
)
def test_bad_options_exit_2_with_one_line(tmp_path: Path, capsys, extra, message) -> None:
    song = tmp_path / "song.mlx"
    write_song(song)
    out, *options = extra
    assert cli.main(["export", str(song), str(tmp_path / out), *options]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["song.mlx"]


def test_bad_project_files_exit_2_with_one_line(tmp_path: Path, capsys) -> None:
    garbage = tmp_path / "garbage.mlx"
    garbage.write_bytes(b"this is not a project" * 100)
    cases = [
        (garbage, "not a Melodex project"),
        (tmp_path / "absent.mlx", "does not exist"),
        (tmp_path / "song.txt", "project files end in .mlx"),
    ]
    for project, message in cases:
        assert cli.main(["export", str(project), str(tmp_path / "mix.wav")]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and message in err, err
    assert not (tmp_path / "mix.wav").exists()
