"""The function a spawned worker process starts in.

It lives apart from `worker.server` so the client can name it as the process target without
importing the server: importing the server loads torch, and the studio's process must not.
The server module is imported by name here, inside the child, where torch belongs.
"""

from __future__ import annotations

import contextlib
import importlib
import os
from multiprocessing.connection import Connection

SERVER_MODULE = "melodex_studio.worker.server"
#: How much the worker lowers its CPU priority (see `worker_process_main`).
WORKER_NICENESS = 5


def worker_process_main(conn: Connection) -> None:
    """Entry point of the worker process: run the server loop on the pipe end `conn`.

    The worker lowers its own CPU priority: rendering is throughput work, while the studio's
    UI thread and the audio callback must get a core the moment they wake."""
    with contextlib.suppress(OSError, AttributeError):
        os.nice(WORKER_NICENESS)
    server = importlib.import_module(SERVER_MODULE)
    server.serve(conn)
