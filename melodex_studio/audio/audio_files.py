"""Writing audio files safely: formats, subtypes, block-wise writes, temp file + rename.

A file is written next to its target under a hidden temporary name and renamed into place only
when complete, so the target is never half-written; on any failure the temporary file is
removed and the error says what happened (a full disk is named as such).

MP3 and OGG: this libsndfile (1.2, bundled with the soundfile wheel) writes both. Writing a
whole long array to OGG/Vorbis in one call crashes libsndfile, so everything is written in
blocks (which also gives progress).
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Literal

import numpy as np
import soundfile

from melodex_studio.audio.errors import ExportError

AudioFormat = Literal["wav", "flac", "mp3", "ogg"]
AUDIO_FORMATS: tuple[AudioFormat, ...] = ("wav", "flac", "mp3", "ogg")
#: soundfile's format name and the subtypes we offer (first is the default).
_FORMATS: dict[str, tuple[str, tuple[str, ...]]] = {
    "wav": ("WAV", ("PCM_24", "PCM_16", "FLOAT")),
    "flac": ("FLAC", ("PCM_24", "PCM_16")),
    "mp3": ("MP3", ("MPEG_LAYER_III",)),
    "ogg": ("OGG", ("VORBIS", "OPUS")),
}
EXPORT_SAMPLE_RATES = (44100, 48000)
WRITE_BLOCK_FRAMES = 65536

ProgressFn = Callable[[float], None]


def format_for_path(path: Path, format: str | None = None) -> AudioFormat:
    """The format named explicitly, else the one the file suffix names."""
    name = (format or path.suffix.lstrip(".")).lower()
    if name == "wave":
        name = "wav"
    if name not in _FORMATS:
        raise ExportError(
            f"cannot export {path.name!r}: unknown audio format {name!r}; "
            f"use one of {', '.join(AUDIO_FORMATS)}"
        )
    return name  # type: ignore[return-value]


def subtype_for(format: AudioFormat, subtype: str | None) -> str:
    offered = _FORMATS[format][1]
    if subtype is None:
        return offered[0]
    chosen = subtype.upper()
    if chosen not in offered:
        raise ExportError(
            f"{format.upper()} files can be {', '.join(offered)}, not {subtype!r}"
        )
    return chosen


def is_pcm(subtype: str) -> bool:
    return subtype.startswith("PCM")


@contextlib.contextmanager
def atomic_target(path: Path) -> Iterator[Path]:
    """Yield a temporary path next to `path`; rename it onto `path` if the block succeeds."""
    path = Path(path)
    if not path.parent.is_dir():
        raise ExportError(f"cannot write {path}: the folder {path.parent} does not exist")
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.partial")
    try:
        yield temporary
        os.replace(temporary, path)
    except BaseException as error:
        with contextlib.suppress(OSError):
            temporary.unlink()
        if isinstance(error, ExportError | KeyboardInterrupt):
            raise
        if isinstance(error, OSError | RuntimeError | AssertionError):
            raise ExportError(describe_write_failure(path, error)) from error
        raise


def describe_write_failure(path: Path, error: BaseException) -> str:
    """A one-line reason a musician can act on."""
    if (isinstance(error, OSError) and error.errno == errno.ENOSPC) or _disk_nearly_full(path):
        return f"not enough disk space to write {path.name} in {path.parent}; free some space"
    if isinstance(error, OSError) and error.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return f"no permission to write {path.name} in {path.parent}; choose another folder"
    return f"could not write {path.name}: {error or type(error).__name__}"


def _disk_nearly_full(path: Path) -> bool:
    try:
        return shutil.disk_usage(path.parent).free < 1_000_000
    except OSError:
        return False


def write_audio(
    path: Path,
    audio: np.ndarray,
    sample_rate: int,
    format: AudioFormat,
    subtype: str,
    channels: int = 1,
    compression_level: float | None = None,
    progress: ProgressFn | None = None,
) -> None:
    """Write mono float32 `audio` to `path` (duplicated to `channels`), atomically."""
    data = np.asarray(audio, dtype=np.float32).reshape(-1)
    sf_format = _FORMATS[format][0]
    with atomic_target(Path(path)) as temporary:
        extra = {} if compression_level is None else {"compression_level": compression_level}
        with soundfile.SoundFile(
            temporary, "w", sample_rate, channels, subtype=subtype, format=sf_format, **extra
        ) as sink:
            total = max(1, len(data))
            for start in range(0, len(data), WRITE_BLOCK_FRAMES):
                block = data[start : start + WRITE_BLOCK_FRAMES]
                sink.write(block if channels == 1 else np.repeat(block[:, None], channels, 1))
                if progress is not None:
                    progress(min(1.0, (start + len(block)) / total))
