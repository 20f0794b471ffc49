"""Validation of the document models: valid values pass, each broken rule fails clearly."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from project_builders import T0, make_take, ref
from pydantic import ValidationError
from safetensors.numpy import load as load_safetensors
from strategies import blob_kinds, projects, projects_with_blobs, sha256_hex

from melodex_studio.music.plan import Plan
from melodex_studio.music.tempo import TempoGrid
from melodex_studio.project.models import (
    MAX_SECTIONS,
    PRESETS,
    Checkpoint,
    GenerationSettings,
    MasterSettings,
    Project,
    Section,
    TakeOperation,
    new_id,
)


def rebuilt(model, **changes):
    """Validate `model`'s fields with `changes` from scratch (as a file would be read)."""
    return type(model).model_validate({**dict(model), **changes})


def error_text(excinfo: pytest.ExceptionInfo[ValidationError]) -> str:
    return str(excinfo.value)


# -- generation settings -----------------------------------------------------------------------


def test_generation_settings_defaults_sit_in_the_social_preset():
    settings_ = GenerationSettings()
    assert settings_.preset == "social"
    assert PRESETS["social"].contains(settings_.guidance)
    assert settings_.guidance_interval == (0.0, 0.75)  # the last quarter unguided
    assert (settings_.steps, settings_.sampler) == (16, "euler")
    stored = GenerationSettings.model_validate_json(settings_.model_dump_json())
    assert "steps" in settings_.model_dump() and stored.steps == 16  # a take keeps its steps
    assert GenerationSettings.model_validate({"steps": 24}).steps == 24  # files written with 24


@pytest.mark.parametrize(("name", "low", "high"), [("film", 1, 2), ("sound_design", 7, 10)])
def test_presets_follow_the_brief(name, low, high):
    preset = PRESETS[name]
    assert (preset.guidance_min, preset.guidance_max) == (low, high)
    made = GenerationSettings.for_preset(name, seed=3)
    assert made.preset == name and made.seed == 3
    assert low <= made.guidance <= high


def test_for_preset_refuses_an_unknown_name():
    with pytest.raises(ValueError, match="unknown preset 'loud'"):
        GenerationSettings.for_preset("loud")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"guidance": 20.5}, "less than or equal to 20"),
        ({"guidance": float("nan")}, "finite number"),
        ({"guidance_interval": (0.6, 0.4)}, "0 <= start < end <= 1"),
        ({"guidance_interval": (0.0, 1.5)}, "0 <= start < end <= 1"),
        ({"steps": 0}, "greater than or equal to 1"),
        ({"steps": 201}, "less than or equal to 200"),
        ({"seed": 2**63}, "less than or equal to"),
        ({"sampler": "dpm"}, "'euler' or 'heun'"),
    ],
)
def test_generation_settings_limits(changes, message):
    with pytest.raises(ValidationError, match=message):
        GenerationSettings(**changes)


def test_master_settings_limits():
    assert MasterSettings().loudness_target_lufs == -14.0
    with pytest.raises(ValidationError, match="true_peak_dbtp"):
        MasterSettings(true_peak_dbtp=0.5)
    with pytest.raises(ValidationError, match="loudness_target_lufs"):
        MasterSettings(loudness_target_lufs=-3)


# -- takes -------------------------------------------------------------------------------------


def test_take_lists_all_its_blobs():
    take = make_take(new_id(), minutes=5)
    assert take.blob_refs() == {
        ref("noise-5"),
        ref("ck6-5"),
        ref("ck12-5"),
        ref("final-5"),
        ref("audio-5"),
    }
    assert take.tensor_refs() == take.blob_refs() - {ref("audio-5")}
    assert take.checkpoint_at(12).latent == ref("ck12-5")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"audio": "ABC"}, "64 lowercase hex digits"),
        ({"noise": ref("x").upper()}, "64 lowercase hex digits"),
        ({"id": "not-an-id"}, "32 lowercase hex digits"),
        ({"region_start_bar": 4, "region_end_bar": 4}, "must end after it starts"),
        ({"operation": TakeOperation.REPAINT}, "needs at least one repaint range"),
        ({"repaint_ranges": ((1, 2),)}, "a variation of one. lists repaint ranges"),
        ({"strength": 0.5}, "only apply to variations"),
        ({"variation": 0.5}, "only apply to variations"),
        ({"operation": TakeOperation.VARY, "parent_id": "a" * 32, "strength": 0.5,
          "repaint_ranges": ((1, 2),)}, "since format 1.3, with its variation"),
        ({"operation": TakeOperation.VARY, "parent_id": "a" * 32, "strength": 0.5,
          "variation": 1.5}, "less than or equal to 1"),
        ({"operation": TakeOperation.VARY, "strength": 0.4}, "needs a parent take"),
        ({"checkpoints": (Checkpoint(step=3, latent=ref("a")),) * 2}, "strictly increase"),
        ({"checkpoints": (Checkpoint(step=30, latent=ref("a")),)}, "past the take's 16 steps"),
        ({"created": datetime(2024, 1, 1)}, "timezone-aware"),
        ({"prompt": "x" * 2001}, "at most 2000 characters"),
        ({"weights_hash": "abc"}, "weights hash"),
        ({"latent_frame_rate": 0}, "greater than 0"),
        ({"tempo": 120}, "Extra inputs are not permitted"),
        ({"bpm": 1000.0}, "less than or equal to 400"),
        ({"meter": "5/8"}, "5/8 is not supported"),
        ({"meter": "3/4", "plan": Plan.empty(2, 16)}, "16 steps per bar but it was rendered"),
    ],
)
def test_take_rejects(changes, message):
    take = make_take(new_id())
    with pytest.raises(ValidationError, match=message):
        rebuilt(take, **changes)


def test_repaint_ranges_must_lie_in_the_region_in_order():
    take = make_take(new_id(), operation=TakeOperation.REPAINT, repaint_ranges=((0, 1), (2, 4)))
    assert take.repaint_ranges == ((0, 1), (2, 4))
    for ranges in (((2, 4), (0, 1)), ((0, 5),), ((1, 3), (2, 4)), ((2, 2),)):
        with pytest.raises(ValidationError, match="repaint range"):
            rebuilt(take, repaint_ranges=ranges)


def test_variation_records_parent_strength_and_source_step():
    parent = make_take(new_id())
    child = make_take(
        parent.section_id,
        operation=TakeOperation.VARY,
        parent_id=parent.id,
        strength=0.35,
        source_checkpoint_step=12,
    )
    assert (child.parent_id, child.strength, child.source_checkpoint_step) == (parent.id, 0.35, 12)
    with pytest.raises(ValidationError, match="its own parent"):
        rebuilt(child, parent_id=child.id)


def test_times_are_stored_in_utc():
    plus_two = timezone(timedelta(hours=2))
    take = rebuilt(make_take(new_id()), created=datetime(2024, 5, 1, 14, 0, tzinfo=plus_two))
    assert take.created == T0 and take.created.utcoffset() == timedelta(0)


def test_models_are_frozen():
    take = make_take(new_id())
    with pytest.raises(ValidationError, match="frozen"):
        take.prompt = "changed"  # type: ignore[misc]


# -- sections ----------------------------------------------------------------------------------


def section(**changes) -> Section:
    values = {"id": new_id(), "name": "Verse", "start_bar": 0, "length_bars": 4}
    values.update(changes)
    return Section.model_validate(values)


def test_section_names_are_stripped_and_single_line():
    assert section(name="  Chorus  ").name == "Chorus"
    with pytest.raises(ValidationError, match="control characters"):
        section(name="Cho\x07rus")
    with pytest.raises(ValidationError, match="at least 1 character"):
        section(name="   ")
    with pytest.raises(ValidationError, match="at most 64 characters"):
        section(name="x" * 65)


def test_section_plan_must_cover_every_bar():
    assert section(plan=Plan.empty(4, 16)).plan.n_bars == 4
    with pytest.raises(ValidationError, match="is 4 bars long but its plan has 3 bars"):
        section(plan=Plan.empty(3, 16))


def test_section_active_take_must_be_one_of_its_takes():
    sid = new_id()
    take = make_take(sid)
    made = section(id=sid, takes=(take,), active_take_id=take.id)
    assert made.active_take == take and made.take(take.id) is take
    with pytest.raises(ValidationError, match=r"has no take .* to make active"):
        section(id=sid, takes=(take,), active_take_id=new_id())


def test_section_takes_belong_to_it_and_have_unique_ids():
    sid = new_id()
    take = make_take(sid)
    with pytest.raises(ValidationError, match="names section"):
        section(takes=(take,))
    with pytest.raises(ValidationError, match="appears twice"):
        section(id=sid, takes=(take, take))


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"length_bars": 0}, "greater than or equal to 1"),
        ({"length_bars": 513}, "less than or equal to 512"),
        ({"start_bar": 4095, "length_bars": 2}, "past the 4096-bar limit"),
        ({"energy": 1.5}, "less than or equal to 1"),
        ({"gain_db": 13}, "less than or equal to 12"),
        ({"instrumentation": ("keys",) * 33}, "at most 32 items"),
        ({"instrumentation": ("",)}, "at least 1 character"),
        ({"kind": "hook"}, "Input should be 'intro'"),
    ],
)
def test_section_rejects(changes, message):
    with pytest.raises(ValidationError, match=message):
        section(**changes)


# -- project -----------------------------------------------------------------------------------


def test_project_reads_and_finds(project: Project):
    intro, verse, chorus = project.sections
    assert project.key == "A minor" and project.meter == "4/4"
    assert project.length_bars == 18
    assert project.section(verse.id) is verse
    assert project.section_by_name("  CHORUS ") is chorus
    assert project.section_at_bar(5) is None and project.section_at_bar(6) is verse
    assert project.section_of_take(intro.takes[1].id) is intro
    assert project.blob_refs() == intro.takes[0].blob_refs() | intro.takes[1].blob_refs()
    assert project.unique_section_name("Verse") == "Verse 2"
    grid = project.grid()
    assert isinstance(grid, TempoGrid)
    assert (grid.bpm, grid.sample_rate, str(grid.meter)) == (96.0, 44100, "4/4")
    with pytest.raises(KeyError, match="no section is named 'Bridge'"):
        project.section_by_name("Bridge")


def test_project_keys_and_meters_are_canonical(project: Project):
    assert rebuilt(project, key="f#m").key == "F# minor"
    assert rebuilt(project, key="Bb").key == "Bb major"
    with pytest.raises(ValidationError, match="'H major' is not a key"):
        rebuilt(project, key="H major")
    cleared = project.with_sections(
        tuple(s.model_validate({**dict(s), "plan": None}) for s in project.sections)
    )
    assert rebuilt(cleared, meter=" 6/8 ").meter == "6/8"
    with pytest.raises(ValidationError, match="meter 9/8 is not supported"):
        rebuilt(cleared, meter="9/8")
    with pytest.raises(ValidationError, match="is not a time signature"):
        rebuilt(cleared, meter="four")


def test_project_plans_must_match_the_meter(project: Project):
    with pytest.raises(ValidationError, match="plan with 16 steps per bar but 3/4 has 12"):
        rebuilt(project, meter="3/4")


def test_overlapping_sections_are_refused_by_name(project: Project):
    intro, verse, chorus = project.sections
    late_verse = rebuilt(verse, start_bar=12)
    with pytest.raises(
        ValidationError, match=r"section 'Verse' \(bars 13-20\) overlaps 'Chorus' \(bars 15-18\)"
    ):
        project.with_sections((intro, late_verse, chorus))


def test_sections_are_kept_sorted(project: Project):
    reordered = project.with_sections(tuple(reversed(project.sections)))
    assert reordered == project


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("duplicate_name", "two sections are named 'Verse'"),
        ("duplicate_id", "appears twice"),
        ("shared_take", "appears in more than one place"),
    ],
)
def test_project_structure_rules(project: Project, change, message):
    intro, verse, chorus = project.sections
    if change == "duplicate_name":
        sections = (intro, verse, rebuilt(chorus, name="verse"))
    elif change == "duplicate_id":
        sections = (intro, verse, rebuilt(chorus, id=verse.id))
    else:
        copied = rebuilt(intro.takes[0], section_id=chorus.id)
        sections = (intro, verse, rebuilt(chorus, takes=(copied,)))
    with pytest.raises(ValidationError, match=message):
        project.with_sections(sections)


def test_project_refuses_too_many_sections(project: Project):
    many = tuple(section(name=f"S{i}", start_bar=i, length_bars=1) for i in range(MAX_SECTIONS))
    assert len(project.with_sections(many).sections) == MAX_SECTIONS
    extra = section(name="One too many", start_bar=MAX_SECTIONS, length_bars=1)
    with pytest.raises(ValidationError, match=f"at most {MAX_SECTIONS} items"):
        project.with_sections((*many, extra))


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"bpm": 401}, "less than or equal to 400"),
        ({"sample_rate": 16000}, "22050"),
        ({"title": ""}, "at least 1 character"),
        ({"title": "x" * 201}, "at most 200 characters"),
        ({"autosave": True}, "Extra inputs are not permitted"),
        ({"id": "1234"}, "32 lowercase hex digits"),
    ],
)
def test_project_rejects(project: Project, changes, message):
    with pytest.raises(ValidationError, match=message):
        rebuilt(project, **changes)


def test_replace_section_validates_and_shares_the_rest(project: Project):
    intro, verse, chorus = project.sections
    louder = rebuilt(verse, gain_db=3.0)
    edited = project.replace_section(louder)
    assert edited.sections[1] is louder
    assert edited.sections[0] is intro and edited.sections[2] is chorus
    with pytest.raises(ValidationError, match="overlaps"):
        project.replace_section(rebuilt(verse, length_bars=10))


# -- JSON round trip and shared strategies -----------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(projects())
def test_json_round_trip_is_exact(project: Project):
    text = project.model_dump_json()
    assert Project.model_validate_json(text) == project
    assert Project.model_validate_json(text).model_dump_json() == text


@settings(max_examples=25, deadline=None)
@given(projects_with_blobs())
def test_strategy_blobs_hash_to_their_refs_and_are_safetensors(project_and_blobs):
    project, blobs = project_and_blobs
    assert set(blobs) == project.blob_refs()
    kinds = blob_kinds(project)
    assert set(kinds) == set(blobs)
    for sha, data in blobs.items():
        assert sha256_hex(data) == sha
        tensors = load_safetensors(data)
        assert list(tensors) == [kinds[sha]]
        assert tensors[kinds[sha]].dtype.name == "float32"
        assert tensors[kinds[sha]].ndim == (2 if kinds[sha] == "latent" else 1)

