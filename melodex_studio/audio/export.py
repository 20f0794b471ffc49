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

from melodex_studio.audio.arrangement import (
    ReadTakeAudio,
    TakeAudioCache,
    arrangement_from_project,
    undecoded_takes_message,
)
from melodex_studio.audio.audio_files import (
    EXPORT_SAMPLE_RATES,
    AudioFormat,
    ProgressFn,
    format_for_path,
    is_pcm,
    subtype_for,
    write_audio,
)
from melodex_studio.audio.errors import ExportError, MissingTakeAudioError
from melodex_studio.audio.fades import DEFAULT_CROSSFADE_SECONDS
from melodex_studio.audio.lossy import (
    LOSSY_FORMATS,
    LOSSY_HEADROOM_DB,
    MAX_LOSSY_ENCODES,
    decoded_true_peak,
    needs_headroom,
    next_headroom,
    overshoot_warning,
)
from melodex_studio.audio.loudness import LoudnessResult, normalize_loudness, true_peak_dbtp
from melodex_studio.audio.midi_export import write_plan_midi
from melodex_studio.audio.mixer import Mixer

if TYPE_CHECKING:
    from melodex_studio.project.models import Project

Off = Literal["off"]
#: The mixer renders one channel; stereo exports duplicate it.
MIX_CHANNELS = 1


@dataclass(frozen=True)
class ExportOptions:
    """What to write. `path` is the mixdown; its suffix picks the format unless `format` says.

    loudness_lufs: a target in LUFS, "project" (the project's master target, default), or
    None / "off" for no normalisation at all. true_peak_dbtp: a ceiling, or "project".
    channels: None (default) writes as many as the mix has (the mixer renders mono); 2 writes
    the mono mix to both channels, for players or platforms that insist on stereo files.
    per_section: also write "<stem> - 01 Intro.<ext>" files, next to the mixdown or into
    `sections_folder`.
    midi: also write the plan as MIDI, to `midi_path` or else "<stem>.mid" next to the mixdown.
    """

    path: Path
    format: AudioFormat | None = None
    subtype: str | None = None
    sample_rate: int = 44100
    channels: int | None = None
    loudness_lufs: float | Literal["project"] | Off | None = "project"
    true_peak_dbtp: float | Literal["project"] = "project"
    per_section: bool = False
    midi: bool = False
    sections_folder: Path | None = None
    midi_path: Path | None = None
    compression_level: float | None = None
    crossfade_seconds: float = DEFAULT_CROSSFADE_SECONDS


@dataclass(frozen=True)
class ExportReport:
    """What was written and measured. For MP3/Ogg with loudness on, `true_peak_dbtp` is the
    decoded files' true peak, `lossy_headroom_db` how far under the ceiling the mix was limited
    before encoding and `encodes` how many encodes that took."""

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
    lossy_headroom_db: float = 0.0
    encodes: int = 1

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


@dataclass(frozen=True, eq=False)
class _Prepared:
    """The mix ready to encode: normalised (or not) and clipped where the format needs it."""

    data: np.ndarray
    loudness: LoudnessResult | None
    true_peak_dbtp: float
    clipped: int
    warnings: tuple[str, ...]


def _prepare(
    audio: np.ndarray, sample_rate: int, target: float | None, ceiling: float, clip: bool
) -> _Prepared:
    warnings: list[str] = []
    data, loudness = audio, None
    if target is not None:
        loudness = normalize_loudness(audio, sample_rate, target, ceiling)
        data, peak = loudness.audio, loudness.true_peak_dbtp
        warnings += loudness.warnings
    else:
        peak = true_peak_dbtp(audio, sample_rate) if len(audio) else -math.inf
    clipped = 0
    if clip:
        # Integer and lossy formats cannot hold values past full scale: clip, and say so.
        clipped = int(np.count_nonzero(np.abs(data) > 1.0))
        if clipped:
            data = np.clip(data, -1.0, 1.0)
            warnings.append(f"{clipped} samples were over full scale and were clipped")
    return _Prepared(data, loudness, peak, clipped, tuple(warnings))


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
    `section_spans` are (name, start, end) sample spans for per-section files.

    Lossy files are limited with headroom under the ceiling and checked after decoding
    (`lossy.py`); the report's true peak is then the decoded files' peak."""
    began = time.perf_counter()
    if sample_rate != options.sample_rate:
        raise ExportError(f"the audio is at {sample_rate} Hz, the export at {options.sample_rate}")
    channels = MIX_CHANNELS if options.channels is None else options.channels
    if channels not in (1, 2):
        raise ExportError(f"exports are mono or stereo, not {channels} channels")
    path = Path(options.path)
    fmt = format_for_path(path, options.format)
    subtype = subtype_for(fmt, options.subtype)
    report = _Progress(progress)
    source = np.asarray(audio, dtype=np.float32).reshape(-1)
    target = _loudness_target(options, default_loudness_lufs)
    ceiling = (
        default_true_peak_dbtp
        if options.true_peak_dbtp == "project"
        else float(options.true_peak_dbtp)
    )
    lossy_check = needs_headroom(fmt, target is not None)
    headroom = LOSSY_HEADROOM_DB if lossy_check else 0.0
    clip = is_pcm(subtype) or fmt in LOSSY_FORMATS
    encodes = 0
    while True:
        encodes += 1
        report.stage(0.0, 0.05)(0.0)
        prepared = _prepare(source, sample_rate, target, ceiling - headroom, clip)
        report.stage(0.0, 0.3)(1.0)
        targets = [(path, prepared.data)]
        for index, (name, start, end) in enumerate(section_spans, start=1):
            section_path = _section_path(path, index, name, options.sections_folder)
            targets.append((section_path, prepared.data[start:end]))
        written: list[Path] = []
        share = (0.62 if lossy_check else 0.7) / max(1, len(targets))
        for number, (target_path, samples) in enumerate(targets):
            stage = report.stage(0.3 + share * number, 0.3 + share * (number + 1))
            write_audio(target_path, samples, sample_rate, fmt, subtype, channels,
                        options.compression_level, stage)
            written.append(target_path)
        peak = prepared.true_peak_dbtp
        warnings = list(prepared.warnings)
        if not lossy_check:
            break
        peak = decoded_true_peak(written)
        if peak <= ceiling:
            break
        if encodes >= MAX_LOSSY_ENCODES:
            warnings.append(overshoot_warning(fmt, peak, ceiling, headroom))
            break
        headroom = next_headroom(headroom, prepared.true_peak_dbtp, peak)
    report.stage(0.0, 1.0)(1.0)
    return ExportReport(
        mixdown=path,
        files=tuple(written),
        format=fmt,
        subtype=subtype,
        sample_rate=sample_rate,
        channels=channels,
        duration_seconds=len(source) / sample_rate,
        loudness=prepared.loudness,
        true_peak_dbtp=peak,
        clipped_samples=prepared.clipped,
        elapsed_seconds=time.perf_counter() - began,
        warnings=tuple(warnings),
        lossy_headroom_db=headroom,
        encodes=encodes,
    )


def _section_path(mixdown: Path, index: int, name: str, folder: Path | None = None) -> Path:
    safe = re.sub(r"[^\w\- ]+", "_", name).strip() or "section"
    return (Path(folder) if folder is not None else mixdown.parent) / (
        f"{mixdown.stem} - {index:02d} {safe}{mixdown.suffix}"
    )


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
    undecoded = undecoded_takes_message(project)
    if undecoded is not None:
        raise MissingTakeAudioError(undecoded)
    report = _Progress(progress)
    report.stage(0.0, 0.15)(0.0)
    arrangement = arrangement_from_project(project, read_audio, options.sample_rate, cache)
    if not arrangement.clips:
        raise ExportError("no section has a rendered take yet: render something to export")
    silent = [section.span_text for section in project.sections if section.active_take is None]
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
    if silent:
        warnings.append(f"no take yet, exported as silence: {', '.join(silent)}")
    if options.midi:
        midi_path = Path(options.midi_path or Path(options.path).with_suffix(".mid"))
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
        lossy_headroom_db=result.lossy_headroom_db,
        encodes=result.encodes,
    )
