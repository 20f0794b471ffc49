"""Playback underruns under load: 10 minutes of song through the transport at a 20 ms buffer
while another process keeps both CPU cores busy.

How: the NullBackend paces the real audio callback (`PlaybackEngine.render`) with a clock. An
accelerated clock plays the 10 minutes in 10 / speed minutes: block i is requested at
t0 + i * 20 ms / speed and must be finished 20 ms / speed later, so the deadline shrinks with
the speed and an accelerated run is stricter than real time. A short real-time (1x) run is
measured too. Meanwhile the main thread does what the UI does: polls the transport at 30 Hz,
and every 10 s of song time swaps a section's take (mixer re-render of the span + a bar-synced
swap request), so the callback's crossfade path and the UI thread's GIL use are exercised.
The interpreter's GIL switch interval (5 ms) is divided by the speed as well, since a callback
waiting for the GIL waits up to one interval.

The CPU load (`--load`): `worker` (the default) starts the studio's inference worker process
(built-in model, 2 threads) and keeps it rendering 8-bar sections with a preview decoded after
every step, received by this process as the studio receives them; `numpy` runs matrix products
on 2 threads in another process; anything else is run as a command line.

"late > half" counts blocks finished later than half their deadline; "steal ms" is the CPU time
the hypervisor took from this virtual machine during the run (/proc/stat), and "late w/ steal"
how many of those late blocks had steal counted within 50 ms of them (10 ms resolution): time
no program in the guest can get back.

    .venv/bin/python benchmarks/bench_playback.py [--minutes 10] [--speed 20] [--block-ms 20]
"""

from __future__ import annotations

import argparse
import bisect
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass

import numpy as np

from melodex_studio.audio.arrangement import Arrangement, ArrangementClip
from melodex_studio.audio.backends import NullBackend
from melodex_studio.audio.mixer import Mixer
from melodex_studio.audio.transport import Transport, TransportState
from melodex_studio.music.meter import Meter
from melodex_studio.music.tempo import TempoGrid

RATE = 48000
SECTION_BARS = 8

_NUMPY_LOAD = """
import numpy as np
a = np.random.default_rng(0).standard_normal((512, 512))
while True:
    b = a @ a
    a = b / np.abs(b).max()
"""


class WorkerLoad:
    """The studio's worker rendering sections back to back (what plays against real use)."""

    def __init__(self) -> None:
        from melodex_studio.worker.client import WorkerClient
        from melodex_studio.worker.model_paths import model_is_present
        from melodex_studio.worker.protocol import WorkerConfig

        model = "builtin" if model_is_present() else "tiny-random"
        self.client = WorkerClient(WorkerConfig(model=model, threads=2, device="cpu"))
        self.client.wait_ready(600)
        self.renders = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="render-load", daemon=True)
        self._thread.start()
        time.sleep(1.0)

    def _loop(self) -> None:
        sys.path.insert(0, os.path.dirname(__file__))
        from bench_worker import section_job

        while not self._stop.is_set():
            self.client.submit(section_job(24)).result(600)
            self.renders += 1

    def kill(self) -> None:
        self._stop.set()
        self._thread.join(600)
        self.client.close()

    def wait(self) -> None:
        """Nothing to reap (`kill` already joined the render thread and closed the worker)."""


def start_load(kind: str, nice: int = 0) -> subprocess.Popen | WorkerLoad | None:
    """A CPU-heavy job in another process, on both cores (at niceness `nice`)."""
    if kind == "none":
        return None
    if kind == "worker":
        return WorkerLoad()
    env = dict(os.environ, OPENBLAS_NUM_THREADS="2", OMP_NUM_THREADS="2", MKL_NUM_THREADS="2")
    command = [sys.executable, "-c", _NUMPY_LOAD] if kind == "numpy" else kind.split()
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, preexec_fn=(lambda: os.nice(nice))
    )
    time.sleep(1.0)
    return process


def section_clip(grid: TempoGrid, n_bars: int, index: int, variant: int) -> ArrangementClip:
    """Take `variant` of section `index` (8 bars): a tone plus a little noise."""
    bar = index * SECTION_BARS
    start, end = grid.bar_span_samples(bar, min(SECTION_BARS, n_bars - bar))
    t = np.arange(end - start) / RATE
    freq = 110.0 * (1 + (index + variant) % 5)
    noise = np.random.default_rng(variant * 1000 + index).standard_normal(len(t))
    audio = 0.2 * np.sin(2 * np.pi * freq * t) + 0.02 * noise
    return ArrangementClip(f"s{index}", start, audio.astype(np.float32))


def steal_seconds() -> float:
    """CPU time the hypervisor gave to other guests, all cores (Linux /proc/stat; 0 elsewhere)."""
    try:
        with open("/proc/stat") as stat:
            fields = stat.readline().split()
    except OSError:
        return 0.0
    return int(fields[8]) / os.sysconf("SC_CLK_TCK") if len(fields) > 8 else 0.0


def steal_near(samples: list[tuple[float, float]], at: float, late: float) -> float:
    """Steal seconds counted between the polls around a late block (late s before `at`)."""
    times = [t for t, _ in samples]
    lo = max(0, bisect.bisect_left(times, at - late - 0.05) - 1)
    hi = min(len(samples) - 1, bisect.bisect_right(times, at + 0.05))
    return samples[hi][1] - samples[lo][1] if hi > lo else 0.0


@dataclass
class Result:
    label: str
    song_seconds: float
    wall_seconds: float
    callbacks: int
    underruns: int
    near_misses: int
    worst_callback_ms: float
    worst_lateness_ms: float
    budget_ms: float
    swaps: int
    priority: str
    steal_ms: float
    near_misses_with_steal: int
    logged_near_misses: int


def run(
    minutes: float, speed: float, block_ms: float, realtime: bool, label: str, swap_s: float
) -> Result:
    grid = TempoGrid(120.0, Meter(4, 4), RATE)
    n_bars = int(grid.sample_to_bar(minutes * 60 * RATE)) + 1
    n_sections = -(-n_bars // SECTION_BARS)
    # Two takes per section, made up front: the app reads take audio from the store, it does
    # not synthesise it on the UI thread (numpy's random generator holds the GIL).
    takes = [[section_clip(grid, n_bars, index, v) for v in (0, 1)] for index in range(n_sections)]
    clips = [options[0] for options in takes]
    arrangement = Arrangement(RATE, grid.bar_to_sample(n_bars), tuple(clips))
    mixer = Mixer(arrangement)
    backend = NullBackend(
        sample_rate=RATE, block_seconds=block_ms / 1000, speed=speed, realtime_priority=realtime
    )
    transport = Transport(backend, grid)
    transport.load(mixer.buffer)
    swap_every = swap_s * RATE if swap_s > 0 else float("inf")
    # Scale the interpreter's thread switch interval with the clock too: an audio thread
    # waiting for the GIL waits up to one interval, and that wait is part of the deadline.
    default_switch = sys.getswitchinterval()
    sys.setswitchinterval(default_switch / speed)
    next_swap, swaps, variant = swap_every, 0, 1
    began = time.perf_counter()
    steal = [(began, steal_seconds())]
    transport.play()
    while transport.poll().state is TransportState.PLAYING:
        time.sleep(1 / 30)
        steal.append((time.perf_counter(), steal_seconds()))
        position = transport.playhead
        if position >= next_swap:
            # "Choose another take" for the section under the playhead.
            index = min(int(grid.sample_to_bar(position)) // SECTION_BARS, len(clips) - 1)
            clips[index] = takes[index][variant % 2]
            variant += 1
            update = mixer.update(Arrangement(RATE, arrangement.length_samples, tuple(clips)))
            transport.swap_at_next_bar(update.buffer)
            swaps += 1
            next_swap += swap_every
    wall = time.perf_counter() - began
    transport.close()
    sys.setswitchinterval(default_switch)
    stats = backend.stats
    stolen = [steal_near(steal, at, late) for at, late in stats.near_miss_times()]
    return Result(
        label=label,
        song_seconds=len(mixer.buffer) / RATE,
        wall_seconds=wall,
        callbacks=stats.callbacks,
        underruns=stats.missed_deadlines,
        near_misses=stats.near_misses,
        worst_callback_ms=stats.worst_callback_seconds * 1000,
        worst_lateness_ms=stats.worst_lateness_seconds * 1000,
        budget_ms=block_ms / speed,
        swaps=swaps,
        priority=backend.thread_priority,
        steal_ms=(steal[-1][1] - steal[0][1]) * 1000,
        near_misses_with_steal=sum(1 for seconds in stolen if seconds > 0),
        logged_near_misses=len(stolen),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--speed", type=float, default=20.0, help="accelerated clock factor")
    parser.add_argument("--block-ms", type=float, default=20.0)
    parser.add_argument("--realtime-seconds", type=float, default=30.0,
                        help="length of the extra 1x run (0 to skip)")
    parser.add_argument("--swap-every", type=float, default=10.0,
                        help="seconds of song between take swaps (0: none)")
    parser.add_argument("--load", default="worker",
                        help="'worker', 'numpy', 'none', or a command line to run as the CPU load")
    parser.add_argument("--priority", choices=("audio", "normal", "both"), default="both",
                        help="the playback thread's priority: audio (SCHED_FIFO), normal, or both")
    parser.add_argument("--load-nice", type=int, default=0,
                        help="niceness of a numpy or command-line load (the worker sets its own)")
    args = parser.parse_args()
    load = start_load(args.load, args.load_nice)
    results = []
    try:
        modes = {"audio": (True,), "normal": (False,), "both": (True, False)}[args.priority]
        for realtime in modes:
            priority = "audio priority" if realtime else "normal priority"
            label = f"{args.minutes:g} min at x{args.speed:g}, {priority}"
            results.append(
                run(args.minutes, args.speed, args.block_ms, realtime, label, args.swap_every)
            )
            if args.realtime_seconds > 0:
                label = f"{args.realtime_seconds:g} s at x1, {priority}"
                minutes = args.realtime_seconds / 60
                results.append(
                    run(minutes, 1.0, args.block_ms, realtime, label, args.swap_every)
                )
    finally:
        if load is not None:
            load.kill()
            load.wait()
    load_text = (f"worker, {load.renders} renders of 16 s finished" if isinstance(load, WorkerLoad)
                 else f"{args.load} at nice {args.load_nice}")
    print(f"\nplayback, {args.block_ms:g} ms blocks at {RATE} Hz, CPU load: {load_text} "
          f"({os.cpu_count()} cores, load average "
          f"{os.getloadavg()[0]:.1f})\n")
    header = ("run", "song s", "wall s", "callbacks", "underruns", "late > half", "worst cb ms",
              "worst late ms", "budget ms", "swaps", "thread", "steal ms", "late w/ steal")
    rows = [(r.label, f"{r.song_seconds:.0f}", f"{r.wall_seconds:.1f}", str(r.callbacks),
             str(r.underruns), str(r.near_misses), f"{r.worst_callback_ms:.3f}",
             f"{r.worst_lateness_ms:.2f}",
             f"{r.budget_ms:.2f}", str(r.swaps), r.priority, f"{r.steal_ms:.0f}",
             f"{r.near_misses_with_steal}/{r.logged_near_misses}") for r in results]
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header))]
    for row in (header, tuple("-" * w for w in widths), *rows):
        print(" | ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))


if __name__ == "__main__":
    main()
