"""What `melodex train renderer` and `melodex train adapter` both start from: the corpus, the
exported codec and the corpus encoded by it (the run folder's latent cache)."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from melodex_studio.cli.inputs import corpus_dir, load_codec

if TYPE_CHECKING:
    from melodex_studio.engine.codec import Codec
    from melodex_studio.training.renderer_data import LatentCache


@dataclass(frozen=True)
class LatentInputs:
    data: Path
    model_dir: Path
    codec: Codec
    cache: LatentCache


def latent_inputs(args: argparse.Namespace) -> LatentInputs:
    """Threads set, folders checked (`inputs`: a one-line CliError when one is missing), the codec
    loaded and the cache at ``<run>/latents.safetensors`` built or reused."""
    from melodex_studio.engine.text_encoder import MiniLMTextEncoder
    from melodex_studio.training.renderer_data import build_latent_cache
    from melodex_studio.training.runtime import configure_torch
    from melodex_studio.worker.model_paths import builtin_model_dir

    if args.threads:
        configure_torch(args.threads)
    data = corpus_dir(args.data)
    model_dir = args.model or builtin_model_dir()
    codec = load_codec(model_dir)
    cache = build_latent_cache(data, codec, MiniLMTextEncoder(), args.run / "latents.safetensors")
    return LatentInputs(data, model_dir, codec, cache)
