"""Running render and decode jobs on MusicGen (`engine.backends.musicgen`).

Everything but the model is `folder_executor.FolderModelExecutor`'s. MusicGen continues music
left to right, so it writes a section after the bars before it (its context), continues a take
into new bars and varies a take from any step (the bars up to that step kept), but does not
repaint bars that have kept bars of the same take after them: such a job is refused with what
to do instead. Guidance applies to the whole render (the section's guidance interval is one of
noise levels, which a token model does not have). Spans decode with a second of codes around
them, as EnCodec's decoder (an LSTM) reaches far.
"""

from __future__ import annotations

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
    decode_context_frames = 50  # a second: EnCodec's decoder has an LSTM, which reaches far

    def load_backend(self, folder: Path, device: torch.device,
                     dtype: torch.dtype) -> MusicGen:
        return MusicGen.from_folder(folder, device, dtype)

    def condition(self, job: RenderJob) -> MusicGenConditioning:
        return self.backend.condition(prompt_text(job))

    def check_render(self, job: RenderJob) -> None:
        super().check_render(job)
        spans = sorted((span.start, span.end) for span in job.generate)
        end = spans[0][1]
        for start, stop in spans[1:]:
            if start > end:
                raise ValueError("MusicGen writes one stretch of bars at a time: repaint the "
                                 "stretches one after another")
            end = max(end, stop)
        if end < job.keep.end:
            raise ValueError("MusicGen continues music from left to right and cannot repaint "
                             "bars with kept bars of the take after them: repaint to the end of "
                             "the section, vary the take from a step, or use the built-in model "
                             "or Stable Audio Open for this repaint")
