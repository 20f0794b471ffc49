"""Building blocks shared by the structure transformer and the renderer: rotary positions,
attention (causal with a KV cache, and local windowed), feed-forward, sinusoidal embeddings."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def rope_tables(positions: Tensor, head_dim: int, base: float = 10_000.0) -> tuple[Tensor, Tensor]:
    """cos and sin tables [N, head_dim / 2] for rotary position embedding at `positions` [N]."""
    half = head_dim // 2
    inv_freq = base ** (-torch.arange(half, dtype=torch.float32, device=positions.device) / half)
    angles = positions.to(torch.float32)[:, None] * inv_freq[None, :]
    return angles.cos(), angles.sin()


def apply_rope(x: Tensor, cos: Tensor, sin: Tensor) -> Tensor:
    """Rotate channel pairs (first half, second half) of x [..., N, head_dim] by the tables.
    Relative offsets then show up in q.k, so attention depends on distance, not position."""
    first, second = x.chunk(2, dim=-1)
    cos, sin = cos.to(x.dtype), sin.to(x.dtype)
    return torch.cat((first * cos - second * sin, first * sin + second * cos), dim=-1)


def sinusoidal_embedding(values: Tensor, dim: int, max_period: float = 10_000.0) -> Tensor:
    """Classic transformer features of continuous `values` [B] -> [B, dim]."""
    half = dim // 2
    freqs = torch.exp(
        -math.log(max_period) * torch.arange(half, dtype=torch.float32, device=values.device) / half
    )
    args = values.to(torch.float32)[:, None] * freqs[None, :]
    return torch.cat((args.cos(), args.sin()), dim=-1)


class FeedForward(nn.Module):
    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.up = nn.Linear(dim, hidden)
        self.down = nn.Linear(hidden, dim)

    def forward(self, x: Tensor) -> Tensor:
        # Exact (erf) GELU: on CPU the tanh approximation is ~5x slower.
        return self.down(F.gelu(self.up(x)))


class KVCache:
    """Keys and values of every layer for the positions seen so far (batch-major)."""

    def __init__(self, n_layers: int) -> None:
        self.keys: list[Tensor | None] = [None] * n_layers
        self.values: list[Tensor | None] = [None] * n_layers

    @property
    def length(self) -> int:
        first = self.keys[0]
        return 0 if first is None else first.shape[2]

    def append(self, layer: int, k: Tensor, v: Tensor) -> tuple[Tensor, Tensor]:
        old_k, old_v = self.keys[layer], self.values[layer]
        if old_k is not None and old_v is not None:
            k, v = torch.cat((old_k, k), dim=2), torch.cat((old_v, v), dim=2)
        self.keys[layer], self.values[layer] = k, v
        return k, v


class StaticKVCache:
    """A `KVCache` that writes into buffers allocated once ([B, H, capacity, D] per layer)
    instead of concatenating a longer copy at every step: sampling appends one position at a
    time, and each copy of the whole past cost more than the step's attention."""

    def __init__(self, n_layers: int, capacity: int) -> None:
        self.capacity = capacity
        self.keys: list[Tensor | None] = [None] * n_layers
        self.values: list[Tensor | None] = [None] * n_layers
        self._lengths = [0] * n_layers

    @property
    def length(self) -> int:
        return self._lengths[0]

    def append(self, layer: int, k: Tensor, v: Tensor) -> tuple[Tensor, Tensor]:
        start, end = self._lengths[layer], self._lengths[layer] + k.shape[2]
        if end > self.capacity:
            raise ValueError(f"the cache holds {self.capacity} positions, {end} were asked for")
        keys, values = self.keys[layer], self.values[layer]
        if keys is None or values is None:
            shape = (k.shape[0], k.shape[1], self.capacity, k.shape[3])
            keys = self.keys[layer] = k.new_empty(shape)
            values = self.values[layer] = v.new_empty(shape)
        keys[:, :, start:end] = k
        values[:, :, start:end] = v
        self._lengths[layer] = end
        return keys[:, :, :end], values[:, :, :end]


class CausalSelfAttention(nn.Module):
    """Multi-head causal attention with RoPE; with a cache, new positions attend to the past."""

    def __init__(self, dim: int, n_heads: int) -> None:
        super().__init__()
        if dim % n_heads or (dim // n_heads) % 2:
            raise ValueError(f"width {dim} must split into {n_heads} heads of even size")
        self.n_heads = n_heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.out = nn.Linear(dim, dim)

    def forward(
        self,
        x: Tensor,
        cos: Tensor,
        sin: Tensor,
        cache: KVCache | StaticKVCache | None = None,
        layer: int = 0,
        attn_mask: Tensor | None = None,
    ) -> Tensor:
        batch, length, dim = x.shape
        heads = self.qkv(x).view(batch, length, 3, self.n_heads, dim // self.n_heads)
        q, k, v = heads.permute(2, 0, 3, 1, 4)
        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        if cache is not None:
            k, v = cache.append(layer, k, v)
        if attn_mask is None and length > 1:
            past = k.shape[2] - length
            causal = torch.ones(length, k.shape[2], dtype=torch.bool, device=x.device).tril(past)
            attn_mask = causal
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask)
        return self.out(y.transpose(1, 2).reshape(batch, length, dim))


def local_attention_bias(length: int, block: int, radius: int, device: torch.device) -> Tensor:
    """Additive bias [n_blocks, block, block + 2 * radius] (0 or -inf): query i of a block sees
    key j of its padded window when |i - j| <= radius and j is a real position (not padding).
    Built once per forward and shared by every layer."""
    n_blocks = -(-length // block)
    query = torch.arange(n_blocks * block, device=device).view(n_blocks, block, 1)
    starts = torch.arange(n_blocks, device=device).view(n_blocks, 1, 1) * block - radius
    key = starts + torch.arange(block + 2 * radius, device=device).view(1, 1, -1)
    real_key = (key >= 0) & (key < length)
    # Padding queries (cropped afterwards) may see anything: a row with no key would give NaN.
    visible = ((query - key).abs() <= radius) & (real_key | (query >= length))
    return torch.zeros(visible.shape, device=device).masked_fill(~visible, float("-inf"))


def local_attention(
    q: Tensor, k: Tensor, v: Tensor, block: int, radius: int, bias: Tensor
) -> Tensor:
    """Sliding-window attention in linear time: each query attends to keys within `radius`
    positions. q, k, v: [B, H, N, D]; `bias` from `local_attention_bias`. Queries are cut into
    blocks; each block reads its own keys plus `radius` on each side."""
    batch, heads, length, head_dim = q.shape
    n_blocks = bias.shape[0]
    padded = n_blocks * block
    q = F.pad(q, (0, 0, 0, padded - length)).view(batch, heads, n_blocks, block, head_dim)
    window = block + 2 * radius

    def windows(x: Tensor) -> Tensor:
        x = F.pad(x, (0, 0, radius, padded - length + radius))
        return x.unfold(2, window, block)  # [B, H, n_blocks, D, window], a view

    scores = torch.matmul(q, windows(k)).mul_(head_dim**-0.5).add_(bias)
    y = torch.matmul(scores.softmax(dim=-1), windows(v).transpose(-1, -2))
    return y.reshape(batch, heads, padded, head_dim)[:, :, :length]
