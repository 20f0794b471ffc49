"""Process-wide torch settings for the training and evaluation commands, so the command line
(which must not import torch itself) can ask for threads and a device in one call."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, TypeVar

import torch
from torch import nn

from melodex_studio.engine.memory import keep_freed_memory

T = TypeVar("T")


def configure_torch(threads: int | None = None, device: str = "auto") -> None:
    """Set the CPU thread count and the worker's allocator settings (`engine.memory`, so an
    evaluation runs as the studio does); fail clearly when CUDA is asked for and there is none."""
    if threads:
        torch.set_num_threads(threads)
    keep_freed_memory()
    if device == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda was asked for but torch sees no CUDA GPU")


def resolve_device(device: str) -> torch.device:
    """``auto`` picks CUDA when torch sees a GPU, else the CPU; other names pass through."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def warmup_cosine(step: int, total: int, warmup: int, peak: float, floor: float) -> float:
    """Linear warm-up to `peak` over `warmup` steps, then cosine down to `floor` at `total`."""
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return floor + 0.5 * (peak - floor) * (1.0 + math.cos(math.pi * progress))


def seeded(build: Callable[[], T], seed: int) -> T:
    """`build()` with torch's generator seeded to `seed` and the global random stream left as
    it was: a model's initial weights depend on its seed alone, not on what ran before."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build()


def adamw(module: nn.Module, settings: Any) -> torch.optim.AdamW:
    """AdamW over `module` with the run's `learning_rate`, `betas` and `weight_decay`."""
    return torch.optim.AdamW(module.parameters(), lr=settings.learning_rate,
                             betas=settings.betas, weight_decay=settings.weight_decay)
