"""Train the renderer (`engine.networks.dit`) with rectified flow on cached codec latents.

One network learns generate, repaint and extend: each example's region mask is drawn from
`MaskMix`, the loss counts only region frames, and the text is dropped at random so
classifier-free guidance has an unconditional branch. Times follow a logit-normal law (most
samples mid-way, where the velocity is hardest). An exponential moving average of the weights
is what gets exported: it samples cleaner than the raw weights after a short run.

Run folder: ``checkpoint/`` (model, EMA and optimizer moments as safetensors, ``state.json``),
``losses.jsonl``, ``training_log.json``. Batch k depends only on (seed, k), so a resumed run is
the uninterrupted run.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file
from torch import Tensor
from tqdm import tqdm

from melodex_studio.engine.networks.dit import DiT, DiTConfig, count_parameters
from melodex_studio.engine.sampling import training_pair
from melodex_studio.training.checkpoints import write_checkpoint
from melodex_studio.training.codec_runs import (
    append_session,
    load_optimizer_tensors,
    optimizer_tensors,
    truncate_loss_log,
)
from melodex_studio.training.renderer_data import LatentCache, MaskMix, batches
from melodex_studio.training.runtime import adamw, resolve_device, seeded, warmup_cosine

CHECKPOINT = "checkpoint"


@dataclass(frozen=True)
class RendererTrainSettings:
    learning_rate: float = 4e-4
    min_learning_rate: float = 4e-5
    warmup_steps: int = 300
    weight_decay: float = 0.01
    betas: tuple[float, float] = (0.9, 0.99)
    grad_clip: float = 1.0
    ema_decay: float = 0.999
    crop_frames: int = 128  # 5.5 s: two attention radii, so every patch sees a full window
    time_mean: float = 0.0  # logit-normal times (SD3): sigmoid(N(mean, std))
    time_std: float = 1.0
    mix: MaskMix = field(default_factory=MaskMix)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RendererTrainSettings:
        data = dict(data)
        data["mix"] = MaskMix(**data.get("mix", {}))
        data["betas"] = tuple(data.get("betas", cls.betas))
        return cls(**data)


def learning_rate(settings: RendererTrainSettings, step: int, total: int) -> float:
    """Linear warm-up, then cosine down to the minimum at `total` steps."""
    return warmup_cosine(step, total, settings.warmup_steps, settings.learning_rate,
                         settings.min_learning_rate)


def flow_loss(model: DiT, x0: Tensor, cond: Any, loss_mask: Tensor,
              generator: torch.Generator, time_mean: float = 0.0,
              time_std: float = 1.0) -> Tensor:
    """Masked rectified-flow velocity MSE of one batch (noise and times from `generator`)."""
    device = x0.device
    noise = torch.randn(x0.shape, generator=generator).to(device)
    t = torch.sigmoid(time_mean + time_std * torch.randn(x0.shape[0], generator=generator))
    t = t.to(device)
    # Outside the region x_t is the source noised with the same noise: exactly what
    # `sampling.Repaint` feeds the model at inference. The clean source arrives via `cond`.
    x_t, target = training_pair(x0, noise, t)
    predicted = model(x_t, t, cond)
    weights = loss_mask[:, None].expand_as(predicted)
    return ((predicted - target).square() * weights).sum() / weights.sum().clamp_min(1.0)


class RendererTrainer:
    """The DiT, its EMA copy, the optimizer and the run folder."""

    def __init__(self, out_dir: Path, config: DiTConfig, settings: RendererTrainSettings,
                 seed: int, total_steps: int, device: torch.device) -> None:
        self.out_dir = Path(out_dir)
        self.settings = settings
        self.seed = seed
        self.total_steps = total_steps
        self.device = device
        self.model = seeded(lambda: DiT(config), seed)
        self.model.to(device).train()
        self.ema = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
        self.optimizer = adamw(self.model, settings)
        self.step = 0

    def train_step(self, batch: Any) -> float:
        s = self.settings
        for group in self.optimizer.param_groups:
            group["lr"] = learning_rate(s, self.step, self.total_steps)
        generator = torch.Generator().manual_seed(
            int(np.random.SeedSequence([self.seed, self.step, 7]).generate_state(1)[0]))
        cond = batch.cond.to(self.device)
        loss = flow_loss(self.model, batch.x0.to(self.device), cond,
                         batch.loss_mask.to(self.device), generator, s.time_mean, s.time_std)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), s.grad_clip)
        self.optimizer.step()
        # EMA warms up (short runs would otherwise export mostly the initial weights).
        decay = min(s.ema_decay, (1 + self.step) / (10 + self.step))
        with torch.no_grad():
            for name, value in self.model.state_dict().items():
                self.ema[name].mul_(decay).add_(value.detach(), alpha=1.0 - decay)
        self.step += 1
        return float(loss.item())

    def save(self) -> None:
        write_checkpoint(self.out_dir / CHECKPOINT, {
            "model.safetensors": self.model.state_dict(),
            "ema.safetensors": self.ema,
            "optimizer.safetensors": optimizer_tensors(self.optimizer),
        }, {
            "step": self.step, "seed": self.seed, "total_steps": self.total_steps,
            "config": self.model.config.to_dict(), "settings": self.settings.to_dict(),
        })

    def load(self, folder: Path) -> None:
        self.model.load_state_dict(load_file(str(folder / "model.safetensors")))
        self.ema = {k: v.to(self.device) for k, v in
                    load_file(str(folder / "ema.safetensors")).items()}
        tensors = load_file(str(folder / "optimizer.safetensors"))
        load_optimizer_tensors(self.optimizer, {k: v.to(self.device) for k, v in tensors.items()})
        self.step = int(json.loads((folder / "state.json").read_text("utf-8"))["step"])


def open_renderer_trainer(out_dir: Path | str, total_steps: int, seed: int = 0,
                          device: str = "auto", config: DiTConfig | None = None,
                          settings: RendererTrainSettings | None = None,
                          resume: bool = True) -> RendererTrainer:
    """A trainer for `out_dir`: resumed from its checkpoint (config and settings included)."""
    out_dir = Path(out_dir)
    folder = out_dir / CHECKPOINT
    if resume and (folder / "state.json").is_file():
        state = json.loads((folder / "state.json").read_text("utf-8"))
        trainer = RendererTrainer(out_dir, DiTConfig.from_dict(state["config"]),
                                  RendererTrainSettings.from_dict(state["settings"]),
                                  int(state["seed"]), total_steps, resolve_device(device))
        trainer.load(folder)
        return trainer
    return RendererTrainer(out_dir, config or DiTConfig(), settings or RendererTrainSettings(),
                           seed, total_steps, resolve_device(device))


def train_renderer(out_dir: Path | str, cache: LatentCache, steps: int, batch_size: int = 16,
                   seed: int = 0, device: str = "auto", resume: bool = True, *,
                   config: DiTConfig | None = None,
                   settings: RendererTrainSettings | None = None,
                   checkpoint_every_s: float = 300.0, num_threads: int | None = None,
                   progress: bool = True, stop_at: int | None = None) -> RendererTrainer:
    """Train until the step counter reaches `steps` (the schedule's length), or `stop_at` if
    given (an interruption: a later call resumes the same schedule); checkpoint on time and
    at the end."""
    if num_threads:
        torch.set_num_threads(num_threads)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    trainer = open_renderer_trainer(out_dir, steps, seed, device, config, settings, resume)
    s = trainer.settings
    log_path = out_dir / "losses.jsonl"
    truncate_loss_log(log_path, trainer.step)
    started, last_save = time.time(), time.time()
    first_step = trainer.step
    stream = batches(cache, trainer.seed, trainer.step, batch_size, s.crop_frames, s.mix)
    bar = tqdm(total=steps, initial=trainer.step, desc="renderer", disable=not progress)
    with log_path.open("a", encoding="utf-8") as log:
        while trainer.step < min(steps, steps if stop_at is None else stop_at):
            loss = trainer.train_step(next(stream))
            log.write(json.dumps({"step": trainer.step - 1, "loss": round(loss, 5)}) + "\n")
            bar.update(1)
            bar.set_postfix(loss=f"{loss:.4f}")
            if time.time() - last_save >= checkpoint_every_s:
                log.flush()
                trainer.save()
                last_save = time.time()
    bar.close()
    trainer.save()
    append_session(out_dir, {
        "stage": "renderer", "device": str(trainer.device), "threads": torch.get_num_threads(),
        "from_step": first_step, "to_step": trainer.step, "seconds": time.time() - started,
        "batch_size": batch_size, "parameters": count_parameters(trainer.model),
        "examples": cache.n_examples,
    })
    return trainer


def ema_model(run_dir: Path | str) -> DiT:
    """The run's EMA weights as an eval-mode DiT on the CPU."""
    folder = Path(run_dir) / CHECKPOINT
    state = json.loads((folder / "state.json").read_text("utf-8"))
    model = DiT(DiTConfig.from_dict(state["config"]))
    model.load_state_dict(load_file(str(folder / "ema.safetensors")))
    return model.eval()


def export_renderer(run_dir: Path | str, model_dir: Path | str,
                    extra: dict[str, Any] | None = None) -> None:
    """Write the EMA weights (stored as float16, see ``DiT.save_pretrained``) into a model."""
    run_dir = Path(run_dir)
    state = json.loads((run_dir / CHECKPOINT / "state.json").read_text("utf-8"))
    log_path = run_dir / "training_log.json"
    log = json.loads(log_path.read_text("utf-8")) if log_path.exists() else {}
    ema_model(run_dir).save_pretrained(model_dir, extra={
        "training": {"steps": state["step"], "seed": state["seed"],
                     "settings": state["settings"], "sessions": log.get("sessions", [])},
        **(extra or {}),
    })
