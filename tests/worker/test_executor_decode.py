"""The worker decodes a render with the control raster it rendered from, so a codec with a
plan adapter hears the take's plan (tiny random models, the adapter's outputs randomised)."""

from __future__ import annotations

import dataclasses
import threading

import numpy as np
import torch
from adapted_codec import adapted_codec, raster_plan
from worker_jobs import COND, render_job

from melodex_studio.audio.limiter import limit_overs
from melodex_studio.engine.control_raster import control_raster
from melodex_studio.engine.pipelines.decode import decode
from melodex_studio.music.key import Key
from melodex_studio.music.meter import Meter
from melodex_studio.music.tempo import TempoGrid
from melodex_studio.worker.blobs import BlobBag
from melodex_studio.worker.protocol import WorkerConfig
from melodex_studio.worker.runtime import StepReporter
from melodex_studio.worker.server.executor import PEAK_CEILING, EngineExecutor


def test_a_render_is_decoded_with_the_plan_it_was_rendered_from() -> None:
    executor = EngineExecutor(WorkerConfig(model="tiny-random", device="cpu"))
    executor.load()
    assert executor.models is not None
    codec = adapted_codec()
    codec.load_state_dict(executor.models.codec.state_dict(), strict=False)
    executor.models = dataclasses.replace(executor.models, codec=codec)
    plan = raster_plan()
    job = render_job(steps=2, frames=96).model_copy(update={"plan": plan})
    output, blobs = executor.run(job, {}, StepReporter("j", lambda _: None, threading.Event()))
    bag = BlobBag(blobs)
    candidate = output.candidates[0]
    final = torch.from_numpy(bag.tensor(candidate.final_latent).copy())
    audio = bag.tensor(candidate.audio)
    grid = TempoGrid(COND.bpm, Meter.parse(COND.meter), codec.sample_rate)
    control = control_raster(plan, Key.parse(COND.key), grid, 96, codec.config.latent_frame_rate)
    rate = codec.sample_rate
    raw = decode(codec, final, control=control).numpy()
    with_plan = limit_overs(raw, rate, PEAK_CEILING)
    np.testing.assert_allclose(audio, with_plan, atol=1e-5)
    # The random codec decodes loud: the take leaves the worker under the ceiling.
    assert np.abs(raw).max() > 1.0 and np.abs(audio).max() <= PEAK_CEILING * 1.001
    without = limit_overs(decode(codec, final).numpy(), rate, PEAK_CEILING)
    assert np.abs(audio - without).max() > 1e-3
