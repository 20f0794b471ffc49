"""Train the codec's plan adapter (`engine.networks.plan_adapter`) with the whole codec frozen.

Data: the renderer's latent cache (latents and control rasters of the training corpus, built
by the same `control_raster` the worker uses) beside the log-mel of each example's audio. The
adapter learns to decode cached latents, jittered a little because a render's latents are not
an encoder's, to the true log-mel, with the plan's raster as a second input. The loss is the
autoencoder's own: log-mel L1 plus the L1 of the frequency slopes of the bands below 2 kHz,
where a semitone is narrower than a band and a chord lives in the bands' relative heights.
A share of the crops keeps only the grid channels of the raster, so frames a plan does not
cover (context around a section) decode no worse than without the adapter.

Run folder: ``mels.safetensors`` (the targets), ``checkpoint/`` (adapter, optimizer moments,
``state.json``), ``losses.jsonl`` and ``training_log.json``. Batch k depends only on (seed, k),
so a resumed run is the uninterrupted run.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
import torch
import torch.nn.functional as F
from safetensors import safe_open
from safetensors.torch import load_file, save_file
from torch import Tensor
from tqdm import tqdm

from melodex_studio.engine.codec import COMPONENT, PLAN_ADAPTER_FILE, Codec
from melodex_studio.engine.control_raster import CHANNEL_INDEX
from melodex_studio.engine.networks.plan_adapter import PlanAdapter, PlanAdapterConfig
from melodex_studio.engine.weights import (
    merge_component_config,
    read_component_config,
    save_tensors_atomic,
)
from melodex_studio.training.checkpoints import write_checkpoint
from melodex_studio.training.codec_data import to_mono
from melodex_studio.training.codec_losses import mel_bins_below, pitch_detail_distance
from melodex_studio.training.codec_runs import (
    append_session,
    load_optimizer_tensors,
    optimizer_tensors,
    truncate_loss_log,
)
from melodex_studio.training.renderer_data import LatentCache, corpus_documents
from melodex_studio.training.runtime import adamw, resolve_device, seeded, warmup_cosine

CHECKPOINT = "checkpoint"
MELS_FILE = "mels.safetensors"
#: Raster channels a plan draws (drums onwards); the grid channels before them stay when a
#: crop's plan is dropped.
FIRST_PLAN_CHANNEL = CHANNEL_INDEX["kick"]


@dataclass(frozen=True)
class PlanAdapterTrainSettings:
    learning_rate: float = 3e-4
    min_learning_rate: float = 3e-5
    warmup_steps: int = 200
    weight_decay: float = 0.0
    betas: tuple[float, float] = (0.9, 0.99)
    grad_clip: float = 1.0
    crop_frames: int = 64  # 2.7 s of latents
    latent_noise: float = 0.1  # Gaussian jitter in normalised latent units
    plan_dropout: float = 0.1  # share of crops that see the grid channels only
    pitch_weight: float = 2.0
    pitch_max_hz: float = 2000.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PlanAdapterTrainSettings:
        data = dict(data)
        data["betas"] = tuple(data.get("betas", cls.betas))
        return cls(**data)


def build_mel_targets(corpus_dir: Path | str, cache: LatentCache, codec: Codec,
                      out: Path, progress: bool = True) -> Tensor:
    """Log-mels [n_mels, 4 N] of the cache's examples, in its order (`corpus_documents` of the
    training split), stacked like its latents; kept at `out` and reused."""
    if out.is_file():
        with safe_open(str(out), "pt") as handle:
            if handle.metadata().get("examples") == str(cache.n_examples):
                return handle.get_tensor("mels")
    documents = corpus_documents(Path(corpus_dir), held_out=False)[: cache.n_examples]
    if len(documents) != cache.n_examples:
        raise ValueError(f"{corpus_dir} has {len(documents)} training examples, the latent "
                         f"cache {cache.n_examples}")
    spf = codec.samples_per_latent_frame
    mels = []
    for index, document in enumerate(tqdm(documents, desc="log-mels", disable=not progress)):
        audio, _ = sf.read(Path(corpus_dir) / "examples" / document["audio"], dtype="float32")
        audio = torch.from_numpy(np.ascontiguousarray(to_mono(audio)))
        frames = int(cache.lengths[index])
        if codec.latent_frames_for(audio.numel()) != frames:
            raise ValueError(f"example {document['audio']} does not match the latent cache")
        audio = F.pad(audio, (0, frames * spf - audio.numel()))
        mels.append(codec.mel(audio)[0].cpu())
    stacked = torch.cat(mels, dim=-1).contiguous()
    out.parent.mkdir(parents=True, exist_ok=True)
    save_file({"mels": stacked}, str(out), metadata={"examples": str(cache.n_examples)})
    return stacked


@dataclass(frozen=True)
class AdapterBatch:
    latents: Tensor  # [b, C, T], normalised
    control: Tensor  # [b, channels, T]
    mels: Tensor  # [b, n_mels, 4T]
    noise: Tensor  # [b, C, T], standard normal


def adapter_batch(cache: LatentCache, mels: Tensor, seed: int, step: int, batch_size: int,
                  crop: int, plan_dropout: float) -> AdapterBatch:
    """Batch `step` of a run seeded `seed`: random crops of examples at least `crop` long."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, step, 11]))
    lengths = cache.lengths.numpy()
    eligible = np.nonzero(lengths >= crop)[0]
    if eligible.size == 0:
        raise ValueError(f"no cached example is {crop} latent frames long")
    chosen = rng.choice(eligible, batch_size)
    offsets = [int(cache.starts[i]) + int(rng.integers(0, lengths[i] - crop + 1)) for i in chosen]
    latents = torch.stack([cache.latents[:, o : o + crop] for o in offsets])
    control = torch.stack([cache.control[:, o : o + crop] for o in offsets]).clone()
    dropped = torch.from_numpy(rng.random(batch_size) < plan_dropout)
    control[dropped, FIRST_PLAN_CHANNEL:] = 0.0
    targets = torch.stack([mels[:, 4 * o : 4 * (o + crop)] for o in offsets])
    generator = torch.Generator().manual_seed(int(rng.integers(0, 2**62)))
    noise = torch.randn(latents.shape, generator=generator)
    return AdapterBatch(latents, control, targets, noise)


class PlanAdapterTrainer:
    """The frozen codec, the adapter being trained, its optimizer and the run folder."""

    def __init__(self, out_dir: Path, codec: Codec, config: PlanAdapterConfig,
                 settings: PlanAdapterTrainSettings, seed: int, total_steps: int,
                 device: torch.device) -> None:
        self.out_dir = Path(out_dir)
        self.settings = settings
        self.seed = seed
        self.total_steps = total_steps
        self.device = device
        self.codec = codec.to(device).eval()
        for parameter in self.codec.parameters():
            parameter.requires_grad_(False)
        auto = codec.config.autoencoder
        self.adapter = seeded(
            lambda: PlanAdapter(config, auto.decoder_dims, codec.config.mel.n_mels), seed)
        self.adapter.to(device).train()
        self.optimizer = adamw(self.adapter, settings)
        self.pitch_bins = mel_bins_below(codec.mel_frontend.filters, codec.sample_rate,
                                         settings.pitch_max_hz)
        self.step = 0

    def train_step(self, batch: AdapterBatch) -> dict[str, float]:
        s = self.settings
        for group in self.optimizer.param_groups:
            group["lr"] = warmup_cosine(self.step, self.total_steps, s.warmup_steps,
                                        s.learning_rate, s.min_learning_rate)
        codec = self.codec
        latents = batch.latents.to(self.device) + s.latent_noise * batch.noise.to(self.device)
        raw = latents * codec.latent_std[:, None] + codec.latent_mean[:, None]
        predicted = self.adapter(codec.autoencoder.decoder, raw, batch.control.to(self.device))
        target = batch.mels.to(self.device)
        l1 = (predicted - target).abs().mean()
        pitch = pitch_detail_distance(predicted, target, self.pitch_bins)
        loss = l1 + s.pitch_weight * pitch
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.adapter.parameters(), s.grad_clip)
        self.optimizer.step()
        self.step += 1
        return {"l1": float(l1.detach()), "pitch": float(pitch.detach())}

    def save(self) -> None:
        write_checkpoint(self.out_dir / CHECKPOINT, {
            "adapter.safetensors": self.adapter.state_dict(),
            "optimizer.safetensors": optimizer_tensors(self.optimizer),
        }, {
            "step": self.step, "seed": self.seed, "total_steps": self.total_steps,
            "config": self.adapter.cfg.to_dict(), "settings": self.settings.to_dict(),
            "latent_space": self.codec.latent_space_id(),
        })

    def load(self, folder: Path) -> None:
        self.adapter.load_state_dict(load_file(str(folder / "adapter.safetensors")))
        tensors = load_file(str(folder / "optimizer.safetensors"))
        load_optimizer_tensors(self.optimizer, {k: v.to(self.device) for k, v in tensors.items()})
        self.step = int(json.loads((folder / "state.json").read_text("utf-8"))["step"])


def open_plan_adapter_trainer(out_dir: Path | str, codec: Codec, total_steps: int, seed: int = 0,
                              device: str = "auto", config: PlanAdapterConfig | None = None,
                              settings: PlanAdapterTrainSettings | None = None,
                              resume: bool = True) -> PlanAdapterTrainer:
    """A trainer for `out_dir`, resumed from its checkpoint when it has one for this codec."""
    out_dir = Path(out_dir)
    folder = out_dir / CHECKPOINT
    if resume and (folder / "state.json").is_file():
        state = json.loads((folder / "state.json").read_text("utf-8"))
        if state.get("latent_space") != codec.latent_space_id():
            raise ValueError(f"the checkpoint in {folder} was trained on another codec")
        trainer = PlanAdapterTrainer(out_dir, codec, PlanAdapterConfig.from_dict(state["config"]),
                                     PlanAdapterTrainSettings.from_dict(state["settings"]),
                                     int(state["seed"]), total_steps, resolve_device(device))
        trainer.load(folder)
        return trainer
    return PlanAdapterTrainer(out_dir, codec, config or PlanAdapterConfig(),
                              settings or PlanAdapterTrainSettings(), seed, total_steps,
                              resolve_device(device))


def train_plan_adapter(out_dir: Path | str, codec: Codec, cache: LatentCache, mels: Tensor,
                       steps: int, batch_size: int = 16, seed: int = 0, device: str = "auto",
                       resume: bool = True, *, settings: PlanAdapterTrainSettings | None = None,
                       config: PlanAdapterConfig | None = None,
                       checkpoint_every_s: float = 300.0, progress: bool = True,
                       stop_at: int | None = None) -> PlanAdapterTrainer:
    """Train until the step counter reaches `steps` (or `stop_at`, an interruption that a later
    call resumes); checkpoint on time and at the end."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    trainer = open_plan_adapter_trainer(out_dir, codec, steps, seed, device, config, settings,
                                        resume)
    s = trainer.settings
    log_path = out_dir / "losses.jsonl"
    truncate_loss_log(log_path, trainer.step)
    started = last_save = time.time()
    first_step = trainer.step
    end = steps if stop_at is None else min(steps, stop_at)
    bar = tqdm(total=steps, initial=trainer.step, desc="plan adapter", disable=not progress)
    with log_path.open("a", encoding="utf-8") as log:
        while trainer.step < end:
            batch = adapter_batch(cache, mels, trainer.seed, trainer.step, batch_size,
                                  s.crop_frames, s.plan_dropout)
            losses = trainer.train_step(batch)
            log.write(json.dumps({"step": trainer.step - 1,
                                  **{k: round(v, 5) for k, v in losses.items()}}) + "\n")
            bar.update(1)
            bar.set_postfix(l1=f"{losses['l1']:.4f}", pitch=f"{losses['pitch']:.4f}")
            if time.time() - last_save >= checkpoint_every_s:
                log.flush()
                trainer.save()
                last_save = time.time()
    bar.close()
    if trainer.step == first_step:  # already trained (a call to export, say): nothing to log
        return trainer
    trainer.save()
    append_session(out_dir, {
        "stage": "plan_adapter", "device": str(trainer.device),
        "threads": torch.get_num_threads(), "from_step": first_step, "to_step": trainer.step,
        "seconds": time.time() - started, "batch_size": batch_size,
        "parameters": sum(p.numel() for p in trainer.adapter.parameters()),
        "examples": cache.n_examples,
    })
    return trainer


def export_plan_adapter(run_dir: Path | str, model_dir: Path | str) -> dict[str, Any]:
    """Write the run's adapter into `model_dir` beside the codec it was trained on."""
    run_dir, model_dir = Path(run_dir), Path(model_dir)
    folder = run_dir / CHECKPOINT
    state = json.loads((folder / "state.json").read_text("utf-8"))
    fragment = read_component_config(model_dir, COMPONENT)
    if state.get("latent_space") != fragment.get("latent_space"):
        raise ValueError(f"{run_dir} was trained on another codec than {model_dir}'s")
    tensors = load_file(str(folder / "adapter.safetensors"))
    # float16 like the renderer (the shipped model has a byte budget); loaded into float32
    # layers, and rounded once here, so decoding stays bit-reproducible.
    sha = save_tensors_atomic(model_dir / PLAN_ADAPTER_FILE,
                              {k: v.to(torch.float16) for k, v in tensors.items()})
    log_path = run_dir / "training_log.json"
    log = json.loads(log_path.read_text("utf-8")) if log_path.exists() else {}
    fragment = {
        **fragment,
        "plan_adapter": state["config"],
        "files": {**fragment["files"], PLAN_ADAPTER_FILE: {
            "sha256": sha, "bytes": (model_dir / PLAN_ADAPTER_FILE).stat().st_size}},
        "plan_adapter_training": {"steps": state["step"], "seed": state["seed"],
                                  "storage_dtype": "float16",
                                  "settings": state["settings"],
                                  "sessions": log.get("sessions", [])},
    }
    merge_component_config(model_dir, COMPONENT, fragment)
    Codec.from_pretrained(model_dir)  # fails loudly if what was written does not load
    return fragment

