"""A render job with `key_retries` listens to each candidate and renders it again from the next
retry seed when it is heard off key; the kept candidate's seed re-renders it exactly."""

from __future__ import annotations

import threading

import numpy as np
import pydantic
import pytest
from worker_jobs import COND, render_job

import melodex_studio.engine.pipelines.render_in_key as render_in_key_module
from melodex_studio.engine.pipelines.render_in_key import retry_seed
from melodex_studio.music.key import Key
from melodex_studio.worker.blobs import BlobBag
from melodex_studio.worker.protocol import Envelope, WorkerConfig
from melodex_studio.worker.runtime import StepReporter
from melodex_studio.worker.server.executor import EngineExecutor

STEPS = 2


@pytest.fixture(scope="module")
def executor() -> EngineExecutor:
    engine = EngineExecutor(WorkerConfig(model="tiny-random", device="cpu"))
    engine.load()
    return engine


def _run(executor: EngineExecutor, **update: object) -> tuple[object, BlobBag, list[tuple]]:
    progress: list[tuple[int, int]] = []

    def emit(envelope: Envelope) -> None:
        message = envelope.message
        progress.append((message.step, message.total))

    job = render_job(steps=STEPS, frames=48).model_copy(update=update)
    job = type(job).model_validate(job.model_dump())  # the validators run on the update
    output, blobs = executor.run(job, {}, StepReporter("k", emit, threading.Event()))
    return output, BlobBag(blobs), progress


def test_a_candidate_heard_off_key_is_rendered_again_and_keeps_the_retry_seed(
    executor: EngineExecutor, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked = Key.parse(COND.key)
    heard = iter([asked.relative, asked])  # the first render off key, the second in it

    def correlations(audio: np.ndarray, rate: int) -> np.ndarray:
        values = np.full(24, -0.2)
        values[next(heard).index] = 0.9
        return values

    monkeypatch.setattr(render_in_key_module, "key_correlations", correlations)
    output, bag, progress = _run(executor, key_retries=3)
    candidate = output.candidates[0]
    assert (candidate.renders, candidate.heard_key) == (2, str(asked))
    assert candidate.seed == retry_seed(3, 1)
    # Progress runs over both renders: the job grew by one render's steps.
    assert progress[-1] == (2 * STEPS, 2 * STEPS)
    assert [step for step, _ in progress] == list(range(1, 2 * STEPS + 1))
    # The take's record reproduces it: a plain render from the kept seed is the same take.
    monkeypatch.undo()
    again, again_bag, _ = _run(executor, seeds=(candidate.seed,))
    np.testing.assert_array_equal(bag.tensor(candidate.final_latent),
                                  again_bag.tensor(again.candidates[0].final_latent))
    np.testing.assert_array_equal(bag.tensor(candidate.audio),
                                  again_bag.tensor(again.candidates[0].audio))
    assert again.candidates[0].heard_key is None and again.candidates[0].renders == 1


def test_the_real_listener_answers_with_a_key_and_stays_deterministic(
    executor: EngineExecutor,
) -> None:
    first, first_bag, _ = _run(executor, key_retries=2)
    second, second_bag, _ = _run(executor, key_retries=2)
    candidate = first.candidates[0]
    assert 1 <= candidate.renders <= 3
    assert candidate.seed in {retry_seed(3, attempt) for attempt in range(candidate.renders)}
    assert candidate.heard_key == "" or Key.parse(candidate.heard_key)
    assert second.candidates[0] == candidate
    np.testing.assert_array_equal(first_bag.tensor(candidate.audio),
                                  second_bag.tensor(second.candidates[0].audio))


def test_key_retries_need_audio_and_fresh_noise() -> None:
    job = render_job(steps=STEPS, frames=48)
    for update in ({"decode": None}, {"noise": "0" * 64}):
        with pytest.raises(pydantic.ValidationError, match="listened to for its key"):
            type(job).model_validate({**job.model_dump(), "key_retries": 1, **update})
