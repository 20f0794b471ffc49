"""The job loop's failure reporting: every way a job can end is one typed, one-line message."""

from __future__ import annotations

import threading
from collections.abc import Mapping

from melodex_studio.worker.jobs import DecodeJob, DecodeOutput, ModelInfo
from melodex_studio.worker.protocol import (
    Envelope,
    FailureKind,
    JobFailed,
    JobResult,
    SubmitJob,
    WorkerState,
    WorkerStatus,
)
from melodex_studio.worker.runtime import JobOutOfMemory, JobRunner, StepReporter

INFO = ModelInfo(
    model_id="m",
    weights_hash="",
    latent_channels=16,
    latent_frame_rate=23.4375,
    sample_rate=24000,
    samples_per_frame=1024,
)


class RaisingExecutor:
    """Runs a job by raising what the test asks for (the engine's error paths, without an
    engine): `outcomes` maps the job's latent ref to an exception, or None for success."""

    def __init__(self, outcomes: Mapping[str, BaseException | None]) -> None:
        self.outcomes = outcomes

    def run(self, job, blobs, reporter: StepReporter):
        error = self.outcomes[job.latent]
        if error is not None:
            raise error
        return DecodeOutput(audio="a" * 64, model=INFO), {}

    def describe(self) -> WorkerStatus:
        return WorkerStatus(state=WorkerState.IDLE, device="cpu")


def _run(outcomes: dict[str, BaseException | None]) -> dict[str, Envelope]:
    ended: dict[str, Envelope] = {}
    done = threading.Event()

    def emit(envelope: Envelope) -> None:
        if isinstance(envelope.message, JobResult | JobFailed):
            ended[envelope.job_id] = envelope
            if len(ended) == len(outcomes):
                done.set()

    runner = JobRunner(RaisingExecutor(outcomes), emit)
    for ref in outcomes:
        runner.submit(Envelope(SubmitJob(job_id=f"job-{ref[0]}", job=DecodeJob(latent=ref))))
    thread = threading.Thread(target=runner.run_forever, daemon=True)
    thread.start()
    assert done.wait(10)
    runner.stop()
    thread.join(5)
    return ended


def test_failures_are_typed_and_one_line() -> None:
    ended = _run(
        {
            "1" * 64: MemoryError(),
            "2" * 64: JobOutOfMemory("out of memory on cuda:0 while running the render job"),
            "3" * 64: ValueError("window too long\nsecond line"),
            "4" * 64: None,
        }
    )
    kinds = {
        job: env.message.kind for job, env in ended.items() if isinstance(env.message, JobFailed)
    }
    assert kinds == {"job-1": FailureKind.OOM, "job-2": FailureKind.OOM, "job-3": FailureKind.ERROR}
    assert ended["job-2"].message.reason == "out of memory on cuda:0 while running the render job"
    assert ended["job-3"].message.reason == (
        "the decode job failed: ValueError: window too long second line"
    )
    assert isinstance(ended["job-4"].message, JobResult)


def test_cancelling_a_queued_job_answers_at_once() -> None:
    emitted: list[Envelope] = []
    runner = JobRunner(RaisingExecutor({}), emitted.append)
    runner.submit(Envelope(SubmitJob(job_id="queued", job=DecodeJob(latent="5" * 64))))
    assert runner.queued == 1
    runner.cancel("queued")
    runner.cancel("unknown")  # ignored
    assert runner.queued == 0
    assert [e.message for e in emitted] == [
        JobFailed(job_id="queued", kind=FailureKind.CANCELLED, reason="cancelled")
    ]
