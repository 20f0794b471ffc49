"""Running render and decode jobs on MusicGen (`engine.backends.musicgen`).

Everything but the model is `folder_executor.FolderModelExecutor`'s. MusicGen continues music
left to right, so it writes a section after the bars before it (its context), continues a take
into new bars and varies a take from any step (the bars up to that step kept), but does not
repaint bars that have kept bars of the same take after them: such a job is refused with what
to do instead.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import torch

from melodex_studio.engine.backends.musicgen import MusicGen, MusicGenConditioning
from melodex_studio.worker.jobs import RenderJob
from melodex_studio.worker.server.folder_executor import FolderModelExecutor, prompt_text

MODEL_ID = "musicgen"


class MusicGenExecutor(FolderModelExecutor):
    """A `JobExecutor` over MusicGen from `config.model_dir`."""

    model_id = MODEL_ID
    name = "MusicGen"

    def load_backend(self, folder: Path, device: torch.device) -> MusicGen:
        return MusicGen.from_folder(folder, device)

    def condition(self, job: RenderJob) -> MusicGenConditioning:
        return self.backend.condition(prompt_text(job))

    def check_render(self, job: RenderJob) -> None:
        super().check_render(job)
        spans = sorted((span.start, span.end) for span in job.generate)
        if any(later[0] > earlier[1] for earlier, later in itertools.pairwise(spans)):
            raise ValueError("MusicGen writes one stretch of bars at a time: repaint the "
                             "stretches one after another")
        if spans and spans[-1][1] < job.keep.end:
            raise ValueError("MusicGen continues music from left to right and cannot repaint "
                             "bars with kept bars of the take after them: repaint to the end of "
                             "the section, vary the take from a step, or use the built-in model "
                             "or Stable Audio Open for this repaint")
