"""The worker process: start, status, progress, priorities, cancel, crash, timeout, restart.

One spawned worker (tiny random models, one thread) serves the module: spawning costs seconds.
Jobs are real renders of the tiny renderer; nothing is simulated.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import numpy as np
import pytest
from worker_jobs import render_job, wait_for_step

from melodex_studio.project import operations as ops
from melodex_studio.project.document import Document
from melodex_studio.project.models import new_project
from melodex_studio.store import MemoryBlobs
from melodex_studio.worker.blobs import BlobBag
from melodex_studio.worker.client import WorkerClient, WorkerUnavailable
from melodex_studio.worker.handles import JobError
from melodex_studio.worker.jobs import DecodeJob
from melodex_studio.worker.protocol import (
    FailureKind,
    JobStarted,
    Priority,
    Progress,
    WorkerConfig,
    WorkerState,
)


@pytest.fixture(scope="module")
def client() -> Iterator[WorkerClient]:
    worker = WorkerClient(WorkerConfig(model="tiny-random", threads=1), cancel_grace_s=0.5)
    worker.wait_ready(120)
    yield worker
    worker.close()
    assert worker.state is WorkerState.STOPPED


def test_status_names_device_model_and_threads(client: WorkerClient) -> None:
    status = client.wait_ready(60)
    assert status.state is WorkerState.IDLE and status.device == "cpu" and status.threads == 1
    assert status.model is not None and status.model.model_id.startswith("melodex-tiny")
    assert len(status.model.weights_hash) == 64 and status.memory_bytes > 0
    assert status.pid == client.pid


def test_render_reports_every_step_with_previews_and_is_deterministic(client: WorkerClient) -> None:
    events = []
    handle = client.submit(render_job(steps=4, preview_every=2), on_event=events.append)
    first = handle.result(120)
    steps = [e.message.step for e in events if isinstance(e.message, Progress)]
    assert steps == [1, 2, 3, 4]
    previews = [e for e in events if isinstance(e.message, Progress) and e.message.preview_audio]
    assert [p.message.step for p in previews] == [2]
    preview = BlobBag(previews[0].blobs).tensor(previews[0].message.preview_audio, "audio")
    assert preview.shape == (96 * 1024,) and np.isfinite(preview).all()
    second = client.submit(render_job(steps=4, preview_every=2)).result(120)
    assert first.message.output == second.message.output  # same seed, same bytes


def test_audition_jobs_run_before_batch_jobs(client: WorkerClient) -> None:
    started: list[str] = []

    def record(envelope) -> None:
        if isinstance(envelope.message, JobStarted):
            started.append(envelope.message.job_id)

    blocker = client.submit(render_job(steps=200), on_event=record)
    wait_for_step(blocker)
    batch = client.submit(render_job(), priority=Priority.BATCH, job_id="batch-1", on_event=record)
    audition = client.submit(
        render_job(), priority=Priority.AUDITION, job_id="audition-1", on_event=record
    )
    blocker.cancel()
    batch.result(60)
    audition.result(60)
    assert started[1:] == ["audition-1", "batch-1"]


def test_cancel_lands_within_one_step(client: WorkerClient) -> None:
    # Long steps (a long window), so the cancel message's trip is short next to one step.
    handle = client.submit(render_job(steps=200, frames=4096))
    wait_for_step(handle, 2)
    step_at_cancel = handle.step
    began = time.monotonic()
    handle.cancel()
    with pytest.raises(JobError) as failure:
        handle.result(30)
    assert failure.value.kind is FailureKind.CANCELLED
    assert handle.step <= step_at_cancel + 1
    assert time.monotonic() - began < 5.0


def test_sigkill_mid_render_fails_the_job_restarts_and_keeps_the_project(
    client: WorkerClient,
) -> None:
    project = new_project("Crash", bpm=120.0, sections_spec="A:1,B:1", seed=5)
    document, blobs = Document(project), MemoryBlobs()
    geometry = ops.LatentGeometry.from_model(client.wait_ready(60).model)
    section = project.sections[0]
    request = ops.generate_section(project, blobs.get, section.id, geometry=geometry)
    outcome = ops.finish_render(
        project, request, client.submit(request.job, blobs=request.blobs).result(60), blobs.get
    )
    for sha in outcome.blobs:
        blobs.add(sha, outcome.blobs[sha])
    document.history.push(outcome.command)
    before = document.project

    settings = section.settings.model_copy(update={"steps": 200})
    doomed = ops.regenerate_section(
        before, blobs.get, section.id, settings=settings, geometry=geometry
    )
    handle = client.submit(doomed.job, blobs=doomed.blobs)
    wait_for_step(handle)
    old_pid = client.pid
    killed_at = time.monotonic()
    client.kill_worker()
    with pytest.raises(JobError) as failure:
        handle.result(30)
    assert failure.value.kind is FailureKind.CRASHED
    assert str(failure.value) == "the worker stopped unexpectedly (killed by signal 9); restarted"
    client.wait_ready(30)
    assert time.monotonic() - killed_at < 5.0
    assert client.pid != old_pid
    assert document.project is before  # nothing reached the project
    retry = ops.regenerate_section(before, blobs.get, section.id, geometry=geometry)
    result = client.submit(retry.job, blobs=retry.blobs).result(60)
    assert ops.finish_render(before, retry, result, blobs.get).takes[0].audio


def test_a_job_past_its_time_limit_is_stopped_and_the_worker_restarted(
    client: WorkerClient,
) -> None:
    # One long, uncancellable step (a big decode): the cancel cannot land, so the worker dies.
    bag = BlobBag()
    latent = bag.add_latent(np.zeros((16, 6000), np.float32))
    old_pid = client.pid
    handle = client.submit(DecodeJob(latent=latent), blobs=bag, timeout_s=0.2)
    with pytest.raises(JobError) as failure:
        handle.result(60)
    assert failure.value.kind is FailureKind.TIMEOUT
    assert "time limit" in str(failure.value)
    client.wait_ready(30)
    assert client.pid != old_pid
    # A cancellable job past its limit ends at its next step, as a timeout, without a restart.
    pid = client.pid
    slow = client.submit(render_job(steps=200), timeout_s=0.3)
    with pytest.raises(JobError) as failure:
        slow.result(60)
    assert failure.value.kind is FailureKind.TIMEOUT and client.pid == pid


def test_a_missing_model_is_a_clear_error(tmp_path) -> None:
    with WorkerClient(WorkerConfig(model_dir=str(tmp_path / "nowhere"), threads=1)) as broken:
        with pytest.raises(WorkerUnavailable, match="missing"):
            broken.wait_ready(120)
        assert broken.state is WorkerState.BROKEN
        handle = broken.submit(render_job())
        with pytest.raises(JobError, match="missing"):
            handle.result(5)
