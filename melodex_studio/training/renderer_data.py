"""Training data of the renderer: corpus audio as codec latents, with everything the DiT sees.

The codec is frozen, so every training example is encoded once into a cache (a safetensors
file: latents, control raster and global conditions, concatenated over time, plus offsets),
and training reads random crops of it. The conditioning is built by the same functions the
render pipeline uses at inference (`control_raster`, `meter_id`, ``Key.index``) so training
and generation can never disagree about what a channel means.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file
from torch import Tensor
from tqdm import tqdm

from melodex_studio.engine.codec import Codec
from melodex_studio.engine.control_raster import control_raster
from melodex_studio.engine.networks.dit import RenderConditioning
from melodex_studio.engine.plan_tokens import meter_id
from melodex_studio.engine.text_encoder import TextEncoder
from melodex_studio.training.codec_data import to_mono
from melodex_studio.training.corpus.render import RenderLabels

CACHE_FORMAT = 1


@dataclass(frozen=True)
class LatentCache:
    """Examples stacked along time: latents [16, N], control [C, N]; per example the text
    embedding, BPM, key and meter ids and its [start, end) frames in the stacked arrays."""

    latents: Tensor
    control: Tensor
    text: Tensor
    bpm: Tensor
    key: Tensor
    meter: Tensor
    starts: Tensor
    lengths: Tensor

    @property
    def n_examples(self) -> int:
        return int(self.starts.numel())

    def save(self, path: Path, latent_space: str = "") -> None:
        """`latent_space` is the encoding codec's `Codec.latent_space_id`, kept in the file's
        metadata so a cache is never reused under another codec."""
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        save_file({k: v.contiguous() for k, v in self.__dict__.items()}, str(tmp),
                  metadata={"format": str(CACHE_FORMAT), "latent_space": latent_space})
        tmp.replace(path)

    @staticmethod
    def latent_space_of(path: Path) -> str:
        """The latent space a cache file was encoded in ("" when it does not say)."""
        with safe_open(str(path), framework="pt") as handle:
            return (handle.metadata() or {}).get("latent_space", "")

    @classmethod
    def load(cls, path: Path) -> LatentCache:
        return cls(**load_file(str(path)))


def corpus_documents(corpus_dir: Path, held_out: bool) -> list[dict]:
    """Label documents of one split of a corpus folder, in index order."""
    documents = []
    for path in sorted((Path(corpus_dir) / "examples").glob("*.json")):
        document = json.loads(path.read_text("utf-8"))
        if bool(document.get("held_out")) == held_out:
            documents.append(document)
    return documents


def build_latent_cache(corpus_dir: Path, codec: Codec, text_encoder: TextEncoder, out: Path,
                       held_out: bool = False, limit: int | None = None,
                       progress: bool = True) -> LatentCache:
    """Encode one split of a corpus into a `LatentCache` at `out`; a file already there is
    reused when `codec` encoded it (same `latent_space_id`), and encoded again otherwise."""
    latent_space = codec.latent_space_id()
    if out.is_file() and LatentCache.latent_space_of(out) == latent_space:
        return LatentCache.load(out)
    documents = corpus_documents(corpus_dir, held_out)[:limit]
    if not documents:
        raise ValueError(f"{corpus_dir} holds no {'held-out' if held_out else 'training'} examples")
    frame_rate = codec.sample_rate / codec.samples_per_latent_frame
    parts: dict[str, list[Tensor]] = {k: [] for k in ("latents", "control", "text", "bpm", "key",
                                                      "meter", "lengths")}
    for document in tqdm(documents, desc="encode corpus", disable=not progress):
        labels = RenderLabels.model_validate(document["labels"])
        if labels.sample_rate != codec.sample_rate:
            raise ValueError(f"corpus is at {labels.sample_rate} Hz, the codec at "
                             f"{codec.sample_rate} Hz")
        audio, _ = sf.read(Path(corpus_dir) / "examples" / document["audio"], dtype="float32")
        audio = to_mono(audio)
        latents = codec.encode(torch.from_numpy(np.ascontiguousarray(audio)))[0].float().cpu()
        section = labels.section
        grid = labels.grid()
        frames = latents.shape[-1]
        parts["latents"].append(latents)
        parts["control"].append(control_raster(section.plan, section.key_value, grid, frames,
                                               frame_rate, 0, 0))
        parts["text"].append(text_encoder.encode([document["caption"]])[0].float().cpu())
        parts["bpm"].append(torch.tensor(float(section.bpm)))
        parts["key"].append(torch.tensor(section.key_value.index))
        parts["meter"].append(torch.tensor(meter_id(section.meter_value)))
        parts["lengths"].append(torch.tensor(frames))
    lengths = torch.stack(parts["lengths"]).long()
    cache = LatentCache(
        latents=torch.cat(parts["latents"], dim=-1),
        control=torch.cat(parts["control"], dim=-1).float(),
        text=torch.stack(parts["text"]),
        bpm=torch.stack(parts["bpm"]).float(),
        key=torch.stack(parts["key"]).long(),
        meter=torch.stack(parts["meter"]).long(),
        starts=torch.cumsum(lengths, 0) - lengths,
        lengths=lengths,
    )
    cache.save(out, latent_space)
    return cache


@dataclass(frozen=True)
class MaskMix:
    """How often each task appears in training: generate (whole crop), repaint (an inner span)
    and extend (a prefix or suffix is given); and how often the text is dropped for CFG."""

    generate: float = 0.5
    repaint: float = 0.3
    text_dropout: float = 0.15
    min_span: float = 0.15
    max_span: float = 0.6


@dataclass(frozen=True)
class Batch:
    x0: Tensor  # [B, 16, L] clean latents
    cond: RenderConditioning  # source = x0 (the DiT reads it only outside the region)
    loss_mask: Tensor  # [B, L] float: region frames that are real audio


def region_for(rng: np.random.Generator, length: int, valid: int, mix: MaskMix) -> np.ndarray:
    """A boolean region mask [length] over the first `valid` frames for one training example."""
    mask = np.zeros(length, dtype=bool)
    draw = rng.random()
    if draw < mix.generate or valid < 8:
        mask[:valid] = True
        return mask
    span = max(2, round(valid * rng.uniform(mix.min_span, mix.max_span)))
    if draw < mix.generate + mix.repaint:
        start = int(rng.integers(1, max(2, valid - span)))
        mask[start:min(valid, start + span)] = True
    elif rng.random() < 0.5:  # extend forwards: the start of the crop is given
        mask[valid - span:valid] = True
    else:  # extend backwards (an intro before existing material)
        mask[:span] = True
    return mask


def sample_batch(cache: LatentCache, rng: np.random.Generator, batch_size: int, length: int,
                 mix: MaskMix, indices: np.ndarray | None = None) -> Batch:
    """Random crops of `length` frames (shorter examples are zero-padded and masked out)."""
    pool = np.arange(cache.n_examples) if indices is None else indices
    chosen = rng.choice(pool, size=batch_size, replace=True)
    channels, control_channels = cache.latents.shape[0], cache.control.shape[0]
    x0 = torch.zeros(batch_size, channels, length)
    control = torch.zeros(batch_size, control_channels, length)
    region = torch.zeros(batch_size, length, dtype=torch.bool)
    valid_mask = torch.zeros(batch_size, length)
    for row, example in enumerate(chosen):
        total = int(cache.lengths[example])
        valid = min(total, length)
        offset = int(rng.integers(0, total - valid + 1))
        begin = int(cache.starts[example]) + offset
        x0[row, :, :valid] = cache.latents[:, begin:begin + valid]
        control[row, :, :valid] = cache.control[:, begin:begin + valid]
        region[row] = torch.from_numpy(region_for(rng, length, valid, mix))
        valid_mask[row, :valid] = 1.0
    chosen_t = torch.from_numpy(chosen)
    cond = RenderConditioning(
        control=control,
        region_mask=region,
        source=x0,
        text=cache.text[chosen_t],
        bpm=cache.bpm[chosen_t],
        key=cache.key[chosen_t],
        meter=cache.meter[chosen_t],
        text_dropped=torch.from_numpy(rng.random(batch_size) < mix.text_dropout),
    )
    return Batch(x0=x0, cond=cond, loss_mask=region.float() * valid_mask)


def batches(cache: LatentCache, seed: int, start_step: int, batch_size: int, length: int,
            mix: MaskMix) -> Iterator[Batch]:
    """The batch of every step from `start_step` on; batch k depends only on (seed, k), so a
    resumed run sees exactly the batches the uninterrupted run would have."""
    step = start_step
    while True:
        rng = np.random.default_rng(np.random.SeedSequence([seed, step]))
        yield sample_batch(cache, rng, batch_size, length, mix)
        step += 1
