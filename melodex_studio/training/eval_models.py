"""The three networks and the prompt encoder that evaluation and benchmarks generate with.

Either a complete model folder (codec, structure transformer, renderer, as the worker loads it)
or random networks from a seed: ``tiny`` for tests, ``full`` for the shipped architecture's size
(its speed and memory are the trained model's, which is what a benchmark needs before training
has finished). Random networks take the codec from a folder when one is given, so their audio
goes through the real vocoder.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import torch
from torch import Tensor

from melodex_studio.engine.codec import Codec, CodecConfig
from melodex_studio.engine.networks.dit import DiT, DiTConfig
from melodex_studio.engine.networks.structure_transformer import (
    StructureTransformer,
)
from melodex_studio.engine.weights import ModelLoadError, read_model_config
from melodex_studio.training.runtime import seeded
from melodex_studio.worker.model_paths import missing_components, missing_model_message

Embedder = Callable[[str], Tensor]
RandomSize = Literal["tiny", "full"]


@dataclass
class GenerationModels:
    codec: Codec
    renderer: DiT
    structure: StructureTransformer
    embed: Embedder  # prompt -> [384] float32
    schedule_shift: float = 1.0
    description: str = ""

    @property
    def device(self) -> torch.device:
        return next(self.renderer.parameters()).device


def minilm_embedder(device: str | torch.device = "cpu") -> Embedder:
    """The studio's frozen prompt encoder (all-MiniLM-L6-v2 from its PyPI package)."""
    from melodex_studio.engine.text_encoder import MiniLMTextEncoder

    encoder = MiniLMTextEncoder(device=device)
    return lambda text: encoder.encode([text])[0].float().cpu()


def has_codec(model_dir: Path) -> bool:
    return "codec" not in missing_components(model_dir)


def load_generation_models(model_dir: Path | str, device: str = "cpu",
                           embed: Embedder | None = None) -> GenerationModels:
    """Every part of a model folder; a missing folder or part raises ModelLoadError saying
    which part is missing and how to make it."""
    model_dir = Path(model_dir)
    if not model_dir.is_dir():
        raise ModelLoadError(f"no model folder at {model_dir}")
    if missing_components(model_dir):
        raise ModelLoadError(missing_model_message(model_dir))
    codec = Codec.from_pretrained(model_dir, device)
    renderer = DiT.from_pretrained(model_dir, device)
    structure = StructureTransformer.from_pretrained(model_dir, device)
    renderer_config = read_model_config(model_dir).get("renderer", {})
    shift = float(renderer_config.get("schedule_shift", 1.0))
    return GenerationModels(codec, renderer, structure, embed or minilm_embedder(device), shift,
                            description=str(model_dir))


def _random_full_renderer(seed: int) -> DiT:
    """The shipped renderer's size with every weight random: AdaLN-zero gates and the output
    layer start at zero, which would make the network skip its blocks (and its cost)."""
    def build() -> DiT:
        model = DiT(DiTConfig())
        with torch.no_grad():
            for parameter in model.parameters():
                if not parameter.any():
                    parameter.normal_(0.0, 0.02)
        return model

    return seeded(build, seed).eval()


def _random_full_structure(seed: int) -> StructureTransformer:
    """The default planner size, knowing every corpus style (as the shipped one is trained)."""
    from melodex_studio.training.structure_train import shipping_config

    return seeded(lambda: StructureTransformer(shipping_config()), seed).eval()


def random_generation_models(size: RandomSize = "tiny", seed: int = 0,
                             codec_dir: Path | str | None = None, device: str = "cpu",
                             embed: Embedder | None = None) -> GenerationModels:
    """Random renderer and structure transformer of `size`; the codec from `codec_dir` when it
    holds one, else random of the same size."""
    if size not in ("tiny", "full"):
        raise ValueError(f"random model size must be 'tiny' or 'full', got {size!r}")
    codec_source = f"random {size}"
    if codec_dir is not None and has_codec(Path(codec_dir)):
        codec = Codec.from_pretrained(codec_dir, device)
        codec_source = str(codec_dir)
    elif size == "tiny":
        codec = Codec.tiny_random(seed)
    else:
        codec = seeded(lambda: Codec(CodecConfig()), seed)
    if size == "tiny":
        renderer, structure = DiT.tiny_random(seed + 1), StructureTransformer.tiny_random(seed + 2)
    else:
        renderer, structure = _random_full_renderer(seed + 1), _random_full_structure(seed + 2)
    return GenerationModels(
        codec.to(device).eval(), renderer.to(device), structure.to(device),
        embed or minilm_embedder(device),
        description=f"random {size} renderer + structure (seed {seed}), codec {codec_source}",
    )
