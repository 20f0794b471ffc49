"""The plan pipeline on a tiny random structure transformer: determinism, locked bars,
continuity context, progress and cancellation."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch

from melodex_studio.engine.key_hearing import KeyHearing
from melodex_studio.engine.networks.structure_transformer import StructureTransformer
from melodex_studio.engine.pipelines import plan as plan_module
from melodex_studio.engine.pipelines.plan import (
    SCORE_MARGIN_GOAL,
    PlanCancelled,
    choose_in_key,
    plan_section,
)
from melodex_studio.music.key import Key
from melodex_studio.music.key_reading import key_margin
from melodex_studio.music.meter import Meter
from melodex_studio.music.plan import Plan, PlanBar, PlanNote

KEY = Key.parse("D minor")
METER = Meter.parse("4/4")


@pytest.fixture(autouse=True)
def one_torch_thread():
    """Tiny models gain nothing from threads; on a busy shared CPU a second one only waits."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module", params=[1, 2], ids=["one-step-groups", "two-step-groups"])
def model(request: pytest.FixtureRequest) -> StructureTransformer:
    """Both layouts: the shipped planner writes two 16th steps a position."""
    return StructureTransformer.tiny_random(seed=1, steps_per_group=request.param)


def text(seed: int = 0) -> torch.Tensor:
    vector = torch.randn(384, generator=torch.Generator().manual_seed(seed))
    return torch.nn.functional.normalize(vector, dim=0)


def plan(model: StructureTransformer, **overrides: object) -> Plan:
    arguments: dict[str, object] = {
        "text_embedding": text(),
        "key": KEY,
        "meter": METER,
        "bpm": 96.0,
        "section_kind": "chorus",
        "energy": 0.7,
        "n_bars": 4,
        "style": "lofi",
        "seed": 0,
        "temperature": 1.0,
        "top_k": 40,
        "top_p": 0.95,
    }
    return plan_section(model, **(arguments | overrides))  # type: ignore[arg-type]


def test_same_seed_same_plan(model: StructureTransformer) -> None:
    first, again, other = plan(model, seed=4), plan(model, seed=4), plan(model, seed=5)
    assert first == again
    assert first != other
    assert first.n_bars == 4 and first.steps_per_bar == 16


def test_meter_sets_the_grid(model: StructureTransformer) -> None:
    result = plan(model, meter=Meter.parse("7/8"), n_bars=2, style="unknown style")
    assert result.steps_per_bar == 14
    assert all(len(bar.drums) == 14 for bar in result.bars)


def test_locked_bars_never_change(model: StructureTransformer) -> None:
    # Bar 1 is outside the token vocabulary (energy 0.37, overlapping notes): it must still
    # come back exactly, flag included.
    odd_bar = PlanBar(
        chord="Bbmaj7/F",
        energy=0.37,
        density=0.81,
        drums=(1, 0, 4, 0) * 4,
        bass=(PlanNote(step=0, length=20, degree=-3),),
        melody=(PlanNote(step=2, length=6, degree=4), PlanNote(step=4, length=2, degree=9)),
        locked=True,
    )
    template = plan(model, seed=100)
    template = template.with_bar(1, odd_bar)
    template = template.with_bar(3, template.bars[3].model_copy(update={"locked": True}))
    seen = set()
    for seed in range(12):
        result = plan(model, seed=seed, temperature=1.3, top_k=0, top_p=1.0, locked_plan=template)
        assert result.bars[1] == odd_bar
        assert result.bars[3] == template.bars[3]
        seen.add((result.bars[0], result.bars[2]))
    assert len(seen) > 1  # the unlocked bars really were re-planned


def test_locked_plan_must_fit_the_section(model: StructureTransformer) -> None:
    with pytest.raises(ValueError, match="locked plan"):
        plan(model, locked_plan=Plan.empty(3, 16))


def test_previous_section_is_context(model: StructureTransformer) -> None:
    previous = plan(model, seed=50, n_bars=6)
    alone = plan(model, temperature=0.0)
    continued = plan(model, temperature=0.0, previous_plan=previous)
    assert continued != alone
    assert continued == plan(model, temperature=0.0, previous_plan=previous)


def test_progress_and_cancel_between_bars(model: StructureTransformer) -> None:
    progress: list[tuple[int, int]] = []
    plan(model, step_callback=lambda done, total: progress.append((done, total)))
    assert progress == [(1, 4), (2, 4), (3, 4), (4, 4)]

    cancel = threading.Event()
    reached: list[int] = []

    def stop_after_second_bar(done: int, total: int) -> None:
        reached.append(done)
        if done == 2:
            cancel.set()

    with pytest.raises(PlanCancelled):
        plan(model, step_callback=stop_after_second_bar, cancel=cancel)
    assert reached == [1, 2]
    with pytest.raises(PlanCancelled):
        plan(model, cancel=lambda: True)


def major_tonic_bars(result: Plan, key: Key) -> list[int]:
    """Bars whose chord sits on the key's tonic with a major third."""
    return [index for index, bar in enumerate(result.bars)
            if (chord := bar.chord_value()) is not None and chord.root == key.tonic
            and 4 in chord.intervals]


def test_a_minor_key_is_planned_on_a_minor_tonic(model: StructureTransformer) -> None:
    """The random model writes D major chords in D minor when left alone; with the tonic's
    mode kept (the default) it never does, and locked bars may still hold one."""
    free = [plan(model, seed=seed, n_bars=8, top_k=0, top_p=1.0, keep_tonic_mode=False,
                 candidates=1) for seed in range(12)]
    assert any(major_tonic_bars(result, KEY) for result in free)
    kept = [plan(model, seed=seed, n_bars=8, top_k=0, top_p=1.0, candidates=1)
            for seed in range(12)]
    assert not any(major_tonic_bars(result, KEY) for result in kept)
    template = kept[0].with_bar(2, kept[0].bars[2].model_copy(
        update={"chord": "D7", "locked": True}))
    result = plan(model, seed=3, n_bars=8, locked_plan=template)
    assert result.bars[2].chord == "D7" and major_tonic_bars(result, KEY) == [2]


def test_tonic_mode_mask_spares_thirdless_chords_other_degrees_and_major_keys() -> None:
    from melodex_studio.engine.plan_tokens import tonic_mode_mask
    from melodex_studio.music.chord import Chord
    from melodex_studio.music.key import Mode

    mask = tonic_mode_mask(Mode.MINOR)
    assert mask is not None and mask[0]  # "no chord" stays allowed

    def allowed(root: int, quality: str) -> bool:
        return bool(mask[1 + Chord(root, quality).token])

    assert not allowed(0, "maj") and not allowed(0, "7") and not allowed(0, "maj7")
    assert allowed(0, "min") and allowed(0, "m7") and allowed(0, "5") and allowed(0, "sus4")
    assert allowed(3, "maj") and allowed(7, "7")  # III and the harmonic-minor V7
    assert tonic_mode_mask(Mode.MAJOR) is None


def test_major_keys_are_planned_as_before(model: StructureTransformer) -> None:
    major = Key.parse("D major")
    for seed in range(4):
        assert plan(model, key=major, seed=seed) == plan(model, key=major, seed=seed,
                                                          keep_tonic_mode=False)


def spy_on_choice(monkeypatch: pytest.MonkeyPatch) -> list[tuple[list[Plan], object]]:
    """Records the candidates and the ear each plan_section call chooses among and with."""
    seen: list[tuple[list[Plan], object]] = []

    def spy(plans: list[Plan], key: Key, hearing: KeyHearing | None) -> Plan:
        seen.append((plans, hearing))
        return choose_in_key(plans, key, hearing)

    monkeypatch.setattr(plan_module, "choose_in_key", spy)
    return seen


def test_candidates_are_drawn_together_and_one_heard_in_key_is_kept(
        model: StructureTransformer, monkeypatch: pytest.MonkeyPatch) -> None:
    seen = spy_on_choice(monkeypatch)
    chosen = [plan(model, seed=seed, n_bars=4) for seed in range(6)]
    assert [plan(model, seed=seed, n_bars=4) for seed in range(6)] == chosen  # one per seed
    for (candidates, hearing), result in zip(seen, chosen, strict=False):
        assert hearing is None and len(candidates) == 8  # the tiny model has no ear
        assert len({c.model_dump_json() for c in candidates}) > 1  # they are different plans
        margins = [key_margin(c, KEY) for c in candidates]
        kept = candidates.index(result)
        clear = [i for i, m in enumerate(margins) if m >= SCORE_MARGIN_GOAL]
        assert kept == (clear[0] if clear else int(np.argmax(margins)))
    with pytest.raises(ValueError, match="candidates"):
        plan(model, candidates=0)


def test_a_model_with_an_ear_chooses_by_it(model: StructureTransformer,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    seen = spy_on_choice(monkeypatch)
    ear = KeyHearing.identity()
    monkeypatch.setattr(model, "key_hearing", ear)
    plan(model, seed=2)
    assert seen[-1][1] is ear


def test_with_every_bar_locked_there_is_nothing_to_choose(
        model: StructureTransformer, monkeypatch: pytest.MonkeyPatch) -> None:
    template = plan(model, seed=1, n_bars=2)
    locked = Plan(steps_per_bar=template.steps_per_bar,
                  bars=tuple(bar.model_copy(update={"locked": True}) for bar in template.bars))
    seen = spy_on_choice(monkeypatch)
    assert plan(model, seed=5, n_bars=2, locked_plan=locked) == locked
    assert len(seen[-1][0]) == 1


def test_the_first_plan_heard_clearly_wins_else_the_clearest() -> None:
    cadence = Plan(steps_per_bar=16, bars=tuple(
        PlanBar(chord=c, drums=(0,) * 16) for c in ("Dm", "Gm", "A7", "Dm")))
    vamp = Plan(steps_per_bar=16, bars=tuple(
        PlanBar(chord=c, drums=(0,) * 16) for c in ("Em7", "A7") * 2))  # D major's ii-V
    assert key_margin(cadence, KEY) >= SCORE_MARGIN_GOAL > key_margin(vamp, KEY)
    again = cadence.model_copy()
    assert choose_in_key([vamp, cadence, again], KEY, None) is cadence  # the first clear one
    assert choose_in_key([vamp], KEY, None) == vamp
    deaf = KeyHearing(np.zeros((3, 12)))  # hears nothing: every margin 0, below the goal
    assert choose_in_key([vamp, cadence], KEY, deaf) == vamp  # the first of equals

