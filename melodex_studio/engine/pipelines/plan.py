"""Plan a section with the structure transformer: prompt + musical frame -> an editable `Plan`.

Read top to bottom: the prefix (text, style, key, meter, tempo, section kind, energy, length),
the previous section's last bars as context (continuity across sections), the locked bars as
teacher-forced tokens, then grammar-constrained sampling bar by bar (cancellable between bars)
and decoding. Locked bars come back as the very `PlanBar` objects the musician locked.

A sampled score can be diatonic and still be heard in a neighbouring key (a ii-V vamp in A
minor sounds like G major; a minor section over a tonic bass can sound in the parallel major),
which no renderer can undo. So the planner draws `candidates` plans side by side (one batch:
eight cost 1.35-1.9 times one) and keeps the first that will be heard clearly in the asked key,
or else the one that comes closest. "Heard" is the model's ear (`engine.key_hearing`, fitted on
corpus audio) where the model has one, the score's own notes (`music.key_reading`) otherwise.
In the built-in model's evaluation (192 sections), sections whose kept plan the ear reads at
`HEARD_MARGIN_GOAL` or above were heard in their key 128 times in 137, those between 0.1 and
0.2 39 in 47; a goal of 0.25 did no better (169 against 172 sections in key).
Steering the candidates towards the key while they are drawn, a second draw when none is
heard clearly, and an ear fitted per style were measured and not kept (the model card).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from melodex_studio.engine.key_hearing import KeyHearing
from melodex_studio.engine.networks.structure_transformer import (
    StructureConditioning,
    StructureConfig,
    StructureTransformer,
    TokenSampling,
)
from melodex_studio.engine.plan_tokens import (
    TokenGroups,
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
from melodex_studio.engine.sampling import CancelFlag, is_cancelled
from melodex_studio.music.key import Key
from melodex_studio.music.key_reading import key_margin
from melodex_studio.music.meter import Meter
from melodex_studio.music.plan import Plan

BarCallback = Callable[[int, int], None]
PLAN_CANDIDATES = 8  # plans drawn side by side, of which one is kept
HEARD_MARGIN_GOAL = 0.2  # how clearly the ear must hear the key (`KeyHearing.margin`)
SCORE_MARGIN_GOAL = 0.1  # how clearly the score must read in it (`key_margin`), without an ear


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
    candidates: int = PLAN_CANDIDATES,
) -> Plan:
    """A plan of `n_bars` bars in `meter`; same inputs and seed give the same plan.

    `locked_plan` (same length and meter) keeps its locked bars: they are fed to the model as
    they are and returned unchanged; only the other bars are sampled. `step_callback(bars_done,
    n_bars)` runs after each bar. `keep_tonic_mode` keeps the tonic chords the model writes
    in a minor key minor (`tonic_mode_mask`: no A major chord in A minor); locked bars keep
    whatever chord they hold. Of `candidates` plans drawn together the first heard clearly in
    `key` is kept (see the module text), through `model.key_hearing` when it has one.
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
    if candidates < 1:
        raise ValueError(f"candidates must be at least 1, got {candidates}")
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
    context = context_groups(model.config, previous_plan, key)

    # 3. Locked bars become teacher-forced tokens.
    locked = [] if locked_plan is None else locked_plan.locked_bars()
    restrictions = lock_restrictions(locked_plan, key) if locked_plan and locked else None

    # 4. Sampling, bar by bar, cancellable between bars; several candidates side by side.
    def after_bar(bar: int) -> None:
        if step_callback is not None:
            step_callback(bar + 1, n_bars)
        if is_cancelled(cancel) and bar + 1 < n_bars:
            raise PlanCancelled(f"planning cancelled after bar {bar + 1} of {n_bars}")

    if is_cancelled(cancel):
        raise PlanCancelled("planning cancelled before it started")
    sequences = model.generate_many(
        cond,
        steps_per_bar,
        n_bars,
        torch.Generator(device="cpu").manual_seed(int(seed)),
        candidates if len(locked) < n_bars else 1,  # all locked: nothing to choose
        TokenSampling(temperature, top_k, top_p),
        context=context,
        restrictions=restrictions,
        bar_callback=after_bar,
        chord_mask=tonic_mode_mask(key.mode) if keep_tonic_mode else None,
    )

    # 5. Tokens -> plans, locked bars put back exactly as they were; the first heard in key.
    plans = [with_locked_bars(decode_plan(tokens, key, steps_per_bar), locked_plan)
             for tokens in sequences]
    return choose_in_key(plans, key, model.key_hearing)


def context_groups(config: StructureConfig, previous: Plan | None, key: Key) -> TokenGroups | None:
    """The previous section's last bars in this section's key, as the planner reads them
    (training builds its examples with the same call)."""
    if previous is None or config.context_bars <= 0:
        return None
    tail = Plan(steps_per_bar=previous.steps_per_bar, bars=previous.bars[-config.context_bars :])
    return to_groups(encode_plan(tail, key), previous.steps_per_bar, config.steps_per_group)


def with_locked_bars(plan: Plan, locked_plan: Plan | None) -> Plan:
    """`plan` with the locked bars of `locked_plan` put back exactly as the musician locked
    them."""
    if locked_plan is None:
        return plan
    for index in locked_plan.locked_bars():
        plan = plan.with_bar(index, locked_plan.bars[index])
    return plan


def choose_in_key(plans: list[Plan], key: Key, hearing: KeyHearing | None) -> Plan:
    """The first of `plans` heard clearly in `key` (margin at least the goal), else the one
    heard most clearly; `hearing` None reads the scores' own notes."""
    if hearing is None:
        margins = [key_margin(plan, key) for plan in plans]
        goal = SCORE_MARGIN_GOAL
    else:
        margins = [hearing.margin(plan, key) for plan in plans]
        goal = HEARD_MARGIN_GOAL
    clear = [index for index, margin in enumerate(margins) if margin >= goal]
    return plans[clear[0] if clear else max(range(len(plans)), key=margins.__getitem__)]

