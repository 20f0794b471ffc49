"""The audio codec of ``melodex-tiny``: audio <-> 16-channel latents at 23.4375 frames/s.

Pipeline: audio -> log-mel (hop 256) -> mel autoencoder (x4 in time) -> latent; back through the
autoencoder decoder to log-mel and the Vocos-style vocoder to audio.

Length convention: one latent frame is exactly ``hop * 4 = 1024`` samples. ``encode`` right-pads
the audio with zeros to the next multiple of 1024, so ``n`` samples give ``T = ceil(n / 1024)``
frames, and ``decode`` returns exactly ``T * 1024`` samples (trim to ``n`` if you need the original
length). Latent frame ``t`` covers samples ``[t * 1024, (t + 1) * 1024)``.

Latents are normalised per channel with statistics measured on the training corpus
(``latent_mean``/``latent_std`` in config.json), so the renderer sees roughly unit variance.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from melodex_studio.engine.control_raster import N_CONTROL_CHANNELS
from melodex_studio.engine.mel import LogMel, MelConfig, as_batch
from melodex_studio.engine.networks.mel_autoencoder import MelAutoencoder, MelAutoencoderConfig
from melodex_studio.engine.networks.plan_adapter import PlanAdapter, PlanAdapterConfig
from melodex_studio.engine.networks.vocoder import Vocoder, VocoderConfig
from melodex_studio.engine.weights import (
    ModelLoadError,
    load_component_weights,
    load_state_strict,
    merge_component_config,
    read_component_config,
    save_tensors_atomic,
    state_dict_fp32,
    tensors_digest,
)

COMPONENT = "codec"
AE_FILE = "codec_ae.safetensors"
VOCODER_FILE = "vocoder.safetensors"
PLAN_ADAPTER_FILE = "plan_adapter.safetensors"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class CodecConfig:
    mel: MelConfig = field(default_factory=MelConfig)
    autoencoder: MelAutoencoderConfig = field(default_factory=MelAutoencoderConfig)
    vocoder: VocoderConfig = field(default_factory=VocoderConfig)
    plan_adapter: PlanAdapterConfig | None = None  # decode with the plan's control raster

    @property
    def samples_per_latent_frame(self) -> int:
        return self.mel.hop * self.autoencoder.time_downsampling

    @property
    def latent_frame_rate(self) -> float:
        return self.mel.sample_rate / self.samples_per_latent_frame

    def to_dict(self) -> dict[str, Any]:
        data = {
            "mel": self.mel.to_dict(),
            "autoencoder": self.autoencoder.to_dict(),
            "vocoder": self.vocoder.to_dict(),
        }
        if self.plan_adapter is not None:
            data["plan_adapter"] = self.plan_adapter.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CodecConfig:
        return cls(
            mel=MelConfig.from_dict(data["mel"]),
            autoencoder=MelAutoencoderConfig.from_dict(data["autoencoder"]),
            vocoder=VocoderConfig.from_dict(data["vocoder"]),
            plan_adapter=PlanAdapterConfig.from_dict(data["plan_adapter"])
            if data.get("plan_adapter") is not None else None,
        )

    @classmethod
    def tiny(cls) -> CodecConfig:
        """A few-thousand-parameter config for tests; same time grid as the real codec."""
        return cls(
            mel=MelConfig(n_mels=32),
            autoencoder=MelAutoencoderConfig(
                latent_channels=16,
                encoder_dims=(16, 16, 24),
                encoder_blocks=(1, 1, 1),
                decoder_dims=(16, 16, 24),
                decoder_blocks=(1, 1, 1),
                hidden_ratio=2,
            ),
            vocoder=VocoderConfig(dim=24, hidden=48, num_blocks=2, refine_iterations=2,
                                  mel_match_rounds=1),
        )


class Codec(nn.Module):
    """Inference API: ``mel``, ``encode``, ``decode``, ``decode_mel``, ``decode_window``."""

    latent_mean: Tensor
    latent_std: Tensor

    def __init__(self, config: CodecConfig) -> None:
        super().__init__()
        self.config = config
        self.mel_frontend = LogMel(config.mel)
        self.autoencoder = MelAutoencoder(config.autoencoder, config.mel.n_mels)
        self.vocoder = Vocoder(config.vocoder, config.mel)
        self.plan_adapter: PlanAdapter | None = None
        if config.plan_adapter is not None:
            self.plan_adapter = PlanAdapter(config.plan_adapter, config.autoencoder.decoder_dims,
                                            config.mel.n_mels)
        channels = config.autoencoder.latent_channels
        self.register_buffer("latent_mean", torch.zeros(channels), persistent=False)
        self.register_buffer("latent_std", torch.ones(channels), persistent=False)
        self.eval()

    # ---- construction -------------------------------------------------------------------------
    @classmethod
    def tiny_random(cls, seed: int = 0) -> Codec:
        """Randomly initialised tiny codec for tests: same seed, same weights."""
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return cls(CodecConfig.tiny())

    @classmethod
    def from_pretrained(cls, model_dir: Path | str, device: str | torch.device = "cpu") -> Codec:
        model_dir = Path(model_dir)
        fragment = read_component_config(model_dir, COMPONENT)
        try:
            config = CodecConfig.from_dict(fragment)
            mean = torch.tensor(fragment["latent_mean"], dtype=torch.float32)
            std = torch.tensor(fragment["latent_std"], dtype=torch.float32)
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelLoadError(
                f"'codec' section of {model_dir}/config.json is invalid: {exc!r}"
            ) from exc
        weights = load_component_weights(model_dir, COMPONENT)
        required = [AE_FILE, VOCODER_FILE] + ([PLAN_ADAPTER_FILE] if config.plan_adapter else [])
        for name in required:
            if name not in weights:
                raise ModelLoadError(f"'codec' section of {model_dir}/config.json lacks {name}")
        adapter = config.plan_adapter
        if adapter is not None and adapter.control_channels != N_CONTROL_CHANNELS:
            raise ModelLoadError(
                f"the plan adapter in {model_dir} reads {adapter.control_channels} control "
                f"channels, this version draws {N_CONTROL_CHANNELS}")
        codec = cls(config)
        for name, module in codec._weight_files():
            load_state_strict(module, weights[name], str(model_dir / name))
        codec.set_latent_statistics(mean, std)
        return codec.to(device)

    def save_pretrained(self, model_dir: Path | str, extra: dict[str, Any] | None = None) -> dict:
        """Write the weight files and merge the ``codec`` section into config.json."""
        model_dir = Path(model_dir)
        files = {}
        for name, module in self._weight_files():
            sha = save_tensors_atomic(model_dir / name, state_dict_fp32(module))
            files[name] = {"sha256": sha, "bytes": (model_dir / name).stat().st_size}
        fragment = {
            "format": FORMAT_VERSION,
            **self.config.to_dict(),
            "sample_rate": self.config.mel.sample_rate,
            "samples_per_latent_frame": self.samples_per_latent_frame,
            "latent_frame_rate": self.config.latent_frame_rate,
            "latent_channels": self.config.autoencoder.latent_channels,
            "latent_mean": [float(v) for v in self.latent_mean.cpu()],
            "latent_std": [float(v) for v in self.latent_std.cpu()],
            "latent_space": self.latent_space_id(),
            "files": files,
            **(extra or {}),
        }
        merge_component_config(model_dir, COMPONENT, fragment)
        return fragment

    def _weight_files(self) -> list[tuple[str, nn.Module]]:
        files: list[tuple[str, nn.Module]] = [(AE_FILE, self.autoencoder),
                                              (VOCODER_FILE, self.vocoder)]
        if self.plan_adapter is not None:
            files.append((PLAN_ADAPTER_FILE, self.plan_adapter))
        return files

    def latent_space_id(self) -> str:
        """What a renderer trained on this codec's latents depends on: the encoder's weights
        and the normalising statistics (the decoder and vocoder may change under it)."""
        return tensors_digest(self.autoencoder.encoder.state_dict(), self.latent_mean,
                              self.latent_std)

    def set_latent_statistics(self, mean: Tensor, std: Tensor) -> None:
        channels = self.config.autoencoder.latent_channels
        if mean.shape != (channels,) or std.shape != (channels,) or bool((std <= 0).any()):
            raise ValueError("latent statistics must be positive-std vectors of latent_channels")
        self.latent_mean.copy_(mean)
        self.latent_std.copy_(std)

    # ---- geometry ------------------------------------------------------------------------------
    @property
    def sample_rate(self) -> int:
        return self.config.mel.sample_rate

    @property
    def samples_per_latent_frame(self) -> int:
        return self.config.samples_per_latent_frame

    @property
    def context_frames(self) -> int:
        """Latent frames of context each side that make ``decode_window`` match a full decode."""
        down = self.config.autoencoder.time_downsampling
        vocoder_frames = -(-self.vocoder.receptive_field_frames // down)
        adapter_frames = (self.plan_adapter.receptive_field_latent_frames
                          if self.plan_adapter is not None else 0)
        return (self.autoencoder.decoder.receptive_field_latent_frames + adapter_frames
                + vocoder_frames + 1)

    def latent_frames_for(self, num_samples: int) -> int:
        return -(-num_samples // self.samples_per_latent_frame)

    def _device(self) -> torch.device:
        return self.latent_mean.device

    # ---- inference -----------------------------------------------------------------------------
    @torch.inference_mode()
    def mel(self, audio: Tensor) -> Tensor:
        """Log-mel [b, n_mels, ceil(n / hop)] of mono audio [n] or [b, n]."""
        return self.mel_frontend(as_batch(audio).to(self._device()))

    @torch.inference_mode()
    def encode(self, audio: Tensor, normalize: bool = True) -> Tensor:
        """Audio [n] or [b, n] at 24 kHz -> latents [b, C, ceil(n / 1024)] (posterior mean)."""
        audio = as_batch(audio).to(self._device())
        frames = self.latent_frames_for(audio.shape[-1])
        audio = F.pad(audio, (0, frames * self.samples_per_latent_frame - audio.shape[-1]))
        mean, _ = self.autoencoder.encoder(self.mel_frontend(audio))
        if normalize:
            mean = (mean - self.latent_mean[:, None]) / self.latent_std[:, None]
        return mean

    @torch.inference_mode()
    def decode_to_mel(self, latents: Tensor, normalize: bool = True,
                      control: Tensor | None = None) -> Tensor:
        """Latents [b, C, T] -> log-mel [b, n_mels, 4T]; with the plan's control raster
        ([b or 1, channels, T], see `control_raster`) through the plan adapter, if the codec
        has one (without one, or without a raster, the plain decoder)."""
        latents = self._check_latents(latents)
        if normalize:
            latents = latents * self.latent_std[:, None] + self.latent_mean[:, None]
        if control is None or self.plan_adapter is None:
            return self.autoencoder.decoder(latents)
        control = (control[None] if control.dim() == 2 else control).to(latents.device)
        control = control.expand(latents.shape[0], -1, -1)
        return self.plan_adapter(self.autoencoder.decoder, latents, control)

    @torch.inference_mode()
    def decode_mel(self, mel: Tensor, first_frame: int = 0, preview: bool = False) -> Tensor:
        """Log-mel [b, n_mels, F] (or [n_mels, F]) -> audio [b, F * hop]; ``first_frame`` is
        the absolute mel frame of frame 0 (the vocoder's phase is anchored to absolute frames);
        ``preview`` is the vocoder's rougher, cheaper decode (`Vocoder.forward`)."""
        if mel.dim() == 2:
            mel = mel.unsqueeze(0)
        return self.vocoder(mel.to(self._device(), torch.float32), first_frame, preview)

    @torch.inference_mode()
    def decode(self, latents: Tensor, normalize: bool = True, first_frame: int = 0,
               control: Tensor | None = None, preview: bool = False) -> Tensor:
        """Latents [b, C, T] -> audio [b, T * 1024]; ``first_frame`` is the absolute latent
        frame of frame 0 (any integer; the song starts at 0), so pieces of a song decode alike;
        ``control`` is the plan's raster over the same frames (`decode_to_mel`); ``preview``
        decodes rougher and cheaper (`decode_mel`)."""
        mel = self.decode_to_mel(latents, normalize=normalize, control=control)
        return self.decode_mel(mel, first_frame * self.config.autoencoder.time_downsampling,
                               preview)

    @torch.inference_mode()
    def decode_window(
        self,
        latents: Tensor,
        start_frame: int,
        end_frame: int,
        overlap_frames: int | None = None,
        normalize: bool = True,
        first_frame: int = 0,
        control: Tensor | None = None,
        preview: bool = False,
    ) -> Tensor:
        """Audio of latent frames ``[start_frame, end_frame)``: [b, (end - start) * 1024].

        The window is decoded with ``overlap_frames`` of real neighbouring latents on each side
        (default ``context_frames``, enough for every layer's receptive field) and then cropped,
        so consecutive windows concatenate to a full decode up to float rounding.
        ``first_frame`` is the absolute latent frame of ``latents[..., 0]``; ``control``, the
        plan's raster, covers the same frames as ``latents``; ``preview`` as in `decode`.
        """
        latents = self._check_latents(latents)
        total = latents.shape[-1]
        if control is not None and control.shape[-1] != total:
            raise ValueError(f"control raster has {control.shape[-1]} frames, latents {total}")
        if not 0 <= start_frame < end_frame <= total:
            raise ValueError(f"window [{start_frame}, {end_frame}) outside 0..{total} frames")
        overlap = self.context_frames if overlap_frames is None else max(0, overlap_frames)
        lo, hi = max(0, start_frame - overlap), min(total, end_frame + overlap)
        window_control = None if control is None else control[..., lo:hi]
        audio = self.decode(latents[..., lo:hi], normalize=normalize, first_frame=first_frame + lo,
                            control=window_control, preview=preview)
        spf = self.samples_per_latent_frame
        return audio[..., (start_frame - lo) * spf : (end_frame - lo) * spf]

    def _check_latents(self, latents: Tensor) -> Tensor:
        if latents.dim() == 2:
            latents = latents.unsqueeze(0)
        channels = self.config.autoencoder.latent_channels
        if latents.dim() != 3 or latents.shape[1] != channels:
            raise ValueError(f"expected latents [b, {channels}, T], got {tuple(latents.shape)}")
        return latents.to(self._device(), torch.float32)
