"""Longest main-thread stall of the studio window while it works in the background.

A 1 ms precise QTimer probes the main thread; the gap between two of its ticks, minus the
1 ms it asked for, is how long the event loop could not respond (a stall). Scenarios:
idle, playback, saving a large project, computing every waveform, rendering a section in the
worker process (a tiny random-weight model, spawned exactly as the studio spawns it), and,
when the built-in model is installed, rendering with it on 2 threads while the song plays and
the render's previews swap into playback as they arrive (the studio's heaviest everyday load:
both cores busy with the render, the main thread mixing previews and moving the playhead).

Each gap is also split (on Linux) into what the main thread did and what it waited for:
`cpu` is the main thread's own CPU time inside the gap (the studio's work: slots, paints),
`runq` the time it was runnable but had no core (another process or thread had the CPU), and
the rest is time blocked (the GIL held by a background thread, a lock) or stolen: `steal` is
the CPU time the hypervisor gave to other guests during the gap, over all cores (/proc/stat,
10 ms resolution), time in which this virtual machine ran nothing at all. On a busy machine
the longest stall is mostly `runq` or `steal`; `work` (the most main-thread CPU inside any one
gap) is the part the studio's code controls. `>16 ms` counts the stalls longer than one 60 Hz
frame, and `>16 ms w/o steal` those with no steal counted during them.

    .venv/bin/python benchmarks/bench_ui_stall.py [--sections 12] [--takes 2] [--no-render]

Prints a table (milliseconds). Not a test: numbers vary with the machine and its load.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
_TMP = Path(tempfile.mkdtemp(prefix="melodex-bench-ui-"))
for _name in ("CONFIG", "DATA", "CACHE"):
    os.environ.setdefault(f"MELODEX_{_name}_DIR", str(_TMP / _name.lower()))

import numpy as np  # noqa: E402
from PySide6.QtCore import QElapsedTimer, Qt, QTimer  # noqa: E402

from melodex_studio.audio.backends import NullBackend  # noqa: E402
from melodex_studio.project.commands import AddTake, EditSectionSettings  # noqa: E402
from melodex_studio.project.models import Take, TakeOperation, new_id, new_project  # noqa: E402
from melodex_studio.settings import Settings  # noqa: E402
from melodex_studio.ui.app import create_application  # noqa: E402
from melodex_studio.ui.context import StudioContext  # noqa: E402
from melodex_studio.ui.main_window import MainWindow  # noqa: E402
from melodex_studio.worker.blobs import BlobBag  # noqa: E402

RATE = 24000
STALL_LIMIT_MS = 16.0  # one frame at 60 Hz: the studio's acceptance limit
FRAME_RATE = 23.4375


def _steal_ns(_stat_fd: list[int] = []) -> int:  # noqa: B006 (the fd is opened once)
    """CPU time stolen by the hypervisor, all cores, in ns (Linux /proc/stat; else 0)."""
    try:
        if not _stat_fd:
            _stat_fd.append(os.open("/proc/stat", os.O_RDONLY))
        fields = os.pread(_stat_fd[0], 256, 0).split(b"\n", 1)[0].split()
        return int(fields[8]) * 1_000_000_000 // os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0


def _run_queue_ns() -> int:
    """Nanoseconds this thread has spent runnable but waiting for a CPU (Linux; else 0)."""
    try:
        with open("/proc/thread-self/schedstat", "rb") as stat:
            return int(stat.read().split()[1])
    except (OSError, IndexError, ValueError):
        return 0


class StallProbe:
    """Ticks every millisecond on the main thread and records the gaps between ticks, with
    the main thread's CPU time and run-queue wait inside each gap."""

    def __init__(self) -> None:
        self.timer = QTimer()
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.setInterval(1)
        self.timer.timeout.connect(self._tick)
        self.clock = QElapsedTimer()
        self.gaps: list[tuple[float, ...]] = []  # wall, cpu, run queue, steal (ms)
        self._last = (0, 0, 0, 0)

    def _now(self) -> tuple[int, int, int, int]:
        return self.clock.nsecsElapsed(), time.thread_time_ns(), _run_queue_ns(), _steal_ns()

    def start(self) -> None:
        self.gaps.clear()
        self.clock.start()
        self._last = self._now()
        self.timer.start()

    def _tick(self) -> None:
        now = self._now()
        self.gaps.append(tuple((b - a) / 1e6 for a, b in zip(self._last, now, strict=True)))
        self._last = now

    def stop(self) -> np.ndarray:
        """(n, 4): stall (gap minus the 1 ms asked for), main-thread CPU, run-queue wait,
        hypervisor steal."""
        self.timer.stop()
        gaps = np.asarray(self.gaps, dtype=np.float64).reshape(-1, 4)
        gaps[:, 0] -= 1.0
        return gaps


def run_until(app, done: Callable[[], bool], timeout_s: float) -> float:
    started = time.perf_counter()
    while not done() and time.perf_counter() - started < timeout_s:
        app.processEvents()
        time.sleep(0.0005)
    return time.perf_counter() - started


def big_project(window: MainWindow, sections: int, takes: int) -> int:
    """Sections of 16 bars with `takes` rendered takes each (audio + latents), all in memory."""
    context = window.context
    rng = np.random.default_rng(0)
    total = 0
    for section in context.project.sections:
        seconds = context.project.grid().bar_to_seconds(section.length_bars)
        frames = round(seconds * FRAME_RATE)
        for k in range(takes):
            bag = BlobBag()
            audio = (0.3 * rng.standard_normal(round(seconds * RATE))).astype(np.float32)
            take = Take(
                id=new_id(), section_id=section.id, region_start_bar=0,
                region_end_bar=section.length_bars,
                operation=TakeOperation.GENERATE if k == 0 else TakeOperation.RETAKE,
                final_latent=bag.add_latent(rng.standard_normal((16, frames)).astype(np.float32)),
                audio=bag.add_audio(audio), latent_frame_rate=FRAME_RATE, audio_sample_rate=RATE,
                created=__import__("datetime").datetime.now(__import__("datetime").UTC),
            )
            total += bag.nbytes()
            window.files.add_blobs(dict(bag))
            context.undo.push(AddTake(section.id, take))
    return total


def summary(name: str, gaps: np.ndarray, seconds: float) -> str:
    if len(gaps) == 0:
        return (f"| {name:34s} | {seconds:7.2f} | {0:6d} |" + f" {'-':>8s} |" * 3
                + f" {'-':>27s} | {'-':>6s} | {'-':>9s} | {'-':>6s} |")
    stalls = gaps[:, 0]
    worst = gaps[int(np.argmax(stalls))]
    split = f"{worst[1]:5.1f} / {worst[2]:5.1f} / {worst[3]:5.0f}"
    over = stalls > STALL_LIMIT_MS
    unstolen = over & (gaps[:, 3] == 0)
    return (f"| {name:34s} | {seconds:7.2f} | {len(gaps):6d} | {np.percentile(stalls, 50):8.2f}"
            f" | {np.percentile(stalls, 99):8.2f} | {worst[0]:8.2f} | {split:>27s} |"
            f" {int(over.sum()):6d} | {int(unstolen.sum()):9d} | {gaps[:, 1].max():6.2f} |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sections", type=int, default=12)
    parser.add_argument("--takes", type=int, default=2)
    parser.add_argument("--steps", type=int, default=24, help="denoising steps of the render")
    parser.add_argument("--no-render", action="store_true", help="skip the worker scenario")
    args = parser.parse_args()

    app = create_application(sys.argv)
    spec = ", ".join(f"Part {i + 1}:16" for i in range(args.sections))
    context = StudioContext.create(new_project("Bench", 120, "A minor", "4/4", spec, seed=1),
                                   Settings())
    window = MainWindow(context, restore_layout=False)
    window.resize(1500, 900)
    window.show()
    window.playback.set_backend(NullBackend(sample_rate=48000))
    probe = StallProbe()
    rows = []
    run_until(app, lambda: False, 1.0)  # first paint and layout are not part of any scenario

    def scenario(name: str, start: Callable[[], None], done: Callable[[], bool],
                 timeout_s: float = 600.0) -> None:
        run_until(app, lambda: not context.executor.busy, 60)
        probe.start()
        start()
        seconds = run_until(app, done, timeout_s)
        rows.append(summary(name, probe.stop(), seconds))

    scenario("idle (2 s)", lambda: None, lambda: False, 2.0)
    size = big_project(window, args.sections, args.takes)
    run_until(app, lambda: False, 0.2)  # the background mix of the new takes starts
    run_until(app, lambda: not context.executor.busy, 120)
    mb = size / 1e6

    def play() -> None:
        context.selection.clear()
        window.playback.seek_bar(0)
        window.playback.play()

    scenario("playback, playhead at 60 Hz (3 s)", play, lambda: False, 3.0)
    window.playback.stop()

    target = _TMP / "bench.mlx"
    saved = []
    scenario(f"save {mb:.0f} MB project", lambda: window.files.save_to(
        target, then=lambda: saved.append(True)), lambda: bool(saved))

    def recompute() -> None:
        window.waveforms._cache.clear()
        window.scene.sync()

    scenario(f"waveforms of {args.sections * args.takes} takes", recompute,
             lambda: not context.executor.busy)
    opened = []
    scenario("open the saved project", lambda: window.files.open_path(
        target, check_unsaved=False, on_done=lambda: opened.append(True)), lambda: bool(opened))

    if not args.no_render:
        from melodex_studio.worker.client import WorkerClient
        from melodex_studio.worker.model_paths import model_is_present
        from melodex_studio.worker.protocol import WorkerConfig

        client = WorkerClient(WorkerConfig(model="tiny-random", device="cpu", threads=1),
                              on_event=window.generation.on_client_event)
        window.generation.attach_client(client)
        ready = run_until(app, lambda: window.generation.available, 300)
        section = context.project.sections[0]
        context.undo.push(EditSectionSettings(section.id, steps=args.steps))
        scenario(f"worker starts (spawn, {ready:.1f} s)", lambda: None, lambda: True, 0.01)
        scenario(f"render 16 bars, {args.steps} steps (worker)",
                 lambda: window.generation.generate(section.id),
                 lambda: not window.generation.running)
        client.close()
        if model_is_present():
            client = WorkerClient(WorkerConfig(model="builtin", device="cpu", threads=2),
                                  on_event=window.generation.on_client_event)
            window.generation.attach_client(client)
            run_until(app, lambda: window.generation.available, 300)
            window.generation.generate(section.id)  # warm-up: the prompt encoder loads
            run_until(app, lambda: not window.generation.running, 300)
            run_until(app, lambda: not context.executor.busy, 60)
            heard: list[object] = []
            window.generation.sig_render_preview.connect(
                lambda _sid, preview: heard.append(preview))

            def render_while_playing() -> None:
                play()
                window.generation.generate(section.id)

            scenario(f"built-in model, {args.steps} steps, playing",
                     render_while_playing, lambda: not window.generation.running)
            window.playback.stop()
            client.close()
            previews = sum(1 for preview in heard if preview is not None)
            print(f"built-in model render while playing: {previews} previews heard")

    print(f"Main-thread stalls (ms over the 1 ms probe), {args.sections} sections x "
          f"{args.takes} takes of 16 bars")
    print("| scenario                           | seconds | probes |   median |      p99 |"
          "  longest | longest: cpu / runq / steal | >16 ms | w/o steal |   work |")
    print("|------------------------------------|---------|--------|----------|----------|"
          "----------|-----------------------------|--------|-----------|--------|")
    for row in rows:
        print(row)
    window._close_confirmed = True
    window.close()
    context.executor.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
