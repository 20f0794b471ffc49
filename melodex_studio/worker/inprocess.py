"""A worker client that runs jobs on a thread of this process: for tests and the command line.

Same interface as `WorkerClient` (submit, cancel, events, status, close) and the same job loop
(`JobRunner`), so priorities, cancellation and failure reasons behave identically; what it
cannot do is survive a crash of the engine, or stop a job harder than a cancel (a time limit
cancels the job at its next step and reports it as timed out).
"""

from __future__ import annotations

import importlib
import queue
import threading
import time
from collections.abc import Mapping

from melodex_studio.worker.handles import EventCallback, EventHub, JobHandle, new_job_id
from melodex_studio.worker.jobs import Job, blobs_for
from melodex_studio.worker.protocol import (
    Envelope,
    FailureKind,
    JobFailed,
    JobResult,
    JobStarted,
    Priority,
    SubmitJob,
    WorkerConfig,
    WorkerState,
    WorkerStatus,
    encode_frame,
    one_line,
)
from melodex_studio.worker.runtime import JobRunner


class InProcessClient:
    """Loads the models in this process (on the calling thread) and runs jobs on one thread."""

    def __init__(
        self,
        config: WorkerConfig | None = None,
        *,
        on_event: EventCallback | None = None,
        job_timeout_s: float | None = None,
    ) -> None:
        self.config = config or WorkerConfig()
        self.job_timeout_s = job_timeout_s
        self._hub = EventHub(on_event)
        self._timeouts: dict[str, float] = {}
        self._timed_out: set[str] = set()
        self._started: dict[str, float] = {}
        self._lock = threading.Lock()
        self._closed = False
        # Imported by name: the server package pulls in torch, which callers of this client
        # have chosen to load (tests, the CLI); the studio itself uses WorkerClient.
        server = importlib.import_module("melodex_studio.worker.server")
        self._executor = server.make_executor(self.config)
        self._executor.load()
        self._runner = JobRunner(self._executor, self._on_envelope)
        self._thread = threading.Thread(
            target=self._runner.run_forever, name="melodex-inprocess-worker", daemon=True
        )
        self._thread.start()
        self._watchdog = threading.Thread(
            target=self._watch, name="melodex-inprocess-watchdog", daemon=True
        )
        self._watchdog.start()
        self._hub.dispatch(Envelope(self._runner.status()))

    @property
    def events(self) -> queue.Queue[Envelope]:
        return self._hub.events

    @property
    def state(self) -> WorkerState:
        if self._closed:
            return WorkerState.STOPPED
        return WorkerState.BUSY if self._runner.running_job else WorkerState.IDLE

    @property
    def status(self) -> WorkerStatus:
        return self._runner.status()

    def wait_ready(self, timeout: float | None = None) -> WorkerStatus:
        return self._runner.status()

    def submit(
        self,
        job: Job,
        *,
        blobs: Mapping[str, bytes] | None = None,
        priority: Priority = Priority.INTERACTIVE,
        job_id: str | None = None,
        timeout_s: float | None = None,
        on_event: EventCallback | None = None,
    ) -> JobHandle:
        blobs = blobs_for(job, blobs)
        job_id = job_id or new_job_id()
        message = SubmitJob(job_id=job_id, priority=priority, job=job)
        encode_frame(message, blobs)  # the same checks a pipe would apply (sizes, JSON)
        handle = JobHandle(job_id, job, priority, self.cancel, on_event)
        self._hub.register(handle)
        if self._closed:
            self._hub.fail(job_id, FailureKind.CANCELLED, "the worker was closed")
            return handle
        limit = self.job_timeout_s if timeout_s is None else timeout_s
        if limit is not None:
            with self._lock:
                self._timeouts[job_id] = limit
        self._runner.submit(Envelope(message, blobs))
        return handle

    def cancel(self, job_id: str) -> None:
        self._runner.cancel(job_id)

    def request_status(self) -> None:
        self._hub.dispatch(Envelope(self._runner.status()))

    def close(self, timeout: float = 5.0) -> None:
        if self._closed:
            return
        self._closed = True
        self._runner.stop()
        self._thread.join(timeout)
        for handle in self._hub.open_handles():
            self._hub.fail(handle.job_id, FailureKind.CANCELLED, "the worker was closed")

    def __enter__(self) -> InProcessClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _on_envelope(self, envelope: Envelope) -> None:
        message = envelope.message
        if isinstance(message, JobStarted):
            with self._lock:
                self._started[message.job_id] = time.monotonic()
        elif isinstance(message, JobFailed):
            with self._lock:
                timed_out = message.job_id in self._timed_out
                limit = self._timeouts.get(message.job_id)
            if timed_out and message.kind is FailureKind.CANCELLED:
                envelope = Envelope(
                    JobFailed(
                        job_id=message.job_id,
                        kind=FailureKind.TIMEOUT,
                        reason=one_line(f"the job ran past its {limit:g} s time limit"),
                    )
                )
        if isinstance(envelope.message, JobResult | JobFailed):
            with self._lock:
                self._started.pop(envelope.job_id, None)
                self._timeouts.pop(envelope.job_id, None)
                self._timed_out.discard(envelope.job_id)
        self._hub.dispatch(envelope)

    def _watch(self) -> None:
        while not self._closed:
            time.sleep(0.05)
            now = time.monotonic()
            with self._lock:
                expired = [
                    job_id
                    for job_id, started in self._started.items()
                    if job_id in self._timeouts
                    and job_id not in self._timed_out
                    and now - started > self._timeouts[job_id]
                ]
                self._timed_out.update(expired)
            for job_id in expired:
                self._runner.cancel(job_id)
