"""Which executor a worker runs: the one for the model its configuration names."""

from __future__ import annotations

from melodex_studio.worker.protocol import WorkerConfig
from melodex_studio.worker.server.executor import EngineExecutor
from melodex_studio.worker.server.folder_executor import FolderModelExecutor
from melodex_studio.worker.server.musicgen_executor import MusicGenExecutor
from melodex_studio.worker.server.stable_audio_executor import StableAudioExecutor


def make_executor(config: WorkerConfig) -> EngineExecutor | FolderModelExecutor:
    """The built-in model's executor, or the one for the large model `config.model` names
    (`"stable-audio"`, `"musicgen"`), loaded from `config.model_dir`."""
    if config.model == "stable-audio":
        return StableAudioExecutor(config)
    if config.model == "musicgen":
        return MusicGenExecutor(config)
    return EngineExecutor(config)
