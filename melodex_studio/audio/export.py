"""Export: mixdown, per-section files and the plan as MIDI.

`export_project` is what the UI's export dialog and `melodex export` call. The pipeline:
render the arrangement at the export rate (take audio resampled once from the take's rate),
normalise loudness (or not: with loudness off a FLOAT WAV is the mixer's render bit for bit),
then write each file atomically. Per-section files are slices of the processed mixdown at the
sections' grid spans, so they keep the mix's levels and butt together without a gap.
`export_audio` does the same for an array you already have.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
import soundfile

from melodex_studio.audio.arrangement import ReadTakeAudio, TakeAudioCache, arrangement_from_project
from melodex_studio.audio.audio_files import (
    EXPORT_SAMPLE_RATES,
    AudioFormat,
    ProgressFn,
    format_for_path,
    is_pcm,
    subtype_for,
    write_audio,
)
from melodex_studio.audio.errors import ExportError
from melodex_studio.audio.fades import DEFAULT_CROSSFADE_SECONDS
from melodex_studio.audio.loudness import LoudnessResult, normalize_loudness, true_peak_dbtp
from melodex_studio.audio.midi_export import write_plan_midi
from melodex_studio.audio.mixer import Mixer

if TYPE_CHECKING:
    from melodex_studio.project.models import Project

Off = Literal["off"]


@dataclass(frozen=True)
class ExportOptions:
    """What to write. `path` is the mixdown; its suffix picks the format unless `format` says.

    loudness_lufs: a target in LUFS, "project" (the project's master target, default), or
    None / "off" for no normalisation at all. true_peak_dbtp: a ceiling, or "project".
    per_section: also write "<stem> - 01 Intro.<ext>" files next to the mixdown.
    midi: also write the plan as "<stem>.mid".
    """

    path: Path
    format: AudioFormat | None = None
    subtype: str | None = None
    sample_rate: int = 44100
    channels: int = 2
    loudness_lufs: float | Literal["project"] | Off | None = "project"
    true_peak_dbtp: float | Literal["project"] = "project"
    per_section: bool = False
    midi: bool = False
    compression_level: float | None = None
    crossfade_seconds: float = DEFAULT_CROSSFADE_SECONDS


@dataclass(frozen=True)
class ExportReport:
    """What was written and measured."""

    mixdown: Path
    files: tuple[Path, ...]
    format: str
    subtype: str
    sample_rate: int
    channels: int
    duration_seconds: float
    loudness: LoudnessResult | None
    true_peak_dbtp: float
    clipped_samples: int
    elapsed_seconds: float
    warnings: tuple[str, ...] = field(default=())

    def summary(self) -> str:
        """One line for the status bar or the CLI."""
        level = (
            f"{self.loudness.output_lufs:.1f} LUFS, {self.true_peak_dbtp:.1f} dBTP"
            if self.loudness is not None
            else f"loudness untouched, peak {self.true_peak_dbtp:.1f} dBTP"
        )
        return (
            f"wrote {len(self.files)} file(s): {self.mixdown.name} "
            f"({self.duration_seconds:.1f} s, {self.sample_rate} Hz, {level}) "
            f"in {self.elapsed_seconds:.1f} s"
        )


class _Progress:
    """Maps stage-local fractions onto the overall 0..1 range, never going backwards."""

    def __init__(self, callback: ProgressFn | None) -> None:
        self.callback = callback
        self.done = 0.0

    def stage(self, start: float, end: float) -> Callable[[float], None]:
        def report(fraction: float) -> None:
            value = start + (end - start) * min(1.0, max(0.0, fraction))
            if self.callback is not None and value >= self.done:
                self.done = value
                self.callback(value)

        return report


def _loudness_target(options: ExportOptions, default: float) -> float | None:
    target = options.loudness_lufs
    if target is None or target == "off":
        return None
    return default if target == "project" else float(target)


def export_audio(
    audio: np.ndarray,
    sample_rate: int,
    options: ExportOptions,
    *,
    default_loudness_lufs: float = -14.0,
    default_true_peak_dbtp: float = -1.0,
    section_spans: tuple[tuple[str, int, int], ...] = (),
    progress: ProgressFn | None = None,
) -> ExportReport:
    """Normalise and write mono `audio` (already at `options.sample_rate`) as `options` say.
    `section_spans` are (name, start, end) sample spans for per-section files."""
    began = time.perf_counter()
    if sample_rate != options.sample_rate:
        raise ExportError(f"the audio is at {sample_rate} Hz, the export at {options.sample_rate}")
    if options.channels not in (1, 2):
        raise ExportError(f"exports are mono or stereo, not {options.channels} channels")
    path = Path(options.path)
    fmt = format_for_path(path, options.format)
    subtype = subtype_for(fmt, options.subtype)
    report = _Progress(progress)
    data = np.asarray(audio, dtype=np.float32).reshape(-1)
    warnings: list[str] = []
    target = _loudness_target(options, default_loudness_lufs)
    ceiling = (
        default_true_peak_dbtp
        if options.true_peak_dbtp == "project"
        else float(options.true_peak_dbtp)
    )
    loudness = None
    if target is not None:
        report.stage(0.0, 0.05)(0.0)
        loudness = normalize_loudness(data, sample_rate, target, ceiling)
        data = loudness.audio
        peak = loudness.true_peak_dbtp
        warnings += loudness.warnings
        report.stage(0.0, 0.4)(1.0)
    else:
        peak = true_peak_dbtp(data, sample_rate) if len(data) else -math.inf
    clipped = 0
    if is_pcm(subtype) or fmt in ("mp3", "ogg"):
        # Integer and lossy formats cannot hold values past full scale: clip, and say so.
        over = np.abs(data) > 1.0
        clipped = int(np.count_nonzero(over))
        if clipped:
            data = np.clip(data, -1.0, 1.0)
            warnings.append(f"{clipped} samples were over full scale and were clipped")
    targets = [(path, data)]
    for index, (name, start, end) in enumerate(section_spans, start=1):
        targets.append((_section_path(path, index, name), data[start:end]))
    written: list[Path] = []
    share = 0.6 / max(1, len(targets))
    for number, (target_path, samples) in enumerate(targets):
        stage = report.stage(0.4 + share * number, 0.4 + share * (number + 1))
        write_audio(
            target_path,
            samples,
            sample_rate,
            fmt,
            subtype,
            options.channels,
            options.compression_level,
            stage,
        )
        written.append(target_path)
    if loudness is not None and fmt in ("mp3", "ogg"):
        warnings += _lossy_peak_warning(path, fmt, ceiling)
    report.stage(0.0, 1.0)(1.0)
    return ExportReport(
        mixdown=path,
        files=tuple(written),
        format=fmt,
        subtype=subtype,
        sample_rate=sample_rate,
        channels=options.channels,
        duration_seconds=len(data) / sample_rate,
        loudness=loudness,
        true_peak_dbtp=peak,
        clipped_samples=clipped,
        elapsed_seconds=time.perf_counter() - began,
        warnings=tuple(warnings),
    )


def _lossy_peak_warning(path: Path, fmt: str, ceiling: float) -> list[str]:
    """Lossy encoders add overshoot: decode what was written and say if it passed the ceiling."""
    decoded, rate = soundfile.read(path, dtype="float32", always_2d=True)
    peak = true_peak_dbtp(decoded[:, 0], rate)
    if peak <= ceiling:
        return []
    return [
        f"{fmt.upper()} encoding raised the true peak to {peak:.1f} dBTP (ceiling "
        f"{ceiling:.1f}); export with a lower ceiling, e.g. {ceiling - 1:.0f} dBTP, to stay under"
    ]


def _section_path(mixdown: Path, index: int, name: str) -> Path:
    safe = re.sub(r"[^\w\- ]+", "_", name).strip() or "section"
    return mixdown.with_name(f"{mixdown.stem} - {index:02d} {safe}{mixdown.suffix}")


def export_project(
    project: Project,
    read_audio: ReadTakeAudio,
    options: ExportOptions,
    progress: ProgressFn | None = None,
    cache: TakeAudioCache | None = None,
) -> ExportReport:
    """Render `project` and write the files `options` ask for. Raises ExportError (or
    MissingTakeAudioError) with a message for the musician; never leaves a partial file."""
    began = time.perf_counter()
    if options.sample_rate not in EXPORT_SAMPLE_RATES:
        raise ExportError(
            f"export at 44100 or 48000 Hz, not {options.sample_rate} Hz"
        )
    if not project.sections:
        raise ExportError("the project has no sections to export")
    report = _Progress(progress)
    report.stage(0.0, 0.15)(0.0)
    arrangement = arrangement_from_project(project, read_audio, options.sample_rate, cache)
    if not arrangement.clips:
        raise ExportError("no section has a rendered take yet: render something to export")
    mix = Mixer(arrangement, options.crossfade_seconds).buffer  # read-only; never written
    report.stage(0.0, 0.15)(1.0)
    grid = project.grid().with_sample_rate(options.sample_rate)
    spans = tuple(
        (section.name, *grid.bar_span_samples(section.start_bar, section.length_bars))
        for section in project.sections
    ) if options.per_section else ()
    result = export_audio(
        mix,
        options.sample_rate,
        options,
        default_loudness_lufs=project.master.loudness_target_lufs,
        default_true_peak_dbtp=project.master.true_peak_dbtp,
        section_spans=spans,
        progress=report.stage(0.15, 0.97 if options.midi else 1.0),
    )
    files = list(result.files)
    warnings = list(result.warnings)
    if options.midi:
        midi_path = Path(options.path).with_suffix(".mid")
        files.append(write_plan_midi(project, midi_path))
        if not any(section.plan is not None for section in project.sections):
            warnings.append("no section has a plan yet: the MIDI file holds only tempo and key")
    report.stage(0.0, 1.0)(1.0)
    return ExportReport(
        mixdown=result.mixdown,
        files=tuple(files),
        format=result.format,
        subtype=result.subtype,
        sample_rate=result.sample_rate,
        channels=result.channels,
        duration_seconds=result.duration_seconds,
        loudness=result.loudness,
        true_peak_dbtp=result.true_peak_dbtp,
        clipped_samples=result.clipped_samples,
        elapsed_seconds=time.perf_counter() - began,
        warnings=tuple(warnings),
    )
