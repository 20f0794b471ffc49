"""Discriminators for the vocoder's adversarial stage (``melodex train codec --stage gan``).

Why: a vocoder trained on spectral distances alone predicts the average of what could be there,
so its phase and the fine structure between mel bands come out smeared (the model card's swap
test: even the true magnitude with our phase retrieval stops at MR-STFT 0.81, the true phase
with our magnitude reaches 0.67). A discriminator punishes exactly that: audio whose short
windows or periodic structure do not look like recorded audio.

Two families, as in HiFi-GAN and Vocos, small enough to train beside the vocoder:

* period discriminators (HiFi-GAN's MPD): the waveform folded into rows of ``period`` samples,
  convolved along the rows, so each sees one phase of a periodic signal: pitch periods and
  their phase relations;
* resolution discriminators (UnivNet/Vocos's MRD): 2-D convolutions over STFT magnitudes at
  several window lengths, including short ones, where our vocoder is weakest.

Each returns its logits and the feature maps the generator's feature-matching loss compares.
Training-only: nothing in the studio imports this module.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from itertools import pairwise

import torch
from torch import Tensor, nn
from torch.nn import functional as F
from torch.nn.utils.parametrizations import weight_norm

LEAK = 0.1


@dataclass(frozen=True)
class DiscriminatorConfig:
    periods: tuple[int, ...] = (2, 3, 5, 7, 11)
    #: (n_fft, hop) of each resolution discriminator.
    resolutions: tuple[tuple[int, int], ...] = ((128, 32), (512, 128), (2048, 512))
    #: Width of the period discriminators' first layer; later layers have 4x and 8x.
    period_width: int = 16
    resolution_width: int = 32

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def tiny(cls) -> DiscriminatorConfig:
        return cls(periods=(2, 3), resolutions=((128, 32), (512, 128)), period_width=4,
                   resolution_width=4)


Output = tuple[Tensor, list[Tensor]]


def _convolve(x: Tensor, convs: nn.ModuleList, post: nn.Module) -> Output:
    """A discriminator's stack: leaky-ReLU convolutions, then the logit layer; every layer's
    output is a feature map."""
    features = []
    for conv in convs:
        x = F.leaky_relu(conv(x), LEAK)
        features.append(x)
    x = post(x)
    features.append(x)
    return x.flatten(1), features


class PeriodDiscriminator(nn.Module):
    """Audio [b, n] folded to [b, 1, n / period, period]; convolutions along the first axis."""

    def __init__(self, period: int, width: int) -> None:
        super().__init__()
        self.period = period
        channels = (1, width, 4 * width, 8 * width, 8 * width)
        self.convs = nn.ModuleList(
            weight_norm(nn.Conv2d(c_in, c_out, (5, 1), (3 if i < 3 else 1, 1), padding=(2, 0)))
            for i, (c_in, c_out) in enumerate(pairwise(channels))
        )
        self.post = weight_norm(nn.Conv2d(channels[-1], 1, (3, 1), padding=(1, 0)))

    def forward(self, audio: Tensor) -> Output:
        pad = -audio.shape[-1] % self.period
        x = F.pad(audio, (0, pad), mode="reflect") if pad else audio
        x = x.reshape(x.shape[0], 1, -1, self.period)
        return _convolve(x, self.convs, self.post)


class ResolutionDiscriminator(nn.Module):
    """2-D convolutions over the log-compressed STFT magnitude [b, 1, frames, bins]."""

    def __init__(self, n_fft: int, hop: int, width: int) -> None:
        super().__init__()
        self.n_fft, self.hop = n_fft, hop
        self.register_buffer("window", torch.hann_window(n_fft), persistent=False)
        self.convs = nn.ModuleList([
            weight_norm(nn.Conv2d(1, width, (3, 9), padding=(1, 4))),
            weight_norm(nn.Conv2d(width, width, (3, 9), stride=(1, 2), padding=(1, 4))),
            weight_norm(nn.Conv2d(width, width, (3, 9), stride=(1, 2), padding=(1, 4))),
            weight_norm(nn.Conv2d(width, width, (3, 3), padding=(1, 1))),
        ])
        self.post = weight_norm(nn.Conv2d(width, 1, (3, 3), padding=(1, 1)))

    def forward(self, audio: Tensor) -> Output:
        spec = torch.stft(audio, self.n_fft, self.hop, window=self.window, center=True,
                          return_complex=True)
        # The magnitude's square root: loud partials do not drown the quiet detail.
        x = (spec.real.square() + spec.imag.square() + 1e-9).pow(0.25).mT.unsqueeze(1)
        return _convolve(x, self.convs, self.post)


class Discriminators(nn.Module):
    """All period and resolution discriminators; `forward` gives one `Output` each."""

    def __init__(self, config: DiscriminatorConfig) -> None:
        super().__init__()
        self.config = config
        self.periods = nn.ModuleList(PeriodDiscriminator(p, config.period_width)
                                     for p in config.periods)
        self.resolutions = nn.ModuleList(ResolutionDiscriminator(n, h, config.resolution_width)
                                         for n, h in config.resolutions)

    def forward(self, audio: Tensor) -> list[Output]:
        return [d(audio) for d in (*self.periods, *self.resolutions)]


def discriminator_loss(real: list[Output], fake: list[Output]) -> Tensor:
    """Hinge loss of the discriminators, averaged over them: real logits pushed above 1,
    generated ones below -1."""
    terms = [F.relu(1.0 - r).mean() + F.relu(1.0 + f).mean()
             for (r, _), (f, _) in zip(real, fake, strict=True)]
    return torch.stack(terms).mean()


def generator_loss(fake: list[Output]) -> Tensor:
    """Hinge loss of the generator, averaged over the discriminators."""
    return torch.stack([F.relu(1.0 - f).mean() for f, _ in fake]).mean()


def feature_matching_loss(real: list[Output], fake: list[Output]) -> Tensor:
    """L1 between the discriminators' feature maps of real and generated audio (the real ones
    are targets, without gradient), averaged over every map of every discriminator."""
    terms = [(r.detach() - f).abs().mean()
             for (_, real_maps), (_, fake_maps) in zip(real, fake, strict=True)
             for r, f in zip(real_maps, fake_maps, strict=True)]
    return torch.stack(terms).mean()
