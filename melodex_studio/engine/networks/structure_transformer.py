"""The structure transformer of ``melodex-tiny``: a small decoder-only model that writes a
section's plan as tokens (`engine.plan_tokens`), bar by bar.

Sequence: 8 prefix vectors (text, style, key, meter, tempo bucket, section kind, energy level,
length in bars), the previous section's last bars as context groups, a START position, then the
section's groups. One position holds one *group*: a bar header (chord, slash bass, energy,
density) or `steps_per_group` 16th steps of 4 tokens each (two drum tokens, bass, melody). With
one step a group (the shipped model) a 16-bar 4/4 section is 272 positions, not 1,100 tokens.
On a CPU each position costs a full reading of the weights and of the KV cache, so two steps a
group (144 positions) plan about 30 % faster; trained alike, their plans were heard in the
asked key less often (the model card has the numbers). Inside a group the tokens are
still predicted one after another by a small chained head (each slot sees the tokens already
chosen in its group, embedded by which step they belong to), so the factorisation stays
exactly autoregressive.

`forward` gives teacher-forced logits for training; `generate` samples with a KV cache under the
plan grammar, with per-position restrictions that teacher-force locked bars.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from melodex_studio.engine.key_hearing import KeyHearing
from melodex_studio.engine.networks.layers import (
    CausalSelfAttention,
    FeedForward,
    KVCache,
    StaticKVCache,
    rope_tables,
)
from melodex_studio.engine.plan_tokens import (
    GROUP_SIZE,
    LEVELS,
    N_METER_IDS,
    PAD_ID,
    SECTION_KINDS,
    TEMPO_BUCKETS,
    TYPE_OFFSETS,
    TYPE_SIZES,
    VOCAB_SIZE,
    PlanGrammar,
    Restrictions,
    TokenGroups,
    TokenType,
    group_kind_count,
    group_slot_counts,
    group_width,
)
from melodex_studio.engine.weights import (
    load_component_weights,
    load_state_strict,
    merge_component_config,
    read_component_config,
    save_tensors_atomic,
    state_dict_fp32,
)

COMPONENT = "structure"
WEIGHTS_FILE = "structure.safetensors"
PREFIX_LENGTH = 8
N_KEYS = 24
MAX_STEPS_PER_BAR = 32
SEGMENT_CONTEXT, SEGMENT_SECTION = 0, 1


@dataclass(frozen=True)
class StructureConfig:
    d_model: int = 192
    n_layers: int = 4
    n_heads: int = 3
    mlp_ratio: int = 4
    text_dim: int = 384
    styles: tuple[str, ...] = ()  # style names the model was trained on; id 0 = unspecified
    context_bars: int = 4  # bars of the previous section fed as context
    max_bars: int = 64  # bar-position embeddings; later bars share the last one
    rope_base: float = 10_000.0
    # 16th steps per model position. 2 halves the positions (and the KV cache's reading) and
    # plans ~30 % faster, but its plans were heard in key less often (model card): 1 ships.
    steps_per_group: int = 1

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["styles"] = list(self.styles)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StructureConfig:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        known["styles"] = tuple(known.get("styles", ()))
        return cls(**known)

    @classmethod
    def tiny(cls, steps_per_group: int = 1) -> StructureConfig:
        """A few-ten-thousand-parameter config for tests."""
        return cls(d_model=32, n_layers=2, n_heads=2, mlp_ratio=2, styles=("lofi", "house"),
                   steps_per_group=steps_per_group)

    def style_id(self, style: str | int | None) -> int:
        """1 + index of a known style; unknown or missing styles are 0.

        Matching ignores case, spaces and punctuation, and a tag that starts with a style's
        name counts as that style, so what a musician types ("Lo-Fi hip hop", "house/EDM")
        finds the id the model was trained with ("lofi", "house")."""
        if isinstance(style, int):
            return style if 0 <= style <= len(self.styles) else 0
        if style is None:
            return 0
        text = _normalised(style)
        names = [_normalised(name) for name in self.styles]
        if text in names:
            return 1 + names.index(text)
        prefixes = [i for i, name in enumerate(names) if name and text.startswith(name)]
        return 1 + max(prefixes, key=lambda i: len(names[i])) if prefixes else 0


def _normalised(name: str) -> str:
    return "".join(ch for ch in name.lower() if ch.isalnum())


@dataclass(frozen=True)
class StructureConditioning:
    """The prefix of a batch of sections: text embedding [B, text_dim] and ids [B] (int64)."""

    text: Tensor
    style: Tensor
    key: Tensor
    meter: Tensor
    tempo: Tensor
    section: Tensor
    energy: Tensor
    n_bars: Tensor

    @classmethod
    def single(
        cls,
        text: Tensor,
        style: int,
        key: int,
        meter: int,
        tempo: int,
        section: int,
        energy: int,
        n_bars: int,
    ) -> StructureConditioning:
        ids = [torch.tensor([value], dtype=torch.long) for value in (style, key, meter, tempo)]
        rest = [torch.tensor([value], dtype=torch.long) for value in (section, energy, n_bars)]
        return cls(text.reshape(1, -1).to(torch.float32), *ids, *rest)

    def to(self, device: torch.device | str) -> StructureConditioning:
        return StructureConditioning(**{k: v.to(device) for k, v in self.__dict__.items()})


@dataclass(frozen=True)
class TokenSampling:
    """temperature 0 is greedy; top_k 0 and top_p 1.0 switch those filters off."""

    temperature: float = 1.0
    top_k: int = 0
    top_p: float = 1.0

    def __post_init__(self) -> None:
        if self.temperature < 0 or self.top_k < 0 or not 0.0 < self.top_p <= 1.0:
            raise ValueError(f"invalid token sampling settings {self}")


@dataclass
class GroupBatch:
    """Groups of a batch for teacher forcing: tokens [B, G, 4], kinds/bars [B, G], valid [B, G]
    (False marks padding, which no position attends to)."""

    tokens: Tensor
    kinds: Tensor
    bars: Tensor
    valid: Tensor | None = None

    def valid_mask(self) -> Tensor:
        if self.valid is None:
            return torch.ones(self.kinds.shape, dtype=torch.bool, device=self.kinds.device)
        return self.valid

    @classmethod
    def from_groups(cls, groups: TokenGroups, device: torch.device | str = "cpu") -> GroupBatch:
        return cls(
            torch.as_tensor(groups.tokens, device=device)[None],
            torch.as_tensor(groups.kinds, device=device)[None],
            torch.as_tensor(groups.bars, device=device)[None],
        )


class _Block(nn.Module):
    def __init__(self, config: StructureConfig) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(config.d_model)
        self.attn = CausalSelfAttention(config.d_model, config.n_heads)
        self.norm2 = nn.LayerNorm(config.d_model)
        self.ff = FeedForward(config.d_model, config.mlp_ratio * config.d_model)

    def forward(
        self,
        x: Tensor,
        cos: Tensor,
        sin: Tensor,
        cache: KVCache | StaticKVCache | None,
        layer: int,
        mask: Tensor | None,
    ) -> Tensor:
        x = x + self.attn(self.norm1(x), cos, sin, cache, layer, mask)
        return x + self.ff(self.norm2(x))


class StructureTransformer(nn.Module):
    def __init__(self, config: StructureConfig) -> None:
        super().__init__()
        self.config = config
        d = config.d_model
        self.text_proj = nn.Linear(config.text_dim, d)
        self.prefix_tables = nn.ModuleList(
            nn.Embedding(size, d)
            for size in (
                1 + len(config.styles),
                N_KEYS,
                N_METER_IDS,
                TEMPO_BUCKETS,
                len(SECTION_KINDS),
                LEVELS,
                config.max_bars + 1,
            )
        )
        self.prefix_slot = nn.Parameter(torch.randn(PREFIX_LENGTH, d) * 0.02)
        self.start_kind = group_kind_count(MAX_STEPS_PER_BAR)
        self.width = group_width(config.steps_per_group)
        # A token's embedding depends on which step of its group it is in (the sum over a
        # group must still say which step held which note): one table row per (step, id).
        self.token_emb = nn.Embedding(VOCAB_SIZE * config.steps_per_group, d)
        # Per slot, where its step's rows start in those tables (not a weight: not saved).
        slot_offset = torch.arange(self.width) // GROUP_SIZE * VOCAB_SIZE
        self.register_buffer("slot_offset", slot_offset, persistent=False)
        self.kind_emb = nn.Embedding(self.start_kind + 1, d)
        self.bar_emb = nn.Embedding(config.max_bars, d)
        self.bars_left_emb = nn.Embedding(config.max_bars, d)
        self.segment_emb = nn.Embedding(2, d)
        self.blocks = nn.ModuleList(_Block(config) for _ in range(config.n_layers))
        self.final_norm = nn.LayerNorm(d)
        # The chained group head: slot j sees the trunk state, the group kind and tokens < j.
        self.head_kind = nn.Embedding(self.start_kind, d)
        self.head_slot = nn.Parameter(torch.randn(self.width, d) * 0.02)
        self.head_token = nn.Embedding(VOCAB_SIZE * config.steps_per_group, d)
        self.head_norm = nn.LayerNorm(d)
        self.head_ff = FeedForward(d, 2 * d)
        self.out_norm = nn.LayerNorm(d)
        self.out = nn.Linear(d, VOCAB_SIZE)
        self.apply(_init_weights)
        # The planner's ear (`engine.key_hearing`): data stored beside the weights, used to
        # choose among sampled plans the one heard in the asked key. None: read the score.
        self.key_hearing: KeyHearing | None = None

    # --- embeddings ------------------------------------------------------------------------

    def slot_ids(self, tokens: Tensor) -> Tensor:
        """Token ids [..., width] -> rows of the (step, id) embedding tables."""
        return tokens + self.slot_offset

    def embed_prefix(self, cond: StructureConditioning) -> Tensor:
        """[B, 8, d]: one vector per conditioning field."""
        n_bars = cond.n_bars.clamp(0, self.config.max_bars)
        ids = (cond.style, cond.key, cond.meter, cond.tempo, cond.section, cond.energy, n_bars)
        fields = [self.text_proj(cond.text)]
        fields += [table(values) for table, values in zip(self.prefix_tables, ids, strict=True)]
        return torch.stack(fields, dim=1) + self.prefix_slot

    def embed_groups(self, groups: GroupBatch, segment: int, n_bars: Tensor) -> Tensor:
        """[B, G, d]: sum of the group's token embeddings plus kind, bar and segment."""
        last = self.config.max_bars - 1
        bars_left = (n_bars[:, None] - 1 - groups.bars).clamp(0, last)
        x = self.token_emb(self.slot_ids(groups.tokens)).sum(dim=2) + self.kind_emb(groups.kinds)
        x = x + self.bar_emb(groups.bars.clamp(0, last)) + self.bars_left_emb(bars_left)
        return x + self.segment_emb.weight[segment]

    def embed_start(self, batch: int) -> Tensor:
        start = self.kind_emb.weight[self.start_kind] + self.segment_emb.weight[SEGMENT_SECTION]
        return start.expand(batch, 1, -1)

    # --- trunk and head ----------------------------------------------------------------------

    def rope(self, positions: Tensor) -> tuple[Tensor, Tensor]:
        """Rotary tables [*positions.shape, head_dim / 2]."""
        head_dim = self.config.d_model // self.config.n_heads
        cos, sin = rope_tables(positions.reshape(-1), head_dim, self.config.rope_base)
        return cos.view(*positions.shape, -1), sin.view(*positions.shape, -1)

    def trunk(
        self,
        x: Tensor,
        rope: tuple[Tensor, Tensor],
        cache: KVCache | StaticKVCache | None = None,
        mask: Tensor | None = None,
    ) -> Tensor:
        """Run the blocks on x [B, L, d]; `rope` holds the tables of x's positions, [L, h] or
        [B, 1, L, h] (per sequence, when padding must not count as a position)."""
        cos, sin = rope
        for layer, block in enumerate(self.blocks):
            x = block(x, cos, sin, cache, layer, mask)
        return self.final_norm(x)

    def head_logits(self, state: Tensor, slot: int, lo: int = 0, hi: int = VOCAB_SIZE) -> Tensor:
        """Logits of vocabulary ids lo..hi-1 for `slot`; sampling asks only for the slice of
        the token type the grammar expects, which makes the output layer ~15x cheaper."""
        x = state + self.head_slot[slot]
        x = self.out_norm(x + self.head_ff(self.head_norm(x)))
        return F.linear(x, self.out.weight[lo:hi], self.out.bias[lo:hi])

    def forward(
        self,
        cond: StructureConditioning,
        target: GroupBatch,
        context: GroupBatch | None = None,
    ) -> Tensor:
        """Teacher-forced logits [B, G, width, V] for every token of the target groups (PAD
        slots included: the loss ignores them)."""
        batch = cond.text.shape[0]
        parts = [self.embed_prefix(cond)]
        valid = [torch.ones(batch, PREFIX_LENGTH, dtype=torch.bool, device=cond.text.device)]
        if context is not None:
            context_bars = context.bars.amax(dim=1) + 1
            parts.append(self.embed_groups(context, SEGMENT_CONTEXT, context_bars))
            valid.append(context.valid_mask())
        parts += [self.embed_start(batch), self.embed_groups(target, SEGMENT_SECTION, cond.n_bars)]
        valid += [valid[0][:, :1], target.valid_mask()]
        x = torch.cat(parts, dim=1)
        keys = torch.cat(valid, dim=1)
        causal = torch.ones(x.shape[1], x.shape[1], dtype=torch.bool, device=x.device).tril()
        mask = causal[None, None] & keys[:, None, None, :]
        mask = mask | torch.eye(x.shape[1], dtype=torch.bool, device=x.device)  # no empty rows
        # Padding takes no position, so a padded batch computes what each sequence alone would.
        positions = (keys.long().cumsum(dim=1) - 1).clamp_min(0)
        cos, sin = self.rope(positions)
        rope = (cos[:, None], sin[:, None])
        groups = target.tokens.shape[1]
        hidden = self.trunk(x, rope, mask=mask)[:, -groups - 1 : -1]  # before each group
        state = hidden + self.head_kind(target.kinds)
        token_states = self.head_token(self.slot_ids(target.tokens))
        previous = torch.cumsum(token_states, dim=2) - token_states  # tokens before each slot
        return torch.stack(
            [self.head_logits(state + previous[:, :, slot], slot) for slot in range(self.width)],
            dim=2,
        )

    # --- sampling ------------------------------------------------------------------------------

    @torch.inference_mode()
    def generate(
        self,
        cond: StructureConditioning,
        steps_per_bar: int,
        n_bars: int,
        generator: torch.Generator,
        sampling: TokenSampling = TokenSampling(),
        context: TokenGroups | None = None,
        restrictions: Restrictions | None = None,
        bar_callback: Callable[[int], None] | None = None,
        chord_mask: np.ndarray | None = None,
    ) -> list[int]:
        """One section's flat token sequence (BAR markers included): `generate_many` with
        one sample."""
        return self.generate_many(cond, steps_per_bar, n_bars, generator, 1, sampling, context,
                                  restrictions, bar_callback, chord_mask)[0]

    @torch.inference_mode()
    def generate_many(
        self,
        cond: StructureConditioning,
        steps_per_bar: int,
        n_bars: int,
        generator: torch.Generator,
        n_samples: int = 1,
        sampling: TokenSampling = TokenSampling(),
        context: TokenGroups | None = None,
        restrictions: Restrictions | None = None,
        bar_callback: Callable[[int], None] | None = None,
        chord_mask: np.ndarray | None = None,
    ) -> list[list[int]]:
        """`n_samples` independent token sequences for one batch-1 `cond`, drawn side by side.

        The samples share every network call (a batch of rows), so on a CPU eight cost little
        more than one: at one position per step the weights' reading, not the arithmetic, is
        the price. Every token obeys `PlanGrammar`, so each sequence decodes to a valid plan;
        where `restrictions` name one token it is fed without sampling (teacher forcing), where
        they name several the sample is drawn among those. `chord_mask` (over the CHORD values,
        like `tonic_mode_mask`) further limits the chords that are sampled, never the locked
        ones. `bar_callback(bar)` runs after each bar (it may raise to stop). Randomness comes
        only from `generator`, one number per sampled token in row order, so the first row of
        a batch is not the sequence a batch of one would draw, but each batch is reproducible.
        """
        if n_samples < 1:
            raise ValueError(f"n_samples must be at least 1, got {n_samples}")
        device = cond.text.device
        parts = [self.embed_prefix(cond)]
        if context is not None and len(context.kinds):
            context_batch = GroupBatch.from_groups(context, device)
            n_context = torch.tensor([int(context.bars.max()) + 1], device=device)
            parts.append(self.embed_groups(context_batch, SEGMENT_CONTEXT, n_context))
        parts.append(self.embed_start(1))
        prefill = torch.cat(parts, dim=1).expand(n_samples, -1, -1)
        counts = group_slot_counts(steps_per_bar, self.config.steps_per_group)
        capacity = prefill.shape[1] + n_bars * len(counts)
        cache = StaticKVCache(self.config.n_layers, capacity)
        cos, sin = self.rope(torch.arange(capacity))
        cos, sin = cos.to(device, prefill.dtype), sin.to(device, prefill.dtype)
        state = self.trunk(prefill, (cos[: prefill.shape[1]], sin[: prefill.shape[1]]), cache)
        cos, sin = sampling_rotation(cos, sin)
        state = state[:, -1]
        grammars = [PlanGrammar(steps_per_bar) for _ in range(n_samples)]
        sequences: list[list[int]] = [[] for _ in range(n_samples)]
        step, head = self._sampling_step(cache), self._sampling_head()
        head_kind, head_token = self.head_kind.weight, self.head_token.weight
        offsets = self.slot_offset.tolist()
        pad_row = [PAD_ID] * n_samples
        slices: dict[tuple[int, frozenset[int] | None],
                     tuple[np.ndarray, tuple[np.ndarray, int | None]]] = {}

        def choose(group_state: Tensor | None, slot: int) -> list[int]:
            kind = grammars[0].expected_type()  # the same in every row: it follows the position
            lo, hi = TYPE_OFFSETS[kind], TYPE_OFFSETS[kind] + TYPE_SIZES[kind]
            restriction = _restriction(restrictions, grammars[0].position)
            sampled_only = chord_mask if kind is TokenType.CHORD else None
            rows = []
            for grammar in grammars:  # rows mostly share a grammar state: slice each mask once
                mask = grammar.allowed()  # one cached array per state
                memo = (id(mask), restriction)
                if memo not in slices:  # the entry holds the mask: its id stays its own
                    slices[memo] = (mask, _allowed_slice(mask, restriction, lo, hi, sampled_only))
                rows.append(slices[memo][1])
            indices = [forced for _, forced in rows]
            if any(index is None for index in indices):  # some row has a choice: sample
                assert group_state is not None  # only the BAR marker comes without a state
                logits = head(group_state, slot, lo, hi)
                allowed = np.stack([mask for mask, _ in rows])
                drawn = _sample_rows(logits, allowed, [i is None for i in indices], sampling,
                                     generator)
                indices = [drawn[r] if index is None else index
                           for r, index in enumerate(indices)]
            tokens = [lo + int(index) for index in indices]
            for grammar, sequence, token in zip(grammars, sequences, tokens, strict=True):
                grammar.feed(token, checked=True)  # drawn from its allowed() slice
                sequence.append(token)
            return tokens

        embed = self._sampling_embed(int(cond.n_bars[0]))
        kind_rows = list(head_kind)
        for bar in range(n_bars):
            choose(None, 0)  # the BAR marker, always forced by the grammar
            embed_bar = embed(bar)
            for kind, count in enumerate(counts):
                group_state = state + kind_rows[kind]
                group: list[list[int]] = []
                for slot in range(self.width):
                    if slot >= count:  # past the row's tokens: PAD, as in training
                        group.append(pad_row)
                        continue
                    tokens = choose(group_state, slot)
                    group.append(tokens)
                    if slot + 1 < count:
                        shift = offsets[slot]
                        group_state = group_state + head_token[[t + shift for t in tokens]]
                if bar == n_bars - 1 and kind == len(counts) - 1:
                    break  # nothing follows the last group
                x = embed_bar(torch.tensor(group, device=device).T[:, None], kind)
                here = cache.length
                state = step(x, cos[here : here + 1], sin[here : here + 1])[:, -1]
            if bar_callback is not None:
                bar_callback(bar)
        return sequences

    def _sampling_embed(self, n_bars: int) -> Callable[[int], Callable[[Tensor, int], Tensor]]:
        """`embed_groups` of one new group a row ([R, 1, width] tokens of one kind, in the
        section) while sampling: the same sums in the same order (bit-identical, which a test
        checks), with the kind, bar and segment rows looked up once a bar, not a position."""
        last = self.config.max_bars - 1
        kinds = list(self.kind_emb.weight)
        segment = self.segment_emb.weight[SEGMENT_SECTION]
        offset = self.slot_offset

        def for_bar(bar: int) -> Callable[[Tensor, int], Tensor]:
            bar_row = self.bar_emb.weight[min(max(bar, 0), last)]
            left_row = self.bars_left_emb.weight[min(max(n_bars - 1 - bar, 0), last)]

            def embed(tokens: Tensor, kind: int) -> Tensor:
                x = F.embedding(tokens + offset, self.token_emb.weight).sum(dim=2) + kinds[kind]
                x = x + bar_row + left_row
                return x + segment

            return embed

        return for_bar

    def _sampling_step(self, cache: StaticKVCache) -> Callable[[Tensor, Tensor, Tensor], Tensor]:
        """`trunk` for one new position [B, 1, d] while sampling, given the position's
        `sampling_rotation` tables: the blocks' own operations in the same order (so the result
        is bit-identical, which a test checks), on weights looked up once. At one position the
        dozen module calls of a layer cost more than its arithmetic."""
        layers = [
            (
                block.norm1.weight, block.norm1.bias, block.norm1.eps,
                block.attn.qkv.weight, block.attn.qkv.bias,
                block.attn.out.weight, block.attn.out.bias,
                block.norm2.weight, block.norm2.bias, block.norm2.eps,
                block.ff.up.weight, block.ff.up.bias, block.ff.down.weight, block.ff.down.bias,
            )
            for block in self.blocks
        ]
        final = self.final_norm
        heads = self.config.n_heads
        half = self.config.d_model // heads // 2

        def step(x: Tensor, cos: Tensor, sin: Tensor) -> Tensor:
            batch, length, dim = x.shape
            shape = (dim,)
            for layer, (n1w, n1b, eps1, qkv_w, qkv_b, out_w, out_b, n2w, n2b, eps2,
                        up_w, up_b, down_w, down_b) in enumerate(layers):
                h = F.layer_norm(x, shape, n1w, n1b, eps1)
                qkv = F.linear(h, qkv_w, qkv_b).view(batch, length, 3, heads, dim // heads)
                qkv = qkv.permute(2, 0, 3, 1, 4)
                # q and k rotated together, as x cos + (x with its halves swapped) sin on the
                # tables of `sampling_rotation`: `apply_rope`'s products and sums exactly
                # (a - b is a + (-b), and a sum does not depend on its order), in 4 op
                # launches instead of 20.
                qk = qkv[:2]
                q, k = qk * cos + qk.roll(half, dims=-1) * sin
                k, v = cache.append(layer, k, qkv[2])
                y = F.scaled_dot_product_attention(q, k, v)
                x = x + F.linear(y.transpose(1, 2).reshape(batch, length, dim), out_w, out_b)
                h = F.layer_norm(x, shape, n2w, n2b, eps2)
                x = x + F.linear(F.gelu(F.linear(h, up_w, up_b)), down_w, down_b)
            return F.layer_norm(x, shape, final.weight, final.bias, final.eps)

        return step

    def _sampling_head(self) -> Callable[[Tensor, int, int, int], Tensor]:
        """`head_logits` with its weights looked up once (bit-identical, like
        `_sampling_step`)."""
        slots = list(self.head_slot)
        norm, up, down, out_norm = self.head_norm, self.head_ff.up, self.head_ff.down, self.out_norm
        out_w, out_b = self.out.weight, self.out.bias
        outputs: dict[tuple[int, int], tuple[Tensor, Tensor]] = {}
        shape = (self.config.d_model,)

        def head(state: Tensor, slot: int, lo: int, hi: int) -> Tensor:
            x = state + slots[slot]
            h = F.layer_norm(x, shape, norm.weight, norm.bias, norm.eps)
            x = x + F.linear(F.gelu(F.linear(h, up.weight, up.bias)), down.weight, down.bias)
            x = F.layer_norm(x, shape, out_norm.weight, out_norm.bias, out_norm.eps)
            if (lo, hi) not in outputs:
                outputs[lo, hi] = (out_w[lo:hi], out_b[lo:hi])
            weight, bias = outputs[lo, hi]
            return F.linear(x, weight, bias)

        return head

    # --- weights -----------------------------------------------------------------------------

    @classmethod
    def tiny_random(cls, seed: int = 0, steps_per_group: int = 1) -> StructureTransformer:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return cls(StructureConfig.tiny(steps_per_group)).eval()

    @classmethod
    def from_pretrained(cls, model_dir: Path | str, device: str = "cpu") -> StructureTransformer:
        fragment = read_component_config(Path(model_dir), COMPONENT)
        model = cls(StructureConfig.from_dict(fragment["config"]))
        weights = load_component_weights(Path(model_dir), COMPONENT)[WEIGHTS_FILE]
        load_state_strict(model, weights, str(Path(model_dir) / WEIGHTS_FILE))
        model.key_hearing = KeyHearing.from_model_dir(model_dir)
        return model.to(device).eval()

    def save_pretrained(self, model_dir: Path | str, extra: dict[str, Any] | None = None) -> None:
        path = Path(model_dir) / WEIGHTS_FILE
        sha = save_tensors_atomic(path, state_dict_fp32(self))
        fragment = {
            "config": self.config.to_dict(),
            "files": {WEIGHTS_FILE: {"sha256": sha, "bytes": path.stat().st_size}},
            **(extra or {}),
        }
        merge_component_config(Path(model_dir), COMPONENT, fragment)


def _init_weights(module: nn.Module) -> None:
    if isinstance(module, nn.Linear):
        nn.init.normal_(module.weight, std=0.02)
        nn.init.zeros_(module.bias)
    elif isinstance(module, nn.Embedding):
        nn.init.normal_(module.weight, std=0.02)


def sampling_rotation(cos: Tensor, sin: Tensor) -> tuple[Tensor, Tensor]:
    """RoPE tables [N, head_dim / 2] as the sampling step uses them, [N, head_dim] each:
    cos for both halves, and -sin / +sin for the first / second half."""
    return torch.cat((cos, cos), dim=-1), torch.cat((-sin, sin), dim=-1)


def _restriction(restrictions: Restrictions | None, position: int) -> frozenset[int] | None:
    if restrictions is None or position >= len(restrictions):
        return None
    return restrictions[position]


def _allowed_slice(
    grammar_mask: np.ndarray,
    restriction: frozenset[int] | None,
    lo: int,
    hi: int,
    sampled_only: np.ndarray | None = None,
) -> tuple[np.ndarray, int | None]:
    """The allowed ids lo..hi-1 as a boolean mask over the slice, and the one allowed index
    when there is only one (then nothing is sampled: the token is forced). `sampled_only`
    (over the slice) narrows what may be sampled where no restriction (a locked bar) applies."""
    allowed = grammar_mask[lo:hi]
    if restriction is None and sampled_only is not None:
        allowed = allowed & sampled_only
    if restriction is not None:
        only = np.zeros(hi - lo, dtype=bool)
        only[[i - lo for i in restriction if lo <= i < hi]] = True
        allowed = allowed & only
        if not allowed.any():
            raise ValueError("locked bars ask for a token the plan grammar forbids here")
    indices = np.flatnonzero(allowed)
    return allowed, int(indices[0]) if len(indices) == 1 else None


def _sample_rows(
    logits: Tensor,
    allowed: np.ndarray,
    wanted: list[bool],
    sampling: TokenSampling,
    generator: torch.Generator,
) -> list[int]:
    """One index per row of `logits` [R, n], restricted to that row of `allowed` [R, n]:
    greedy, or temperature, top-k and top-p. Rows not `wanted` (their token is forced) get -1
    and use no random number. The filtering runs in numpy over the whole batch (tiny arrays:
    microseconds, where the same in torch costs dozens of op launches); the random numbers come
    from `generator`, one per wanted row, in row order."""
    values = logits.detach().cpu().numpy().astype(np.float64)  # widening is exact
    values[~allowed] = -np.inf
    every_row = all(wanted)  # the usual case: no copies of the rows, no scatter at the end
    wanted_rows = np.flatnonzero(wanted)
    chosen = np.full(len(values), -1)
    if sampling.temperature == 0.0:
        chosen[wanted_rows] = np.argmax(values[wanted_rows], axis=1)
        return chosen.tolist()
    if not every_row:
        values, allowed = values[wanted_rows], allowed[wanted_rows]
    if sampling.temperature != 1.0:  # x / 1.0 is x
        values = values / sampling.temperature
    u = torch.rand(len(wanted_rows), generator=generator, dtype=torch.float64).numpy()
    if sampling.top_k == 0 and sampling.top_p == 1.0:  # plain sampling: no ranking needed
        weights = np.exp(values - values.max(axis=1, keepdims=True))
        cumulative = np.cumsum(weights, axis=1)
        picks = np.sum(cumulative <= (u * cumulative[:, -1])[:, None], axis=1)
        picks = _last_allowed_at_most(allowed, picks)
        if every_row:
            return picks.tolist()
        chosen[wanted_rows] = picks
        return chosen.tolist()
    order = np.argsort(-values, axis=1, kind="stable")  # best first; ties keep id order
    ranked = np.take_along_axis(values, order, axis=1)
    n_keep = allowed.sum(axis=1)  # the wanted rows' masks by now
    if sampling.top_k > 0:
        n_keep = np.minimum(n_keep, sampling.top_k)
    kept = np.arange(values.shape[1])[None, :] < n_keep[:, None]
    probs = np.where(kept, np.exp(ranked - ranked[:, :1]), 0.0)
    probs /= probs.sum(axis=1, keepdims=True)
    if sampling.top_p < 1.0:
        before = np.cumsum(probs, axis=1) - probs  # mass of the better tokens
        n_nucleus = np.maximum(1, np.sum(kept & (before < sampling.top_p), axis=1))
        kept &= np.arange(values.shape[1])[None, :] < n_nucleus[:, None]
        probs = np.where(kept, probs, 0.0)
        probs /= probs.sum(axis=1, keepdims=True)
    cumulative = np.cumsum(probs, axis=1)
    picks = np.sum(cumulative <= (u * cumulative[:, -1])[:, None], axis=1)
    picks = np.minimum(picks, kept.sum(axis=1) - 1)
    chosen[wanted_rows] = order[np.arange(len(wanted_rows)), picks]
    return chosen.tolist()


def _last_allowed_at_most(allowed: np.ndarray, picks: np.ndarray) -> np.ndarray:
    """Per row, `picks` itself where allowed, else the last allowed index before it (the
    inverse-CDF pick can land past the last allowed id only by rounding)."""
    rows = np.arange(len(picks))
    picks = np.minimum(picks, allowed.shape[1] - 1)
    if allowed[rows, picks].all():
        return picks
    positions = np.where(allowed, np.arange(allowed.shape[1])[None, :], -1)
    return np.maximum.accumulate(positions, axis=1)[rows, picks]
