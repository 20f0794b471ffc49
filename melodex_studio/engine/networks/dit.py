"""The renderer of ``melodex-tiny``: a small 1D diffusion transformer over codec latents.

Per frame the input is the noisy latent (16), the control raster (`control_raster`), the region
mask (1: frames to generate) and the source latent outside the region (16, zero inside), so one
network does generate (empty source), repaint and extend (source around the region). Frames are
grouped in patches of `patch_size`, each block is AdaLN-zero (the global condition scales,
shifts and gates it; blocks start as identities), positions are rotary, and attention is local:
each patch attends to patches within `attention_radius_frames` (~2.7 s), so cost is linear in
the song length and any length works. The global condition is timestep + projected text +
BPM + key + meter; `text_dropped` swaps the text for a learned null embedding, which training
does at random (condition dropout) and classifier-free guidance does for its second branch.
The output is the rectified-flow velocity d x_t / d t (noise minus data).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from melodex_studio.engine.control_raster import N_CONTROL_CHANNELS
from melodex_studio.engine.networks.layers import (
    FeedForward,
    apply_rope,
    local_attention,
    local_attention_bias,
    rope_tables,
    sinusoidal_embedding,
)
from melodex_studio.engine.plan_tokens import N_METER_IDS
from melodex_studio.engine.weights import (
    check_latent_space,
    load_component_weights,
    load_state_strict,
    merge_component_config,
    read_component_config,
    save_tensors_atomic,
    state_dict_fp32,
)

COMPONENT = "renderer"
WEIGHTS_FILE = "renderer.safetensors"
N_KEYS = 24
TIME_FEATURES = 256


@dataclass(frozen=True)
class DiTConfig:
    latent_channels: int = 16
    control_channels: int = N_CONTROL_CHANNELS
    d_model: int = 256
    n_layers: int = 6
    n_heads: int = 4
    mlp_ratio: int = 3
    patch_size: int = 4  # 4 frames = 171 ms per token: the CPU speed budget (see the report)
    attention_radius_frames: int = 64  # ~2.7 s each side
    attention_block_frames: int = 128
    text_dim: int = 384
    rope_base: float = 10_000.0

    def __post_init__(self) -> None:
        if self.attention_radius_frames % self.patch_size:
            raise ValueError("the attention radius must be a whole number of patches")
        if self.attention_block_frames % self.patch_size:
            raise ValueError("the attention block must be a whole number of patches")

    @property
    def input_channels(self) -> int:
        return 2 * self.latent_channels + self.control_channels + 1

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DiTConfig:
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})

    @classmethod
    def tiny(cls) -> DiTConfig:
        """A few-ten-thousand-parameter config for tests (short attention window)."""
        return cls(
            d_model=32,
            n_layers=2,
            n_heads=2,
            mlp_ratio=2,
            patch_size=2,
            attention_radius_frames=8,
            attention_block_frames=8,
        )


@dataclass(frozen=True)
class RenderConditioning:
    """Everything but x_t and t, batch-major: control [B, C, T], region_mask [B, T] bool,
    source [B, 16, T] (read only outside the region), text [B, 384], bpm [B] float,
    key [B] and meter [B] int64 ids, text_dropped [B] bool."""

    control: Tensor
    region_mask: Tensor
    source: Tensor
    text: Tensor
    bpm: Tensor
    key: Tensor
    meter: Tensor
    text_dropped: Tensor

    @property
    def batch(self) -> int:
        return self.text.shape[0]

    def repeat(self, times: int) -> RenderConditioning:
        repeated = {
            name: value.repeat(times, *([1] * (value.dim() - 1))) for name, value in self._items()
        }
        return RenderConditioning(**repeated)

    def with_text_dropped(self, dropped: Tensor) -> RenderConditioning:
        return replace(self, text_dropped=dropped.to(torch.bool))

    def to(self, device: torch.device | str) -> RenderConditioning:
        return RenderConditioning(**{name: value.to(device) for name, value in self._items()})

    def _items(self) -> list[tuple[str, Tensor]]:
        return list(self.__dict__.items())


class _Block(nn.Module):
    def __init__(self, config: DiTConfig) -> None:
        super().__init__()
        d = config.d_model
        self.n_heads = config.n_heads
        self.norm1 = nn.LayerNorm(d, elementwise_affine=False, eps=1e-6)
        self.qkv = nn.Linear(d, 3 * d)
        self.proj = nn.Linear(d, d)
        self.norm2 = nn.LayerNorm(d, elementwise_affine=False, eps=1e-6)
        self.ff = FeedForward(d, config.mlp_ratio * d)
        self.modulation = nn.Linear(d, 6 * d)
        nn.init.zeros_(self.modulation.weight)  # AdaLN-zero: every block starts as identity
        nn.init.zeros_(self.modulation.bias)

    def forward(
        self,
        x: Tensor,
        cond: Tensor,
        rope: tuple[Tensor, Tensor],
        block: int,
        radius: int,
        bias: Tensor,
    ) -> Tensor:
        shift1, scale1, gate1, shift2, scale2, gate2 = self.modulation(cond)[:, None].chunk(6, -1)
        batch, length, dim = x.shape
        h = torch.addcmul(shift1, self.norm1(x), 1 + scale1)
        qkv = self.qkv(h).view(batch, length, 3, self.n_heads, -1).permute(2, 0, 3, 1, 4)
        q, k = apply_rope(qkv[:2], *rope)  # q and k rotated in one pass
        attended = local_attention(q, k, qkv[2], block, radius, bias)
        x = torch.addcmul(x, gate1, self.proj(attended.transpose(1, 2).reshape(batch, length, dim)))
        h = torch.addcmul(shift2, self.norm2(x), 1 + scale2)
        return torch.addcmul(x, gate2, self.ff(h))


class DiT(nn.Module):
    def __init__(self, config: DiTConfig) -> None:
        super().__init__()
        self.config = config
        d, p = config.d_model, config.patch_size
        self.patch_in = nn.Linear(config.input_channels * p, d)
        self.time_mlp = nn.Sequential(nn.Linear(TIME_FEATURES, d), nn.SiLU(), nn.Linear(d, d))
        self.bpm_mlp = nn.Sequential(nn.Linear(64, d), nn.SiLU(), nn.Linear(d, d))
        self.text_proj = nn.Linear(config.text_dim, d)
        self.null_text = nn.Parameter(torch.zeros(config.text_dim))
        self.key_emb = nn.Embedding(N_KEYS, d)
        self.meter_emb = nn.Embedding(N_METER_IDS, d)
        self.blocks = nn.ModuleList(_Block(config) for _ in range(config.n_layers))
        self.final_norm = nn.LayerNorm(d, elementwise_affine=False, eps=1e-6)
        self.final_modulation = nn.Linear(d, 2 * d)
        self.patch_out = nn.Linear(d, config.latent_channels * p)
        for layer in (self.final_modulation, self.patch_out):
            nn.init.zeros_(layer.weight)  # the untrained model predicts zero velocity
            nn.init.zeros_(layer.bias)

    def global_condition(self, t: Tensor, cond: RenderConditioning) -> Tensor:
        """[B, d]: timestep + text (or the null text where dropped) + BPM + key + meter."""
        text = torch.where(cond.text_dropped[:, None], self.null_text[None], cond.text)
        # log2 BPM: equal tempo ratios are equal distances (60 -> 120 like 80 -> 160).
        bpm = sinusoidal_embedding(torch.log2(cond.bpm.to(torch.float32)) * 100.0, 64)
        c = self.time_mlp(sinusoidal_embedding(t * 1000.0, TIME_FEATURES))
        c = c + self.text_proj(text.to(torch.float32)) + self.bpm_mlp(bpm)
        return F.silu(c + self.key_emb(cond.key) + self.meter_emb(cond.meter))

    def forward(self, x: Tensor, t: Tensor, cond: RenderConditioning) -> Tensor:
        """Velocity [B, 16, T] at noisy latents x [B, 16, T] and times t [B] (1 = noise)."""
        config = self.config
        p = config.patch_size
        frames = x.shape[-1]
        mask = cond.region_mask.to(x.dtype)[:, None]
        source = cond.source.to(x.dtype) * (1.0 - mask)  # never let the region's source leak in
        h = torch.cat((x, cond.control.to(x.dtype), mask, source), dim=1)
        h = F.pad(h, (0, -frames % p))
        batch, channels, padded = h.shape
        patches = h.view(batch, channels, padded // p, p).permute(0, 2, 1, 3)
        h = self.patch_in(patches.reshape(batch, padded // p, channels * p))
        c = self.global_condition(t, cond)
        n_patches = h.shape[1]
        block = config.attention_block_frames // p
        radius = config.attention_radius_frames // p
        bias = local_attention_bias(n_patches, block, radius, h.device)
        positions = torch.arange(n_patches, device=h.device)
        rope = rope_tables(positions, config.d_model // config.n_heads, config.rope_base)
        for layer in self.blocks:
            h = layer(h, c, rope, block, radius, bias)
        shift, scale = self.final_modulation(c)[:, None].chunk(2, dim=-1)
        out = self.patch_out(self.final_norm(h) * (1 + scale) + shift)
        out = out.view(batch, n_patches, config.latent_channels, p).permute(0, 2, 1, 3)
        return out.reshape(batch, config.latent_channels, padded)[..., :frames]

    # --- construction and weights --------------------------------------------------------------

    @classmethod
    def tiny_random(cls, seed: int = 0) -> DiT:
        """Tiny config with *every* weight random (also the zero-initialised gates), so tests
        see a velocity that depends on all inputs."""
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = cls(DiTConfig.tiny())
            with torch.no_grad():
                for parameter in model.parameters():
                    if not parameter.any():
                        parameter.normal_(0.0, 0.2)
        return model.eval()

    @classmethod
    def from_pretrained(cls, model_dir: Path | str, device: str = "cpu") -> DiT:
        """The renderer of a model folder; refused (ModelLoadError) when the folder's codec
        is not the one it was trained with (`check_latent_space`)."""
        check_latent_space(Path(model_dir))
        fragment = read_component_config(Path(model_dir), COMPONENT)
        model = cls(DiTConfig.from_dict(fragment["config"]))
        weights = load_component_weights(Path(model_dir), COMPONENT)[WEIGHTS_FILE]
        weights = {k: v.to(torch.float32) for k, v in weights.items()}
        load_state_strict(model, weights, str(Path(model_dir) / WEIGHTS_FILE))
        return model.to(device).eval()

    def save_pretrained(self, model_dir: Path | str, extra: dict[str, Any] | None = None,
                        storage_dtype: str = "float16") -> None:
        """Weights are stored as float16 by default (half the bytes: the shipped model must fit
        16 MB a file) and computed in float32 after loading; the rounding is fixed at export,
        so generation stays bit-reproducible."""
        path = Path(model_dir) / WEIGHTS_FILE
        dtype = {"float16": torch.float16, "float32": torch.float32}[storage_dtype]
        sha = save_tensors_atomic(path, {k: v.to(dtype) for k, v in state_dict_fp32(self).items()})
        fragment = {
            "config": self.config.to_dict(),
            "storage_dtype": storage_dtype,
            "files": {WEIGHTS_FILE: {"sha256": sha, "bytes": path.stat().st_size}},
            **(extra or {}),
        }
        merge_component_config(Path(model_dir), COMPONENT, fragment)


def count_parameters(module: nn.Module) -> int:
    return sum(parameter.numel() for parameter in module.parameters())
