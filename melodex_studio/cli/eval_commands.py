"""`melodex eval PART`: score a model folder. `codec`: reconstruction against Griffin-Lim on the
held-out split of a corpus; `adapter`: chords and key through the codec with and without the
plan; `generate`: tempo, key, chords, style and repaint seams of generated sections.

Evaluation code (torch, librosa) is imported only inside ``run``, so ``melodex eval --help``
stays fast. Each prints a table and writes every number as JSON with ``--json``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from melodex_studio.cli.inputs import corpus_dir, load_codec
from melodex_studio.cli.main import CliError
from melodex_studio.worker.model_paths import builtin_model_dir, missing_model_message

if TYPE_CHECKING:
    from melodex_studio.training.eval_models import GenerationModels
    from melodex_studio.training.eval_style import StyleProbe

PARTS: dict[str, str] = {
    "codec": "codec reconstruction vs Griffin-Lim on held-out corpus audio",
    "generate": "tempo, key, chord and seam scores of generated sections",
    "adapter": "chords and key through the codec with and without the plan adapter",
}


def add_arguments(name: str, parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="target", metavar="PART", required=True)
    codec = sub.add_parser("codec", help=PARTS["codec"], description=PARTS["codec"])
    _common(codec)
    _held_out_corpus(codec)
    codec.add_argument("--clips", type=int, default=32, help="held-out clips to score")
    codec.add_argument("--seconds", type=float, default=None,
                       help="score only the first S seconds of each clip")
    codec.add_argument("--png-dir", type=Path, default=None,
                       help="write original / Griffin-Lim / round-trip spectrogram PNGs here")
    codec.add_argument("--griffin-lim-iterations", type=int, default=32)
    codec.add_argument("--speed-seconds", type=float, default=30.0,
                       help="length of the audio the encode/decode speed is timed on")

    adapter = sub.add_parser("adapter", help=PARTS["adapter"], description=PARTS["adapter"])
    _common(adapter)
    _held_out_corpus(adapter)
    adapter.add_argument("--examples", type=int, default=48, help="held-out examples to judge")

    generate = sub.add_parser("generate", help=PARTS["generate"],
                              description=PARTS["generate"])
    _common(generate)
    generate.add_argument("--sections", type=int, default=96,
                          help="sections to generate (spread over styles, keys, meters, tempos)")
    generate.add_argument("--bars", type=int, default=8, help="bars per section")
    generate.add_argument("--steps", type=int, default=None,
                          help="denoising steps (default: the studio's)")
    generate.add_argument("--guidance", type=float, default=None,
                          help="classifier-free guidance (default: the studio's)")
    generate.add_argument("--guidance-interval", type=float, nargs=2, default=None,
                          metavar=("START", "END"),
                          help="where guidance applies, as denoising progress from 0 = noise "
                          "to 1 = done, like the studio's expert setting (default: the "
                          "studio's)")
    generate.add_argument("--seed", type=int, default=0, help="seed of the section design")
    generate.add_argument("--free-tonic", action="store_true",
                          help="plan minor keys without keeping their tonic chords minor (as "
                               "versions before it did)")
    generate.add_argument("--plan-candidates", type=int, default=None,
                          help="plans drawn side by side, of which the first heard in the asked "
                               "key is kept (default: the studio's; 1 keeps the only one)")
    generate.add_argument("--key-retries", type=int, default=None,
                          help="renders after the first when a section is heard off key "
                               "(default: the studio's; 0 keeps the first render)")
    generate.add_argument("--no-plan-adapter", action="store_true",
                          help="decode from the latents alone, without the plan's raster")
    generate.add_argument("--audio-dir", type=Path, default=None,
                          help="also write every section and its repaint as WAV here, and "
                               "each section's spectrogram + chroma picture as PNG")
    generate.add_argument("--quiet", action="store_true", help="no line per section")
    generate.add_argument("--reference-data", type=Path, default=None, metavar="CORPUS",
                          help="also score this corpus' held-out audio against its labels "
                               "(the ceiling row)")
    generate.add_argument("--reference-examples", type=int, default=48)
    generate.add_argument("--style-data", type=Path, default=None, metavar="CORPUS",
                          help="also judge each section's style with a probe fitted on this "
                               "corpus' audio through the codec (a few minutes)")
    generate.add_argument("--style-examples", type=int, default=800,
                          help="training clips for the style probe")
    # Tests and benchmarks before training ends: random networks of the shipped size ("full")
    # or tiny ones; the codec comes from --model when it has one.
    generate.add_argument("--random-models", choices=("tiny", "full"), default=None,
                          help=argparse.SUPPRESS)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", type=Path, default=None,
                        help="model folder (default: models/melodex-tiny)")
    parser.add_argument("--json", type=Path, default=None, help="write the results here")
    parser.add_argument("--threads", type=int, default=2, help="CPU threads (default 2)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda")


def _held_out_corpus(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", type=Path, default=None,
                        help="corpus folder (default: $MELODEX_CORPUS_DIR or the cache); its "
                             "held-out split is used")


def run(name: str, args: argparse.Namespace) -> int:
    from melodex_studio.training.runtime import configure_torch

    if args.threads is not None and args.threads < 1:
        raise CliError("--threads must be at least 1")
    try:
        configure_torch(args.threads, args.device)
    except ValueError as error:
        raise CliError(str(error)) from error
    model_dir = args.model or builtin_model_dir()
    if args.target == "codec":
        return _eval_codec(args, model_dir)
    if args.target == "adapter":
        return _eval_adapter(args, model_dir)
    return _eval_generate(args, model_dir)


def _eval_adapter(args: argparse.Namespace, model_dir: Path) -> int:
    from melodex_studio.training.eval_plan_adapter import evaluate_plan_adapter

    if args.examples < 1:
        raise CliError("--examples must be at least 1")
    data = corpus_dir(args.data)
    codec = load_codec(model_dir, args.device)
    try:
        result = evaluate_plan_adapter(codec, data, args.examples)
    except ValueError as exc:
        raise CliError(str(exc)) from exc
    print(result["table"])
    if args.json is not None:
        _write_json(args.json, {"model": str(model_dir), "data": str(data), **result})
    return 0


def _eval_codec(args: argparse.Namespace, model_dir: Path) -> int:
    from melodex_studio.training.codec_data import load_audio_pool
    from melodex_studio.training.eval_codec import evaluate_codec

    if args.clips < 1:
        raise CliError("--clips must be at least 1")
    if (args.seconds is not None and args.seconds <= 0) or args.speed_seconds <= 0:
        raise CliError("--seconds and --speed-seconds must be positive")
    data = corpus_dir(args.data)
    codec = load_codec(model_dir, args.device)
    try:
        clips = load_audio_pool(data, codec.sample_rate, max_clips=args.clips, held_out=True)
    except ValueError as exc:
        raise CliError(f"no held-out clips in {data}: {exc}") from exc
    if args.seconds is not None:
        clips = [clip[: int(args.seconds * codec.sample_rate)] for clip in clips]
    result = evaluate_codec(codec, clips, args.png_dir,
                            griffin_lim_iterations=args.griffin_lim_iterations,
                            speed_seconds=args.speed_seconds)
    if args.json is not None:
        _write_json(args.json, {"model": str(model_dir), "data": str(data), **result})
    return 0


def _eval_generate(args: argparse.Namespace, model_dir: Path) -> int:
    from melodex_studio.engine.weights import ModelLoadError
    from melodex_studio.training.eval_design import design_sections
    from melodex_studio.training.eval_generate import GenerateSettings, evaluate_generation
    from melodex_studio.training.eval_models import (
        load_generation_models,
        random_generation_models,
    )

    if args.sections < 1:
        raise CliError("--sections must be at least 1")
    if args.bars < 4:
        raise CliError("--bars must be at least 4 (the repaint takes the 2 middle bars)")
    if args.steps is not None and args.steps < 1:
        raise CliError("--steps must be at least 1")
    if args.key_retries is not None and args.key_retries < 0:
        raise CliError("--key-retries must be 0 or more")
    if args.guidance is not None and args.guidance < 0:
        raise CliError("--guidance must not be negative")
    for corpus in (args.reference_data, args.style_data):
        if corpus is not None and not corpus.is_dir():
            raise CliError(f"no corpus at {corpus}")
    if args.style_examples < 10:
        raise CliError("--style-examples must be at least 10")
    interval = _guidance_interval(args.guidance_interval)
    if args.random_models is None and not model_dir.is_dir():
        raise CliError(f"no model folder at {model_dir}")
    try:
        if args.random_models is not None:
            codec_dir = model_dir if model_dir.is_dir() else None
            models = random_generation_models(args.random_models, args.seed, codec_dir,
                                              args.device)
        else:
            models = load_generation_models(model_dir, args.device)
    except ModelLoadError as exc:
        message = str(exc) if model_dir.is_dir() else missing_model_message(model_dir)
        raise CliError(message) from exc
    defaults = GenerateSettings()
    settings = GenerateSettings(
        steps=args.steps if args.steps is not None else defaults.steps,
        guidance=args.guidance if args.guidance is not None else defaults.guidance,
        guidance_interval=interval if interval is not None else defaults.guidance_interval,
        plan_adapter=not args.no_plan_adapter,
        keep_tonic_mode=not args.free_tonic,
        plan_candidates=(args.plan_candidates if args.plan_candidates is not None
                         else defaults.plan_candidates),
        key_retries=args.key_retries if args.key_retries is not None else defaults.key_retries,
    )
    sections = design_sections(args.sections, args.bars, args.seed)
    reference = None
    if args.reference_data is not None:
        from melodex_studio.training.eval_reference import judge_corpus_examples

        try:
            reference = judge_corpus_examples(args.reference_data, args.reference_examples)
        except (OSError, ValueError) as exc:
            raise CliError(f"cannot score the reference corpus: {exc}") from exc

    def progress(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    probe = None if args.style_data is None else _style_probe(models, args.style_data,
                                                               args.style_examples)
    evaluate_generation(models, sections, settings, json_path=args.json,
                        audio_dir=args.audio_dir, progress=None if args.quiet else progress,
                        reference=reference, style_probe=probe)
    return 0


def _style_probe(models: GenerationModels, corpus: Path, examples: int) -> StyleProbe:
    """The style probe, fitted on `examples` clips of `corpus` as the models' codec renders
    them."""
    from melodex_studio.training.eval_style import codec_round_trip, fit_style_probe

    print(f"fitting the style probe on up to {examples} clips of {corpus} through the codec",
          file=sys.stderr, flush=True)
    try:
        return fit_style_probe(corpus, max_examples=examples,
                               transform=codec_round_trip(models.codec))
    except (OSError, ValueError) as exc:
        raise CliError(f"cannot fit the style probe on {corpus}: {exc}") from exc


def _guidance_interval(progress: list[float] | None) -> tuple[float, float] | None:
    """The `--guidance-interval` progress pair as the t interval `render` takes, or None."""
    from melodex_studio.engine.sampling import interval_from_progress

    if progress is None:
        return None
    low, high = progress
    if not 0.0 <= low < high <= 1.0:
        raise CliError(f"--guidance-interval needs 0 <= START < END <= 1, got {low} {high}")
    return interval_from_progress((low, high))


def _write_json(path: Path, data: dict) -> None:
    from melodex_studio.training.eval_generate import json_safe

    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(json_safe(data), indent=2) + "\n", encoding="utf-8")
