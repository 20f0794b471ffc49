"""Real jobs for the worker tests: a short render of the tiny renderer, and a progress wait."""

from __future__ import annotations

import time

from melodex_studio.worker.handles import JobHandle
from melodex_studio.worker.jobs import AudioSpan, Conditioning, FrameRange, RenderJob

COND = Conditioning(prompt="warm tape chords", bpm=110.0, key="D major", meter="4/4")


def render_job(steps: int = 4, frames: int = 96, preview_every: int = 0) -> RenderJob:
    return RenderJob(
        conditioning=COND,
        window_start=0,
        window_frames=frames,
        generate=(FrameRange(start=0, end=frames),),
        seeds=(3,),
        steps=steps,
        guidance=3.0,
        keep=FrameRange(start=0, end=frames),
        decode=AudioSpan(start=0, end=frames * 1024),
        preview_every=preview_every,
    )


def wait_for_step(handle: JobHandle, step: int = 1, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while handle.step < step and not handle.done():
        assert time.monotonic() < deadline, "the job made no progress"
        time.sleep(0.005)
