"""User preferences as a validated, versioned model.

The version number travels in the file; `migrations.py` upgrades older files step by step
(napari does the same), so a preference renamed in a later release is carried over, not lost.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

SETTINGS_VERSION = 2


class AudioSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    output_device: str | None = Field(default=None, max_length=256)
    """Device name as PortAudio reports it; None picks the system default."""
    sample_rate: Literal[44100, 48000] = 44100
    buffer_ms: float = Field(default=20.0, ge=2.0, le=200.0)
    swap_crossfade_ms: float = Field(default=5.0, ge=0.0, le=50.0)
    metronome_db: float = Field(default=-9.0, ge=-40.0, le=0.0)
    """Level of the metronome's downbeat click (the other beats sit 5 dB under it)."""


class InferenceSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    model_id: str = Field(default="melodex-tiny", max_length=128)
    device: Literal["auto", "cpu", "cuda"] = "auto"
    threads: int = Field(default=0, ge=0, le=256)
    """0 means: let the worker choose (all physical cores)."""
    bf16_on_cuda: bool = True
    stable_audio_dir: str | None = Field(default=None, max_length=4096)
    musicgen_dir: str | None = Field(default=None, max_length=4096)


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    version: int = SETTINGS_VERSION
    audio: AudioSettings = AudioSettings()
    inference: InferenceSettings = InferenceSettings()
    autosave_interval_s: float = Field(default=30.0, ge=5.0, le=3600.0)
    theme: Literal["dark", "light"] = "dark"
    recent_files: tuple[str, ...] = Field(default=(), max_length=20)

    def with_recent_file(self, path: str) -> Settings:
        """Most recent first, no duplicates, at most 10 kept."""
        recent = (path, *(p for p in self.recent_files if p != path))[:10]
        return self.model_copy(update={"recent_files": recent})
