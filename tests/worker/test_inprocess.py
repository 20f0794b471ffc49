"""The in-process client: the same job loop as the worker process, on a thread.

Deterministic under any machine load: nothing here races a wall clock against the engine.
Queued jobs are submitted from the blocker's own JobStarted callback, which runs on the job
thread before the blocker's first step, so they are queued while it runs. Long jobs are slowed
by a progress callback that sleeps on the job thread, which puts a floor (never a ceiling)
under each step's time: load can only make them longer, never let them finish early.
"""

from __future__ import annotations

import time

import pytest
from worker_jobs import render_job, wait_for_step

from melodex_studio.worker.blobs import BlobBag
from melodex_studio.worker.handles import JobError
from melodex_studio.worker.inprocess import InProcessClient
from melodex_studio.worker.jobs import DecodeJob
from melodex_studio.worker.protocol import FailureKind, JobStarted, Priority, Progress, WorkerConfig

#: Each step of a slowed job takes at least this long, so LONG_STEPS steps take >= 10 s:
#: 20x the blocker's time limit, and far past anything the test waits for.
STEP_FLOOR_S = 0.05
LONG_STEPS = 200
TIME_LIMIT_S = 0.5


def slow_steps(envelope) -> None:
    """Runs on the job thread for each event: holds up the job after every step."""
    if isinstance(envelope.message, Progress):
        time.sleep(STEP_FLOOR_S)


def test_priorities_time_limits_and_close() -> None:
    client = InProcessClient(WorkerConfig(model="tiny-random", threads=1))
    started: list[str] = []
    queued: dict[str, object] = {}

    def queue_behind_blocker(envelope) -> None:
        message = envelope.message
        if isinstance(message, JobStarted):
            started.append(message.job_id)
            if "blocker" in started and not queued:
                # Still on the job thread, before the blocker's first step: both wait behind it.
                queued["b"] = client.submit(
                    render_job(), priority=Priority.BATCH, job_id="b", on_event=record
                )
                queued["a"] = client.submit(
                    render_job(), priority=Priority.AUDITION, job_id="a", on_event=record
                )
        slow_steps(envelope)

    def record(envelope) -> None:
        if isinstance(envelope.message, JobStarted):
            started.append(envelope.message.job_id)

    began = time.monotonic()
    blocker = client.submit(
        render_job(steps=LONG_STEPS),
        job_id="blocker",
        timeout_s=TIME_LIMIT_S,
        on_event=queue_behind_blocker,
    )
    with pytest.raises(JobError) as failure:
        blocker.result(60)
    assert failure.value.kind is FailureKind.TIMEOUT
    assert f"{TIME_LIMIT_S:g} s time limit" in str(failure.value)
    assert TIME_LIMIT_S <= time.monotonic() - began < LONG_STEPS * STEP_FLOOR_S
    assert blocker.step < LONG_STEPS  # stopped part-way, by the limit
    queued["a"].result(60)
    queued["b"].result(60)
    assert started == ["blocker", "a", "b"]  # audition before batch, whatever the order queued

    with pytest.raises(ValueError, match="was not given"):
        client.submit(DecodeJob(latent="0" * 64))
    bag = BlobBag()
    running = client.submit(render_job(steps=LONG_STEPS), on_event=slow_steps)
    wait_for_step(running)
    last = client.submit(DecodeJob(latent=bag.add(b"not a tensor")), blobs=bag)
    client.close()
    for handle in (running, last):
        with pytest.raises(JobError) as failure:
            handle.result(10)
        assert failure.value.kind is FailureKind.CANCELLED
    assert running.step < LONG_STEPS
