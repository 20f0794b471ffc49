"""What a model backend can do, so the studio offers only that (a greyed-out command says why)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class BackendCapabilities:
    """`repaint`: re-render bars inside a take, the rest kept exactly; `extend`: continue a
    take into new bars; `resume`: restart from a stored checkpoint (vary from a step); `plan`:
    a structure model writes bar-level plans; `max_seconds`: the longest window it renders."""

    generate: bool = True
    repaint: bool = False
    extend: bool = False
    resume: bool = False
    plan: bool = False
    imports: bool = False  # encodes a recording so it can be repainted and varied
    diffusion: bool = True  # samples noise levels (a sampler, a guidance interval); not tokens
    max_seconds: float = 30.0
