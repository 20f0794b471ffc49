"""The inference worker: start time, time to the first preview, step latency, cancel, restart.

A spawned worker process on 2 CPU threads renders an 8-bar section at 120 BPM (16 s, 375
latent frames) with 24 steps and a preview decode after every step. The built-in model is used
when `models/melodex-tiny` exists, otherwise tiny random networks (the table says which: their
timings show the machinery's overhead, not the real model's speed).

    .venv/bin/python benchmarks/bench_worker.py [--repeats 3] [--steps 24] [--tiny]
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import time

from melodex_studio.worker.client import WorkerClient
from melodex_studio.worker.jobs import AudioSpan, Conditioning, FrameRange, RenderJob
from melodex_studio.worker.model_paths import builtin_model_dir, model_is_present
from melodex_studio.worker.protocol import JobFailed, Progress, WorkerConfig

FRAMES = 375  # 8 bars of 4/4 at 120 BPM at 23.4375 frames/s
COND = Conditioning(
    prompt="dusty lo-fi keys, lazy swing drums", bpm=120.0, key="A minor", meter="4/4"
)


def section_job(steps: int, preview_every: int = 1) -> RenderJob:
    return RenderJob(
        conditioning=COND,
        window_start=0,
        window_frames=FRAMES,
        generate=(FrameRange(start=0, end=FRAMES),),
        seeds=(1,),
        steps=steps,
        guidance=4.0,
        keep=FrameRange(start=0, end=FRAMES),
        decode=AudioSpan(start=0, end=FRAMES * 1024),
        preview_every=preview_every,
    )


def timed_render(client: WorkerClient, steps: int) -> tuple[float, float, list[float]]:
    """(submit -> first preview, submit -> result, per-step latencies) in seconds."""
    stamps: list[float] = []
    first_preview: list[float] = []

    def on_event(envelope) -> None:
        if isinstance(envelope.message, Progress):
            stamps.append(time.perf_counter())
            if envelope.message.preview_audio and not first_preview:
                first_preview.append(time.perf_counter())

    began = time.perf_counter()
    client.submit(section_job(steps), on_event=on_event).result(600)
    done = time.perf_counter()
    steps_s = [b - a for a, b in itertools.pairwise(stamps)]
    return first_preview[0] - began, done - began, steps_s


def cancel_latency(client: WorkerClient) -> float:
    ended: list[float] = []

    def on_event(envelope) -> None:
        if isinstance(envelope.message, JobFailed):
            ended.append(time.perf_counter())

    handle = client.submit(section_job(200, preview_every=0), on_event=on_event)
    while handle.step < 2:
        time.sleep(0.002)
    began = time.perf_counter()
    handle.cancel()
    handle.wait(60)
    return ended[0] - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--steps", type=int, default=24)
    parser.add_argument(
        "--tiny", action="store_true", help="tiny random models even if built-in exist"
    )
    args = parser.parse_args()
    builtin = model_is_present() and not args.tiny
    config = WorkerConfig(model="builtin" if builtin else "tiny-random", threads=2, device="cpu")
    label = f"built-in ({builtin_model_dir()})" if builtin else "tiny random (no built-in weights)"

    began = time.perf_counter()
    client = WorkerClient(config)
    status = client.wait_ready(600)
    start_s = time.perf_counter() - began
    rows: list[tuple[str, str]] = [
        ("model", f"{label}, {status.model.model_id if status.model else '?'}")
    ]
    rows.append(("device / threads", f"{status.device} / {status.threads}"))
    rows.append(("worker start (spawn -> ready)", f"{start_s * 1000:.0f} ms"))
    cold_preview, _cold_total, _ = timed_render(client, args.steps)
    rows.append(
        (
            "first job: submit -> first preview",
            f"{cold_preview * 1000:.0f} ms (prompt encoder loads)",
        )
    )
    previews, totals, step_times = [], [], []
    for _ in range(args.repeats):
        preview, total, steps = timed_render(client, args.steps)
        previews.append(preview)
        totals.append(total)
        step_times.extend(steps)
    rows.append(
        (
            "warm: submit -> first preview",
            f"{statistics.median(previews) * 1000:.0f} ms (median of {args.repeats})",
        )
    )
    rows.append(
        (f"warm: {args.steps}-step render of 16 s", f"{statistics.median(totals) * 1000:.0f} ms")
    )
    rows.append(
        (
            "step latency (with preview decode)",
            f"{statistics.median(step_times) * 1000:.1f} ms median, "
            f"{max(step_times) * 1000:.1f} ms max",
        )
    )
    cancels = [cancel_latency(client) for _ in range(args.repeats)]
    rows.append(
        (
            "cancel -> job ended",
            f"{statistics.median(cancels) * 1000:.1f} ms median, {max(cancels) * 1000:.1f} ms max",
        )
    )
    killed = time.perf_counter()
    client.kill_worker()
    time.sleep(0.05)
    client.wait_ready(600)
    rows.append(
        ("SIGKILL -> restarted and ready", f"{(time.perf_counter() - killed) * 1000:.0f} ms")
    )
    client.close()

    width = max(len(name) for name, _ in rows)
    print(f"{'measure':<{width}}  value")
    print(f"{'-' * width}  {'-' * 40}")
    for name, value in rows:
        print(f"{name:<{width}}  {value}")


if __name__ == "__main__":
    main()
