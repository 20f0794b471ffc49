"""Mel autoencoder: log-mel [b, n_mels, 4T] <-> latent [b, 16, T] (x4 in time).

The encoder predicts a diagonal Gaussian (mean, log-variance) and training adds a small KL term, as
in latent-diffusion autoencoders: sampling the posterior makes the decoder tolerate the small
errors a diffusion sampler leaves, and the KL keeps the latent near zero mean and O(1) scale.
Per-channel statistics of the posterior mean (stored with the weights) then normalise it to unit
variance for the renderer. All layers are time-local so windowed decoding matches a full decode.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from itertools import pairwise

import torch
from torch import Tensor, nn

from melodex_studio.engine.networks.vocoder import ConvNeXtBlock1d


@dataclass(frozen=True)
class MelAutoencoderConfig:
    latent_channels: int = 16
    # Widths per resolution, finest (mel rate) first; one x2 time step between neighbours.
    encoder_dims: tuple[int, ...] = (128, 192, 256)
    encoder_blocks: tuple[int, ...] = (2, 2, 2)
    decoder_dims: tuple[int, ...] = (128, 192, 256)
    decoder_blocks: tuple[int, ...] = (2, 2, 2)
    kernel_size: int = 7
    hidden_ratio: int = 3
    logvar_range: tuple[float, float] = field(default=(-20.0, 4.0))
    initial_logvar: float = -5.0

    @property
    def time_downsampling(self) -> int:
        return 2 ** (len(self.encoder_dims) - 1)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> MelAutoencoderConfig:
        kwargs = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        for key, value in kwargs.items():
            if isinstance(value, list):
                kwargs[key] = tuple(value)
        return cls(**kwargs)


def _stage(dim: int, blocks: int, cfg: MelAutoencoderConfig) -> nn.Sequential:
    return nn.Sequential(
        *(ConvNeXtBlock1d(dim, dim * cfg.hidden_ratio, cfg.kernel_size, 1.0 / max(blocks, 1))
          for _ in range(blocks))
    )


class MelEncoder(nn.Module):
    """Log-mel [b, n_mels, F] (F divisible by 4) -> (mean, logvar) each [b, latent, F / 4]."""

    def __init__(self, cfg: MelAutoencoderConfig, n_mels: int) -> None:
        super().__init__()
        self.cfg = cfg
        dims, k = cfg.encoder_dims, cfg.kernel_size
        # No LayerNorm outside the ConvNeXt blocks: norms around the embedding and the
        # resampling convs starved the encoder of gradient (the latent stopped learning).
        self.embed = nn.Conv1d(n_mels, dims[0], k, padding=k // 2)
        self.stages = nn.ModuleList(_stage(d, n, cfg) for d, n in zip(dims, cfg.encoder_blocks,
                                                                       strict=True))
        # Stride-2 convs with kernel 4 / padding 1 halve the length exactly for even lengths.
        self.downs = nn.ModuleList(
            nn.Conv1d(a, b, 4, stride=2, padding=1) for a, b in pairwise(dims)
        )
        self.out = nn.Conv1d(dims[-1], 2 * cfg.latent_channels, 1)
        # Start with a small posterior sigma (about 0.08) so the latent carries information from
        # the first step; a unit sigma at init lets the decoder learn to ignore it.
        with torch.no_grad():
            self.out.bias[cfg.latent_channels :].fill_(cfg.initial_logvar)

    def forward(self, mel: Tensor) -> tuple[Tensor, Tensor]:
        h = self.embed(mel)
        for i, stage in enumerate(self.stages):
            h = stage(h)
            if i < len(self.downs):
                h = self.downs[i](h)
        mean, logvar = self.out(h).chunk(2, dim=1)
        return mean, logvar.clamp(*self.cfg.logvar_range)


class MelDecoder(nn.Module):
    """Latent [b, latent, T] -> log-mel [b, n_mels, 4T]."""

    def __init__(self, cfg: MelAutoencoderConfig, n_mels: int) -> None:
        super().__init__()
        self.cfg = cfg
        dims, k = cfg.decoder_dims[::-1], cfg.kernel_size  # coarsest first
        blocks = cfg.decoder_blocks[::-1]
        self.embed = nn.Conv1d(cfg.latent_channels, dims[0], k, padding=k // 2)
        self.stages = nn.ModuleList(_stage(d, n, cfg) for d, n in zip(dims, blocks, strict=True))
        # Transposed convs (kernel 4, stride 2, padding 1) exactly double the length.
        self.ups = nn.ModuleList(
            nn.ConvTranspose1d(a, b, 4, stride=2, padding=1) for a, b in pairwise(dims)
        )
        self.out = nn.Conv1d(dims[-1], n_mels, 1)

    @property
    def receptive_field_latent_frames(self) -> int:
        """Latent frames of context on each side that can change one output mel frame."""
        half = self.cfg.kernel_size // 2
        blocks = self.cfg.decoder_blocks[::-1]
        frames = float(half * (1 + blocks[0]))
        scale = 1.0
        for n in blocks[1:]:
            scale *= 2.0
            frames += 1.0 + half * n / scale  # the transposed conv reaches one frame each way
        return int(frames) + 1

    def hidden(self, latent: Tensor,
               inject: Callable[[int, Tensor], Tensor] | None = None) -> Tensor:
        """The last hidden state [b, dims[0], 4T]; `inject(stage, h)` may alter each stage's
        input (how `plan_adapter.PlanAdapter` adds the plan without touching these weights)."""
        h = self.embed(latent)
        for i, stage in enumerate(self.stages):
            h = stage(h if inject is None else inject(i, h))
            if i < len(self.ups):
                h = self.ups[i](h)
        return h

    def forward(self, latent: Tensor) -> Tensor:
        return self.out(self.hidden(latent))


class MelAutoencoder(nn.Module):
    def __init__(self, cfg: MelAutoencoderConfig, n_mels: int) -> None:
        super().__init__()
        self.cfg = cfg
        self.encoder = MelEncoder(cfg, n_mels)
        self.decoder = MelDecoder(cfg, n_mels)

    def forward(
        self, mel: Tensor, generator: torch.Generator | None = None
    ) -> tuple[Tensor, Tensor, Tensor]:
        """Training pass: (reconstructed log-mel, posterior mean, posterior logvar).

        The posterior is sampled with ``generator`` so a training step is reproducible.
        """
        mean, logvar = self.encoder(mel)
        return self.decoder(sample_posterior(mean, logvar, generator)), mean, logvar


def sample_posterior(mean: Tensor, logvar: Tensor,
                     generator: torch.Generator | None = None) -> Tensor:
    """A draw of N(mean, exp(logvar)); the noise comes from ``generator`` on the CPU, so a
    training step draws the same latent on any device."""
    noise = torch.randn(mean.shape, generator=generator, device="cpu").to(mean.device)
    return mean + (0.5 * logvar).exp() * noise


def kl_divergence(mean: Tensor, logvar: Tensor) -> Tensor:
    """Mean per-element KL(N(mean, exp(logvar)) || N(0, 1))."""
    return 0.5 * (mean.square() + logvar.exp() - 1.0 - logvar).mean()
