"""The job loop of a worker, without torch: a priority queue, cancel flags, progress reports.

`JobRunner` is shared by the worker process (`worker.server`) and the in-process client
(`worker.inprocess`), so both honour priorities, cancellation and failures the same way. It
runs jobs one at a time on the thread that calls `run_forever`; `submit` and `cancel` may be
called from any thread (in the worker process, the pipe reader thread calls them while a job
runs, which is how a cancel lands within one denoising step).
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from melodex_studio.worker.jobs import Job, JobOutput
from melodex_studio.worker.protocol import (
    Envelope,
    FailureKind,
    JobFailed,
    JobResult,
    JobStarted,
    Progress,
    SubmitJob,
    WorkerState,
    WorkerStatus,
    one_line,
)

Emit = Callable[[Envelope], None]


class JobCancelled(Exception):
    """Raised inside a job at the next step after its cancel flag was set."""


class JobOutOfMemory(Exception):
    """The device ran out of memory; the message says what to try instead."""


class StepReporter:
    """Handed to a running job: report progress, and learn (at each step) if it was cancelled."""

    def __init__(self, job_id: str, emit: Emit, cancel_flag: threading.Event) -> None:
        self.job_id = job_id
        self._emit = emit
        self._cancel_flag = cancel_flag

    @property
    def cancelled(self) -> bool:
        return self._cancel_flag.is_set()

    def check_cancelled(self) -> None:
        if self._cancel_flag.is_set():
            raise JobCancelled(self.job_id)

    def progress(
        self, step: int, total: int, preview: tuple[str, bytes, int] | None = None
    ) -> None:
        """Step `step` of `total` done; `preview` is (sha256, audio blob, sample rate)."""
        if preview is None:
            self._emit(Envelope(Progress(job_id=self.job_id, step=step, total=total)))
            return
        sha, data, rate = preview
        message = Progress(
            job_id=self.job_id, step=step, total=total, preview_audio=sha, preview_sample_rate=rate
        )
        self._emit(Envelope(message, {sha: data}))


class JobExecutor(Protocol):
    """What actually runs jobs (the engine side)."""

    def run(
        self, job: Job, blobs: Mapping[str, bytes], reporter: StepReporter
    ) -> tuple[JobOutput, Mapping[str, bytes]]: ...

    def describe(self) -> WorkerStatus: ...


@dataclass(order=True)
class _Queued:
    priority: int
    sequence: int
    envelope: Envelope


class JobRunner:
    """Runs submitted jobs by priority (then submission order), one at a time."""

    def __init__(self, executor: JobExecutor, emit: Emit) -> None:
        self._executor = executor
        self._emit = emit
        self._lock = threading.Condition()
        self._heap: list[_Queued] = []
        self._sequence = itertools.count()
        self._cancelled_ids: set[str] = set()
        self._running: str | None = None
        self._running_flag: threading.Event | None = None
        self._stopping = False

    # -- any thread ------------------------------------------------------------------------------

    def submit(self, envelope: Envelope) -> None:
        message = envelope.message
        if not isinstance(message, SubmitJob):
            raise TypeError(f"expected SubmitJob, got {type(message).__name__}")
        with self._lock:
            heapq.heappush(
                self._heap, _Queued(int(message.priority), next(self._sequence), envelope)
            )
            self._lock.notify_all()

    def cancel(self, job_id: str) -> None:
        """Cancel a queued job at once, or the running job at its next step."""
        with self._lock:
            if self._running == job_id and self._running_flag is not None:
                self._running_flag.set()
                return
            for index, queued in enumerate(self._heap):
                if queued.envelope.job_id == job_id:
                    self._heap.pop(index)
                    heapq.heapify(self._heap)
                    break
            else:
                return
        self._emit(Envelope(_cancelled(job_id)))

    def stop(self) -> None:
        """Finish: the running job is cancelled, queued ones are dropped, `run_forever` returns."""
        with self._lock:
            self._stopping = True
            if self._running_flag is not None:
                self._running_flag.set()
            self._lock.notify_all()

    @property
    def queued(self) -> int:
        with self._lock:
            return len(self._heap)

    @property
    def running_job(self) -> str | None:
        with self._lock:
            return self._running

    def status(self) -> WorkerStatus:
        described = self._executor.describe()
        with self._lock:
            state = described.state
            if state not in (WorkerState.LOADING, WorkerState.BROKEN):
                state = WorkerState.BUSY if self._running else WorkerState.IDLE
            return described.model_copy(
                update={"state": state, "queued": len(self._heap), "running_job": self._running}
            )

    # -- the job thread --------------------------------------------------------------------------

    def run_forever(self) -> None:
        while True:
            with self._lock:
                while not self._heap and not self._stopping:
                    self._lock.wait()
                if self._stopping:
                    return
                queued = heapq.heappop(self._heap)
                flag = threading.Event()
                self._running = queued.envelope.job_id
                self._running_flag = flag
            try:
                self._run_one(queued.envelope, flag)
            finally:
                with self._lock:
                    self._running = None
                    self._running_flag = None

    def _run_one(self, envelope: Envelope, flag: threading.Event) -> None:
        message = envelope.message
        assert isinstance(message, SubmitJob)
        job_id = message.job_id
        self._emit(Envelope(JobStarted(job_id=job_id)))
        reporter = StepReporter(job_id, self._emit, flag)
        started = time.perf_counter()
        try:
            output, blobs = self._executor.run(message.job, envelope.blobs, reporter)
        except JobCancelled:
            self._emit(Envelope(_cancelled(job_id)))
        except (JobOutOfMemory, MemoryError) as exc:
            detail = str(exc) or "out of memory"
            self._emit(
                Envelope(JobFailed(job_id=job_id, kind=FailureKind.OOM, reason=one_line(detail)))
            )
        except Exception as exc:
            reason = one_line(f"the {message.job.kind} job failed: {type(exc).__name__}: {exc}")
            self._emit(Envelope(JobFailed(job_id=job_id, kind=FailureKind.ERROR, reason=reason)))
        else:
            seconds = time.perf_counter() - started
            result = JobResult(job_id=job_id, output=output, seconds=seconds)
            self._emit(Envelope(result, dict(blobs)))


def _cancelled(job_id: str) -> JobFailed:
    return JobFailed(job_id=job_id, kind=FailureKind.CANCELLED, reason="cancelled")
