"""Reading a recording a musician imports into a section: any file libsndfile reads (WAV,
FLAC, AIFF, OGG, MP3), mixed down to mono and converted to the model's sample rate, so the
codec can encode it into a take.

It runs on a background thread (it reads and resamples the file). Only the part a section can
hold is read, and a file read whole is measured from its header first, so a huge or hostile
file is refused without filling memory. The take keeps the model's rate (24 kHz for the built-in
model: nothing above 12 kHz), because repaints splice rendered audio into it sample for sample.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile

from melodex_studio.audio.errors import RecordingError
from melodex_studio.audio.resample import resample
from melodex_studio.audio.stretch import stretched

#: Longer recordings are refused when read whole; a section reads only what it can hold.
MAX_RECORDING_SECONDS = 20 * 60
#: A louder recording is scaled down to peak here, so resampling overshoot cannot clip it.
IMPORT_PEAK = 0.99
#: How far a recording is stretched at most, either way.
MIN_TEMPO_FACTOR, MAX_TEMPO_FACTOR = 0.25, 4.0


@dataclass(frozen=True)
class ImportOptions:
    """How the recording comes in: played `tempo_factor` times as fast (its tempo to the
    section's) and `semitones` higher."""

    tempo_factor: float = 1.0
    semitones: int = 0
    recording_bpm: float | None = None

    @classmethod
    def onto(cls, section_bpm: float, recording_bpm: float | None = None,
             semitones: int = 0) -> ImportOptions:
        """A recording played at `recording_bpm` (None: as recorded) stretched to a section at
        `section_bpm`, and moved `semitones`."""
        factor = 1.0 if recording_bpm is None else section_bpm / recording_bpm
        return cls(factor, int(semitones), recording_bpm)

    def take_name(self, file_name: str, section_bpm: float, limit: int = 64) -> str:
        """The take's name: the file's, and what was done, which is never cut off ("riff.wav
        (92→120 BPM, +3 st)"; a long file name is shortened to fit `limit` characters)."""
        done = self.describe(section_bpm)
        if not done:
            return file_name
        room = limit - len(done) - 3
        name = file_name if len(file_name) <= room else file_name[: max(1, room - 1)] + "…"
        return f"{name} ({done})"

    def describe(self, section_bpm: float) -> str:
        """What was done, for the take's name: "92→120 BPM, +3 st"; "" when nothing."""
        parts = []
        if self.recording_bpm is not None and self.tempo_factor != 1.0:
            parts.append(f"{self.recording_bpm:g}→{section_bpm:g} BPM")
        if self.semitones:
            parts.append(f"{self.semitones:+d} st")
        return ", ".join(parts)


AS_IT_IS = ImportOptions()


@dataclass(frozen=True)
class Recording:
    """Mono float32 `audio` at `sample_rate`, and what the file was."""

    audio: np.ndarray
    sample_rate: int
    name: str
    source_rate: int
    source_channels: int

    @property
    def seconds(self) -> float:
        return len(self.audio) / self.sample_rate


def read_recording(path: Path | str, sample_rate: int, seconds: float | None = None,
                   max_seconds: float = MAX_RECORDING_SECONDS, tempo_factor: float = 1.0,
                   semitones: float = 0.0) -> Recording:
    """`path` as mono float32 at `sample_rate`: channels averaged, resampled (soxr), played
    `tempo_factor` times as fast and `semitones` higher where asked (a recording at another
    tempo or in another key than its section's; `audio.stretch`), and scaled down only if it
    peaks over `IMPORT_PEAK`. With `seconds`, only as much of the file as fills `seconds` is
    read (what a section can hold), however long the file is; without, a file longer than
    `max_seconds` is refused. Raises RecordingError with a one-line reason."""
    if not MIN_TEMPO_FACTOR <= tempo_factor <= MAX_TEMPO_FACTOR:
        raise RecordingError(f"cannot import at {tempo_factor:g} times the recording's speed: "
                             "from a quarter to four times is offered")
    if not -24.0 <= semitones <= 24.0:
        raise RecordingError(f"cannot transpose by {semitones:g} semitones: two octaves either "
                             "way at most")
    path = Path(path)
    if not path.is_file():
        raise RecordingError(f"cannot import {path.name}: the file does not exist")
    try:
        info = soundfile.info(str(path))
    except (soundfile.LibsndfileError, RuntimeError, OSError) as error:
        raise RecordingError(f"cannot import {path.name}: it is not an audio file this studio "
                             f"reads ({_reason(error)})") from None
    if info.frames <= 0 or info.samplerate <= 0:
        raise RecordingError(f"cannot import {path.name}: it holds no audio")
    if seconds is None and info.frames / info.samplerate > max_seconds:
        raise RecordingError(
            f"cannot import {path.name}: it is {_duration(info.frames / info.samplerate)} long; "
            f"recordings of up to {_duration(max_seconds)} can be imported")
    frames = -1 if seconds is None else min(
        info.frames, math.ceil(seconds * tempo_factor * info.samplerate))
    try:
        data, rate = soundfile.read(str(path), frames=frames, dtype="float32", always_2d=True)
    except (soundfile.LibsndfileError, RuntimeError, OSError) as error:
        raise RecordingError(f"cannot import {path.name}: reading it failed "
                             f"({_reason(error)})") from None
    mono = data.mean(axis=1, dtype=np.float32) if data.shape[1] > 1 else data[:, 0]
    if not np.isfinite(mono).all():
        raise RecordingError(f"cannot import {path.name}: it holds samples that are not numbers")
    audio = np.ascontiguousarray(resample(mono, int(rate), sample_rate), dtype=np.float32)
    audio = stretched(audio, sample_rate, tempo_factor, semitones)
    peak = float(np.abs(audio).max()) if len(audio) else 0.0
    if peak > IMPORT_PEAK:
        audio = audio * np.float32(IMPORT_PEAK / peak)
    return Recording(audio, sample_rate, path.name, int(rate), int(data.shape[1]))


def _reason(error: BaseException) -> str:
    return str(error).strip().splitlines()[0][:120] if str(error).strip() else type(error).__name__


def _duration(seconds: float) -> str:
    return f"{seconds:.1f} s" if seconds < 60 else f"{seconds / 60:.1f} minutes"
