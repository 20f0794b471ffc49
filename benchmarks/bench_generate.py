"""Generation speed on CPU: plan, render and decode one 30 s section, and the memory they take.

A 30 s section is 15 bars of 4/4 at 120 BPM (703 latent frames). The renderer runs the
studio's default steps with guidance 4 (> 1, so both classifier-free guidance branches run:
two network passes a step); the plan is sampled bar by bar; the decode is one codec pass; the
listen stage is the key check the studio runs on a whole section (`engine.audio_key`).
Each stage is timed `--repeats` times (best and median wall time, and process CPU time:
this machine is shared, and CPU time shows when the wall clock waited for someone else).
Memory is the process's resident set, sampled every 2 ms while a stage runs: its peak, and
the growth over the RSS before the stage (the stage's working memory); the process-wide peak
(getrusage maxrss) closes the table.

`--model` defaults to models/melodex-tiny. A folder without its renderer or structure
transformer yet falls back to random networks of the shipped size (`--fallback full`, the
default: their speed and memory are the trained model's) or tiny ones, with the codec from the
folder when it has one; the table's title says which.

    .venv/bin/python benchmarks/bench_generate.py [--model DIR] [--repeats 5] [--threads 2]
"""

from __future__ import annotations

import argparse
import resource
import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch

from melodex_studio.engine.audio_key import heard_key
from melodex_studio.engine.memory import keep_freed_memory
from melodex_studio.engine.pipelines.decode import decode
from melodex_studio.engine.pipelines.plan import PLAN_CANDIDATES, plan_section
from melodex_studio.engine.pipelines.render import render
from melodex_studio.engine.pipelines.render_in_key import DEFAULT_KEY_RETRIES
from melodex_studio.engine.sampling import Guidance, interval_from_progress, timestep_schedule
from melodex_studio.music.key import Key
from melodex_studio.music.meter import Meter
from melodex_studio.music.tempo import TempoGrid
from melodex_studio.project.generation import GenerationSettings
from melodex_studio.training.eval_models import (
    GenerationModels,
    load_generation_models,
    random_generation_models,
)
from melodex_studio.worker.model_paths import builtin_model_dir, missing_components

PROMPT = "dusty lo-fi keys, lazy swing drums, warm tape, relaxed 120 BPM in 4/4, in A minor"
STUDIO = GenerationSettings()  # what a fresh section renders with
BPM, METER, KEY, BARS = 120.0, Meter.parse("4/4"), Key.parse("A minor"), 15
PAGE = 4096


def _rss_bytes() -> int:
    with open("/proc/self/statm", encoding="ascii") as handle:
        return int(handle.read().split()[1]) * PAGE


class PeakRss:
    """Samples this process's RSS on a thread while the `with` block runs."""

    def __init__(self, interval_s: float = 0.002) -> None:
        self.interval_s = interval_s
        self.start = self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.peak = max(self.peak, _rss_bytes())

    def __enter__(self) -> PeakRss:
        self.start = self.peak = _rss_bytes()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, _rss_bytes())


@dataclass
class StageTimes:
    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    peak_rss: int = 0
    growth: int = 0


def measure(stage: StageTimes, work: Callable[[], object]) -> object:
    with PeakRss() as memory:
        wall, cpu = time.perf_counter(), time.process_time()
        result = work()
        stage.wall.append(time.perf_counter() - wall)
        stage.cpu.append(time.process_time() - cpu)
    stage.peak_rss = max(stage.peak_rss, memory.peak)
    stage.growth = max(stage.growth, memory.peak - memory.start)
    return result


def machine_gflops(threads: int, seconds: float = 1.0) -> float:
    """fp32 matrix-multiply speed right now: this shared machine's speed drifts by half from
    hour to hour, so the table says how fast the machine was while it ran."""
    a, b = torch.randn(512, 512), torch.randn(512, 512)
    with torch.inference_mode():
        for _ in range(5):
            a @ b
        count, began = 0, time.perf_counter()
        while time.perf_counter() - began < seconds:
            a @ b
            count += 1
    return count * 2 * 512**3 / (time.perf_counter() - began) / 1e9


def load_models(model_dir: Path, fallback: str) -> tuple[GenerationModels, str]:
    missing = missing_components(model_dir)
    if not missing:
        return load_generation_models(model_dir), f"model {model_dir}"
    print(f"{model_dir} has no {', '.join(missing)} yet: benchmarking random {fallback}-size "
          "networks instead (codec from the folder when it has one)")
    models = random_generation_models(fallback, seed=0, codec_dir=model_dir)  # type: ignore[arg-type]
    return models, f"FALLBACK: {models.description}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=builtin_model_dir())
    parser.add_argument("--fallback", choices=("full", "tiny"), default="full")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--steps", type=int, default=STUDIO.steps)
    parser.add_argument("--candidates", type=int, default=PLAN_CANDIDATES,
                        help="plans drawn side by side (the studio's default)")
    parser.add_argument("--guidance", type=float, default=STUDIO.guidance)
    parser.add_argument("--guidance-interval", type=float, nargs=2, metavar=("START", "END"),
                        default=STUDIO.guidance_interval,
                        help="as denoising progress, 0 = noise (default: the studio's)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    keep_freed_memory()  # as the worker does (`engine.memory`)

    began = time.perf_counter()
    models, title = load_models(args.model, args.fallback)
    text = models.embed(PROMPT)
    load_s = time.perf_counter() - began
    codec = models.codec
    grid = TempoGrid(BPM, METER, codec.sample_rate)
    frame_rate = codec.config.latent_frame_rate
    n_frames = grid.bar_span_frames(0, BARS, frame_rate)[1]
    seconds = grid.bar_span_samples(0, BARS)[1] / codec.sample_rate

    gflops_before = machine_gflops(args.threads)
    stages = {"plan": StageTimes(), "render": StageTimes(), "decode": StageTimes(),
              "listen": StageTimes()}
    heard: list[str] = []
    with torch.inference_mode():
        for repeat in range(args.repeats):
            plan = measure(stages["plan"], lambda repeat=repeat: plan_section(
                models.structure, text, KEY, METER, BPM, "verse", 0.6, BARS, style="lofi",
                seed=repeat, candidates=args.candidates))
            result = measure(stages["render"], lambda plan=plan, repeat=repeat: render(
                models.renderer, plan, text, grid, KEY, n_frames, frame_rate=frame_rate,
                seed=repeat, steps=args.steps, guidance=args.guidance,
                guidance_interval=interval_from_progress(tuple(args.guidance_interval)),
                sampler=STUDIO.sampler, shift=models.schedule_shift, checkpoint_steps=None))
            # Decode as the worker does: with the raster the section was rendered from (the
            # plan adapter's input).
            audio = measure(stages["decode"], lambda result=result: decode(
                codec, result.final_latent, control=result.control))
            # The studio listens to a whole section for its key (`render_in_key`); heard off
            # key it would render and decode again.
            key = measure(stages["listen"], lambda audio=audio: heard_key(
                audio.numpy(), codec.sample_rate))
            heard.append("-" if key is None else str(key))

    low, high = args.guidance_interval
    guidance = Guidance(args.guidance, interval_from_progress((low, high)))
    times = timestep_schedule(args.steps, models.schedule_shift)[:-1]
    passes = args.steps + sum(guidance.active(t) for t in times)
    print(f"\ngenerate benchmark: {seconds:.1f} s section ({BARS} bars of {METER} at "
          f"{BPM:.0f} BPM, {n_frames} latent frames), {args.threads} threads, {title}")
    print(f"render: {args.steps} steps, guidance {args.guidance} over progress {low:g}-{high:g} "
          f"({passes} network passes); "
          f"models + prompt encoder loaded in {load_s:.1f} s; best of {args.repeats}")
    ear = "the model's ear" if models.structure.key_hearing is not None else "the score"
    print("plan: one candidate, kept as drawn" if args.candidates == 1 else
          f"plan: {args.candidates} candidates drawn side by side, the first heard in the key "
          f"({ear}) kept")
    in_key = sum(name == str(KEY) for name in heard)
    print(f"listen: heard in {KEY} in {in_key} of {args.repeats} runs ({', '.join(heard)}); a "
          f"run heard off key renders again, up to {DEFAULT_KEY_RETRIES} more times")
    header = (f"{'stage':<8}{'best s':>8}{'median s':>10}{'cpu s':>8}{'x real time':>13}"
              f"{'RTF':>7}{'peak RSS MB':>13}{'+MB':>7}")
    print(header)
    total_best = 0.0
    for name, stage in stages.items():
        best = min(stage.wall)
        total_best += best
        print(f"{name:<8}{best:>8.2f}{statistics.median(stage.wall):>10.2f}"
              f"{min(stage.cpu):>8.2f}{seconds / best:>13.1f}{best / seconds:>7.3f}"
              f"{stage.peak_rss / 2**20:>13.0f}{stage.growth / 2**20:>7.0f}")
    print(f"{'total':<8}{total_best:>8.2f}{'':>10}{'':>8}{seconds / total_best:>13.1f}"
          f"{total_best / seconds:>7.3f}")
    # The row above adds each stage's best, which may come from different repeats; the whole
    # runs below are plan + render + decode of one repeat each.
    runs = [sum(stage.wall[repeat] for stage in stages.values())
            for repeat in range(args.repeats)]
    print(f"whole runs: fastest {min(runs):.2f} s ({seconds / min(runs):.1f}x real time), "
          f"median {statistics.median(runs):.2f} s ({seconds / statistics.median(runs):.1f}x)")
    gflops_after = machine_gflops(args.threads)
    print(f"machine: fp32 matmul at {gflops_before:.0f} GFLOPS before and {gflops_after:.0f} "
          f"after, on {args.threads} threads (compare runs only at similar speeds)")
    busy = sum(min(s.cpu) for s in stages.values()) / total_best
    if busy < 0.8 * min(args.threads, 1 + 0.5 * (args.threads - 1)):
        print(f"note: the process got {busy:.2f} CPUs of the {args.threads} threads it runs "
              "(CPU s / wall s): the machine is busy and these wall times are inflated")
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    print(f"process peak RSS (getrusage maxrss, includes the prompt encoder): {maxrss:.0f} MB")


if __name__ == "__main__":
    main()
