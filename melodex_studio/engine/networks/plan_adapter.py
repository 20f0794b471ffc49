"""Plan adapter: lets the frozen mel decoder hear the plan's control raster while it decodes.

Why: 16 latent channels at 23 frames/s keep rhythm and timbre but blur the partials of a chord,
so a latent alone decodes dense harmony to the wrong pitches (design §3; the model card's
"pitch through the codec" table). When a take is rendered its plan is known exactly, and the
control raster (`engine.control_raster`) carries the sounding pitch classes of every bar and
note. The adapter turns that raster into features added to the decoder's hidden state at each
resolution and a correction of its output, so the pitches the latent blurred come back sharp.

Built like a ControlNet branch: the decoder's own weights stay frozen (without a raster the
codec decodes exactly as before, so the latent space, the renderer and the codec's plain
round trip are untouched) and every path out of the adapter starts at zero, so training starts
from the plain decoder's output. Every layer is time-local; `receptive_field_latent_frames`
says how much context a windowed decode needs for it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import Tensor, nn

from melodex_studio.engine.control_raster import N_CONTROL_CHANNELS
from melodex_studio.engine.networks.mel_autoencoder import MelDecoder


@dataclass(frozen=True)
class PlanAdapterConfig:
    control_channels: int = N_CONTROL_CHANNELS  # recorded, and checked when loaded
    width: int = 128
    kernel_size: int = 5

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> PlanAdapterConfig:
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})


def _upsampled(features: Tensor, length: int) -> Tensor:
    """Latent-rate features [b, c, T] repeated to `length` = T * 2^k frames."""
    return features.repeat_interleave(length // features.shape[-1], dim=-1)


class PlanAdapter(nn.Module):
    """Control raster [b, C, T] + latent [b, 16, T] -> log-mel [b, n_mels, 4T] via a decoder."""

    def __init__(self, cfg: PlanAdapterConfig, decoder_dims: tuple[int, ...], n_mels: int) -> None:
        super().__init__()
        self.cfg = cfg
        width, k = cfg.width, cfg.kernel_size
        self.control = nn.Sequential(
            nn.Conv1d(cfg.control_channels, width, k, padding=k // 2), nn.GELU(),
            nn.Conv1d(width, width, k, padding=k // 2), nn.GELU(),
        )
        stage_dims = decoder_dims[::-1]  # the decoder's stages, coarsest first
        self.inject = nn.ModuleList(nn.Conv1d(width, dim, 1) for dim in stage_dims)
        self.head = nn.Sequential(
            nn.Conv1d(stage_dims[-1] + width, width, k, padding=k // 2), nn.GELU(),
            nn.Conv1d(width, n_mels, 1),
        )
        for layer in (*self.inject, self.head[-1]):
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)

    @property
    def receptive_field_latent_frames(self) -> int:
        """Latent frames of raster context on each side that reach the decoder's input (the
        decoder's own reach is added by the codec); the mel-rate head adds under one."""
        half = self.cfg.kernel_size // 2
        return 2 * half + 1

    def forward(self, decoder: MelDecoder, latent: Tensor, control: Tensor) -> Tensor:
        if control.shape[-1] != latent.shape[-1] or control.shape[1] != self.cfg.control_channels:
            raise ValueError(f"control raster {tuple(control.shape)} does not fit latents "
                             f"{tuple(latent.shape)} ({self.cfg.control_channels} channels)")
        features = self.control(control.to(latent.dtype))

        def inject(stage: int, hidden: Tensor) -> Tensor:
            return hidden + self.inject[stage](_upsampled(features, hidden.shape[-1]))

        hidden = decoder.hidden(latent, inject)
        correction = self.head(torch.cat([hidden, _upsampled(features, hidden.shape[-1])], dim=1))
        return decoder.out(hidden) + correction

