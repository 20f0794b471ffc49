"""`melodex train renderer`: encode the corpus with the shipped codec, train the DiT, export it.

The codec must be trained and exported first (the renderer learns in its latent space); the
latent cache lives in the run folder and is rebuilt only when missing.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from melodex_studio.cli.main import CliError


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
    from melodex_studio.engine.codec import Codec
    from melodex_studio.engine.text_encoder import MiniLMTextEncoder
    from melodex_studio.training.corpus import default_corpus_dir
    from melodex_studio.training.renderer_data import build_latent_cache
    from melodex_studio.training.renderer_train import (
        RendererTrainSettings,
        export_renderer,
        train_renderer,
    )
    from melodex_studio.training.runtime import configure_torch
    from melodex_studio.worker.model_paths import builtin_model_dir

    if args.threads:
        configure_torch(args.threads)
    data = args.data or default_corpus_dir()
    model_dir = args.model or builtin_model_dir()
    if not data.exists():
        raise CliError(f"no corpus at {data}: build one with `melodex train corpus --out {data}`")
    if not (model_dir / "codec_ae.safetensors").exists():
        raise CliError(f"{model_dir} has no codec: run `melodex train codec --export` first")
    cache_path = args.run / "latents.safetensors"
    codec = Codec.from_pretrained(model_dir)
    cache = build_latent_cache(data, codec, MiniLMTextEncoder(), cache_path)
    train_renderer(args.run, cache, steps=args.steps, batch_size=args.batch_size,
                   seed=args.seed, device=args.device,
                   settings=RendererTrainSettings(crop_frames=args.crop_frames),
                   checkpoint_every_s=args.checkpoint_every_s)
    if args.export:
        export_renderer(args.run, model_dir, extra={"latent_cache_examples": cache.n_examples,
                                                    "latent_space": codec.latent_space_id()})
        print(f"renderer written to {model_dir}")
    return 0
