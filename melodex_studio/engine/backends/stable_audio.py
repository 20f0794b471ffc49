"""Stable Audio Open from a folder on disk: diffusers' components, our own sampling loop.

The stock `StableAudioPipeline` samples with a multistep DPM-solver that carries the previous
model outputs from step to step, so a stored latent cannot resume a run, and it cannot repaint
part of a clip. Here the same networks (T5 text encoder, projection, DiT, Oobleck VAE) are
sampled with a stateless Euler or Heun loop over the noise levels of the folder's scheduler
config, in the EDM parametrisation the model was trained in (`EdmSchedule`; the stock
scheduler class also needs torchsde, which a deterministic loop has no use for):
- the state after step k (`RenderResult.checkpoints[k]`) resumes the run exactly;
- frames outside the region are set to the source noised to the next sigma after every step,
  so at sigma 0 they are the source, bit for bit (repaint, extend);
- a variation starts from the source noised to step k's sigma with the take's own noise.
All randomness is the take's seeded noise (`engine.sampling.seeded_noise`), drawn on the CPU.

Weights are never downloaded: `from_folder` reads a diffusers folder the musician points at
(`local_files_only`), and says what is missing when it is not one.
"""

from __future__ import annotations

import json
import math
from collections.abc import Collection
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Literal

import torch
from torch import Tensor

from melodex_studio.engine.backends.capabilities import BackendCapabilities
from melodex_studio.engine.pipelines.render import RenderCancelled, RenderResult, StepCallback
from melodex_studio.engine.sampling import (
    CancelFlag,
    is_cancelled,
    renoised,
    seeded_noise,
    start_step_for_strength,
)
from melodex_studio.engine.weights import ModelLoadError

CAPABILITIES = BackendCapabilities(generate=True, repaint=True, extend=True, resume=True,
                                   plan=False, imports=True, max_seconds=47.0)


@dataclass(frozen=True)
class EdmSchedule:
    """Noise levels and preconditioning of Stable Audio Open (its scheduler_config.json):
    the model reads x / sqrt(sigma^2 + sigma_data^2) at t = atan(sigma) * 2 / pi and predicts
    v, from which the clean estimate is c_skip * x + c_out * v."""

    sigma_min: float = 0.3
    sigma_max: float = 500.0
    sigma_data: float = 1.0
    sigma_schedule: str = "exponential"
    rho: float = 7.0
    prediction_type: str = "v_prediction"

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> EdmSchedule:
        known = {f.name for f in fields(cls)}
        schedule = cls(**{k: v for k, v in config.items() if k in known})
        if schedule.sigma_schedule not in ("exponential", "karras"):
            raise ModelLoadError(f"unknown sigma schedule {schedule.sigma_schedule!r}")
        if schedule.prediction_type not in ("v_prediction", "epsilon"):
            raise ModelLoadError(f"unknown prediction type {schedule.prediction_type!r}")
        return schedule

    def sigmas(self, steps: int) -> Tensor:
        """[steps + 1] float32, from sigma_max down to sigma_min, then 0."""
        if steps < 1:
            raise ValueError(f"a render needs at least one step, got {steps}")
        if self.sigma_schedule == "exponential":
            levels = torch.linspace(math.log(self.sigma_min), math.log(self.sigma_max),
                                    steps).exp().flip(0)
        else:
            ramp = torch.linspace(0, 1, steps)
            lo, hi = self.sigma_min ** (1 / self.rho), self.sigma_max ** (1 / self.rho)
            levels = (hi + ramp * (lo - hi)) ** self.rho
        return torch.cat([levels.to(torch.float32), torch.zeros(1)])

    def model_input(self, x: Tensor, sigma: float) -> Tensor:
        return x / math.sqrt(sigma**2 + self.sigma_data**2)

    def model_time(self, sigma: float) -> float:
        return math.atan(sigma) / math.pi * 2

    def clean_estimate(self, x: Tensor, output: Tensor, sigma: float) -> Tensor:
        data = self.sigma_data
        c_skip = data**2 / (sigma**2 + data**2)
        c_out = sigma * data / math.sqrt(sigma**2 + data**2)
        return c_skip * x + (-c_out if self.prediction_type == "v_prediction" else c_out) * output


@dataclass(frozen=True)
class StableAudioConditioning:
    """The prompt and the clip's timing as the DiT reads them: cross-attention states
    [1, L, D] (text, then start and end seconds) and global states [1, 1, 2 * D']."""

    text: Tensor
    duration: Tensor


class StableAudioOpen:
    """The networks of a Stable Audio Open folder on one device, in eval mode."""

    capabilities = CAPABILITIES

    def __init__(self, tokenizer: Any, text_encoder: Any, projection: Any, transformer: Any,
                 vae: Any, schedule: EdmSchedule, device: torch.device | str = "cpu") -> None:
        self.device = torch.device(device)
        self.tokenizer = tokenizer
        self.text_encoder = text_encoder.to(self.device).eval()
        self.projection = projection.to(self.device).eval()
        self.transformer = transformer.to(self.device).eval()
        self.vae = vae.to(self.device).eval()
        self.schedule = schedule
        self.rotary_dim = self.transformer.config.attention_head_dim // 2

    @classmethod
    def from_folder(cls, folder: Path | str, device: torch.device | str = "cpu",
                    dtype: torch.dtype = torch.float32) -> StableAudioOpen:
        """Load a diffusers Stable Audio Open folder (model_index.json and the subfolders
        tokenizer/, text_encoder/, projection_model/, transformer/, vae/, scheduler/). The
        prompt encoder, its projection and the DiT compute in `dtype` (`engine.precision`);
        the VAE stays float32, so an import encodes and a take decodes at full precision."""
        folder = Path(folder)
        if not (folder / "model_index.json").is_file():
            raise ModelLoadError(
                f"{folder} is not a Stable Audio Open folder: it has no model_index.json (point "
                "the studio at the folder that holds it, with transformer/, vae/, text_encoder/, "
                "tokenizer/, projection_model/ and scheduler/)")
        from diffusers import AutoencoderOobleck, StableAudioDiTModel
        from diffusers.pipelines.stable_audio import StableAudioProjectionModel
        from transformers import AutoTokenizer, T5EncoderModel

        def load(loader: Any, part: str) -> Any:
            if not (folder / part).is_dir():
                raise ModelLoadError(f"{folder} has no {part}/ folder: it is not a whole "
                                     "Stable Audio Open download")
            # Every part in the dtype asked for: transformers would keep a half-precision
            # checkpoint's dtype for T5 while diffusers loads float32, and the two would not
            # multiply.
            wanted = torch.float32 if part == "vae" else dtype
            dtypes = {"dtype": wanted} if part == "text_encoder" else (
                {} if part == "tokenizer" else {"torch_dtype": wanted})
            try:
                return loader.from_pretrained(folder / part, local_files_only=True, **dtypes)
            except Exception as error:  # a truncated or foreign file: say which part
                raise ModelLoadError(f"cannot load {part} of Stable Audio Open from {folder}: "
                                     f"{error}") from error

        config_path = folder / "scheduler" / "scheduler_config.json"
        try:
            config = json.loads(config_path.read_text()) if config_path.is_file() else {}
        except (OSError, ValueError) as error:
            raise ModelLoadError(f"cannot read {config_path}: {error}") from error
        return cls(load(AutoTokenizer, "tokenizer"), load(T5EncoderModel, "text_encoder"),
                   load(StableAudioProjectionModel, "projection_model"),
                   load(StableAudioDiTModel, "transformer"), load(AutoencoderOobleck, "vae"),
                   EdmSchedule.from_config(config), device)

    # --- geometry ------------------------------------------------------------------------

    @property
    def sample_rate(self) -> int:
        return int(self.vae.config.sampling_rate)

    @property
    def audio_channels(self) -> int:
        return int(self.vae.config.audio_channels)

    @property
    def latent_channels(self) -> int:
        return int(self.transformer.config.in_channels)

    @property
    def samples_per_frame(self) -> int:
        return int(math.prod(self.vae.config.downsampling_ratios))

    @property
    def frame_rate(self) -> float:
        return self.sample_rate / self.samples_per_frame

    # --- conditioning --------------------------------------------------------------------

    @torch.inference_mode()
    def condition(self, prompt: str, seconds_start: float,
                  seconds_total: float) -> StableAudioConditioning:
        """The prompt for a clip that starts `seconds_start` into a piece `seconds_total` long
        (the model's timing inputs; clamped to its trained range)."""
        tokens = self.tokenizer(prompt, padding="max_length", truncation=True,
                                max_length=self.tokenizer.model_max_length, return_tensors="pt")
        ids = tokens.input_ids.to(self.device)
        mask = tokens.attention_mask.to(self.device)
        states = self.text_encoder(ids, attention_mask=mask)[0]
        text = self.projection(text_hidden_states=states).text_hidden_states
        text = text * mask.unsqueeze(-1).to(text.dtype)
        seconds = {"device": self.device, "dtype": self.projection.dtype}
        timing = self.projection(start_seconds=torch.tensor([float(seconds_start)], **seconds),
                                 end_seconds=torch.tensor([float(seconds_total)], **seconds))
        start, end = timing.seconds_start_hidden_states, timing.seconds_end_hidden_states
        return StableAudioConditioning(text=torch.cat([text, start, end], dim=1),
                                       duration=torch.cat([start, end], dim=2))

    # --- sampling ------------------------------------------------------------------------

    def sigmas(self, steps: int) -> Tensor:
        """The noise levels of a `steps`-step run, from sigma_max down to 0 ([steps + 1])."""
        return self.schedule.sigmas(steps)

    @torch.inference_mode()
    def render(
        self,
        cond: StableAudioConditioning,
        n_frames: int,
        *,
        seed: int = 0,
        noise: Tensor | None = None,
        steps: int = 50,
        guidance: float = 7.0,
        guidance_interval: tuple[float, float] = (0.0, 1.0),
        sampler: Literal["euler", "heun"] = "euler",
        region_mask: Tensor | None = None,
        source_latents: Tensor | None = None,
        start_step: int | None = None,
        init_latent: Tensor | None = None,
        strength: float | None = None,
        step_callback: StepCallback | None = None,
        cancel: CancelFlag = None,
        checkpoint_steps: Collection[int] | Literal["all"] | None = "all",
    ) -> RenderResult:
        """Latents [C, n_frames]; the arguments mean what they mean for the built-in
        `engine.pipelines.render.render` (`guidance_interval` in progress, 0 = noise);
        `noise` replaces the seed's draw (a re-run from a take's recorded noise)."""
        shape = (self.latent_channels, n_frames)
        mask = torch.ones(n_frames, dtype=torch.bool) if region_mask is None else region_mask
        if tuple(mask.shape) != (n_frames,):
            raise ValueError(f"region mask must be [{n_frames}], got {tuple(mask.shape)}")
        if source_latents is None and not bool(mask.all()):
            raise ValueError("frames outside the region need source latents")
        if source_latents is not None and tuple(source_latents.shape) != shape:
            raise ValueError(f"source latents must be {list(shape)}, got "
                             f"{tuple(source_latents.shape)}")
        if noise is None:
            noise = seeded_noise(seed, shape)
        elif tuple(noise.shape) != shape:
            raise ValueError(f"noise must be {list(shape)}, got {tuple(noise.shape)}")
        noise = noise.float().cpu()
        sigmas = self.sigmas(steps)
        source = torch.zeros(shape) if source_latents is None else source_latents.float().cpu()
        keep = ~mask

        def outside(x: Tensor, sigma: float) -> Tensor:
            """x with the frames outside the region at the source noised to `sigma`."""
            return torch.where(keep, source + sigma * noise, x) if bool(keep.any()) else x

        # Where the run starts: a stored state, the source noised to a step, or pure noise.
        if start_step is not None and not 0 <= int(start_step) <= steps:
            raise ValueError(f"start step {start_step} is outside 0..{steps}")
        first = 0
        if init_latent is not None:
            first = int(start_step or 0)
            x = init_latent.float().cpu().clone()
        elif strength is not None or start_step is not None:
            if start_step is None:  # strength: the fraction of the steps run again
                progress = [1.0 - k / steps for k in range(steps + 1)]
                first = start_step_for_strength(progress, 1.0 if strength is None else strength)
            else:
                first = int(start_step)
            x = source + float(sigmas[first]) * noise
        else:
            x = float(sigmas[0]) * noise
        x = outside(x, float(sigmas[first]))

        wanted = set(range(steps + 1)) if checkpoint_steps == "all" else set(
            checkpoint_steps or ())
        checkpoints = {first: x.clone()} if first in wanted else {}
        rotary = self._rotary(n_frames, cond)
        lo, hi = guidance_interval
        for step in range(first, steps):
            if is_cancelled(cancel):
                raise RenderCancelled(step, x.clone(), checkpoints)
            sigma, sigma_next = float(sigmas[step]), float(sigmas[step + 1])
            scale = guidance if lo <= step / steps < hi else 1.0
            denoised = self._denoise(x, sigma, cond, scale, rotary)
            slope = (x - denoised) / sigma
            x_next = x + (sigma_next - sigma) * slope
            if sampler == "heun" and sigma_next > 0:
                again = self._denoise(x_next, sigma_next, cond, scale, rotary)
                x_next = x + (sigma_next - sigma) * 0.5 * (slope + (x_next - again) / sigma_next)
            x = outside(x_next, sigma_next)
            if step + 1 in wanted:
                checkpoints[step + 1] = x.clone()
            if step_callback is not None:
                step_callback(step + 1, steps, denoised)
        return RenderResult(initial_noise=noise, checkpoints=checkpoints, final_latent=x,
                            steps_run=steps - first, start_step=first,
                            schedule=sigmas.tolist(), control=torch.zeros(0, n_frames))

    def vary_state(self, state: Tensor, step: int, steps: int, old_noise: Tensor,
                   new_noise: Tensor) -> Tensor:
        """The state after `step` of `steps` holding `new_noise` where it held `old_noise`
        (x = x0 + sigma * noise: it moves by sigma_step times their difference)."""
        return renoised(state, float(self.sigmas(steps)[step]), old_noise, new_noise)

    def _rotary(self, n_frames: int, cond: StableAudioConditioning) -> tuple[Tensor, Tensor]:
        from diffusers.models.embeddings import get_1d_rotary_pos_embed

        cos, sin = get_1d_rotary_pos_embed(self.rotary_dim, n_frames + cond.duration.shape[1],
                                           use_real=True, repeat_interleave_real=False)
        return cos.to(self.device), sin.to(self.device)

    def _denoise(self, x: Tensor, sigma: float, cond: StableAudioConditioning, scale: float,
                 rotary: tuple[Tensor, Tensor]) -> Tensor:
        """The model's estimate of the clean latent at `sigma` [C, T] (CPU float32), with
        classifier-free guidance at `scale` (1: the prompt alone; the unconditional input is
        the zero embedding, as in training)."""
        sample = x.to(self.device)[None]
        model_in = self.schedule.model_input(sample, sigma)
        t = torch.tensor([self.schedule.model_time(sigma)], dtype=torch.float32,
                         device=self.device)
        text, duration = cond.text, cond.duration
        if scale != 1.0:
            model_in = torch.cat([model_in, model_in])
            text = torch.cat([torch.zeros_like(text), text])
            duration = torch.cat([duration, duration])
        dtype = self.transformer.dtype
        velocity = self.transformer(model_in.to(dtype), t, encoder_hidden_states=text.to(dtype),
                                    global_hidden_states=duration.to(dtype),
                                    rotary_embedding=rotary, return_dict=False)[0].float()
        if scale != 1.0:
            unconditional, conditional = velocity.chunk(2)
            velocity = unconditional + scale * (conditional - unconditional)
        return self.schedule.clean_estimate(sample, velocity, sigma)[0].float().cpu()

    # --- codec ---------------------------------------------------------------------------

    @torch.inference_mode()
    def encode(self, audio: Tensor) -> Tensor:
        """Audio [channels, samples] at `sample_rate` -> latents [C, frames] (the posterior
        mean: an encoding is a value, not a draw)."""
        audio = audio.float()
        if audio.ndim == 1:
            audio = audio[None]
        if audio.shape[0] != self.audio_channels:
            audio = audio.mean(dim=0, keepdim=True).expand(self.audio_channels, -1)
        latent = self.vae.encode(audio[None].to(self.device, self.vae.dtype)).latent_dist.mean
        return latent[0].float().cpu()

    @torch.inference_mode()
    def decode(self, latents: Tensor) -> Tensor:
        """Latents [C, frames] -> audio [channels, frames * samples_per_frame] (the VAE's
        transposed convolutions can end a few samples short: the last one is held)."""
        audio = self.vae.decode(latents[None].to(self.device, self.vae.dtype)).sample[0]
        length = latents.shape[-1] * self.samples_per_frame
        if audio.shape[-1] < length:
            audio = torch.cat([audio, audio[:, -1:].expand(-1, length - audio.shape[-1])], dim=1)
        return audio[:, :length].float().cpu()

