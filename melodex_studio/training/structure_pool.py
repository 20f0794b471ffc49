"""A fixed pool of structure-training examples, composed and text-embedded once.

MiniLM costs a few milliseconds a prompt, the transformer step a few hundred: embedding every
example once and keeping the pool as safetensors (flat token arrays plus offsets) and a JSON
list of prompts under the run folder makes data loading free and lets a resumed run read the
identical data. Batches are right-padded; an epoch's batches group examples of similar
length, so padding costs little.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from torch import Tensor
from tqdm import tqdm

from melodex_studio.engine.networks.structure_transformer import (
    GroupBatch,
    StructureConditioning,
    StructureConfig,
)
from melodex_studio.engine.pipelines.plan import context_groups
from melodex_studio.engine.plan_tokens import PAD_ID
from melodex_studio.engine.text_encoder import TextEncoder
from melodex_studio.engine.weights import write_json_atomic
from melodex_studio.training.structure_data import (
    conditioning_for,
    draw_example,
    example_indices,
)

POOL_FORMAT = 1

_ID_FIELDS = ("style", "key", "meter", "tempo", "section", "energy", "n_bars")


@dataclass(frozen=True)
class StructurePool:
    """Examples stacked for training. Per example: the text embedding, the 7 prefix ids and
    [start, start + length) rows of its target and context groups in `tokens/kinds/bars`."""

    text: Tensor  # [N, text_dim] float32
    ids: Tensor  # [N, 7] int64, `_ID_FIELDS` order
    tokens: Tensor  # [T, width] int16
    kinds: Tensor  # [T] int16
    bars: Tensor  # [T] int16
    target_start: Tensor  # [N] int64
    target_length: Tensor
    context_start: Tensor
    context_length: Tensor  # 0 = no previous section
    indices: Tensor  # [N] corpus indices

    @property
    def size(self) -> int:
        return int(self.indices.numel())

    def save(self, path: Path, metadata: dict) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        save_file({k: v.contiguous() for k, v in self.__dict__.items()}, str(tmp),
                  metadata={"pool": json.dumps(metadata, sort_keys=True)})
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path) -> StructurePool:
        return cls(**load_file(str(path)))

    def _groups(self, rows: np.ndarray, starts: Tensor, lengths: Tensor,
                device: torch.device | str) -> GroupBatch:
        length = max(1, int(lengths[rows].max()))
        tokens = torch.full((len(rows), length, self.tokens.shape[1]), PAD_ID, dtype=torch.long)
        kinds = torch.zeros(len(rows), length, dtype=torch.long)
        bars = torch.zeros(len(rows), length, dtype=torch.long)
        valid = torch.zeros(len(rows), length, dtype=torch.bool)
        for out, row in enumerate(rows):
            begin, n = int(starts[row]), int(lengths[row])
            tokens[out, :n] = self.tokens[begin : begin + n]
            kinds[out, :n] = self.kinds[begin : begin + n]
            bars[out, :n] = self.bars[begin : begin + n]
            valid[out, :n] = True
        return GroupBatch(tokens.to(device), kinds.to(device), bars.to(device), valid.to(device))

    def batch(self, rows: np.ndarray, device: torch.device | str = "cpu"
              ) -> tuple[StructureConditioning, GroupBatch, GroupBatch | None]:
        """Conditioning, right-padded targets and contexts (None when no row has one)."""
        rows = np.asarray(rows, dtype=np.int64)
        index = torch.from_numpy(rows)
        ids = self.ids[index]
        cond = StructureConditioning(self.text[index], *ids.unbind(dim=1)).to(device)
        target = self._groups(rows, self.target_start, self.target_length, device)
        context = None
        if int(self.context_length[index].max()) > 0:
            context = self._groups(rows, self.context_start, self.context_length, device)
        return cond, target, context


def pool_metadata(config: StructureConfig, corpus_seed: int, size: int, held_out: bool,
                  start: int) -> dict:
    """What a pool depends on; a cached pool is reused only when all of it matches."""
    return {"format": POOL_FORMAT, "corpus_seed": corpus_seed, "size": size,
            "held_out": held_out, "start": start, "styles": list(config.styles),
            "context_bars": config.context_bars, "text_dim": config.text_dim,
            "steps_per_group": config.steps_per_group}


def build_pool(path: Path, config: StructureConfig, encoder: TextEncoder, corpus_seed: int,
               size: int, held_out: bool = False, start: int = 0,
               progress: bool = True) -> StructurePool:
    """Compose and embed `size` examples of one split into `path` (reused when it matches)."""
    path = Path(path)
    metadata = pool_metadata(config, corpus_seed, size, held_out, start)
    if path.is_file():
        with open(path, "rb") as handle:  # read only the header, not the tensors
            header = json.loads(handle.read(int.from_bytes(handle.read(8), "little")))
        if json.loads(header.get("__metadata__", {}).get("pool", "{}")) == metadata:
            return StructurePool.load(path)
    texts, ids, rows, spans, prompts = [], [], [], [], []
    total = 0
    indices = example_indices(corpus_seed, size, held_out, start)
    for index in tqdm(indices, desc="structure examples", disable=not progress):
        example = draw_example(index, corpus_seed)
        request = example.request
        texts.append(encoder.encode([request.text])[0].float().cpu())
        cond = conditioning_for(config, request, texts[-1])
        ids.append(torch.cat([getattr(cond, name) for name in _ID_FIELDS]))
        target = example.target(config.steps_per_group)
        context = context_groups(config, request.previous_plan, request.key)
        span = [total, len(target.kinds), 0, 0]
        rows.append(target)
        total += len(target.kinds)
        if context is not None:
            span[2:] = [total, len(context.kinds)]
            rows.append(context)
            total += len(context.kinds)
        spans.append(span)
        prompts.append({"index": index, "prompt": request.prompt, "style": request.style,
                        "section_kind": request.section_kind})
    span_tensor = torch.tensor(spans, dtype=torch.long)
    pool = StructurePool(
        text=torch.stack(texts),
        ids=torch.stack(ids).long(),
        tokens=torch.from_numpy(np.concatenate([g.tokens for g in rows])).to(torch.int16),
        kinds=torch.from_numpy(np.concatenate([g.kinds for g in rows])).to(torch.int16),
        bars=torch.from_numpy(np.concatenate([g.bars for g in rows])).to(torch.int16),
        target_start=span_tensor[:, 0].clone(), target_length=span_tensor[:, 1].clone(),
        context_start=span_tensor[:, 2].clone(), context_length=span_tensor[:, 3].clone(),
        indices=torch.tensor(indices, dtype=torch.long),
    )
    pool.save(path, metadata)
    write_json_atomic(path.with_suffix(".json"), {"metadata": metadata, "examples": prompts})
    return pool


def epoch_batches(pool: StructurePool, seed: int, epoch: int, batch_size: int,
                  bucket_batches: int = 32) -> list[np.ndarray]:
    """The batches of one epoch: a seeded shuffle, then within chunks of `bucket_batches`
    batches examples are sorted by length (padding costs little) and the batches reshuffled.
    A pure function of (pool, seed, epoch), so resuming needs only the step."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, epoch, 11]))
    order = rng.permutation(pool.size)
    per_epoch = max(1, pool.size // batch_size)
    order = np.resize(order, per_epoch * batch_size)  # a pool smaller than a batch repeats
    lengths = (pool.target_length + pool.context_length).numpy()
    batches: list[np.ndarray] = []
    chunk = batch_size * max(1, bucket_batches)
    for begin in range(0, len(order), chunk):
        part = order[begin : begin + chunk]
        part = part[np.argsort(lengths[part], kind="stable")]
        batches += [part[i : i + batch_size] for i in range(0, len(part), batch_size)]
    return [batches[i] for i in rng.permutation(len(batches))]
