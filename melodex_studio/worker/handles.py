"""What a client hands back for a submitted job, and the event dispatch both clients share.

Events (`Envelope`s of server messages) reach the caller three ways: the per-job `on_event`
callback given to `submit`, the client-wide `on_event` callback, or (when that is None) the
client's `events` queue. Callbacks run on a client thread, never the GUI thread: a Qt adapter
re-emits them as signals on the main thread.
"""

from __future__ import annotations

import itertools
import os
import queue
import threading
from collections.abc import Callable

from melodex_studio.worker.jobs import Job
from melodex_studio.worker.protocol import (
    Envelope,
    FailureKind,
    JobFailed,
    JobResult,
    JobStarted,
    Priority,
    Progress,
    WorkerStatus,
)

EventCallback = Callable[[Envelope], None]
_job_numbers = itertools.count(1)


def new_job_id() -> str:
    """Unique within this process (and readable in logs): "job-<pid>-<n>"."""
    return f"job-{os.getpid()}-{next(_job_numbers)}"


class JobError(Exception):
    """A job that failed, was cancelled or timed out; `str()` is the one-line reason."""

    def __init__(self, job_id: str, kind: FailureKind, reason: str) -> None:
        super().__init__(reason)
        self.job_id = job_id
        self.kind = kind
        self.reason = reason


class JobHandle:
    """A submitted job: wait for its end, read its progress, cancel it."""

    def __init__(
        self,
        job_id: str,
        job: Job,
        priority: Priority,
        cancel: Callable[[str], None],
        on_event: EventCallback | None = None,
    ) -> None:
        self.job_id = job_id
        self.job = job
        self.priority = priority
        self._cancel = cancel
        self._on_event = on_event
        self._done = threading.Event()
        self._final: Envelope | None = None
        self.started = False
        self.step = 0
        self.total = 0

    def done(self) -> bool:
        return self._done.is_set()

    def cancel(self) -> None:
        self._cancel(self.job_id)

    def wait(self, timeout: float | None = None) -> Envelope:
        """The envelope that ended the job (JobResult or JobFailed)."""
        if not self._done.wait(timeout):
            raise TimeoutError(f"job {self.job_id} did not finish within {timeout} s")
        assert self._final is not None
        return self._final

    def result(self, timeout: float | None = None) -> Envelope:
        """The JobResult envelope (output + blobs); raises JobError if the job failed."""
        final = self.wait(timeout)
        if isinstance(final.message, JobFailed):
            failed = final.message
            raise JobError(failed.job_id, failed.kind, failed.reason)
        return final

    @property
    def failure(self) -> JobFailed | None:
        if self._final is not None and isinstance(self._final.message, JobFailed):
            return self._final.message
        return None

    def _deliver(self, envelope: Envelope) -> None:
        message = envelope.message
        if isinstance(message, JobStarted):
            self.started = True
        elif isinstance(message, Progress):
            self.step, self.total = message.step, message.total
        if self._on_event is not None:
            self._on_event(envelope)
        if isinstance(message, JobResult | JobFailed):
            self._final = envelope
            self._done.set()


class EventHub:
    """Routes server events to job handles and to the client's listener or queue."""

    def __init__(self, on_event: EventCallback | None) -> None:
        self._on_event = on_event
        self.events: queue.Queue[Envelope] = queue.Queue()
        self._handles: dict[str, JobHandle] = {}
        self._lock = threading.Lock()
        self.last_status: WorkerStatus | None = None

    def register(self, handle: JobHandle) -> None:
        with self._lock:
            if handle.job_id in self._handles:
                raise ValueError(f"job id {handle.job_id} is already in use")
            self._handles[handle.job_id] = handle

    def handle(self, job_id: str) -> JobHandle | None:
        with self._lock:
            return self._handles.get(job_id)

    def open_handles(self) -> list[JobHandle]:
        with self._lock:
            return list(self._handles.values())

    def dispatch(self, envelope: Envelope) -> None:
        message = envelope.message
        if isinstance(message, WorkerStatus):
            self.last_status = message
        job_id = envelope.job_id
        handle = None
        if job_id is not None:
            with self._lock:
                handle = self._handles.get(job_id)
                if handle is None:
                    return  # a late event of a job that already ended (e.g. after a restart)
                if isinstance(message, JobResult | JobFailed):
                    del self._handles[job_id]
        if handle is not None:
            handle._deliver(envelope)
        if self._on_event is not None:
            self._on_event(envelope)
        else:
            self.events.put(envelope)

    def fail(self, job_id: str, kind: FailureKind, reason: str) -> None:
        """End a job on the client side (the worker died, or it was cancelled before sending)."""
        self.dispatch(Envelope(JobFailed(job_id=job_id, kind=kind, reason=reason)))
