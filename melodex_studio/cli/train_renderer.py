"""`melodex train renderer`: encode the corpus with the shipped codec, train the DiT, export it.

The codec must be trained and exported first (the renderer learns in its latent space); the
latent cache lives in the run folder and is rebuilt only when missing.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--run", type=Path, default=Path("runs/renderer/main"),
                        help="run folder: latent cache, checkpoints, loss log (resumed)")
    parser.add_argument("--data", type=Path, default=None,
                        help="corpus folder (default: $MELODEX_CORPUS_DIR or the cache)")
    parser.add_argument("--model", type=Path, default=None,
                        help="model folder holding the codec (default: models/melodex-tiny)")
    parser.add_argument("--steps", type=int, default=8000)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--crop-frames", type=int, default=128,
                        help="latent frames per training crop (23.4 a second)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--checkpoint-every-s", type=float, default=300.0)
    parser.add_argument("--export", action="store_true",
                        help="after training, write the EMA weights into the model folder")


def run(args: argparse.Namespace) -> int:
    from melodex_studio.cli.train_latents import latent_inputs
    from melodex_studio.training.renderer_train import (
        RendererTrainSettings,
        export_renderer,
        train_renderer,
    )

    inputs = latent_inputs(args)
    codec, cache, model_dir = inputs.codec, inputs.cache, inputs.model_dir
    train_renderer(args.run, cache, steps=args.steps, batch_size=args.batch_size,
                   seed=args.seed, device=args.device,
                   settings=RendererTrainSettings(crop_frames=args.crop_frames),
                   checkpoint_every_s=args.checkpoint_every_s)
    if args.export:
        export_renderer(args.run, model_dir, extra={"latent_cache_examples": cache.n_examples,
                                                    "latent_space": codec.latent_space_id()})
        print(f"renderer written to {model_dir}")
    return 0
