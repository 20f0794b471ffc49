"""`melodex train codec`: train the mel autoencoder and the vocoder, then export them.

The two stages can run one after the other in one run folder (``--stage ae`` then
``--stage vocoder``), or side by side in two folders joined with ``--combine AE_RUN VOC_RUN``.
``--from-model`` starts a run from a model folder's codec (a fine-tune, such as the
adversarial ``--stage gan``). ``--export`` writes the weights, latent statistics and config
into a model folder.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from melodex_studio.cli.inputs import corpus_dir
from melodex_studio.cli.main import CliError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--run", type=Path, default=Path("runs/codec/main"),
                        help="run folder: checkpoints, loss log, snapshots (resumed if present)")
    parser.add_argument("--data", type=Path, default=None,
                        help="corpus folder (default: $MELODEX_CORPUS_DIR or the cache)")
    parser.add_argument("--stage", choices=("ae", "vocoder", "both", "decoder", "gan"),
                        default="ae",
                        help="decoder: the autoencoder's decoder alone, encoder frozen (the "
                             "latent space, and the renderer trained in it, stay valid); gan: "
                             "the vocoder against period and resolution discriminators")
    parser.add_argument("--steps", type=int, default=20_000,
                        help="train until the stage's step counter reaches this")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads (default: torch's)")
    parser.add_argument("--checkpoint-every-s", type=float, default=300.0)
    parser.add_argument("--snapshot-every", type=int, default=1000)
    parser.add_argument("--from-model", type=Path, default=None, metavar="MODEL_DIR",
                        help="start --run (a fresh folder) from this model's autoencoder and "
                             "vocoder, to fine-tune them")
    parser.add_argument("--combine", nargs=2, type=Path, metavar=("AE_RUN", "VOCODER_RUN"),
                        help="start --run from one run's autoencoder and another's vocoder")
    parser.add_argument("--export", type=Path, default=None, metavar="MODEL_DIR",
                        help="after training, write the codec into this model folder")
    parser.add_argument("--export-clips", type=int, default=128,
                        help="training clips used to measure the latent statistics")
    parser.add_argument("--keep-latent-space", action="store_true",
                        help="with --export: the run's encoder must be the one already in "
                             "MODEL_DIR, whose latent statistics are kept (a new decoder or "
                             "vocoder without retraining the renderer)")
    parser.add_argument("--vocoder-setting", action="append", default=[], metavar="NAME=VALUE",
                        help="an inference setting of the vocoder for --export, --retune or "
                             "--from-model (the run's phase path) "
                             "(refine_iterations, mel_match_rounds, phase_init, "
                             "phase_anchor_frames); repeatable")
    parser.add_argument("--train-setting", action="append", default=[], metavar="NAME=VALUE",
                        help="override a training setting (learning_rate, cooldown_start, "
                             "vocoder_reconstructed_share, ...) on top of the run's; repeatable")
    parser.add_argument("--retune", type=Path, default=None, metavar="MODEL_DIR",
                        help="only rewrite the vocoder settings in MODEL_DIR's config.json "
                             "(weights and latent statistics untouched), then stop")
    parser.add_argument("--note", default=None,
                        help="with --retune: why, stored as config.json's inference_note")


def run(args: argparse.Namespace) -> int:
    from melodex_studio.engine.weights import ModelLoadError
    from melodex_studio.training.codec_export import (
        export_codec,
        parse_vocoder_settings,
        retune_vocoder,
    )
    from melodex_studio.training.codec_runs import combine_runs, start_run_from_model
    from melodex_studio.training.codec_train import train_codec

    try:
        settings = parse_vocoder_settings(args.vocoder_setting)
    except ValueError as exc:
        raise CliError(str(exc)) from None
    if args.retune is not None:
        if not settings:
            raise CliError("--retune needs at least one --vocoder-setting NAME=VALUE")
        try:
            section = retune_vocoder(args.retune, settings, note=args.note)
        except (ValueError, OSError, ModelLoadError) as exc:
            raise CliError(f"cannot retune {args.retune}: {exc}") from None
        print(f"{args.retune / 'config.json'}: vocoder {section['vocoder']}")
        return 0

    data = corpus_dir(args.data)
    if args.steps < 0:
        raise CliError("--steps must be at least 0")
    if args.combine and args.from_model:
        raise CliError("--combine and --from-model both start a run: pick one")
    if (args.combine or args.from_model) and (args.run / "checkpoint").exists():
        option = "--combine" if args.combine else "--from-model"
        raise CliError(f"{args.run} already has a checkpoint; {option} starts a new run")
    if args.combine:
        combine_runs(args.combine[0], args.combine[1], args.run)
    if args.from_model:
        try:
            start_run_from_model(args.from_model, args.run, seed=args.seed,
                                 vocoder_settings=settings)
        except (OSError, ValueError, ModelLoadError) as exc:
            raise CliError(f"cannot start from {args.from_model}: {exc}") from None
        settings = {}  # the run's own now; an export of it keeps them
    if args.steps:
        train_codec(args.run, data, steps=args.steps, batch_size=args.batch_size, seed=args.seed,
                    device=args.device, stage=args.stage, num_threads=args.threads,
                    checkpoint_every_s=args.checkpoint_every_s,
                    snapshot_every=args.snapshot_every, overrides=args.train_setting)
    if args.export is not None:
        try:
            fragment = export_codec(args.run, args.export, data, max_clips=args.export_clips,
                                    vocoder_settings=settings,
                                    keep_latent_space=args.keep_latent_space)
        except ValueError as exc:
            raise CliError(str(exc)) from None
        for name, entry in fragment["files"].items():
            print(f"{args.export / name}: {entry['bytes'] / 1e6:.1f} MB, sha256 {entry['sha256']}")
    return 0
