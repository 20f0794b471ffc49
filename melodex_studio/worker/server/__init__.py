"""The worker process: the only part of `worker` that imports torch and the engine.

`serve(conn)` is the process main loop (`main.py`); `models.py` loads the networks and says
which device and weights they are; `executor.py` runs plan, render and decode jobs on them.
The in-process client uses `EngineExecutor` directly, in a thread.
"""

from __future__ import annotations

from melodex_studio.worker.server.executor import EngineExecutor
from melodex_studio.worker.server.main import serve

__all__ = ["EngineExecutor", "serve"]
