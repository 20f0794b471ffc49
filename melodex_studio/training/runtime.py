"""Process-wide torch settings for the training and evaluation commands, so the command line
(which must not import torch itself) can ask for threads and a device in one call."""

from __future__ import annotations

import torch


def configure_torch(threads: int | None = None, device: str = "auto") -> None:
    """Set the CPU thread count; fail clearly when CUDA is asked for and there is none."""
    if threads:
        torch.set_num_threads(threads)
    if device == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda was asked for but torch sees no CUDA GPU")
