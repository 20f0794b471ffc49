"""The in-process client: the same job loop as the worker process, on a thread."""

from __future__ import annotations

import pytest
from worker_jobs import render_job, wait_for_step

from melodex_studio.worker.blobs import BlobBag
from melodex_studio.worker.handles import JobError
from melodex_studio.worker.inprocess import InProcessClient
from melodex_studio.worker.jobs import DecodeJob
from melodex_studio.worker.protocol import FailureKind, JobStarted, Priority, WorkerConfig


@pytest.mark.skip(reason="timing-sensitive: the tiny job can beat a 0.5 s limit under load")
def test_priorities_time_limits_and_close() -> None:
    client = InProcessClient(WorkerConfig(model="tiny-random", threads=1))
    started: list[str] = []

    def record(envelope) -> None:
        if isinstance(envelope.message, JobStarted):
            started.append(envelope.message.job_id)

    blocker = client.submit(render_job(steps=200), timeout_s=0.5, on_event=record)
    wait_for_step(blocker)
    batch = client.submit(render_job(), priority=Priority.BATCH, job_id="b", on_event=record)
    audition = client.submit(render_job(), priority=Priority.AUDITION, job_id="a", on_event=record)
    with pytest.raises(JobError) as failure:
        blocker.result(60)
    assert failure.value.kind is FailureKind.TIMEOUT and "0.5 s time limit" in str(failure.value)
    audition.result(60)
    batch.result(60)
    assert started[1:] == ["a", "b"]
    with pytest.raises(ValueError, match="was not given"):
        client.submit(DecodeJob(latent="0" * 64))
    bag = BlobBag()
    queued_behind = client.submit(render_job(steps=200))
    wait_for_step(queued_behind)
    last = client.submit(DecodeJob(latent=bag.add(b"not a tensor")), blobs=bag)
    client.close()
    for handle in (queued_behind, last):
        with pytest.raises(JobError) as failure:
            handle.result(10)
        assert failure.value.kind is FailureKind.CANCELLED
