"""Which float type the networks compute in: bfloat16 on a GPU that has it, when the musician
allows it (Preferences, "Half precision on the GPU"), float32 everywhere else.

Half precision halves a large model's weights in GPU memory (MusicGen large: 13 GB in
float32) and runs them on a recent GPU's tensor cores (not yet measured here: no GPU was
lent). bfloat16 rather than float16: it keeps float32's range, and T5, the prompt encoder of
both large models, is known to overflow float16. A CPU stays in float32: most laptop CPUs
have no bfloat16 arithmetic, and on one that has (the EPYC we develop on) the built-in
planner with bfloat16 weights was slower (0.92 s a plan against 0.75 s). The codecs always run in
float32, and every latent, noise and checkpoint crosses to the studio as float32, so a take's
recorded state is the same kind of data whichever precision rendered it; the same seed and
settings on the same GPU and precision give the same take, bit for bit.
"""

from __future__ import annotations

from typing import Literal

import torch


def compute_dtype(device: torch.device, half_precision: bool) -> torch.dtype:
    """bfloat16 on a CUDA device that computes in it natively, when `half_precision` allows;
    float32 otherwise (a CPU, an older GPU, or the musician asked for full precision)."""
    if half_precision and device.type == "cuda" and torch.cuda.is_bf16_supported(
            including_emulation=False):
        return torch.bfloat16
    return torch.float32


def precision_name(dtype: torch.dtype) -> Literal["float32", "bfloat16"]:
    """How the status bar and the worker's status name `dtype`."""
    return "bfloat16" if dtype == torch.bfloat16 else "float32"
