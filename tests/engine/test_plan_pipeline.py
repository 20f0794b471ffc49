"""The plan pipeline on a tiny random structure transformer: determinism, locked bars,
continuity context, progress and cancellation."""

from __future__ import annotations

import threading

import pytest
import torch

from melodex_studio.engine.networks.structure_transformer import StructureTransformer
from melodex_studio.engine.pipelines.plan import PlanCancelled, plan_section
from melodex_studio.music.key import Key
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


@pytest.fixture(scope="module")
def model() -> StructureTransformer:
    return StructureTransformer.tiny_random(seed=1)


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
