"""Errors of the audio engine, each with a message a musician can act on."""

from __future__ import annotations


class AudioError(Exception):
    """Base class: something in playback, mixing or export went wrong."""


class AudioDeviceError(AudioError):
    """No output device, an unusable device, or a device lost while playing."""


class MissingTakeAudioError(AudioError):
    """A section's active take has no readable audio (not rendered yet, or the blob is gone)."""


class ExportError(AudioError):
    """An export could not be written; no partial file is left behind."""


class RecordingError(AudioError):
    """A recording could not be imported: missing, not audio, empty or too long."""
