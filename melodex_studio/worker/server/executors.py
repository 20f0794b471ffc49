"""Which executor a worker runs: the one for the model its configuration names."""

from __future__ import annotations

from melodex_studio.worker.protocol import WorkerConfig
from melodex_studio.worker.server.executor import EngineExecutor
from melodex_studio.worker.server.stable_audio_executor import StableAudioExecutor


def make_executor(config: WorkerConfig) -> EngineExecutor | StableAudioExecutor:
    """The built-in model's executor, or Stable Audio Open's for `model="stable-audio"`."""
    if config.model == "stable-audio":
        return StableAudioExecutor(config)
    return EngineExecutor(config)
