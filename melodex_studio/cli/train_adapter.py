"""`melodex train adapter`: train the codec's plan adapter on the renderer's latent cache.

The codec must be trained and exported first. The latent cache (latents and control rasters of
the training corpus) and the log-mel targets live in the run folder and are rebuilt only when
missing or made by another codec.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from melodex_studio.cli.main import CliError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--run", type=Path, default=Path("runs/adapter/main"),
                        help="run folder: latent cache, log-mels, checkpoints, loss log (resumed)")
    parser.add_argument("--data", type=Path, default=None,
                        help="corpus folder (default: $MELODEX_CORPUS_DIR or the cache)")
    parser.add_argument("--model", type=Path, default=None,
                        help="model folder holding the codec (default: models/melodex-tiny)")
    parser.add_argument("--steps", type=int, default=12000)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--width", type=int, default=None,
                        help="channels of the adapter's layers (default 128; a resumed run "
                             "keeps its own)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--checkpoint-every-s", type=float, default=300.0)
    parser.add_argument("--export", action="store_true",
                        help="after training, write the adapter into the model folder")


def run(args: argparse.Namespace) -> int:
    from melodex_studio.cli.train_latents import latent_inputs
    from melodex_studio.engine.networks.plan_adapter import PlanAdapterConfig
    from melodex_studio.training.plan_adapter_train import (
        MELS_FILE,
        build_mel_targets,
        export_plan_adapter,
        train_plan_adapter,
    )

    if args.steps < 1:
        raise CliError("--steps must be at least 1")
    if args.width is not None and args.width < 1:
        raise CliError("--width must be at least 1")
    inputs = latent_inputs(args)
    codec, cache = inputs.codec, inputs.cache
    mels = build_mel_targets(inputs.data, cache, codec, args.run / MELS_FILE)
    try:
        train_plan_adapter(args.run, codec, cache, mels, steps=args.steps,
                           batch_size=args.batch_size, seed=args.seed, device=args.device,
                           checkpoint_every_s=args.checkpoint_every_s,
                           config=None if args.width is None else PlanAdapterConfig(
                               width=args.width))
    except ValueError as exc:
        raise CliError(str(exc)) from exc
    if args.export:
        try:
            export_plan_adapter(args.run, inputs.model_dir)
        except ValueError as exc:
            raise CliError(str(exc)) from exc
        print(f"plan adapter written to {inputs.model_dir}")
    return 0
