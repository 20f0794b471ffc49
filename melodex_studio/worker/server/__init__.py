"""The worker process: the only part of `worker` that imports torch and the engine.

`serve(conn)` is the process main loop (`main.py`); `models.py` loads the networks and says
which device and weights they are; `executor.py` runs plan, render and decode jobs on them,
`stable_audio_executor.py` and `musicgen_executor.py` run render and decode jobs on the large
models a musician has on disk (what they share is `folder_executor.py`). The in-process
client uses an executor directly, in a thread (`make_executor`).
"""

from __future__ import annotations

from melodex_studio.worker.server.executor import EngineExecutor
from melodex_studio.worker.server.executors import make_executor
from melodex_studio.worker.server.main import serve
from melodex_studio.worker.server.musicgen_executor import MusicGenExecutor
from melodex_studio.worker.server.stable_audio_executor import StableAudioExecutor

__all__ = ["EngineExecutor", "MusicGenExecutor", "StableAudioExecutor", "make_executor", "serve"]
