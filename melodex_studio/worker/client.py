"""The studio side of the worker: spawn it, send jobs, watch it, restart it when it dies.

The worker is a separate process (spawn start method: a clean interpreter, no forked torch or
Qt state) that owns torch and the models, so a crash, an out-of-memory kill or a hang never
takes the studio down. Each process is a *generation*: its pipe, a reader thread and a sender
thread. When the pipe reports end of file the generation is over: the job it was running fails
with a one-line reason, a new generation starts, and jobs that had not started yet are sent to
it. A watchdog thread enforces job time limits: first a cancel, then (after a grace period) a
hard kill, as Stargate does with a stuck engine.

No torch here; frames are bytes (`Connection.send_bytes`), nothing is pickled.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import queue
import signal
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess

from melodex_studio.worker.entry import worker_process_main
from melodex_studio.worker.handles import EventCallback, EventHub, JobHandle, new_job_id
from melodex_studio.worker.jobs import Job, blobs_for
from melodex_studio.worker.protocol import (
    CancelJob,
    Configure,
    Envelope,
    FailureKind,
    JobFailed,
    JobResult,
    JobStarted,
    Priority,
    ProtocolError,
    RequestStatus,
    Shutdown,
    SubmitJob,
    WorkerConfig,
    WorkerState,
    WorkerStatus,
    decode_frame,
    encode_frame,
    one_line,
)

RESTART_WINDOW_S = 60.0


class WorkerUnavailable(RuntimeError):
    """The worker cannot run jobs (it is closed, or it cannot load its models)."""


@dataclass
class _Generation:
    number: int
    process: BaseProcess
    conn: Connection
    outbox: queue.Queue[bytes | None] = field(default_factory=queue.Queue)
    ready: threading.Event = field(default_factory=threading.Event)
    started_at: float = field(default_factory=time.monotonic)
    kill_reason: tuple[FailureKind, str] | None = None
    closing: bool = False


@dataclass
class _Pending:
    frame: bytes
    handle: JobHandle
    timeout_s: float | None
    generation: int = 0
    started_at: float | None = None
    cancel_requested: bool = False
    timeout_cancel_at: float | None = None


def describe_exit(exitcode: int | None) -> str:
    if exitcode is None:
        return "it stopped answering"
    if exitcode < 0:
        return f"killed by signal {-exitcode}"
    return f"exit code {exitcode}"


class WorkerClient:
    """Runs jobs in a worker process. Thread-safe; events arrive on client threads.

    `job_timeout_s` is the default time limit of a job once it has started (None: no limit);
    past it the job is cancelled, and `cancel_grace_s` later the worker is killed and restarted.
    """

    def __init__(
        self,
        config: WorkerConfig | None = None,
        *,
        on_event: EventCallback | None = None,
        job_timeout_s: float | None = None,
        cancel_grace_s: float = 2.0,
        start_timeout_s: float = 300.0,
        max_restarts: int = 3,
        autostart: bool = True,
    ) -> None:
        self.config = config or WorkerConfig()
        self._hub = EventHub(on_event)
        self.job_timeout_s = job_timeout_s
        self.cancel_grace_s = cancel_grace_s
        self.start_timeout_s = start_timeout_s
        self.max_restarts = max_restarts
        self._context = multiprocessing.get_context("spawn")
        self._lock = threading.RLock()
        self._pending: dict[str, _Pending] = {}
        self._generation: _Generation | None = None
        self._numbers = 0
        self._restarts: list[float] = []
        self._state = WorkerState.STOPPED
        self._broken_reason = ""
        self._closed = False
        self._wake = threading.Event()
        self._watchdog = threading.Thread(
            target=self._watch, name="melodex-worker-watchdog", daemon=True
        )
        self._watchdog.start()
        if autostart:
            self.start()

    # -- public API ------------------------------------------------------------------------------

    @property
    def events(self) -> queue.Queue[Envelope]:
        """Events not given to a callback, in arrival order."""
        return self._hub.events

    @property
    def state(self) -> WorkerState:
        return self._state

    @property
    def status(self) -> WorkerStatus | None:
        """The latest status the worker reported (device, model, memory, threads)."""
        return self._hub.last_status

    @property
    def pid(self) -> int | None:
        generation = self._generation
        return None if generation is None else generation.process.pid

    @property
    def restart_count(self) -> int:
        return max(0, self._numbers - 1)

    def start(self) -> None:
        with self._lock:
            if self._closed:
                raise WorkerUnavailable("the worker client is closed")
            if self._generation is None:
                self._spawn()

    def wait_ready(self, timeout: float | None = None) -> WorkerStatus:
        """Block until the current worker has loaded its models; return its status."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            with self._lock:
                generation, state = self._generation, self._state
            if state is WorkerState.BROKEN:
                raise WorkerUnavailable(self._broken_reason)
            if self._closed:
                raise WorkerUnavailable("the worker client is closed")
            if generation is not None and generation.ready.wait(0.05):
                with self._lock:
                    if generation is self._generation and self._hub.last_status is not None:
                        return self._hub.last_status
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f"the worker was not ready within {timeout} s")

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
        """Queue `job` with the blobs it reads; returns at once with a handle."""
        blobs = blobs_for(job, blobs)
        job_id = job_id or new_job_id()
        frame = encode_frame(SubmitJob(job_id=job_id, priority=priority, job=job), blobs)
        handle = JobHandle(job_id, job, priority, self.cancel, on_event)
        self._hub.register(handle)
        with self._lock:
            if self._closed:
                broken = "the worker client is closed"
            elif self._state is WorkerState.BROKEN:
                broken = self._broken_reason
            else:
                broken = ""
                limit = self.job_timeout_s if timeout_s is None else timeout_s
                pending = _Pending(frame, handle, limit)
                self._pending[job_id] = pending
                self._send_pending(pending)
        if broken:
            self._hub.fail(job_id, FailureKind.ERROR, broken)
        return handle

    def cancel(self, job_id: str) -> None:
        """Cancel a job: a queued one at once, a running one within one step."""
        with self._lock:
            pending = self._pending.get(job_id)
            if pending is None or pending.cancel_requested:
                return
            pending.cancel_requested = True
            self._send(CancelJob(job_id=job_id))

    def request_status(self) -> None:
        """Ask the worker for a fresh WorkerStatus (it arrives as an event)."""
        with self._lock:
            self._send(RequestStatus())

    def kill_worker(self, sig: int = signal.SIGKILL) -> None:
        """Send `sig` to the worker process (a crash as the OS would cause it); the client
        notices, fails the running job and restarts the worker."""
        generation = self._generation
        if generation is not None and generation.process.pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(generation.process.pid, sig)

    def close(self, timeout: float = 5.0) -> None:
        """Stop the worker (politely, then by force) and fail whatever had not finished."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            generation = self._generation
            if generation is not None:
                generation.closing = True
                generation.outbox.put(encode_frame(Shutdown()))
        self._wake.set()
        if generation is not None:
            self._stop_process(generation, timeout)
        for job_id in list(self._pending):
            self._pending.pop(job_id, None)
            self._hub.fail(job_id, FailureKind.CANCELLED, "the worker was closed")
        self._set_state(WorkerState.STOPPED)
        self._watchdog.join(timeout=1.0)

    def __enter__(self) -> WorkerClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- process generations ---------------------------------------------------------------------

    def _spawn(self) -> None:
        self._numbers += 1
        parent_conn, child_conn = self._context.Pipe(duplex=True)
        process = self._context.Process(
            target=worker_process_main,
            args=(child_conn,),
            name=f"melodex-worker-{self._numbers}",
            daemon=True,
        )
        process.start()
        child_conn.close()  # so the parent's recv sees end of file when the child dies
        generation = _Generation(self._numbers, process, parent_conn)
        generation.outbox.put(encode_frame(Configure(config=self.config)))
        self._generation = generation
        self._set_state(WorkerState.STARTING)
        for target, name in ((self._read_loop, "reader"), (self._send_loop, "sender")):
            threading.Thread(
                target=target, args=(generation,), name=f"melodex-worker-{name}", daemon=True
            ).start()

    def _send_loop(self, generation: _Generation) -> None:
        while True:
            frame = generation.outbox.get()
            if frame is None:
                return
            try:
                generation.conn.send_bytes(frame)
            except (OSError, ValueError):
                return  # the reader sees the end of the pipe and handles it

    def _read_loop(self, generation: _Generation) -> None:
        while True:
            try:
                data = generation.conn.recv_bytes()
            except (EOFError, OSError):
                break
            try:
                envelope = decode_frame(data)
            except ProtocolError as exc:
                generation.kill_reason = (
                    FailureKind.CRASHED,
                    one_line(f"the worker sent an unreadable message ({exc}); restarted"),
                )
                generation.process.kill()
                break
            self._on_envelope(generation, envelope)
        generation.outbox.put(None)
        self._on_generation_ended(generation)

    def _on_envelope(self, generation: _Generation, envelope: Envelope) -> None:
        message = envelope.message
        with self._lock:
            current = generation is self._generation
            if isinstance(message, WorkerStatus):
                if not current:
                    return
                if message.state is WorkerState.BROKEN:
                    self._broken_reason = message.detail or "the worker cannot start"
                    generation.closing = True
                elif message.state in (WorkerState.IDLE, WorkerState.BUSY):
                    generation.ready.set()
                self._state = message.state
            elif isinstance(message, JobStarted):
                pending = self._pending.get(message.job_id)
                if pending is not None:
                    pending.started_at = time.monotonic()
                    self._state = WorkerState.BUSY
            elif isinstance(message, JobResult | JobFailed):
                pending = self._pending.pop(message.job_id, None)
                if pending is not None and isinstance(message, JobResult):
                    self._restarts.clear()  # a finished job ends any crash streak
                if (
                    pending is not None
                    and isinstance(message, JobFailed)
                    and message.kind is FailureKind.CANCELLED
                    and pending.timeout_cancel_at is not None
                ):
                    envelope = Envelope(
                        JobFailed(
                            job_id=message.job_id,
                            kind=FailureKind.TIMEOUT,
                            reason=f"the job ran past its {pending.timeout_s:g} s time limit",
                        )
                    )
                if (
                    current
                    and self._state is WorkerState.BUSY
                    and not any(p.started_at is not None for p in self._pending.values())
                ):
                    self._state = WorkerState.IDLE
        self._hub.dispatch(envelope)

    def _on_generation_ended(self, generation: _Generation) -> None:
        generation.process.join(timeout=3.0)
        if generation.process.is_alive():
            generation.process.kill()
            generation.process.join(timeout=3.0)
        failed: list[tuple[str, FailureKind, str]] = []
        with self._lock:
            if generation is not self._generation:
                return
            self._generation = None
            if self._closed:
                return
            if self._broken_reason:
                reason = self._broken_reason
                failed = [(job_id, FailureKind.ERROR, reason) for job_id in self._pending]
                self._pending.clear()
                self._state = WorkerState.BROKEN
            else:
                kind, reason = generation.kill_reason or (
                    FailureKind.CRASHED,
                    "the worker stopped unexpectedly "
                    f"({describe_exit(generation.process.exitcode)}); restarted",
                )
                for job_id, pending in list(self._pending.items()):
                    if pending.started_at is not None and pending.generation == generation.number:
                        failed.append((job_id, kind, reason))
                        del self._pending[job_id]
                now = time.monotonic()
                self._restarts = [t for t in self._restarts if now - t < RESTART_WINDOW_S]
                self._restarts.append(now)
                if len(self._restarts) > self.max_restarts:
                    self._broken_reason = one_line(
                        f"the worker stopped {len(self._restarts)} times within a minute; "
                        f"not restarting it (last: {reason})"
                    )
                    failed += [
                        (job_id, FailureKind.CRASHED, self._broken_reason)
                        for job_id in self._pending
                    ]
                    self._pending.clear()
                    self._state = WorkerState.BROKEN
        for job_id, kind, reason in failed:
            self._hub.fail(job_id, kind, reason)
        if self._state is WorkerState.BROKEN:
            self._hub.dispatch(
                Envelope(WorkerStatus(state=WorkerState.BROKEN, detail=self._broken_reason))
            )
            return
        self._hub.dispatch(Envelope(WorkerStatus(state=WorkerState.RESTARTING, detail=reason)))
        resend: list[_Pending] = []
        cancelled: list[str] = []
        with self._lock:
            if self._closed:
                return
            self._spawn()
            for job_id, pending in list(self._pending.items()):
                if pending.cancel_requested:
                    del self._pending[job_id]
                    cancelled.append(job_id)
                else:
                    pending.started_at = None
                    resend.append(pending)
            for pending in resend:
                self._send_pending(pending)
        for job_id in cancelled:
            self._hub.fail(job_id, FailureKind.CANCELLED, "cancelled")

    def _stop_process(self, generation: _Generation, timeout: float) -> None:
        process = generation.process
        process.join(timeout)
        if process.is_alive():
            process.terminate()
            process.join(1.0)
        if process.is_alive():
            process.kill()
            process.join(1.0)
        generation.outbox.put(None)

    # -- helpers (call with the lock held) -------------------------------------------------------

    def _send(self, message: SubmitJob | CancelJob | RequestStatus) -> None:
        generation = self._generation
        if generation is not None:
            generation.outbox.put(encode_frame(message))

    def _send_pending(self, pending: _Pending) -> None:
        generation = self._generation
        if generation is not None:
            pending.generation = generation.number
            generation.outbox.put(pending.frame)

    def _set_state(self, state: WorkerState) -> None:
        with self._lock:
            self._state = state

    # -- watchdog --------------------------------------------------------------------------------

    def _watch(self) -> None:
        while not self._closed:
            self._wake.wait(0.05)
            if self._closed:
                return
            now = time.monotonic()
            with self._lock:
                generation = self._generation
                if generation is None or generation.kill_reason is not None:
                    continue
                if (
                    not generation.ready.is_set()
                    and now - generation.started_at > self.start_timeout_s
                ):
                    self._kill(
                        generation,
                        FailureKind.CRASHED,
                        f"the worker did not start within {self.start_timeout_s:g} s; restarted",
                    )
                    continue
                for pending in self._pending.values():
                    if pending.started_at is None or pending.timeout_s is None:
                        continue
                    if pending.timeout_cancel_at is None:
                        if now - pending.started_at > pending.timeout_s:
                            pending.timeout_cancel_at = now
                            self._send(CancelJob(job_id=pending.handle.job_id))
                    elif now - pending.timeout_cancel_at > self.cancel_grace_s:
                        self._kill(
                            generation,
                            FailureKind.TIMEOUT,
                            f"the job ran past its {pending.timeout_s:g} s time limit and did not "
                            "stop; the worker was stopped and restarted",
                        )
                        break

    def _kill(self, generation: _Generation, kind: FailureKind, reason: str) -> None:
        generation.kill_reason = (kind, reason)
        with contextlib.suppress(OSError):
            generation.process.kill()
