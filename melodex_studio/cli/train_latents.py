"""What `melodex train renderer` and `melodex train adapter` both start from: the corpus, the
exported codec and the corpus encoded by it (the run folder's latent cache)."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from melodex_studio.cli.main import CliError

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
    """Threads set, folders checked (a one-line CliError when one is missing), the codec
    loaded and the cache at ``<run>/latents.safetensors`` built or reused."""
    from melodex_studio.engine.codec import Codec
    from melodex_studio.engine.text_encoder import MiniLMTextEncoder
    from melodex_studio.training.corpus import default_corpus_dir
    from melodex_studio.training.renderer_data import build_latent_cache
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
    codec = Codec.from_pretrained(model_dir)
    cache = build_latent_cache(data, codec, MiniLMTextEncoder(), args.run / "latents.safetensors")
    return LatentInputs(data, model_dir, codec, cache)
