"""Build a corpus folder: `n` examples of one seed, in parallel worker processes, resumable.

`train_corpus_main` is what `melodex train corpus` calls.
"""

from __future__ import annotations

import json
import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from tqdm import tqdm

from melodex_studio.training.corpus.dataset import (
    DEFAULT_SECONDS_MAX,
    HELD_OUT_FRACTION,
    generate_example,
    split_indices,
)
from melodex_studio.training.corpus.render import SAMPLE_RATE
from melodex_studio.training.corpus.storage import FORMAT_VERSION, AudioFormat, CorpusStore

MANIFEST = "corpus.json"


def _build_one(args: tuple[str, int, int, float, str, bool]) -> int:
    root, seed, index, seconds_max, audio_format, keep_stems = args
    store = CorpusStore(Path(root), seed, audio_format)  # type: ignore[arg-type]
    if not store.has(index):
        example = generate_example(index, seed=seed, seconds_max=seconds_max)
        store.save(example, keep_stems=keep_stems)
    return index


def _write_manifest(out_dir: Path, manifest: dict) -> None:
    existing = out_dir / MANIFEST
    if existing.is_file():
        previous = json.loads(existing.read_text("utf-8"))
        for field in ("seed", "seconds_max", "sample_rate", "audio_format"):
            if previous.get(field) != manifest[field]:
                raise ValueError(
                    f"{out_dir} holds a corpus with {field}={previous.get(field)!r}, "
                    f"not {manifest[field]!r}: use another folder"
                )
        manifest["n"] = max(manifest["n"], int(previous.get("n", 0)))
    out_dir.mkdir(parents=True, exist_ok=True)
    _, held_out = split_indices(manifest["n"], manifest["seed"], manifest["held_out_fraction"])
    manifest["held_out"] = held_out
    existing.write_text(json.dumps(manifest, indent=1), "utf-8")


def build_corpus(
    n: int,
    out_dir: Path,
    seed: int = 0,
    workers: int = 1,
    *,
    seconds_max: float = DEFAULT_SECONDS_MAX,
    audio_format: AudioFormat = "flac",
    keep_stems: bool = False,
    progress: bool = True,
) -> CorpusStore:
    """Generate examples 0..n-1 of corpus `seed` into `out_dir` (existing ones are kept)."""
    if n < 0 or workers < 1:
        raise ValueError("n must be >= 0 and workers >= 1")
    out_dir = Path(out_dir)
    _write_manifest(out_dir, {
        "format": FORMAT_VERSION, "seed": seed, "n": n, "seconds_max": seconds_max,
        "sample_rate": SAMPLE_RATE, "audio_format": audio_format,
        "held_out_fraction": HELD_OUT_FRACTION,
    })
    store = CorpusStore(out_dir, seed, audio_format)
    todo = [i for i in range(n) if not store.has(i)]
    jobs = [(str(out_dir), seed, i, seconds_max, audio_format, keep_stems) for i in todo]
    bar = tqdm(total=n, initial=n - len(todo), unit="ex", desc="corpus", disable=not progress)
    with bar:
        if workers == 1:
            for job in jobs:
                _build_one(job)
                bar.update()
        else:
            # spawn: worker processes start clean (no inherited synth or torch state).
            context = multiprocessing.get_context("spawn")
            with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
                for _ in pool.map(_build_one, jobs, chunksize=4):
                    bar.update()
    return store


def train_corpus_main(
    n: int,
    out_dir: Path,
    seed: int = 0,
    workers: int = 1,
    seconds_max: float = DEFAULT_SECONDS_MAX,
    keep_stems: bool = False,
) -> None:
    """Entry point of `melodex train corpus`: build, then print a one-line summary."""
    started = time.perf_counter()
    build_corpus(n, out_dir, seed, workers, seconds_max=seconds_max, keep_stems=keep_stems)
    elapsed = time.perf_counter() - started
    train, held_out = split_indices(n, seed)
    print(
        f"corpus {out_dir}: {n} examples (seed {seed}; {len(train)} train, "
        f"{len(held_out)} held out) in {elapsed:.1f} s"
    )
