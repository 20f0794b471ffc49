from __future__ import annotations

import pytest
from pydantic import ValidationError

from melodex_studio.music import Chord, DrumVoice, Meter, Plan, PlanBar, PlanNote

STEPS = Meter.parse("4/4").sixteenths_per_bar
BACKBEAT = tuple(
    (DrumVoice.KICK if step % 8 == 0 else 0)
    | (DrumVoice.SNARE if step % 8 == 4 else 0)
    | (DrumVoice.CLOSED_HAT if step % 2 == 0 else 0)
    for step in range(STEPS)
)


def make_bar(chord: str | None = "Am", **changes: object) -> PlanBar:
    fields: dict[str, object] = {
        "chord": chord,
        "drums": BACKBEAT,
        "bass": (PlanNote(step=0, length=8, degree=0),),
        "melody": (PlanNote(step=4, length=2, degree=4), PlanNote(step=8, length=4, degree=-1)),
    }
    return PlanBar(**(fields | changes))


def test_valid_plan() -> None:
    plan = Plan(steps_per_bar=STEPS, bars=(make_bar("Am"), make_bar("F"), make_bar("C/G")))
    assert plan.n_bars == 3
    assert plan.chords() == ["Am", "F", "C/G"]
    assert plan.bars[2].chord_value() == Chord(0, "maj", 7)
    assert plan.bars[0].drums[0] == DrumVoice.KICK | DrumVoice.CLOSED_HAT
    assert Plan.model_validate_json(plan.model_dump_json()) == plan


def test_chords_are_canonicalised() -> None:
    assert make_bar("F#min7").chord == "F#m7"
    assert make_bar("Gbm7").chord == "F#m7"
    assert make_bar("CΔ7/E").chord == "Cmaj7/E"
    assert make_bar(None).chord_value() is None


def test_nonsense_chord_is_a_validation_error_quoting_it() -> None:
    with pytest.raises(ValidationError, match="'H#m' is not a chord"):
        make_bar("H#m")


def test_wrong_drum_length_rejected() -> None:
    short = make_bar(drums=BACKBEAT[:12])
    with pytest.raises(ValidationError, match="bar 2 has 12 drum steps, expected 16"):
        Plan(steps_per_bar=STEPS, bars=(make_bar(), short))


def test_note_past_the_bar_and_bad_masks_rejected() -> None:
    late = make_bar(drums=(0,) * 12, melody=(PlanNote(step=12, length=1, degree=0),))
    with pytest.raises(ValidationError, match="step 12"):
        Plan(steps_per_bar=12, bars=(make_bar(drums=(0,) * 12, melody=()), late))
    with pytest.raises(ValidationError, match="drum hit mask"):
        make_bar(drums=(0,) * 15 + (1 << 10,))


def test_with_bar_replaces_one_bar_and_keeps_the_original() -> None:
    plan = Plan.empty(4, STEPS)
    edited = plan.with_bar(2, make_bar("Dm7"))
    assert edited.chords() == [None, None, "Dm7", None]
    assert plan.chords() == [None, None, None, None]
    with pytest.raises(IndexError, match="bar 5"):
        plan.with_bar(4, make_bar())


def test_locked_bars() -> None:
    plan = Plan.empty(3, Meter.parse("7/8").sixteenths_per_bar)
    assert plan.steps_per_bar == 14
    assert plan.locked_bars() == []
    locked = make_bar("G", drums=(0,) * 14, locked=True)
    plan = plan.with_bar(1, locked)
    assert plan.locked_bars() == [1]
    assert plan.bars[1].locked
