"""Export time of a 3-minute song: mixdown + loudness normalisation + true-peak limiting, written
as WAV, FLAC and MP3 (and OGG), plus a loudness-off float WAV and the plan as MIDI.

The song: 90 bars at 120 BPM in 4/4 (180 s), seven sections, each with a synthetic take at the
built-in model's 24 kHz: a bass tone, a chord pad and noise-burst drums, about -17 LUFS with
peaks near full scale, so -14 LUFS needs a few dB of true-peak limiting. Take audio is
resampled to the export rate as in the app.

    .venv/bin/python benchmarks/bench_export.py [--rate 44100] [--channels 1|2] [--repeat 3]

--channels defaults to the export's default (as many as the mix has: mono). Times are the best
of --repeat runs (this machine's timings vary up to 3x between runs). "dBTP out" is the
decoded file's true peak over all its channels (4x oversampled), which for MP3 and OGG
includes the codec's overshoot; "headroom" is how far under the -1 dBTP ceiling lossy files
were limited before encoding, and "encodes" how many encodes that took.
"""

from __future__ import annotations

import argparse
import hashlib
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import soundfile

from melodex_studio.audio.arrangement import TakeAudioCache, decode_take_audio, encode_take_audio
from melodex_studio.audio.export import ExportOptions, export_project
from melodex_studio.audio.loudness import integrated_loudness, true_peak_dbtp
from melodex_studio.project.models import Project, Take, TakeOperation, new_project

TAKE_RATE = 24000
SECTIONS = "Intro:8,Verse:16,Chorus:16,Verse 2:16,Chorus 2:16,Bridge:8,Outro:10"


def synthetic_take(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n) / TAKE_RATE
    root = 55.0 * 2 ** ((seed * 5 % 12) / 12)
    audio = 0.15 * np.sin(2 * np.pi * root * t)
    for ratio in (2.0, 2.52, 3.0):
        audio += 0.05 * np.sin(2 * np.pi * root * ratio * 2 * t)
    hits = np.zeros(n)
    hits[:: TAKE_RATE // 2] = 1.0
    decay = np.exp(-np.arange(TAKE_RATE // 5) / (TAKE_RATE / 30))
    audio += 0.12 * np.convolve(hits, decay)[:n] * rng.standard_normal(n)
    return audio.astype(np.float32)


def build_song() -> tuple[Project, dict[str, bytes]]:
    project = new_project("Bench song", bpm=120.0, key="D minor", sections_spec=SECTIONS,
                          sample_rate=44100, seed=3)
    grid = project.grid().with_sample_rate(TAKE_RATE)
    blobs: dict[str, bytes] = {}
    sections = []
    for index, section in enumerate(project.sections):
        start, end = grid.bar_span_samples(section.start_bar, section.length_bars)
        data = encode_take_audio(synthetic_take(end - start, index))
        ref = hashlib.sha256(data).hexdigest()
        blobs[ref] = data
        take = Take(
            id=hashlib.sha256(f"take{index}".encode()).hexdigest()[:32],
            section_id=section.id,
            region_start_bar=0,
            region_end_bar=section.length_bars,
            operation=TakeOperation.GENERATE,
            audio=ref,
            latent_frame_rate=TAKE_RATE / 1024,
            audio_sample_rate=TAKE_RATE,
            created=datetime(2024, 1, 1, tzinfo=UTC),
        )
        sections.append(section.model_copy(update={"takes": (take,), "active_take_id": take.id}))
    return project.with_sections(tuple(sections)), blobs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=int, default=44100, choices=(44100, 48000))
    parser.add_argument("--channels", type=int, default=None, choices=(1, 2))
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--dir", type=Path, default=None)
    args = parser.parse_args()
    project, blobs = build_song()

    def read_audio(take: Take) -> np.ndarray:
        return decode_take_audio(blobs[take.audio])

    runs = [
        ("wav", "PCM_24", "project", False),
        ("flac", "PCM_24", "project", False),
        ("mp3", None, "project", False),
        ("ogg", None, "project", False),
        ("wav", "FLOAT", "off", False),
        ("wav", "PCM_24", "project", True),
    ]
    rows = []
    with tempfile.TemporaryDirectory(dir=args.dir) as folder:
        for fmt, subtype, loudness, extras in runs:
            path = Path(folder) / f"song-{fmt}-{subtype}-{loudness}-{extras}.{fmt}"
            options = ExportOptions(path, subtype=subtype, sample_rate=args.rate,
                                    channels=args.channels, loudness_lufs=loudness,
                                    per_section=extras, midi=extras)
            elapsed = []
            for _ in range(max(1, args.repeat)):
                began = time.perf_counter()
                # A fresh cache: every run reads and resamples the takes, as a first export does.
                report = export_project(project, read_audio, options, cache=TakeAudioCache())
                elapsed.append(time.perf_counter() - began)
            audio, rate = soundfile.read(path, dtype="float32", always_2d=True)
            peak = max(true_peak_dbtp(np.ascontiguousarray(audio[:, c]), rate)
                       for c in range(audio.shape[1]))
            size = sum(p.stat().st_size for p in report.files) / 1e6
            what = f"{fmt.upper()} {report.subtype}" + (" + sections + MIDI" if extras else "")
            rows.append((
                what, str(report.channels),
                "off" if report.loudness is None else f"{report.loudness.input_lufs:.1f}",
                f"{integrated_loudness(audio[:, 0], rate):.2f}",
                f"{peak:.2f}",
                "-" if report.loudness is None else f"{report.loudness.limiter_reduction_db:.1f}",
                f"{getattr(report, 'lossy_headroom_db', 0.0):.2f}",
                str(getattr(report, "encodes", 1)),
                str(len(report.files)), f"{size:.1f}", f"{min(elapsed):.2f}",
                f"{max(elapsed):.2f}",
            ))
    seconds = project.grid().bar_to_seconds(project.length_bars)
    print(f"\nexport of a {seconds:.0f} s song at {args.rate} Hz, best and worst of "
          f"{args.repeat} runs\n")
    header = ("output", "ch", "LUFS in", "LUFS out", "dBTP out", "limit dB", "headroom",
              "encodes", "files", "MB", "best s", "worst s")
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header))]
    for row in (header, tuple("-" * w for w in widths), *rows):
        print(" | ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))


if __name__ == "__main__":
    main()
