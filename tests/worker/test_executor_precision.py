"""The built-in model's worker computes in bfloat16 where the device allows it and the musician
lets it (the renderer under autocast on a GPU), and says so in its status."""

from __future__ import annotations

import threading

import pytest
import torch

from melodex_studio.worker.protocol import WorkerConfig
from melodex_studio.worker.runtime import StepReporter
from melodex_studio.worker.server import executor as executor_module
from melodex_studio.worker.server import models as models_module
from melodex_studio.worker.server.executor import EngineExecutor
from tests.worker.worker_jobs import render_job


@pytest.mark.parametrize("allowed", [True, False])
def test_the_renderer_is_told_to_compute_in_bfloat16_only_when_the_device_and_preference_allow(
        monkeypatch, allowed) -> None:
    # The CPU stands in for a GPU that computes in bfloat16: the choice is made to say so.
    monkeypatch.setattr(models_module, "compute_dtype",
                        lambda device, half: torch.bfloat16 if half else torch.float32)
    asked: list[bool] = []
    render = executor_module.render

    def spy(*args, **kwargs):
        asked.append(kwargs["bf16_on_cuda"])
        return render(*args, **kwargs)

    monkeypatch.setattr(executor_module, "render", spy)
    executor = EngineExecutor(WorkerConfig(model="tiny-random", device="cpu",
                                           half_precision=allowed))
    executor.load()
    assert executor.describe().precision == ("bfloat16" if allowed else "float32")
    output, _ = executor.run(render_job(steps=2, frames=48), {},
                             StepReporter("j", lambda _: None, threading.Event()))
    assert len(output.candidates) == 1 and asked and set(asked) == {allowed}


def test_a_cpu_worker_computes_in_float32_whatever_the_preference() -> None:
    executor = EngineExecutor(WorkerConfig(model="tiny-random", device="cpu",
                                           half_precision=True))
    executor.load()
    assert executor.models is not None and executor.models.compute_dtype == torch.float32
    assert executor.describe().precision == "float32"
