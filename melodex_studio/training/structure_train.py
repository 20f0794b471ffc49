"""Train the structure transformer (`engine.networks.structure_transformer`) on composed plans.

Teacher-forced cross-entropy over every target token, with each slot's softmax restricted to
the token type the plan grammar expects there: sampling (`StructureTransformer.generate`)
only ever chooses within that slice, so probability mass on impossible ids is never learned.
AdamW, linear warm-up then cosine decay, gradient clipping, bf16 autocast (fp32 weights).

Reproducible and resumable: the model is initialised from `seed`, and the batch of step k is
a pure function of (pool, seed, k) (`structure_data.epoch_batches`), so a run restarted from
its checkpoint continues exactly as the uninterrupted run would. Run folder: ``data/`` (the
example pools), ``checkpoint/`` (weights and optimizer moments as safetensors, ``state.json``;
written next to the old one and renamed into place), ``losses.jsonl``, ``training_log.json``
and ``held_out.json``.
"""

from __future__ import annotations

import json
import platform
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file
from tqdm import tqdm

from melodex_studio.engine.networks.structure_transformer import (
    StructureConfig,
    StructureTransformer,
)
from melodex_studio.engine.text_encoder import TextEncoder
from melodex_studio.engine.weights import write_json_atomic
from melodex_studio.training.checkpoints import write_checkpoint
from melodex_studio.training.codec_runs import (
    append_session,
    load_optimizer_tensors,
    optimizer_tensors,
    truncate_loss_log,
)
from melodex_studio.training.corpus.styles import STYLES
from melodex_studio.training.runtime import adamw, resolve_device, seeded, warmup_cosine
from melodex_studio.training.structure_loss import evaluate_tokens, plan_token_loss
from melodex_studio.training.structure_pool import StructurePool, build_pool, epoch_batches

CHECKPOINT = "checkpoint"


def shipping_config() -> StructureConfig:
    """The default architecture, knowing the composer's styles (id 0 stays "unspecified")."""
    return StructureConfig(styles=tuple(STYLES))


@dataclass(frozen=True)
class StructureTrainSettings:
    learning_rate: float = 8e-4
    min_learning_rate: float = 6e-5
    warmup_steps: int = 150
    weight_decay: float = 0.05
    betas: tuple[float, float] = (0.9, 0.98)
    grad_clip: float = 1.0
    bf16: bool = True  # autocast; ~1.7x faster on CPU, weights and loss stay fp32
    pool_size: int = 24_000
    held_out_size: int = 256
    corpus_seed: int = 0  # the corpus whose held-out split stays unseen
    bucket_batches: int = 32

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StructureTrainSettings:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        if "betas" in known:
            known["betas"] = tuple(known["betas"])
        return cls(**known)


def learning_rate(settings: StructureTrainSettings, step: int, total: int) -> float:
    """Linear warm-up, then cosine down to the minimum at `total` steps."""
    return warmup_cosine(step, total, settings.warmup_steps, settings.learning_rate,
                         settings.min_learning_rate)


class StructureTrainer:
    """The model, its optimizer, the step counter and the run folder."""

    def __init__(self, out_dir: Path, config: StructureConfig,
                 settings: StructureTrainSettings, seed: int, total_steps: int,
                 device: torch.device) -> None:
        self.out_dir = Path(out_dir)
        self.settings = settings
        self.seed = seed
        self.total_steps = total_steps
        self.device = device
        self.model = seeded(lambda: StructureTransformer(config), seed)
        self.model.to(device).train()
        self.optimizer = adamw(self.model, settings)
        self.step = 0
        self._epoch: tuple[int, int] | None = None  # (epoch, batch size) of `_batches`
        self._batches: list[np.ndarray] = []

    def _autocast(self) -> torch.autocast:
        return torch.autocast(self.device.type, dtype=torch.bfloat16,
                              enabled=self.settings.bf16)

    def train_step(self, pool: StructurePool, rows: np.ndarray) -> tuple[float, float]:
        """One optimizer step on pool rows `rows`; returns (loss, token accuracy)."""
        for group in self.optimizer.param_groups:
            group["lr"] = learning_rate(self.settings, self.step, self.total_steps)
        cond, target, context = pool.batch(rows, self.device)
        with self._autocast():
            logits = self.model(cond, target, context)
        loss, correct, valid = plan_token_loss(logits, target)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.settings.grad_clip)
        if not (torch.isfinite(loss) and torch.isfinite(norm)):  # never save poisoned weights
            raise FloatingPointError(f"non-finite structure loss or gradient at step {self.step}")
        self.optimizer.step()
        self.step += 1
        return float(loss.item()), float(correct.sum() / valid.sum())

    def rows_for_step(self, pool: StructurePool, batch_size: int, step: int) -> np.ndarray:
        per_epoch = max(1, pool.size // batch_size)
        epoch, position = divmod(step, per_epoch)
        if self._epoch != (epoch, batch_size):
            self._epoch = (epoch, batch_size)
            self._batches = epoch_batches(pool, self.seed, epoch, batch_size,
                                          self.settings.bucket_batches)
        return self._batches[position]

    # --- checkpoints -----------------------------------------------------------------------

    def save(self, batch_size: int) -> None:
        """Write a complete checkpoint beside the old one, then rename it into place."""
        write_checkpoint(self.out_dir / CHECKPOINT, {
            "model.safetensors": self.model.state_dict(),
            "optimizer.safetensors": optimizer_tensors(self.optimizer),
        }, {
            "step": self.step, "seed": self.seed, "total_steps": self.total_steps,
            "batch_size": batch_size, "examples_seen": self.step * batch_size,
            "config": self.model.config.to_dict(), "settings": self.settings.to_dict(),
        })

    def load(self, folder: Path) -> None:
        self.model.load_state_dict(load_file(str(folder / "model.safetensors"),
                                             device=str(self.device)))
        tensors = load_file(str(folder / "optimizer.safetensors"), device=str(self.device))
        load_optimizer_tensors(self.optimizer, tensors)
        self.step = int(json.loads((folder / "state.json").read_text("utf-8"))["step"])


def checkpoint_folder(run_dir: Path) -> Path | None:
    """The run's checkpoint; after a crash between the two renames, the previous one."""
    for name in (CHECKPOINT, CHECKPOINT + ".old"):
        if (run_dir / name / "state.json").is_file():
            return run_dir / name
    return None


def open_structure_trainer(out_dir: Path | str, total_steps: int, seed: int = 0,
                           device: str = "auto", config: StructureConfig | None = None,
                           settings: StructureTrainSettings | None = None,
                           resume: bool = True) -> StructureTrainer:
    """A trainer for `out_dir`, resumed (config, settings and seed included) when it has a
    checkpoint and `resume` is set."""
    out_dir = Path(out_dir)
    folder = checkpoint_folder(out_dir) if resume else None
    if folder is None:
        return StructureTrainer(out_dir, config or shipping_config(),
                                settings or StructureTrainSettings(), seed, total_steps,
                                resolve_device(device))
    state = json.loads((folder / "state.json").read_text("utf-8"))
    trainer = StructureTrainer(out_dir, StructureConfig.from_dict(state["config"]),
                               StructureTrainSettings.from_dict(state["settings"]),
                               int(state["seed"]), total_steps, resolve_device(device))
    trainer.load(folder)
    return trainer


def run_pools(out_dir: Path, config: StructureConfig, settings: StructureTrainSettings,
              encoder: TextEncoder | None = None,
              progress: bool = True) -> tuple[StructurePool, StructurePool]:
    """(training pool, held-out pool) of a run, composed and embedded on first use."""
    if encoder is None:
        from melodex_studio.engine.text_encoder import MiniLMTextEncoder

        encoder = MiniLMTextEncoder(cache_size=64)
    s = settings
    data = Path(out_dir) / "data"
    train = build_pool(data / f"train-{s.corpus_seed}-{s.pool_size}.safetensors", config,
                       encoder, s.corpus_seed, s.pool_size, False, progress=progress)
    held = build_pool(data / f"held-out-{s.corpus_seed}-{s.held_out_size}.safetensors", config,
                      encoder, s.corpus_seed, s.held_out_size, True, progress=progress)
    return train, held


def train_structure(out_dir: Path | str, steps: int, batch_size: int = 16, seed: int = 0,
                    device: str = "auto", resume: bool = True,
                    num_threads: int | None = None, checkpoint_every_s: float = 180.0,
                    progress: bool = True, *, config: StructureConfig | None = None,
                    settings: StructureTrainSettings | None = None,
                    text_encoder: TextEncoder | None = None, stop_at: int | None = None,
                    max_seconds: float | None = None) -> StructureTrainer:
    """Train until the step counter reaches `steps` (the cosine schedule's length), `stop_at`
    or `max_seconds` of this session (interruptions: a later call resumes the same schedule).
    Checkpoints on time and at the end, then scores the held-out pool."""
    if num_threads:
        torch.set_num_threads(num_threads)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    trainer = open_structure_trainer(out_dir, steps, seed, device, config, settings, resume)
    pool, held = run_pools(out_dir, trainer.model.config, trainer.settings, text_encoder,
                           progress)
    log_path = out_dir / "losses.jsonl"
    truncate_loss_log(log_path, trainer.step)
    started = last_save = time.time()
    first_step = trainer.step
    end = steps if stop_at is None else min(steps, stop_at)
    recent: list[float] = []
    bar = tqdm(total=steps, initial=trainer.step, desc="structure", disable=not progress,
               dynamic_ncols=True)
    with log_path.open("a", encoding="utf-8") as log:
        while trainer.step < end:
            if max_seconds is not None and time.time() - started >= max_seconds:
                break
            rows = trainer.rows_for_step(pool, batch_size, trainer.step)
            loss, accuracy = trainer.train_step(pool, rows)
            recent = [*recent[-99:], loss]
            log.write(json.dumps({
                "step": trainer.step - 1, "loss": round(loss, 5), "accuracy": round(accuracy, 4),
                "lr": learning_rate(trainer.settings, trainer.step - 1, steps),
                "seconds": round(time.time() - started, 2)}) + "\n")
            bar.update(1)
            bar.set_postfix(loss=f"{loss:.3f}", acc=f"{accuracy:.3f}", refresh=False)
            if time.time() - last_save >= checkpoint_every_s:
                log.flush()
                trainer.save(batch_size)
                last_save = time.time()
    bar.close()
    trainer.save(batch_size)
    seconds = time.time() - started
    scores = evaluate_tokens(trainer.model, held, batch_size)
    write_json_atomic(out_dir / "held_out.json", {"step": trainer.step, **scores})
    append_session(out_dir, {
        "stage": "structure", "device": str(trainer.device),
        "device_name": torch.cuda.get_device_name(trainer.device)
        if trainer.device.type == "cuda" else platform.processor() or platform.machine(),
        "threads": torch.get_num_threads(), "torch": torch.__version__,
        "from_step": first_step, "to_step": trainer.step, "seconds": round(seconds, 2),
        "seconds_per_step": round(seconds / max(1, trainer.step - first_step), 4),
        "batch_size": batch_size, "pool": pool.size, "held_out_pool": held.size,
        "train_loss_last_100": float(np.mean(recent)) if recent else None,
        "held_out": scores,
    })
    return trainer


def run_model(run_dir: Path | str) -> StructureTransformer:
    """The run's latest weights as an eval-mode model on the CPU."""
    folder = checkpoint_folder(Path(run_dir))
    if folder is None:
        raise FileNotFoundError(f"{run_dir} has no structure checkpoint")
    state = json.loads((folder / "state.json").read_text("utf-8"))
    model = StructureTransformer(StructureConfig.from_dict(state["config"]))
    model.load_state_dict(load_file(str(folder / "model.safetensors")))
    return model.eval()


def export_structure(run_dir: Path | str, model_dir: Path | str,
                     extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Write structure.safetensors and the "structure" part of config.json into `model_dir`
    (other components of that config.json are kept); returns the written fragment."""
    run_dir, model_dir = Path(run_dir), Path(model_dir)
    folder = checkpoint_folder(run_dir)
    assert folder is not None  # run_model raised otherwise
    model = run_model(run_dir)
    state = json.loads((folder / "state.json").read_text("utf-8"))
    log_path, held_path = run_dir / "training_log.json", run_dir / "held_out.json"
    log = json.loads(log_path.read_text("utf-8")) if log_path.exists() else {}
    model.save_pretrained(model_dir, extra={
        "training": {"steps": state["step"], "seed": state["seed"],
                     "batch_size": state.get("batch_size"), "settings": state["settings"],
                     "sessions": log.get("sessions", [])},
        "held_out": json.loads(held_path.read_text("utf-8")) if held_path.exists() else None,
        **(extra or {}),
    })
    return json.loads((model_dir / "config.json").read_text("utf-8"))["structure"]
