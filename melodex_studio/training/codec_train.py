"""Training loops for the codec: the mel autoencoder, the vocoder, or both together.

Reproducible and resumable by construction: every random draw of step ``k`` comes from a generator
seeded with ``(seed, stage, k)``, so a run restarted from a checkpoint at step ``k`` produces the
same losses as one that never stopped. Checkpoints hold weights and optimizer moments as
safetensors plus a JSON file of counters; nothing is pickled or read back with ``torch.load``.

Stages: ``"ae"`` trains the autoencoder on log-mel (L1 + a small KL), ``"vocoder"`` trains the
vocoder from true log-mel (log-mel L1 + multi-resolution STFT loss), ``"both"`` does one step of
each per step and feeds the vocoder the autoencoder's reconstruction for half of its batch, so the
vocoder learns to voice what the codec actually produces. ``"gan"`` trains the vocoder as
``"vocoder"`` does plus adversarially, against period and resolution discriminators
(`training.discriminators`, created on its first step and kept in the checkpoint): the GPU
stage the model card says the vocoder's phase and fine structure need.
"""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import shutil
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch import Tensor, nn
from tqdm import tqdm

from melodex_studio.engine.codec import Codec, CodecConfig
from melodex_studio.engine.mel import spectrum_magnitude
from melodex_studio.engine.networks.mel_autoencoder import kl_divergence, sample_posterior
from melodex_studio.engine.weights import save_tensors_atomic, write_json_atomic
from melodex_studio.training.codec_data import load_audio_pool, sample_segments
from melodex_studio.training.codec_losses import (
    consistency_distance,
    log_magnitude_l1,
    mel_bins_below,
    multi_resolution_stft_distance,
    phase_distance,
    pitch_detail_distance,
)
from melodex_studio.training.codec_runs import (
    CHECKPOINT,
    STAGES,
    append_session,
    load_optimizer_tensors,
    optimizer_tensors,
    truncate_loss_log,
)
from melodex_studio.training.discriminators import (
    DiscriminatorConfig,
    Discriminators,
    discriminator_loss,
    feature_matching_loss,
    generator_loss,
)
from melodex_studio.training.runtime import adamw, resolve_device, seeded

Stage = Literal["ae", "vocoder", "both", "decoder", "gan"]


@dataclass(frozen=True)
class CodecTrainSettings:
    learning_rate: float = 4e-4
    warmup_steps: int = 200
    # Constant rate after warm-up, then (when ``cooldown_start`` is set) a linear fall to 10 %
    # over ``cooldown_steps``. A pure function of the step, so a resumed run follows the same
    # schedule; the stage counter is what ``step`` refers to.
    cooldown_start: int | None = None
    cooldown_steps: int = 2000
    betas: tuple[float, float] = (0.8, 0.99)
    weight_decay: float = 0.01
    grad_clip: float = 1.0
    ae_segment_frames: int = 128  # mel frames (1.37 s); a multiple of the x4 downsampling
    vocoder_segment_frames: int = 32  # mel frames (0.34 s)
    kl_weight: float = 1e-4
    # Weight of the low bands' frequency-slope L1 (`pitch_detail_distance`) next to the
    # autoencoder's log-mel L1, over the bands peaking at or below ``ae_pitch_max_hz``; 0 = off.
    ae_pitch_weight: float = 0.0
    ae_pitch_max_hz: float = 2000.0
    gain_db_range: tuple[float, float] = (-12.0, 0.0)
    # Share of the vocoder batch that sees autoencoder reconstructions in stage "both", and in
    # stage "vocoder" (with a frozen autoencoder) ``vocoder_reconstructed_share``: everything
    # the studio renders reaches the vocoder through the autoencoder's decoder, so a vocoder
    # fine-tuned this way learns to voice the mels it will actually get.
    reconstructed_mel_share: float = 0.5
    vocoder_reconstructed_share: float = 0.0
    # Vocoder loss weights. Besides the log-mel and multi-resolution STFT distances, the
    # predicted STFT itself is supervised (APNet-style): log-magnitude, anti-wrapped phase and
    # consistency. Without them the net learns an inconsistent STFT that only sounds right
    # after overlap-add cancellation, and phase coherence comes far more slowly.
    mel_weight: float = 1.0
    stft_weight: float = 1.0
    magnitude_weight: float = 1.0
    phase_weight: float = 0.3
    consistency_weight: float = 1.0
    # Stage "gan": the generator's hinge and feature-matching losses (each averaged over the
    # discriminators) on top of the vocoder's losses above; the discriminators learn alone for
    # their first ``discriminator_warmup_steps`` (a fine-tune's generator is already good, a
    # fresh discriminator's gradient is noise). Widths of the discriminators' first layers.
    adversarial_weight: float = 1.0
    feature_weight: float = 1.0
    discriminator_warmup_steps: int = 0
    period_discriminator_width: int = 16
    resolution_discriminator_width: int = 32

    @classmethod
    def from_dict(cls, data: dict) -> CodecTrainSettings:
        kwargs = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in kwargs.items()})

    def with_overrides(self, items: Iterable[str]) -> CodecTrainSettings:
        """These settings with ``NAME=VALUE`` overrides of scalar fields (typed like the field's
        current value; ``none`` clears an optional one). Unknown names raise ValueError."""
        changes: dict[str, Any] = {}
        for item in items:
            name, sep, text = (part.strip() for part in item.partition("="))
            if not sep or name not in self.__dataclass_fields__:
                raise ValueError(f"{item!r}: expected NAME=VALUE with NAME a codec training "
                                 f"setting ({', '.join(self.__dataclass_fields__)})")
            current = getattr(self, name)
            if isinstance(current, tuple):
                raise ValueError(f"{name} is not a single value")
            if text.lower() == "none" and name == "cooldown_start":
                changes[name] = None
                continue
            kind = float if isinstance(current, float) else int
            try:
                changes[name] = kind(text)
            except ValueError:
                raise ValueError(f"{item!r}: {name} takes a {kind.__name__}") from None
        return dataclasses.replace(self, **changes)


def step_generator(seed: int, stage: str, step: int, stream: int = 0) -> torch.Generator:
    """The generator for one training step: a pure function of (seed, stage, step, stream)."""
    words = np.random.SeedSequence([seed, STAGES.index(stage), step, stream]).generate_state(2)
    return torch.Generator().manual_seed(int(words[0]) << 32 | int(words[1]))


class CodecTrainer:
    """Owns the codec, its optimizers (and stage "gan"'s discriminators) and the checkpoint
    folder of one training run."""

    def __init__(self, out_dir: Path, config: CodecConfig, settings: CodecTrainSettings,
                 seed: int, device: torch.device) -> None:
        self.out_dir = Path(out_dir)
        self.settings = settings
        self.seed = seed
        self.device = device
        self.codec = seeded(lambda: Codec(config), seed)
        self.codec.to(device).train()
        self.optimizers = {
            "autoencoder": adamw(self.codec.autoencoder, settings),
            "vocoder": adamw(self.codec.vocoder, settings),
        }
        self.steps = dict.fromkeys(STAGES, 0)
        self.discriminators: Discriminators | None = None  # stage "gan" creates them
        frontend = self.codec.mel_frontend
        # The bands the slope term looks at: fixed by the mel front end and the settings.
        self.pitch_bins = mel_bins_below(frontend.filters, frontend.config.sample_rate,
                                         settings.ae_pitch_max_hz)

    # ---- checkpoints ---------------------------------------------------------------------------
    def _modules(self) -> dict[str, nn.Module]:
        modules: dict[str, nn.Module] = {"autoencoder": self.codec.autoencoder,
                                         "vocoder": self.codec.vocoder}
        if self.discriminators is not None:
            modules["discriminator"] = self.discriminators
        return modules

    def _discriminators(self) -> Discriminators:
        """The discriminators of stage "gan", created (seeded by the run's seed) when first
        needed, with their own optimizer."""
        if self.discriminators is None:
            config = DiscriminatorConfig(
                period_width=self.settings.period_discriminator_width,
                resolution_width=self.settings.resolution_discriminator_width)
            self.discriminators = seeded(lambda: Discriminators(config), self.seed)
            self.discriminators.to(self.device).train()
            self.optimizers["discriminator"] = adamw(self.discriminators, self.settings)
        return self.discriminators

    def save(self, folder: Path | None = None, with_optimizer: bool = True) -> Path:
        """Write a complete checkpoint next to the old one, then swap it into place.

        Snapshots kept only for evaluation skip the optimizer moments (twice the weights' size).
        """
        target = folder or self.out_dir / CHECKPOINT
        staging = target.with_name(target.name + ".tmp")
        shutil.rmtree(staging, ignore_errors=True)
        for name, module in self._modules().items():
            save_tensors_atomic(staging / f"{name}.safetensors", module.state_dict())
            if with_optimizer:
                save_tensors_atomic(staging / f"optim_{name}.safetensors",
                                    optimizer_tensors(self.optimizers[name]))
        write_json_atomic(staging / "state.json", {
            "seed": self.seed,
            "steps": self.steps,
            "config": self.codec.config.to_dict(),
            "settings": asdict(self.settings),
        })
        previous = target.with_name(target.name + ".old")
        shutil.rmtree(previous, ignore_errors=True)
        if target.exists():
            os.replace(target, previous)
        os.replace(staging, target)
        shutil.rmtree(previous, ignore_errors=True)
        return target

    def load(self, folder: Path) -> None:
        from safetensors.torch import load_file

        state = json.loads((folder / "state.json").read_text(encoding="utf-8"))
        # Compare after a round trip through from_dict: lists equal tuples, and fields added
        # since the checkpoint was written take their defaults.
        if CodecConfig.from_dict(state["config"]).to_dict() != self.codec.config.to_dict():
            raise ValueError(f"checkpoint {folder} was trained with a different codec config")
        if (folder / "discriminator.safetensors").exists():
            self._discriminators()
        for name, module in self._modules().items():
            module.load_state_dict(load_file(str(folder / f"{name}.safetensors"),
                                             device=str(self.device)))
            moments = folder / f"optim_{name}.safetensors"
            if moments.exists():  # a run started from a model folder has none yet
                load_optimizer_tensors(self.optimizers[name],
                                       load_file(str(moments), device=str(self.device)))
        self.steps.update(state["steps"])

    # ---- one step of each stage ----------------------------------------------------------------
    def _learning_rate(self, step: int) -> float:
        s = self.settings
        scale = min(1.0, (step + 1) / max(1, s.warmup_steps))
        if s.cooldown_start is not None and step >= s.cooldown_start:
            progress = min(1.0, (step - s.cooldown_start) / max(1, s.cooldown_steps))
            scale *= 1.0 - 0.9 * progress
        return s.learning_rate * scale

    def _apply(self, name: str, loss: Tensor, step: int) -> None:
        optimizer = self.optimizers[name]
        for group in optimizer.param_groups:
            group["lr"] = self._learning_rate(step)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        norm = nn.utils.clip_grad_norm_(self._modules()[name].parameters(), self.settings.grad_clip)
        # Stop before a NaN reaches the weights: a poisoned checkpoint would be saved next.
        if not (torch.isfinite(loss) and torch.isfinite(norm)):
            raise FloatingPointError(f"non-finite {name} loss or gradient at step {step}")
        optimizer.step()

    def _batch(self, pool: list[Tensor], frames: int, batch: int, gen: torch.Generator) -> Tensor:
        audio = sample_segments(pool, frames * self.codec.config.mel.hop, batch, gen,
                                self.settings.gain_db_range)
        return audio.to(self.device)

    def ae_step(self, pool: list[Tensor], batch: int, step: int, stage: str) -> dict[str, float]:
        gen = step_generator(self.seed, stage, step, stream=0)
        audio = self._batch(pool, self.settings.ae_segment_frames, batch, gen)
        with torch.no_grad():
            mel = self.codec.mel_frontend(audio)
        recon, mean, logvar = self.codec.autoencoder(mel, generator=gen)
        reconstruction, losses = self._reconstruction_loss(recon, mel)
        kl = kl_divergence(mean, logvar)
        self._apply("autoencoder", reconstruction + self.settings.kl_weight * kl, step)
        return {**losses, "ae_kl": kl.item()}

    def _reconstruction_loss(self, recon: Tensor, mel: Tensor) -> tuple[Tensor, dict[str, float]]:
        """The autoencoder's log-mel L1, plus the low bands' slope term where it is weighted."""
        l1 = (recon - mel).abs().mean()
        weight = self.settings.ae_pitch_weight
        if weight <= 0.0:
            return l1, {"ae_mel_l1": l1.item()}
        pitch = pitch_detail_distance(recon, mel, self.pitch_bins)
        return l1 + weight * pitch, {"ae_mel_l1": l1.item(), "ae_pitch": pitch.item()}

    def decoder_step(self, pool: list[Tensor], batch: int, step: int,
                     stage: str) -> dict[str, float]:
        """The autoencoder's decoder alone, from a frozen encoder's posterior samples: the latent
        space, and so a renderer trained in it, stays exactly as it is."""
        gen = step_generator(self.seed, stage, step, stream=0)
        audio = self._batch(pool, self.settings.ae_segment_frames, batch, gen)
        with torch.no_grad():
            mel = self.codec.mel_frontend(audio)
            latent = sample_posterior(*self.codec.autoencoder.encoder(mel), gen)
        loss, losses = self._reconstruction_loss(self.codec.autoencoder.decoder(latent), mel)
        # The encoder has no gradients, so AdamW leaves it (and its weight decay) alone.
        self._apply("autoencoder", loss, step)
        return losses

    def vocoder_step(self, pool: list[Tensor], batch: int, step: int,
                     stage: str) -> dict[str, float]:
        total, losses, _, _ = self._vocoder_losses(pool, batch, step, stage)
        self._apply("vocoder", total, step)
        return losses

    def gan_step(self, pool: list[Tensor], batch: int, step: int,
                 stage: str) -> dict[str, float]:
        """One discriminator update on real and generated audio, then one vocoder update on
        its own losses plus the adversarial and feature-matching terms."""
        discriminators = self._discriminators()
        total, losses, generated, audio = self._vocoder_losses(pool, batch, step, stage)
        d_loss = discriminator_loss(discriminators(audio), discriminators(generated.detach()))
        self._apply("discriminator", d_loss, step)
        losses["disc_hinge"] = d_loss.item()
        if step >= self.settings.discriminator_warmup_steps:
            discriminators.requires_grad_(False)  # this pass only moves the vocoder
            try:
                fake, real = discriminators(generated), discriminators(audio)
                adversarial = generator_loss(fake)
                matching = feature_matching_loss(real, fake)
            finally:
                discriminators.requires_grad_(True)
            total = (total + self.settings.adversarial_weight * adversarial
                     + self.settings.feature_weight * matching)
            losses.update(gen_hinge=adversarial.item(), gen_feature=matching.item())
        self._apply("vocoder", total, step)
        return losses

    def _vocoder_losses(self, pool: list[Tensor], batch: int, step: int, stage: str
                        ) -> tuple[Tensor, dict[str, float], Tensor, Tensor]:
        """(weighted total, the losses as numbers, generated audio, target audio) of one
        vocoder batch."""
        gen = step_generator(self.seed, stage, step, stream=1)
        audio = self._batch(pool, self.settings.vocoder_segment_frames, batch, gen)
        with torch.no_grad():
            true_mel = self.codec.mel_frontend(audio)
            mel = true_mel
            share = (self.settings.reconstructed_mel_share if stage == "both"
                     else self.settings.vocoder_reconstructed_share)
            if share > 0.0:
                # Part of the batch hears the autoencoder's reconstruction of its own mel.
                mean, _ = self.codec.autoencoder.encoder(mel)
                recon = self.codec.autoencoder.decoder(mean)
                pick = torch.rand(batch, generator=gen) < share
                mel = torch.where(pick.to(self.device)[:, None, None], recon, mel)
        frontend, vocoder, s = self.codec.mel_frontend, self.codec.vocoder, self.settings
        magnitude, phase = vocoder.magnitude_phase(mel)
        assert phase is not None  # the phase head is trained whichever phase_init is used
        # Crops start anywhere, so their first frame is as good an anchor as any.
        refined = vocoder.refine(magnitude, vocoder.initial_phase(magnitude, phase))
        generated = vocoder.synthesize(refined)
        resynthesised = frontend.spectrum(generated)
        target = frontend.spectrum(audio)
        generated_mel = frontend.mel_from_magnitude(spectrum_magnitude(resynthesised))
        losses = {
            "voc_mel_l1": (generated_mel - true_mel).abs().mean(),
            "voc_mrstft": multi_resolution_stft_distance(generated, audio)[0],
            "voc_magnitude": log_magnitude_l1(magnitude, target),
            "voc_phase": phase_distance(phase, target),
            "voc_consistency": consistency_distance(refined, resynthesised, target),
        }
        total = (s.mel_weight * losses["voc_mel_l1"] + s.stft_weight * losses["voc_mrstft"]
                 + s.magnitude_weight * losses["voc_magnitude"]
                 + s.phase_weight * losses["voc_phase"]
                 + s.consistency_weight * losses["voc_consistency"])
        return total, {k: v.item() for k, v in losses.items()}, generated, audio

    def train_step(self, stage: str, pool: list[Tensor], batch: int) -> dict[str, float]:
        step = self.steps[stage]
        losses: dict[str, float] = {}
        if stage in ("ae", "both"):
            losses.update(self.ae_step(pool, batch, step, stage))
        if stage in ("vocoder", "both"):
            losses.update(self.vocoder_step(pool, batch, step, stage))
        if stage == "decoder":
            losses.update(self.decoder_step(pool, batch, step, stage))
        if stage == "gan":
            losses.update(self.gan_step(pool, batch, step, stage))
        self.steps[stage] = step + 1
        return losses


def open_trainer(out_dir: Path | str, config: CodecConfig | None = None,
                 settings: CodecTrainSettings | None = None, seed: int = 0,
                 device: str = "auto", resume: bool = True,
                 overrides: Iterable[str] = ()) -> CodecTrainer:
    """A trainer for ``out_dir``: resumed from its checkpoint when there is one and ``resume``;
    ``overrides`` (``NAME=VALUE``) change settings on top (a fine-tune's learning rate), and
    are saved with the next checkpoint."""
    out_dir = Path(out_dir)
    checkpoint = out_dir / CHECKPOINT
    if not checkpoint.exists() and (out_dir / (CHECKPOINT + ".old")).exists():
        checkpoint = out_dir / (CHECKPOINT + ".old")  # a crash between the two renames
    state = None
    if resume and checkpoint.exists():
        state = json.loads((checkpoint / "state.json").read_text(encoding="utf-8"))
        config = config or CodecConfig.from_dict(state["config"])
        settings = settings or CodecTrainSettings.from_dict(state["settings"])
        seed = state["seed"]
    settings = (settings or CodecTrainSettings()).with_overrides(overrides)
    trainer = CodecTrainer(out_dir, config or CodecConfig(), settings, seed,
                           resolve_device(device))
    if state is not None:
        trainer.load(checkpoint)
    return trainer


def train_codec(
    out_dir: Path | str,
    data: Path | str | Iterable[Any],
    steps: int,
    batch_size: int = 8,
    seed: int = 0,
    device: str = "auto",
    resume: bool = True,
    stage: Stage = "both",
    *,
    config: CodecConfig | None = None,
    settings: CodecTrainSettings | None = None,
    checkpoint_every_s: float = 300.0,
    snapshot_every: int = 0,
    num_threads: int | None = None,
    max_clips: int | None = None,
    progress: bool = True,
    overrides: Iterable[str] = (),
) -> None:
    """Train ``stage`` until its step counter reaches ``steps``, checkpointing into ``out_dir``.

    ``data`` is a folder of audio files (wav/flac/ogg/safetensors, 24 kHz mono) or an iterable of
    clips (arrays, tensors, or dicts/objects with an ``audio`` field). ``snapshot_every`` > 0 also
    keeps a copy of the checkpoint every that many steps in ``out_dir/snapshots/`` for evaluation.
    """
    if stage not in STAGES:
        raise ValueError(f"stage must be one of {STAGES}, got {stage!r}")
    if num_threads is not None:
        torch.set_num_threads(num_threads)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    trainer = open_trainer(out_dir, config, settings, seed, device, resume, overrides)
    pool = load_audio_pool(data, trainer.codec.sample_rate, max_clips=max_clips)
    loss_log = out_dir / "losses.jsonl"
    truncate_loss_log(loss_log, trainer.steps if resume else {})
    start = trainer.steps[stage]
    started, last_save = time.time(), time.monotonic()
    bar = tqdm(total=steps, initial=start, desc=f"codec {stage}", disable=not progress,
               dynamic_ncols=True)
    with loss_log.open("a", encoding="utf-8") as log:
        while trainer.steps[stage] < steps:
            losses = trainer.train_step(stage, pool, batch_size)
            done = trainer.steps[stage]
            log.write(json.dumps({"stage": stage, "step": done - 1, **losses}) + "\n")
            bar.update(1)
            bar.set_postfix({k: f"{v:.4f}" for k, v in losses.items()}, refresh=False)
            if snapshot_every > 0 and done % snapshot_every == 0:
                log.flush()
                trainer.save(out_dir / "snapshots" / f"{stage}_{done:07d}", with_optimizer=False)
            if time.monotonic() - last_save >= checkpoint_every_s:
                log.flush()
                trainer.save()
                last_save = time.monotonic()
    bar.close()
    trainer.save()
    seconds = time.time() - started
    append_session(out_dir, {
        "stage": stage,
        "device": str(trainer.device),
        "device_name": torch.cuda.get_device_name(trainer.device)
        if trainer.device.type == "cuda" else platform.processor() or platform.machine(),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "batch_size": batch_size,
        "start_step": start,
        "end_step": trainer.steps[stage],
        "seconds": round(seconds, 2),
        "steps_per_s": round((trainer.steps[stage] - start) / seconds, 4) if seconds else None,
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(started)),
        "clips": len(pool),
    })
