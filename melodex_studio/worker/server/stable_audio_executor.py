"""Running render and decode jobs on Stable Audio Open (`engine.backends.stable_audio`).

Everything but the model is `folder_executor.FolderModelExecutor`'s; Stable Audio Open also
hears where the window sits in the song (it was trained on crops of whole pieces). Generate,
regenerate, retake, repaint, extend, vary from a stored step and re-run all work.
"""

from __future__ import annotations

from pathlib import Path

import torch

from melodex_studio.engine.backends.stable_audio import StableAudioConditioning, StableAudioOpen
from melodex_studio.worker.jobs import RenderJob
from melodex_studio.worker.server.folder_executor import FolderModelExecutor, prompt_text

MODEL_ID = "stable-audio-open"


class StableAudioExecutor(FolderModelExecutor):
    """A `JobExecutor` over Stable Audio Open from `config.model_dir`."""

    model_id = MODEL_ID
    name = "Stable Audio Open"

    def load_backend(self, folder: Path, device: torch.device,
                     dtype: torch.dtype) -> StableAudioOpen:
        return StableAudioOpen.from_folder(folder, device, dtype)

    def condition(self, job: RenderJob) -> StableAudioConditioning:
        start_seconds = job.window_start / self.backend.frame_rate
        seconds = job.window_frames / self.backend.frame_rate
        total = max(job.song_seconds or 0.0, start_seconds + seconds)
        return self.backend.condition(prompt_text(job), start_seconds, total)
