"""Longest main-thread stall of the studio window while it works in the background.

A 1 ms precise QTimer probes the main thread; the gap between two of its ticks, minus the
1 ms it asked for, is how long the event loop could not respond (a stall). Scenarios:
idle, playback, saving a large project, computing every waveform, and rendering a section in
the worker process (a tiny random-weight model, spawned exactly as the studio spawns it).

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
FRAME_RATE = 23.4375


class StallProbe:
    """Ticks every millisecond on the main thread and records the gaps between ticks."""

    def __init__(self) -> None:
        self.timer = QTimer()
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.setInterval(1)
        self.timer.timeout.connect(self._tick)
        self.clock = QElapsedTimer()
        self.gaps: list[float] = []
        self._last = 0

    def start(self) -> None:
        self.gaps.clear()
        self.clock.start()
        self._last = self.clock.nsecsElapsed()
        self.timer.start()

    def _tick(self) -> None:
        now = self.clock.nsecsElapsed()
        self.gaps.append((now - self._last) / 1e6)
        self._last = now

    def stop(self) -> np.ndarray:
        self.timer.stop()
        return np.asarray(self.gaps) - 1.0


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


def summary(name: str, stalls: np.ndarray, seconds: float) -> str:
    if len(stalls) == 0:
        return f"| {name:34s} | {seconds:7.2f} | {0:6d} | {'-':>8s} | {'-':>8s} | {'-':>8s} |"
    return (f"| {name:34s} | {seconds:7.2f} | {len(stalls):6d} | {np.percentile(stalls, 50):8.2f}"
            f" | {np.percentile(stalls, 99):8.2f} | {stalls.max():8.2f} |")


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

    print(f"Main-thread stalls (ms over the 1 ms probe), {args.sections} sections x "
          f"{args.takes} takes of 16 bars")
    print("| scenario                           | seconds | probes |   median |      p99 |"
          "  longest |")
    print("|------------------------------------|---------|--------|----------|----------|"
          "----------|")
    for row in rows:
        print(row)
    window._close_confirmed = True
    window.close()
    context.executor.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
