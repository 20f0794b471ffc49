"""Plan a section with the structure transformer: prompt + musical frame -> an editable `Plan`.

Read top to bottom: the prefix (text, style, key, meter, tempo, section kind, energy, length),
the previous section's last bars as context (continuity across sections), the locked bars as
teacher-forced tokens, then grammar-constrained sampling bar by bar (cancellable between bars)
and decoding. Locked bars come back as the very `PlanBar` objects the musician locked.

A sampled score can be diatonic and still be heard in a neighbouring key (a ii-V vamp in A
minor sounds like G major), which no renderer can undo. So unless the first sample's own notes
read clearly in the asked key (`music.key_reading.key_margin` at least `KEY_MARGIN_GOAL`), the
planner draws again from the same random stream, up to `key_attempts` samples, and keeps the
first that does, or else the one that comes closest. On labelled corpus audio a score read
that clearly is heard in its key 79 % of the time, one read barely (margin under 0.05) 46 %.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable

import torch
from torch import Tensor

from melodex_studio.engine.networks.structure_transformer import (
    StructureConditioning,
    StructureTransformer,
    TokenSampling,
)
from melodex_studio.engine.plan_tokens import (
    decode_plan,
    encode_plan,
    level_of,
    lock_restrictions,
    meter_id,
    section_kind_id,
    tempo_bucket,
    to_groups,
    tonic_mode_mask,
)
from melodex_studio.music.key import Key
from melodex_studio.music.key_reading import key_margin
from melodex_studio.music.meter import Meter
from melodex_studio.music.plan import Plan

BarCallback = Callable[[int, int], None]
KEY_ATTEMPTS = 4  # samples drawn at most while the score does not read in the asked key
KEY_MARGIN_GOAL = 0.1  # how clearly it must read (`key_margin`) to stop drawing
CancelFlag = threading.Event | Callable[[], bool] | None


class PlanCancelled(RuntimeError):
    """Raised between bars when the planning job was cancelled."""


def plan_section(
    model: StructureTransformer,
    text_embedding: Tensor,
    key: Key,
    meter: Meter,
    bpm: float,
    section_kind: str,
    energy: float,
    n_bars: int,
    style: str | int | None = None,
    seed: int = 0,
    temperature: float = 1.0,
    top_k: int = 0,
    top_p: float = 1.0,
    previous_plan: Plan | None = None,
    locked_plan: Plan | None = None,
    step_callback: BarCallback | None = None,
    cancel: CancelFlag = None,
    keep_tonic_mode: bool = True,
    key_attempts: int = KEY_ATTEMPTS,
) -> Plan:
    """A plan of `n_bars` bars in `meter`; same inputs and seed give the same plan.

    `locked_plan` (same length and meter) keeps its locked bars: they are fed to the model as
    they are and returned unchanged; only the other bars are sampled. `step_callback(bars_done,
    n_bars)` runs after each bar. `keep_tonic_mode` keeps the tonic chords the model writes
    in a minor key minor (`tonic_mode_mask`: no A major chord in A minor); locked bars keep
    whatever chord they hold. Up to `key_attempts` samples are drawn until one reads clearly in
    `key` (see the module text); `step_callback` follows the first.
    """
    steps_per_bar = meter.sixteenths_per_bar
    if n_bars < 1:
        raise ValueError(f"a section needs at least one bar, got {n_bars}")
    if locked_plan is not None and (
        locked_plan.n_bars != n_bars or locked_plan.steps_per_bar != steps_per_bar
    ):
        raise ValueError(
            f"the locked plan has {locked_plan.n_bars} bars of {locked_plan.steps_per_bar} "
            f"steps, the section {n_bars} bars of {steps_per_bar}"
        )
    if key_attempts < 1:
        raise ValueError(f"key_attempts must be at least 1, got {key_attempts}")
    device = next(model.parameters()).device

    # 1. The prefix: what the musician asked for.
    cond = StructureConditioning.single(
        text_embedding,
        style=model.config.style_id(style),
        key=key.index,
        meter=meter_id(meter),
        tempo=tempo_bucket(bpm),
        section=section_kind_id(section_kind),
        energy=level_of(energy),
        n_bars=n_bars,
    ).to(device)

    # 2. Continuity: the end of the previous section, in this section's key.
    context = None
    if previous_plan is not None and model.config.context_bars > 0:
        tail = previous_plan.bars[-model.config.context_bars :]
        tail_plan = Plan(steps_per_bar=previous_plan.steps_per_bar, bars=tail)
        context = to_groups(encode_plan(tail_plan, key), previous_plan.steps_per_bar)

    # 3. Locked bars become teacher-forced tokens.
    locked = [] if locked_plan is None else locked_plan.locked_bars()
    restrictions = lock_restrictions(locked_plan, key) if locked_plan and locked else None

    # 4. Sampling, bar by bar, cancellable between bars; again while the key does not read.
    def after_bar(bar: int, report: bool) -> None:
        if step_callback is not None and report:
            step_callback(bar + 1, n_bars)
        if _cancelled(cancel) and bar + 1 < n_bars:
            raise PlanCancelled(f"planning cancelled after bar {bar + 1} of {n_bars}")

    generator = torch.Generator(device="cpu").manual_seed(int(seed))
    sampling = TokenSampling(temperature, top_k, top_p)
    chord_mask = tonic_mode_mask(key.mode) if keep_tonic_mode else None
    tries = key_attempts if len(locked) < n_bars else 1  # all locked: nothing to redraw
    best: tuple[float, Plan] | None = None
    for attempt in range(tries):
        if _cancelled(cancel):
            raise PlanCancelled("planning cancelled before it started" if attempt == 0 else
                                f"planning cancelled before key attempt {attempt + 1}")
        tokens = model.generate(
            cond,
            steps_per_bar,
            n_bars,
            generator,
            sampling,
            context=context,
            restrictions=restrictions,
            bar_callback=functools.partial(after_bar, report=attempt == 0),
            chord_mask=chord_mask,
        )
        # 5. Tokens -> plan; locked bars are put back exactly as they were.
        plan = decode_plan(tokens, key, steps_per_bar)
        for index in locked:
            assert locked_plan is not None
            plan = plan.with_bar(index, locked_plan.bars[index])
        margin = key_margin(plan, key)
        if best is None or margin > best[0]:
            best = (margin, plan)
        if margin >= KEY_MARGIN_GOAL:
            break
    assert best is not None
    return best[1]


def _cancelled(cancel: CancelFlag) -> bool:
    if cancel is None:
        return False
    if isinstance(cancel, threading.Event):
        return cancel.is_set()
    return bool(cancel())
