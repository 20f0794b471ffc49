"""Score the structure transformer's plans on held-out composer sections.

Generation goes through the real pipeline (`pipelines.plan.plan_section`) with each held-out
example's request (prompt, style, key, meter, tempo, kind, energy, length, previous section),
and the same checks run on the composer's own plan for those requests, so every number has a
reference beside it:

- length: the plan has the asked number of bars and the meter's 16th steps per bar;
- chords in key: share of chords whose root is a scale tone of the key;
- drums on the grid: share of kick, snare and clap hits on 8th-note positions;
- downbeats: share of bars with drums that have a hit on beat one.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from tqdm import tqdm

from melodex_studio.engine.networks.structure_transformer import StructureTransformer
from melodex_studio.engine.pipelines.plan import plan_section
from melodex_studio.engine.text_encoder import TextEncoder
from melodex_studio.music.chord import Chord
from melodex_studio.music.plan import DrumVoice, Plan
from melodex_studio.training.structure_data import PlanningRequest, StructureExample

_CORE_VOICES = int(DrumVoice.KICK | DrumVoice.SNARE | DrumVoice.CLAP)
CHECKS = ("length_ok", "chords_in_key", "drums_on_8th_grid", "downbeat_hits")


def plan_checks(plan: Plan, request: PlanningRequest) -> dict[str, float]:
    """The checks of one plan against its request (NaN where a check does not apply, e.g.
    no chords or no drums)."""
    steps = request.meter.sixteenths_per_bar
    length_ok = plan.n_bars == request.n_bars and plan.steps_per_bar == steps and all(
        len(bar.drums) == steps for bar in plan.bars)
    roots = [Chord.parse(bar.chord).root for bar in plan.bars if bar.chord is not None]
    in_key = [request.key.contains(root) for root in roots]
    core = [(step, mask) for bar in plan.bars for step, mask in enumerate(bar.drums)
            if mask & _CORE_VOICES]
    drum_bars = [bar for bar in plan.bars if any(bar.drums)]
    return {
        "length_ok": float(length_ok),
        "chords_in_key": float(np.mean(in_key)) if in_key else float("nan"),
        "drums_on_8th_grid": float(np.mean([s % 2 == 0 for s, _ in core])) if core
        else float("nan"),
        "downbeat_hits": float(np.mean([bool(b.drums[0]) for b in drum_bars])) if drum_bars
        else float("nan"),
    }


def _mean(rows: list[dict[str, float]]) -> dict[str, float]:
    return {name: float(np.nanmean([r[name] for r in rows])) for name in CHECKS}


def generation_checks(model: StructureTransformer, examples: Sequence[StructureExample],
                      encoder: TextEncoder, seed: int = 0, temperature: float = 1.0,
                      top_k: int = 0, top_p: float = 1.0,
                      progress: bool = True) -> dict[str, dict[str, float]]:
    """{"generated": mean checks, "composer": mean checks} over `examples` (example i is
    planned with seed `seed + i`)."""
    generated, reference = [], []
    for offset, example in enumerate(tqdm(examples, desc="plan", disable=not progress)):
        request = example.request
        plan = plan_section(
            model, encoder.encode([request.text])[0], request.key, request.meter, request.bpm,
            request.section_kind, request.energy, request.n_bars, style=request.style,
            seed=seed + offset, temperature=temperature, top_k=top_k, top_p=top_p,
            previous_plan=request.previous_plan,
        )
        generated.append(plan_checks(plan, request))
        reference.append(plan_checks(example.section.plan, request))
    return {"generated": _mean(generated), "composer": _mean(reference)}


def format_table(token_scores: dict[str, float] | None,
                 generation: dict[str, dict[str, float]] | None) -> str:
    """A plain-text table of teacher-forced scores and generation checks."""
    lines = []
    if token_scores:
        lines += ["held-out (teacher forced)      value", "-" * 36]
        first = [name for name in ("loss", "token_accuracy") if name in token_scores]
        rest = sorted(name for name in token_scores if name not in (*first, "step"))
        lines += [f"{name:<30} {token_scores[name]:6.3f}" for name in (*first, *rest)]
    if generation:
        lines += ["", "generation check               model  composer", "-" * 46]
        for name in CHECKS:
            lines.append(f"{name:<30} {generation['generated'][name]:5.3f}  "
                         f"{generation['composer'][name]:8.3f}")
    return "\n".join(lines)
