"""The planner's ear: predicted chroma of a score, its margin, storage with a model, and the
least-squares fit that makes it."""

from __future__ import annotations

import json

import numpy as np
import pytest

from melodex_studio.engine.key_hearing import COMPONENT, KeyHearing
from melodex_studio.engine.weights import ModelLoadError, merge_component_config
from melodex_studio.music.key import Key
from melodex_studio.music.key_reading import key_margin, plan_part_weights, plan_pitch_weights
from melodex_studio.music.plan import Plan, PlanBar, PlanNote
from melodex_studio.training.key_hearing_fit import (
    HearingExamples,
    fit_key_hearing,
    format_summary,
    summary_rows,
)

A_MINOR = Key.parse("A minor")


def section(chords: list[str], bass_degree: int | None = 0) -> Plan:
    bass = () if bass_degree is None else (PlanNote(step=0, length=16, degree=bass_degree),)
    melody = (PlanNote(step=0, length=8, degree=2), PlanNote(step=8, length=8, degree=4))
    return Plan(steps_per_bar=16, bars=tuple(
        PlanBar(chord=chord, drums=(0,) * 16, bass=bass, melody=melody) for chord in chords))


def test_part_weights_split_the_score_and_sum_to_its_pitch_weights() -> None:
    plan = section(["Am", "Dm", "Am", "E"])
    parts = plan_part_weights(plan, A_MINOR)
    assert parts.shape == (3, 12)
    assert parts[1, 9] == 4  # the bass holds A under all four bars
    assert parts[2, 0] == parts[2, 4] == 2  # the melody: C and E, half a bar each, four times
    assert parts[0, 8] == 1  # G#: only in the E chord
    np.testing.assert_array_equal(parts.sum(axis=0), plan_pitch_weights(plan, A_MINOR))


def test_the_identity_ear_hears_the_score() -> None:
    for chords in (["Am", "Dm", "E", "Am"], ["Dm7", "G7"] * 2, ["C", "F", "G", "C"]):
        plan = section(chords)
        assert KeyHearing.identity().margin(plan, A_MINOR) == pytest.approx(
            key_margin(plan, A_MINOR), abs=1e-12)


def test_a_bass_heard_with_its_overtones_can_turn_minor_into_major() -> None:
    """A tonic bass whose 5th partial (the major third) is loud: the score reads in A minor,
    the ear that hears the partial hears A major. This is the failure the ear exists for."""
    plan = section(["A5", "A5", "D5", "A5"], bass_degree=0)  # power chords: no third written
    partials = KeyHearing.identity().kernels.copy()
    partials[1, 4] = 1.5  # the bass's major third above
    partials[1, 7] = 1.0  # and its fifth
    heard = Key.from_index(int(np.argmax(Key.correlations(
        KeyHearing(partials).heard(plan_part_weights(plan, A_MINOR))))))
    assert heard == Key.parse("A major")
    assert KeyHearing(partials).margin(plan, A_MINOR) < 0.0


def test_hearing_shifts_with_the_score() -> None:
    kernels = np.random.default_rng(0).normal(size=(3, 12))
    parts = np.random.default_rng(1).random((3, 12))
    ear = KeyHearing(kernels)
    np.testing.assert_allclose(ear.heard(np.roll(parts, 5, axis=1)), np.roll(ear.heard(parts), 5))


def test_stored_with_a_model_and_read_back(tmp_path) -> None:
    (tmp_path / "config.json").write_text("{}", encoding="utf-8")
    assert KeyHearing.from_model_dir(tmp_path) is None  # a model without an ear reads scores
    ear = KeyHearing(np.arange(36.0).reshape(3, 12) / 7.0, {"fitted_on": 12})
    merge_component_config(tmp_path, COMPONENT, ear.to_dict())
    back = KeyHearing.from_model_dir(tmp_path)
    assert back is not None and back.info["fitted_on"] == 12
    np.testing.assert_allclose(back.kernels, ear.kernels, atol=1e-6)


@pytest.mark.parametrize("section_text", [
    {"kernels": [[1.0] * 12] * 2},  # two parts, not three
    {"kernels": [[1.0] * 11] * 3},
    {"kernels": [["loud"] * 12] * 3},
    {"parts": ["chords"]},  # no kernels at all
    "not an object",
])
def test_a_broken_ear_is_refused_with_the_file_named(tmp_path, section_text) -> None:
    (tmp_path / "config.json").write_text(json.dumps({COMPONENT: section_text}), encoding="utf-8")
    with pytest.raises(ModelLoadError, match="key_hearing"):
        KeyHearing.from_model_dir(tmp_path)


def test_the_fit_finds_the_ear_that_made_the_chroma() -> None:
    """Chroma made by known kernels (scaled and offset per clip, as a judge's correlation
    ignores both) gives back an ear that hears new scores as those kernels do. (The kernels
    themselves are fixed only up to a constant per part, which adds the same to every pitch
    class and so changes no correlation.)"""
    rng = np.random.default_rng(3)
    truth = KeyHearing(np.vstack([np.eye(12)[0] + 0.2 * np.eye(12)[7],
                                  2.5 * np.eye(12)[0] + 0.8 * np.eye(12)[4],
                                  0.6 * np.eye(12)[0]]))

    def scores(count: int) -> np.ndarray:
        return rng.random((count, 3, 12)) * (rng.random((count, 3, 12)) < 0.4)

    parts = scores(300)
    chroma = np.stack([truth.heard(p) * rng.uniform(0.5, 3.0) + rng.uniform(-1, 1)
                       for p in parts])
    fitted = fit_key_hearing(HearingExamples(parts, chroma, rng.integers(0, 24, 300)))
    assert fitted.info["fitted_on"] == 300
    fresh = scores(200)
    agreement = [np.corrcoef(fitted.heard(p), truth.heard(p))[0, 1] for p in fresh]
    assert np.mean(agreement) > 0.99
    same_key = [np.argmax(Key.correlations(fitted.heard(p)))
                == np.argmax(Key.correlations(truth.heard(p))) for p in fresh]
    assert np.mean(same_key) > 0.95
    blind = KeyHearing.identity()  # the score's reading does not hear the loud bass
    assert np.mean([np.corrcoef(blind.heard(p), truth.heard(p))[0, 1] for p in fresh]) < 0.9


def test_the_summary_puts_every_clip_in_one_band() -> None:
    rng = np.random.default_rng(4)
    parts = rng.random((40, 3, 12))
    examples = HearingExamples(parts, parts.sum(axis=1), rng.integers(0, 24, 40))
    rows = summary_rows(KeyHearing.identity(), examples)
    assert sum(row["heard_clips"] for row in rows) == sum(row["score_clips"] for row in rows) == 40
    assert "hearing" in format_summary(rows)


def test_the_structure_model_loads_its_ear_from_its_folder(tmp_path) -> None:
    from melodex_studio.engine.networks.structure_transformer import StructureTransformer

    StructureTransformer.tiny_random(0).save_pretrained(tmp_path)
    assert StructureTransformer.from_pretrained(tmp_path).key_hearing is None
    merge_component_config(tmp_path, COMPONENT, KeyHearing.identity().to_dict())
    ear = StructureTransformer.from_pretrained(tmp_path).key_hearing
    assert ear is not None
    np.testing.assert_array_equal(ear.kernels, KeyHearing.identity().kernels)
