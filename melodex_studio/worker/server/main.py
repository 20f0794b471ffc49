"""The worker process main loop: configure, load the models, then run jobs until told to stop.

Two threads share the pipe. The reader thread receives frames and feeds the `JobRunner`
(submit, cancel, status, shutdown) while the main thread runs jobs, so a cancel arrives while a
step is computing and the job stops at the next step. Every send takes one lock, so frames from
the two threads never interleave. When the studio goes away (end of file on the pipe) the
worker stops too: a worker never outlives its studio.
"""

from __future__ import annotations

import os
import signal
import threading
from multiprocessing.connection import Connection

from melodex_studio.worker.protocol import (
    CancelJob,
    Configure,
    Envelope,
    ProtocolError,
    RequestStatus,
    Shutdown,
    SubmitJob,
    WorkerState,
    WorkerStatus,
    decode_frame,
    encode_frame,
    one_line,
)
from melodex_studio.worker.runtime import JobRunner
from melodex_studio.worker.server.executors import make_executor
from melodex_studio.worker.server.models import ModelUnavailable

EXIT_BROKEN = 3


class _Sender:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._lock = threading.Lock()
        self.closed = False

    def __call__(self, envelope: Envelope) -> None:
        frame = encode_frame(envelope.message, envelope.blobs)
        with self._lock:
            if self.closed:
                return
            try:
                self._conn.send_bytes(frame)
            except (OSError, ValueError):
                self.closed = True  # the studio is gone; the reader thread ends the loop


def serve(conn: Connection) -> None:
    """Run a worker on `conn` (the child end of a duplex pipe) until shutdown or end of file."""
    # Ctrl+C in a terminal reaches the whole process group; the studio or CLI decides what
    # to cancel, so the worker ignores it rather than dying mid-job.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    send = _Sender(conn)
    try:
        first = decode_frame(conn.recv_bytes())
    except (EOFError, OSError, ProtocolError):
        return
    if not isinstance(first.message, Configure):
        send(
            Envelope(WorkerStatus(state=WorkerState.BROKEN, detail="expected a configure message"))
        )
        os._exit(EXIT_BROKEN)
    executor = make_executor(first.message.config)
    runner = JobRunner(executor, send)
    reader = threading.Thread(
        target=_read_loop, args=(conn, runner, send), name="melodex-worker-reader", daemon=True
    )
    reader.start()
    send(Envelope(executor.describe()))
    try:
        executor.load()
    except ModelUnavailable as exc:
        send(
            Envelope(
                WorkerStatus(state=WorkerState.BROKEN, pid=os.getpid(), detail=one_line(str(exc)))
            )
        )
        conn.close()
        os._exit(EXIT_BROKEN)
    send(Envelope(runner.status()))
    runner.run_forever()
    send.closed = True
    conn.close()


def _read_loop(conn: Connection, runner: JobRunner, send: _Sender) -> None:
    while True:
        try:
            envelope = decode_frame(conn.recv_bytes())
        except (EOFError, OSError):
            break
        except ProtocolError as exc:
            # A frame we cannot read means the two sides disagree; better to stop than guess.
            send(Envelope(WorkerStatus(state=WorkerState.BROKEN, detail=one_line(str(exc)))))
            break
        message = envelope.message
        if isinstance(message, SubmitJob):
            runner.submit(envelope)
        elif isinstance(message, CancelJob):
            runner.cancel(message.job_id)
        elif isinstance(message, RequestStatus):
            send(Envelope(runner.status()))
        elif isinstance(message, Shutdown):
            break
    runner.stop()
