"""The structure transformer's training loss and teacher-forced scores.

Each slot's softmax is restricted to the token type the plan grammar expects there, because
sampling (`StructureTransformer.generate`) only ever chooses within that slice: mass on
impossible ids would be wasted capacity, and the restricted loss is the likelihood of exactly
what generation samples.
"""

from __future__ import annotations

import functools

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from melodex_studio.engine.networks.structure_transformer import GroupBatch, StructureTransformer
from melodex_studio.engine.plan_tokens import (
    HEADER_SLOTS,
    PAD_ID,
    STEP_SLOTS,
    TYPE_OFFSETS,
    TYPE_SIZES,
    VOCAB_SIZE,
    TokenType,
)
from melodex_studio.training.structure_pool import StructurePool

#: Names of the token slots for per-part accuracy: (header slot names, step slot names).
SLOT_NAMES = (("chord", "chord_bass", "energy", "density"), ("drums", "drums", "bass", "melody"))


@functools.lru_cache(maxsize=8)
def _slot_type_bias(width: int, device: torch.device) -> Tensor:
    """[2, width, V]: 0 where an id has the slot's token type, a large negative elsewhere; row
    0 for header groups, row 1 for 16th-step groups. Slots past a header's 4 tokens are PAD.
    Built once per width and device: every training step asks for it."""
    bias = torch.full((2, width, VOCAB_SIZE), -1e4)
    header = HEADER_SLOTS + (TokenType.PAD,) * (width - len(HEADER_SLOTS))
    steps = STEP_SLOTS * (width // len(STEP_SLOTS))
    for row, slots in enumerate((header, steps)):
        for slot, kind in enumerate(slots):
            bias[row, slot, TYPE_OFFSETS[kind] : TYPE_OFFSETS[kind] + TYPE_SIZES[kind]] = 0.0
    return bias.to(device)


def restricted_logits(logits: Tensor, target: GroupBatch) -> Tensor:
    """fp32 logits [B, G, width, V] with ids of the wrong token type pushed out of reach."""
    bias = _slot_type_bias(logits.shape[2], logits.device)
    return logits.float() + bias[(target.kinds > 0).long()]


def token_mask(target: GroupBatch) -> Tensor:
    """[B, G, width]: the tokens that count, not padding rows nor PAD slots inside a row."""
    return target.valid_mask()[..., None] & (target.tokens != PAD_ID)


def plan_token_loss(logits: Tensor, target: GroupBatch) -> tuple[Tensor, Tensor, Tensor]:
    """(mean cross-entropy over valid tokens, per-token correctness [B, G, width], valid mask)."""
    restricted = restricted_logits(logits, target)
    valid = token_mask(target)
    labels = target.tokens.masked_fill(~valid, -100)
    loss = F.cross_entropy(restricted.reshape(-1, VOCAB_SIZE), labels.reshape(-1),
                           ignore_index=-100)
    correct = (restricted.argmax(dim=-1) == target.tokens) & valid
    return loss, correct, valid


@torch.no_grad()
def evaluate_tokens(model: StructureTransformer, pool: StructurePool,
                    batch_size: int = 16) -> dict[str, float]:
    """Teacher-forced loss and token accuracy over a whole pool (fp32), also per part."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    order = np.argsort((pool.target_length + pool.context_length).numpy(), kind="stable")
    loss_sum = tokens = 0.0
    hits = {name: [0.0, 0.0] for names in SLOT_NAMES for name in names}
    for begin in range(0, pool.size, batch_size):
        cond, target, context = pool.batch(order[begin : begin + batch_size], device)
        loss, correct, valid = plan_token_loss(model(cond, target, context), target)
        count = float(valid.sum())
        loss_sum += float(loss) * count
        tokens += count
        is_step = (target.kinds > 0)[..., None].expand_as(valid)
        for row, names in enumerate(SLOT_NAMES):
            rows = valid & (is_step if row else ~is_step)
            for slot in range(valid.shape[-1]):
                name = names[slot % len(names)]  # a two-step group repeats the step's names
                hits[name][0] += float(correct[..., slot][rows[..., slot]].sum())
                hits[name][1] += float(rows[..., slot].sum())
    model.train(was_training)
    scores = {"loss": loss_sum / tokens,
              "token_accuracy": sum(h[0] for h in hits.values()) / tokens}
    scores.update({f"{name}_accuracy": h[0] / max(1.0, h[1]) for name, h in hits.items()})
    return scores
