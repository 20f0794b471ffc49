"""Operations end to end on tiny random models: every guarantee of design §3-§4 as a test.

One in-process worker serves the whole module (loading the prompt encoder takes seconds).
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import pytest

from melodex_studio.engine.pipelines.render_in_key import retry_seed
from melodex_studio.music.key import Key
from melodex_studio.music.key_change import plan_in_key
from melodex_studio.project import operations as ops
from melodex_studio.project.commands import (
    DeleteTake,
    EditSectionSettings,
    ResizeSection,
    SetPlan,
    SetSectionKey,
    SetSectionMeter,
)
from melodex_studio.project.document import Document
from melodex_studio.project.fields import validated_copy
from melodex_studio.project.models import Project, TakeOperation, new_project
from melodex_studio.store import MemoryBlobs, open_project, save_project
from melodex_studio.worker.handles import JobError
from melodex_studio.worker.inprocess import InProcessClient
from melodex_studio.worker.protocol import FailureKind, WorkerConfig

STEPS = 6
KEY_RETRIES = ops.requests.KEY_RETRIES


@pytest.fixture(scope="module")
def client() -> Iterator[InProcessClient]:
    worker = InProcessClient(WorkerConfig(model="tiny-random", threads=2))
    yield worker
    worker.close()


@dataclass
class Studio:
    """A document, its blobs and a worker: what the studio wires together."""

    client: InProcessClient
    doc: Document
    blobs: MemoryBlobs = field(default_factory=MemoryBlobs)
    submitted: int = 0

    @property
    def project(self) -> Project:
        return self.doc.project

    @property
    def geometry(self) -> ops.LatentGeometry:
        return ops.LatentGeometry.from_model(self.client.status.model)

    def section(self, name: str):
        return self.project.section_by_name(name)

    def result(self, request: ops.RenderRequest):
        if request.job is None:
            return None
        self.submitted += 1
        return self.client.submit(request.job, blobs=request.blobs).result(120)

    def finish(self, request: ops.RenderRequest) -> ops.RenderOutcome:
        outcome = ops.finish_render(self.project, request, self.result(request), self.blobs.get)
        for sha in outcome.blobs:
            self.blobs.add(sha, outcome.blobs[sha])
        return outcome

    def run(self, request: ops.RenderRequest) -> ops.RenderOutcome:
        outcome = self.finish(request)
        self.doc.history.push(outcome.command)
        return outcome

    def plan(self, name: str) -> None:
        request = ops.plan_request(self.project, self.section(name).id)
        self.submitted += 1
        output = self.client.submit(request.job).result(120).message.output
        self.doc.history.push(ops.plan_command(self.project, request, output))

    def audio(self, name: str) -> np.ndarray:
        return ops.read_audio(self.blobs.get, self.section(name).active_take.audio)

    def latent(self, name: str) -> np.ndarray:
        return ops.read_latent(self.blobs.get, self.section(name).active_take.final_latent)


def _song() -> Project:
    project = new_project(
        "Ops",
        bpm=100.0,
        key="A minor",
        meter="4/4",
        sections_spec="Intro:2,Verse:3,Chorus:2",
        sample_rate=44100,
        seed=11,
    )
    sections = tuple(
        validated_copy(
            s, settings=s.settings.model_copy(update={"steps": STEPS}), prompt="dusty keys"
        )
        for s in project.sections
    )
    return project.with_sections(sections)


@pytest.fixture
def studio(client: InProcessClient) -> Studio:
    """A song whose three sections are planned and rendered."""
    studio = Studio(client, Document(_song()))
    for name in ("Intro", "Verse", "Chorus"):
        studio.plan(name)
    for name in ("Intro", "Verse", "Chorus"):
        studio.run(
            ops.generate_section(
                studio.project, studio.blobs.get, studio.section(name).id, geometry=studio.geometry
            )
        )
    return studio


def _rerun_matches(studio: Studio, take_id: str) -> None:
    take = studio.project.section_of_take(take_id).take(take_id)
    request = ops.rerun_take(studio.project, studio.blobs.get, take_id, geometry=studio.geometry)
    again = studio.finish(request).takes[0]
    assert again.final_latent == take.final_latent  # sha256 of the bytes: bit-identical
    assert again.audio == take.audio
    assert again.noise == take.noise
    assert [c.latent for c in again.checkpoints] == [c.latent for c in take.checkpoints]


def test_regenerating_a_section_leaves_every_other_section_bit_identical(studio: Studio) -> None:
    before = {name: (studio.audio(name), studio.latent(name)) for name in ("Intro", "Chorus")}
    verse = studio.section("Verse")
    old_take = verse.active_take
    old_audio = studio.audio("Verse")
    outcome = studio.run(
        ops.regenerate_section(studio.project, studio.blobs.get, verse.id, geometry=studio.geometry)
    )
    for name, (audio, latent) in before.items():
        assert np.array_equal(studio.audio(name), audio)
        assert np.array_equal(studio.latent(name), latent)
    assert not np.array_equal(studio.audio("Verse"), old_audio)
    take = outcome.takes[0]
    assert take.operation is TakeOperation.REGENERATE and take.parent_id == old_take.id
    assert take.seed != old_take.seed
    # Undo restores the previous take without running anything; redo brings the new one back.
    submitted = studio.submitted
    studio.doc.history.undo()
    assert studio.section("Verse").active_take_id == old_take.id
    studio.doc.history.redo()
    assert studio.section("Verse").active_take_id == take.id
    assert studio.submitted == submitted


def test_a_take_records_everything_needed_to_reproduce_it(studio: Studio) -> None:
    take = studio.section("Verse").active_take
    model = studio.client.status.model
    assert take.model_id == model.model_id and take.weights_hash == model.weights_hash
    assert take.seed == take.settings.seed and take.settings.steps == STEPS
    assert take.plan == studio.section("Verse").plan and take.prompt == "dusty keys"
    assert take.noise and take.final_latent and take.audio
    assert [c.step for c in take.checkpoints] == list(range(1, STEPS))
    span = ops.section_span(studio.project, studio.section("Verse"), studio.geometry)
    assert studio.latent("Verse").shape == (16, span.n_frames)
    assert studio.audio("Verse").shape == (span.n_samples,)
    assert take.audio_sample_rate == 24000 and math.isclose(take.latent_frame_rate, 23.4375)


def test_repaint_changes_only_the_bars_and_their_crossfade(studio: Studio) -> None:
    verse = studio.section("Verse")
    old_audio, old_latent = studio.audio("Verse"), studio.latent("Verse")
    request = ops.repaint_bars(
        studio.project, studio.blobs.get, verse.id, [(2, 3), (0, 1)], geometry=studio.geometry
    )
    take = studio.run(request).takes[0]
    assert take.repaint_ranges == ((0, 1), (2, 3)) and take.parent_id == verse.active_take_id
    crossfade = ops.crossfade_samples(24000)
    assert crossfade / 24000 <= 0.050
    zone = ops.changed_zone(len(old_audio), request.splice_regions, crossfade)
    new_audio = studio.audio("Verse")
    assert np.array_equal(new_audio[~zone], old_audio[~zone])
    assert not np.array_equal(new_audio[zone], old_audio[zone])
    # Latent frames of bar 2 (the one not repainted) are the parent's, exactly.
    bar = ops.bars_span(studio.project, verse, 1, 2, studio.geometry)
    span = ops.section_span(studio.project, verse, studio.geometry)
    inside = slice(bar.start_frame - span.start_frame, bar.end_frame - span.start_frame)
    assert np.array_equal(studio.latent("Verse")[:, inside], old_latent[:, inside])
    # The zone is the two ranges plus at most one crossfade on each side of each.
    regions = request.splice_regions
    assert zone.sum() <= sum(b - a for a, b in regions) + 4 * crossfade


def test_rerun_from_the_record_is_bit_identical(studio: Studio) -> None:
    """Each take re-runs from its record with the neighbours it was rendered against."""
    verse = studio.section("Verse")
    intro = studio.run(
        ops.regenerate_section(
            studio.project, studio.blobs.get, studio.section("Intro").id, geometry=studio.geometry
        )
    )
    _rerun_matches(studio, intro.takes[0].id)
    repaint = studio.run(
        ops.repaint_bars(
            studio.project, studio.blobs.get, verse.id, [(1, 2)], geometry=studio.geometry
        )
    )
    _rerun_matches(studio, repaint.takes[0].id)
    varied = studio.run(
        ops.vary_take(
            studio.project,
            studio.blobs.get,
            repaint.takes[0].id,
            0.5,
            prompt="brighter",
            geometry=studio.geometry,
        )
    )
    _rerun_matches(studio, varied.takes[0].id)
    # The verse has had two new active takes since the intro was rendered: the intro's record
    # names the verse take it was rendered against, and re-running uses that one.
    assert intro.takes[0].context_take_ids == (verse.active_take_id,)
    assert studio.section("Verse").active_take_id != verse.active_take_id
    _rerun_matches(studio, intro.takes[0].id)
    extended = studio.run(
        ops.extend_section(studio.project, studio.blobs.get, verse.id, 1, geometry=studio.geometry)
    )
    _rerun_matches(studio, extended.takes[0].id)
    studio.doc.history.push(DeleteTake(verse.id, verse.active_take_id))
    with pytest.raises(ops.OperationError, match="has been deleted"):
        ops.rerun_take(studio.project, studio.blobs.get, intro.takes[0].id,
                       geometry=studio.geometry)


def test_vary_at_strength_zero_is_the_source_and_resumes_from_checkpoints(studio: Studio) -> None:
    source = studio.section("Chorus").active_take
    submitted = studio.submitted
    same = studio.run(
        ops.vary_take(studio.project, studio.blobs.get, source.id, 0.0, geometry=studio.geometry)
    ).takes[0]
    assert studio.submitted == submitted  # nothing to infer
    assert (same.final_latent, same.audio) == (source.final_latent, source.audio)
    assert (
        same.operation is TakeOperation.VARY
        and same.parent_id == source.id
        and same.strength == 0.0
    )
    # Its record is its source's (prompt, settings, context), so it re-runs, to itself.
    assert (same.prompt, same.settings, same.context_take_ids) == (
        source.prompt, source.settings, source.context_take_ids) and same.context_take_ids
    rerun = ops.rerun_take(studio.project, studio.blobs.get, same.id, geometry=studio.geometry)
    assert studio.finish(rerun).takes[0].final_latent == source.final_latent
    half = studio.run(
        ops.vary_take(
            studio.project,
            studio.blobs.get,
            source.id,
            0.5,
            prompt="airy pads",
            geometry=studio.geometry,
        )
    ).takes[0]
    assert half.source_checkpoint_step == ops.start_step_for_strength(STEPS, 0.5) == STEPS // 2
    assert half.prompt == "airy pads" and half.final_latent != source.final_latent
    # Its states from the step it branched at (its own start: it holds the variation's noise).
    assert [c.step for c in half.checkpoints] == list(range(STEPS // 2, STEPS))


def test_a_variation_draws_what_follows_its_step_anew_and_keeps_what_came_before(
        studio: Studio) -> None:
    """The same prompt and plan, yet another take: from step k the variation's noise is
    sqrt(1 - v^2) of the take's and v of a fresh seed's draw, and the take's state at k moves
    with it (t_k times their difference); v = 0 is the take again, and a re-run is exact."""
    from melodex_studio.engine.sampling import seeded_noise, timestep_schedule
    from melodex_studio.worker.blobs import decode_tensor

    source = studio.section("Chorus").active_take
    same = studio.run(ops.vary_take(studio.project, studio.blobs.get, source.id, 0.5,
                                    variation=0.0, geometry=studio.geometry)).takes[0]
    assert (same.final_latent, same.noise) == (source.final_latent, source.noise)
    assert same.context_seed == source.seed and same.variation == 0.0
    request = ops.vary_take(studio.project, studio.blobs.get, source.id, 0.5, variation=0.6,
                            geometry=studio.geometry)
    varied = studio.run(request).takes[0]
    k = STEPS // 2
    assert (varied.source_checkpoint_step, varied.variation, varied.prompt) == (
        k, 0.6, source.prompt)
    assert varied.seed not in {t.seed for t in studio.section("Chorus").takes if t != varied}
    assert varied.final_latent != source.final_latent
    keep = slice(request.job.keep.start, request.job.keep.end)
    draw = seeded_noise(varied.seed, (studio.geometry.channels,
                                      request.job.window_frames))[:, keep].numpy()
    old, new = (decode_tensor(studio.blobs.get(t.noise)) for t in (source, varied))
    np.testing.assert_allclose(new, 0.8 * old + 0.6 * draw, rtol=1e-6, atol=1e-6)
    # It starts from the take's state at k moved with its noise, and keeps that state.
    t_k = timestep_schedule(STEPS)[k]
    state = ops.read_latent(studio.blobs.get, source.checkpoint_at(k).latent)
    start = ops.read_latent(studio.blobs.get, varied.checkpoint_at(k).latent)
    np.testing.assert_allclose(start, state + t_k * (new - old), rtol=1e-5, atol=1e-5)
    _rerun_matches(studio, varied.id)
    # Varied again with nothing new, from a later step, from the step it branched at, or from
    # its noise: it is itself again (its own noise and state, not its source's).
    for step in (k + 1, k):
        again = studio.run(ops.vary_take(studio.project, studio.blobs.get, varied.id, None,
                                         step=step, variation=0.0,
                                         geometry=studio.geometry)).takes[0]
        assert again.final_latent == varied.final_latent, step
        assert again.strength == pytest.approx(timestep_schedule(STEPS)[step])
    from_noise = ops.vary_take(studio.project, studio.blobs.get, varied.id, None, step=0,
                               variation=0.0, geometry=studio.geometry)
    np.testing.assert_array_equal(
        decode_tensor(from_noise.blobs[from_noise.job.resume.latent]),
        decode_tensor(studio.blobs.get(varied.noise)))
    _rerun_matches(studio, again.id)


def test_a_variation_of_a_repaint_varies_the_repainted_bars_and_keeps_the_others(
        studio: Studio) -> None:
    verse = studio.section("Verse")
    request = ops.repaint_bars(studio.project, studio.blobs.get, verse.id, [(1, 2)],
                               geometry=studio.geometry)
    repaint = studio.run(request).takes[0]
    heard = studio.audio("Verse")
    varied_request = ops.vary_take(studio.project, studio.blobs.get, repaint.id, 0.5,
                                   geometry=studio.geometry)
    assert varied_request.description.startswith("Vary bar 2 of Verse from step")
    from melodex_studio.project.operations.requests import bar_names

    assert bar_names(((1, 4), (6, 7))) == "bars 2-4, 7" and bar_names(((0, 2),)) == "bars 1-2"
    varied = studio.run(varied_request).takes[0]
    assert varied.repaint_ranges == repaint.repaint_ranges == ((1, 2),)
    span = ops.section_span(studio.project, studio.section("Verse"), studio.geometry)
    zone = ops.changed_zone(span.n_samples, varied_request.splice_regions,
                            ops.crossfade_samples(studio.geometry.sample_rate))
    now = studio.audio("Verse")
    assert np.array_equal(now[~zone], heard[~zone])  # the other bars, sample for sample
    assert not np.array_equal(now[zone], heard[zone])
    _rerun_matches(studio, varied.id)
    # Varied again with nothing new from a later step: itself, the same bars pinned.
    again = studio.run(ops.vary_take(studio.project, studio.blobs.get, varied.id, None,
                                     step=STEPS - 1, variation=0.0,
                                     geometry=studio.geometry)).takes[0]
    assert again.final_latent == varied.final_latent and again.repaint_ranges == ((1, 2),)
    # A copy from the last step keeps the repaint's ranges, and so varies as it would.
    copy = studio.run(ops.vary_take(studio.project, studio.blobs.get, repaint.id, 0.0,
                                    geometry=studio.geometry)).takes[0]
    assert copy.repaint_ranges == ((1, 2),) and copy.final_latent == repaint.final_latent
    same = studio.run(ops.vary_take(studio.project, studio.blobs.get, copy.id, None,
                                    step=STEPS - 1, variation=0.0,
                                    geometry=studio.geometry)).takes[0]
    assert same.final_latent == repaint.final_latent


def test_a_variation_of_an_extension_varies_the_new_bars_and_keeps_the_old(
        studio: Studio) -> None:
    verse = studio.section("Verse")
    old_bars = verse.length_bars
    extended = studio.run(ops.extend_section(studio.project, studio.blobs.get, verse.id, 1,
                                             geometry=studio.geometry)).takes[0]
    heard = studio.audio("Verse")
    request = ops.vary_take(studio.project, studio.blobs.get, extended.id, 0.5,
                            geometry=studio.geometry)
    assert request.description.startswith(f"Vary bar {old_bars + 1} of Verse")
    varied = studio.run(request).takes[0]
    assert varied.repaint_ranges == ((old_bars, old_bars + 1),)
    span = ops.section_span(studio.project, studio.section("Verse"), studio.geometry)
    zone = ops.changed_zone(span.n_samples, request.splice_regions,
                            ops.crossfade_samples(studio.geometry.sample_rate))
    now = studio.audio("Verse")
    assert np.array_equal(now[~zone], heard[~zone]) and not np.array_equal(now[zone], heard[zone])
    _rerun_matches(studio, varied.id)


def test_a_small_variation_stays_close_and_a_locked_seed_still_varies(studio: Studio) -> None:
    from melodex_studio.worker.blobs import decode_tensor

    verse = studio.section("Verse")  # between two neighbours: context on both sides
    source = verse.active_take
    base = studio.latent("Verse")

    def distance(variation: float) -> float:
        take = studio.run(ops.vary_take(studio.project, studio.blobs.get, source.id, 0.5,
                                        variation=variation, geometry=studio.geometry)).takes[0]
        latent = ops.read_latent(studio.blobs.get, take.final_latent)
        return float(np.sqrt(np.mean((latent - base) ** 2)))

    near, half, whole = distance(0.05), distance(0.5), distance(1.0)
    assert 0.0 < near < 0.1 * whole and near < half < whole  # 5 % new: 7 % of the distance
    # A locked seed keeps regenerating from the same seed, but a variation draws anew anyway.
    studio.doc.history.push(EditSectionSettings(verse.id, seed=source.seed, seed_locked=True))
    locked = studio.run(ops.vary_take(studio.project, studio.blobs.get, source.id, 0.5,
                                      geometry=studio.geometry)).takes[0]
    assert locked.seed != source.seed and locked.final_latent != source.final_latent
    assert 0.9 < float(np.std(decode_tensor(studio.blobs.get(locked.noise)))) < 1.1


def test_fresh_seeds_skip_a_variations_context_seed_whose_take_is_gone(studio: Studio) -> None:
    """A variation's context seed is the seed of the take it came from, which may have been
    deleted since: a new seed must still not be that one (its noise would be correlated)."""
    from melodex_studio.project.factory import derive_seed
    from melodex_studio.project.fields import new_id

    chorus = studio.section("Chorus")
    source = chorus.active_take
    gone = derive_seed(chorus.settings.seed, 4)  # what the fourth take would have drawn
    other = source.model_copy(update={"id": new_id(), "seed": 1})
    varied = source.model_copy(update={
        "id": new_id(), "operation": TakeOperation.VARY, "parent_id": source.id,
        "strength": 0.5, "variation": 1.0, "context_seed": gone, "seed": 2})
    section = chorus.model_copy(update={"takes": (source, other, varied)})
    assert derive_seed(chorus.settings.seed, len(section.takes) + 1) == gone
    assert gone not in ops.fresh_seeds(section, 3)


def test_a_variation_made_before_variations_drew_noise_re_runs_as_it_was_made(
        studio: Studio) -> None:
    """Format 1.2 variations (no `variation`) rendered from their source's seed alone: the
    source's state and the render's own draw. Their re-run does the same."""
    source = studio.section("Chorus").active_take
    old_style = studio.run(ops.vary_take(studio.project, studio.blobs.get, source.id, 0.5,
                                         variation=None, geometry=studio.geometry)).takes[0]
    assert (old_style.variation, old_style.context_seed) == (None, None)
    assert old_style.seed == source.seed and old_style.final_latent == source.final_latent
    # Their states were stored after their start (the built-in renderer's old rule).
    assert [c.step for c in old_style.checkpoints] == list(range(STEPS // 2 + 1, STEPS))
    request = ops.rerun_take(studio.project, studio.blobs.get, old_style.id,
                             geometry=studio.geometry)
    assert request.job.noise is None and request.job.resume.variation is None
    _rerun_matches(studio, old_style.id)
    again = studio.finish(request).takes[0]
    assert again.checkpoints == old_style.checkpoints


def test_retake_adds_every_candidate_with_the_first_active(studio: Studio) -> None:
    chorus = studio.section("Chorus")
    previous = chorus.active_take_id
    outcome = studio.run(
        ops.retake_section(studio.project, studio.blobs.get, chorus.id, 3, geometry=studio.geometry)
    )
    section = studio.section("Chorus")
    assert [t.id for t in section.takes[-3:]] == [t.id for t in outcome.takes]
    assert section.active_take_id == outcome.takes[0].id
    assert (
        len({t.seed for t in outcome.takes}) == 3
        and len({t.final_latent for t in outcome.takes}) == 3
    )
    studio.doc.history.undo()
    assert studio.section("Chorus").active_take_id == previous
    assert len(studio.section("Chorus").takes) == len(section.takes) - 3


def test_extend_grows_the_section_keeps_its_bars_and_moves_the_next_one(studio: Studio) -> None:
    verse, chorus = studio.section("Verse"), studio.section("Chorus")
    old_audio, chorus_audio = studio.audio("Verse"), studio.audio("Chorus")
    plan_request = ops.plan_extension(studio.project, verse.id, 2)
    output = studio.client.submit(plan_request.job).result(60).message.output
    plan = ops.finish_plan(plan_request, output)
    assert plan.bars[:3] == verse.plan.bars
    request = ops.extend_section(
        studio.project, studio.blobs.get, verse.id, 2, plan=plan, geometry=studio.geometry
    )
    take = studio.run(request).takes[0]
    grown = studio.section("Verse")
    assert grown.length_bars == 5 and grown.plan == plan and take.region_end_bar == 5
    assert studio.section("Chorus").start_bar == chorus.start_bar + 2
    assert np.array_equal(studio.audio("Chorus"), chorus_audio)
    keep = len(old_audio) - ops.crossfade_samples(24000)
    assert np.array_equal(studio.audio("Verse")[:keep], old_audio[:keep])
    studio.doc.history.undo()
    assert (
        studio.section("Verse").length_bars == 3
        and studio.section("Chorus").start_bar == chorus.start_bar
    )


def test_replanning_keeps_locked_bars(studio: Studio) -> None:
    verse = studio.section("Verse")
    locked = verse.plan.bars[1].model_copy(update={"chord": "F", "locked": True})
    template = verse.plan.with_bar(1, locked)
    studio.doc.history.push(SetPlan(verse.id, template))
    studio.plan("Verse")
    plan = studio.section("Verse").plan
    assert plan.bars[1] == locked
    studio.doc.history.undo()
    assert studio.section("Verse").plan == template


def test_a_cancelled_render_leaves_the_project_unchanged(studio: Studio) -> None:
    verse = studio.section("Verse")
    before, revision = studio.project, studio.doc.revision
    settings = verse.settings.model_copy(update={"steps": 200})
    request = ops.regenerate_section(
        studio.project, studio.blobs.get, verse.id, settings=settings, geometry=studio.geometry
    )
    handle = studio.client.submit(request.job, blobs=request.blobs)
    while handle.step < 1 and not handle.done():
        time.sleep(0.005)
    handle.cancel()
    with pytest.raises(JobError) as failure:
        handle.result(30)
    assert failure.value.kind is FailureKind.CANCELLED
    assert handle.step < 200
    assert studio.project is before and studio.doc.revision == revision


def test_save_and_reopen_gives_the_identical_project(studio: Studio, tmp_path) -> None:
    path = tmp_path / "song.mlx"
    save_project(path, studio.project, studio.blobs)
    with open_project(path) as opened:
        assert opened.project == studio.project
        for ref in studio.project.blob_refs():
            assert opened.read_blob(ref) == studio.blobs.get(ref)
        # Work continues from the reopened file: a re-run of its take is still bit-identical.
        take = opened.project.section_by_name("Chorus").active_take  # rendered last
        request = ops.rerun_take(
            opened.project, opened.read_blob, take.id, geometry=studio.geometry
        )
        again = ops.finish_render(opened.project, request, studio.result(request), opened.read_blob)
        assert again.takes[0].audio == take.audio


def test_operations_refuse_what_cannot_be_done(studio: Studio) -> None:
    fresh = Studio(studio.client, Document(_song()))
    verse = fresh.section("Verse")
    with pytest.raises(ops.OperationError, match="no take to repaint"):
        ops.repaint_bars(fresh.project, fresh.blobs.get, verse.id, [(0, 1)])
    with pytest.raises(ops.OperationError, match="inside"):
        ops.repaint_bars(studio.project, studio.blobs.get, studio.section("Verse").id, [(2, 9)])
    with pytest.raises(ops.OperationError, match="1 to 16"):
        ops.retake_section(studio.project, studio.blobs.get, studio.section("Verse").id, 40)
    with pytest.raises(ops.OperationError, match="strength"):
        ops.vary_take(studio.project, studio.blobs.get, studio.section("Verse").active_take_id, 1.5)


def test_splice_is_bit_identical_outside_its_zone() -> None:
    rng = np.random.default_rng(0)
    old, new = (
        rng.standard_normal(5000).astype(np.float32),
        rng.standard_normal(5000).astype(np.float32),
    )
    regions, crossfade = [(1000, 2000), (2100, 3000)], 300
    out = ops.splice_audio(old, new, regions, crossfade)
    zone = ops.changed_zone(5000, regions, crossfade)
    assert np.array_equal(out[~zone], old[~zone])
    assert np.array_equal(out[1000:2000], new[1000:2000]) and np.array_equal(
        out[2100:3000], new[2100:3000]
    )
    assert zone[700:3300].all() and not zone[:700].any() and not zone[3300:].any()
    ramp = (out[700:1000] - old[700:1000]) / (new[700:1000] - old[700:1000])
    assert np.all(np.diff(ramp) > 0) and 0 < ramp[0] < 0.01 and 0.99 < ramp[-1] < 1


def test_start_step_mirrors_the_engine_schedule() -> None:
    sampling = pytest.importorskip("melodex_studio.engine.sampling")
    for steps in (1, 6, 24, 50):
        for shift in (1.0, 3.0):
            schedule = sampling.timestep_schedule(steps, shift)
            for strength in (0.0, 0.1, 0.33, 0.5, 0.77, 1.0):
                expected = sampling.start_step_for_strength(schedule, strength)
                assert ops.start_step_for_strength(steps, strength, shift) == expected


def test_new_takes_are_listened_to_for_the_key_but_reruns_and_locked_seeds_are_not(
    studio: Studio,
) -> None:
    verse = studio.section("Verse")
    request = ops.regenerate_section(studio.project, studio.blobs.get, verse.id,
                                     geometry=studio.geometry)
    assert request.job is not None and request.job.key_retries == KEY_RETRIES
    take = studio.run(request).takes[0]
    # The kept render's seed is the take's, whichever attempt it came from.
    tried = {retry_seed(request.seeds[0], attempt) for attempt in range(KEY_RETRIES + 1)}
    assert take.seed in tried and take.settings.seed == take.seed
    rerun = ops.rerun_take(studio.project, studio.blobs.get, take.id, geometry=studio.geometry)
    assert rerun.job is not None and rerun.job.key_retries == 0
    _rerun_matches(studio, take.id)
    locked = studio.project.with_sections(tuple(
        validated_copy(s, settings=s.settings.model_copy(update={"seed_locked": True}))
        if s.id == verse.id else s
        for s in studio.project.sections
    ))
    request = ops.regenerate_section(locked, studio.blobs.get, verse.id, geometry=studio.geometry)
    assert request.job is not None and request.job.key_retries == 0
    # A retake draws fresh seeds whatever the lock, so it listens as an unlocked one does.
    request = ops.retake_section(locked, studio.blobs.get, verse.id, 2, geometry=studio.geometry)
    assert request.job.key_retries == KEY_RETRIES and len(set(request.seeds)) == 2
    assert locked.section(verse.id).settings.seed not in request.seeds
    # Drums alone have no key to hear: nothing is retried.
    plan = studio.section("Verse").plan
    drums = plan.model_copy(update={"bars": tuple(
        bar.model_copy(update={"chord": None, "bass": (), "melody": ()}) for bar in plan.bars)})
    request = ops.regenerate_section(studio.project, studio.blobs.get, verse.id, plan=drums,
                                     geometry=studio.geometry)
    assert request.job is not None and request.job.key_retries == 0
    one_note = drums.model_copy(update={"bars": (plan.bars[0], *drums.bars[1:])})
    request = ops.regenerate_section(studio.project, studio.blobs.get, verse.id, plan=one_note,
                                     geometry=studio.geometry)
    assert request.job is not None and request.job.key_retries == KEY_RETRIES


def test_a_section_in_its_own_key_is_planned_and_rendered_in_it(studio: Studio) -> None:
    verse, chorus = studio.section("Verse"), studio.section("Chorus")
    studio.doc.history.push(SetSectionKey(chorus.id, "C minor"))
    request = ops.regenerate_section(studio.project, studio.blobs.get, chorus.id,
                                     geometry=studio.geometry)
    assert request.job is not None and request.job.conditioning.key == "C minor"
    other = ops.regenerate_section(studio.project, studio.blobs.get, verse.id,
                                   geometry=studio.geometry)
    assert other.job is not None and other.job.conditioning.key == "A minor"
    # The planner reads the verse that leads in as if it were in the chorus's key.
    planning = ops.plan_request(studio.project, chorus.id)
    assert planning.job.conditioning.key == "C minor"
    assert planning.job.previous == plan_in_key(verse.plan, Key.parse("A minor"),
                                                Key.parse("C minor"))
    # A plan that comes back after the section changed key again moves into the new one.
    output = studio.client.submit(planning.job).result(120).message.output
    studio.doc.history.push(SetSectionKey(chorus.id, "D minor"))
    command = ops.plan_command(studio.project, planning, output)
    assert command.plan == plan_in_key(output.plan, Key.parse("C minor"), Key.parse("D minor"))


def test_a_take_records_its_key_and_reruns_in_it_after_a_key_change(studio: Studio) -> None:
    chorus = studio.section("Chorus")
    assert chorus.active_take.key == "A minor"  # the song's key, as it was rendered
    studio.doc.history.push(SetSectionKey(chorus.id, "C minor"))
    take = studio.run(ops.regenerate_section(studio.project, studio.blobs.get, chorus.id,
                                             geometry=studio.geometry)).takes[0]
    assert take.key == "C minor"
    studio.doc.history.push(SetSectionKey(chorus.id, "E minor"))
    request = ops.rerun_take(studio.project, studio.blobs.get, take.id, geometry=studio.geometry)
    assert request.job is not None and request.job.conditioning.key == "C minor"
    _rerun_matches(studio, take.id)


def _import(studio: Studio, name: str, recording: np.ndarray) -> ops.RenderOutcome:
    request = ops.import_recording(studio.project, studio.section(name).id, recording,
                                   name="riff.wav", geometry=studio.geometry)
    studio.submitted += 1
    result = studio.client.submit(request.job, blobs=dict(request.blobs)).result(120)
    outcome = ops.finish_import(studio.project, request, result)
    for sha in outcome.blobs:
        studio.blobs.add(sha, outcome.blobs[sha])
    studio.doc.history.push(outcome.command)
    return outcome


def test_an_imported_recording_plays_as_it_is_and_repaints_and_varies(studio: Studio,
                                                                      tmp_path) -> None:
    verse = studio.section("Verse")
    span = ops.section_span(studio.project, verse, studio.geometry)
    rng = np.random.default_rng(5)
    recording = (0.2 * rng.standard_normal(span.n_samples - 1000)).astype(np.float32)
    take = _import(studio, "Verse", recording).takes[0]
    assert take.operation == "import" and take.label == "riff.wav"
    assert studio.section("Verse").active_take_id == take.id
    heard = studio.audio("Verse")
    assert len(heard) == span.n_samples
    assert np.array_equal(heard[: len(recording)], recording)  # the recording, untouched
    assert not heard[len(recording):].any()  # silence after its end
    assert studio.latent("Verse").shape == (studio.geometry.channels, span.n_frames)
    # Repaint bar 2: the rest of the recording stays exactly as it was.
    request = ops.repaint_bars(studio.project, studio.blobs.get, verse.id, [(1, 2)],
                               geometry=studio.geometry)
    studio.run(request)
    zone = ops.changed_zone(span.n_samples, request.splice_regions,
                            ops.crossfade_samples(studio.geometry.sample_rate))
    assert np.array_equal(studio.audio("Verse")[~zone], heard[~zone])
    assert not np.array_equal(studio.audio("Verse")[zone], heard[zone])
    # Vary the import halfway: it starts from the recording's latent noised to that time.
    varied = studio.run(ops.vary_take(studio.project, studio.blobs.get, take.id, 0.5,
                                      geometry=studio.geometry)).takes[0]
    assert varied.parent_id == take.id and varied.operation == "vary"
    assert not np.array_equal(studio.audio("Verse"), heard)
    with pytest.raises(ops.OperationError, match="made by import cannot be re-run"):
        ops.rerun_take(studio.project, studio.blobs.get, take.id, geometry=studio.geometry)
    path = tmp_path / "import.mlx"
    save_project(path, studio.project, studio.blobs)
    with open_project(path) as opened:
        assert opened.project.section_by_name("Verse").take(take.id) == take


def test_an_import_is_fitted_to_the_section_and_refused_when_the_section_changed(
    studio: Studio,
) -> None:
    verse = studio.section("Verse")
    span = ops.section_span(studio.project, verse, studio.geometry)
    long = np.linspace(-0.5, 0.5, span.n_samples + 5000, dtype=np.float32)
    np.testing.assert_array_equal(ops.fit_recording(long, span.n_samples),
                                  long[: span.n_samples])
    request = ops.import_recording(studio.project, verse.id, long, name="x.wav",
                                   geometry=studio.geometry)
    result = studio.client.submit(request.job, blobs=dict(request.blobs)).result(120)
    studio.doc.history.push(ResizeSection(verse.id, verse.length_bars + 1))
    with pytest.raises(ops.OperationError, match="changed length"):
        ops.finish_import(studio.project, request, result)
    # Dropped on bar 3 of the now 4-bar verse: two bars of silence, then the recording.
    grown = studio.section("Verse")
    n_samples = ops.section_span(studio.project, grown, studio.geometry).n_samples
    at_three = ops.import_recording(studio.project, verse.id, long, name="x.wav",
                                    geometry=studio.geometry, start_bar=2)
    lead = ops.bars_span(studio.project, grown, 0, 2, studio.geometry).n_samples
    fitted = ops.read_audio(at_three.blobs.get, at_three.audio)
    assert len(fitted) == n_samples and not fitted[:lead].any()
    np.testing.assert_array_equal(fitted[lead:], long[: n_samples - lead])
    assert at_three.description == "Import x.wav into Verse at bar 3"
    with pytest.raises(ops.OperationError, match="cannot start at bar 5"):
        ops.import_recording(studio.project, verse.id, long, name="x.wav",
                             geometry=studio.geometry, start_bar=4)
    bad = long.copy()
    bad[3] = np.nan
    with pytest.raises(ops.OperationError, match="not numbers"):
        ops.import_recording(studio.project, verse.id, bad, name="x.wav",
                             geometry=studio.geometry)


def test_an_import_heard_in_another_key_than_its_section_says_so() -> None:
    from melodex_studio.project.operations.importing import import_key_note

    assert import_key_note("D minor", "A minor") == (
        "heard in D minor, the section is in A minor: set the section's key to D minor to "
        "repaint or vary it in the recording's key")
    assert import_key_note("A minor", "A minor") == ""
    assert import_key_note("", "A minor") == ""  # nothing pitched was heard
    # The relative key has the section's notes: a riff moved onto them is not off key.
    assert import_key_note("C major", "A minor") == "" == import_key_note("A minor", "C major")


def test_a_section_at_its_own_tempo_renders_on_the_song_tempo_map(studio: Studio) -> None:
    # 100 BPM: Intro 0-2, Verse 2-5, Chorus 5-7. The verse at 150 BPM: 1.6 s bars, not 2.4 s.
    verse = studio.section("Verse")
    studio.doc.history.push(EditSectionSettings(verse.id, bpm=150.0))
    project = studio.project
    request = ops.regenerate_section(project, studio.blobs.get, verse.id,
                                     geometry=studio.geometry)
    job = request.job
    assert job is not None and job.conditioning.bpm == 150.0  # what the renderer hears
    rate = studio.geometry.sample_rate
    assert job.grid(rate) == project.grid().with_sample_rate(rate)
    assert [(change.bar, change.bpm) for change in job.tempo_changes] == [(2, 150.0), (5, 100.0)]
    assert request.span.n_samples == round(3 * 1.6 * rate)
    # The planner hears it too.
    assert ops.plan_request(project, verse.id).job.conditioning.bpm == 150.0
    # The intro and the chorus keep their own tempo, so their takes still fit and are the
    # context on both sides, the chorus's now starting 2.4 s earlier (at 9.6 s, not 12 s).
    chorus = studio.section("Chorus")
    assert request.context_take_ids == (studio.section("Intro").active_take.id,
                                        chorus.active_take.id)
    chorus_span = ops.section_span(project, chorus, studio.geometry)
    assert chorus_span.start_sample == round(9.6 * rate)
    window = ops.timeline.build_window(project, studio.blobs.get, studio.geometry, verse,
                                       request.span)
    inside = chorus_span.start_frame - window.start
    assert np.array_equal(window.source[:, inside : inside + 8],
                          studio.latent("Chorus")[:, :8])
    chorus_audio = studio.audio("Chorus")
    take = studio.run(request).takes[0]
    assert take.bpm == 150.0
    assert len(studio.audio("Verse")) == round(3 * 1.6 * rate)
    assert np.array_equal(studio.audio("Chorus"), chorus_audio)
    # Faster again: a re-run from the record renders at the tempo the take was made at.
    studio.doc.history.push(EditSectionSettings(verse.id, bpm=90.0))
    rerun = ops.rerun_take(studio.project, studio.blobs.get, take.id, geometry=studio.geometry)
    assert rerun.job is not None and rerun.job.conditioning.bpm == 150.0
    _rerun_matches(studio, take.id)


def test_a_section_in_its_own_meter_is_planned_rendered_and_rerun_in_it(studio: Studio) -> None:
    # 100 BPM 4/4: Intro 0-2, Verse 2-5, Chorus 5-7. The verse in 6/8: 12 16ths, 1.8 s bars.
    verse = studio.section("Verse")
    studio.doc.history.push(SetSectionMeter(verse.id, "6/8"))
    assert studio.section("Verse").plan is None  # 16 steps do not fit 6/8
    planning = ops.plan_request(studio.project, verse.id)
    assert planning.job.conditioning.meter == "6/8" and planning.job.previous is None
    studio.plan("Verse")
    assert studio.section("Verse").plan.steps_per_bar == 12
    request = ops.regenerate_section(studio.project, studio.blobs.get, verse.id,
                                     geometry=studio.geometry)
    job = request.job
    assert job is not None and job.conditioning.meter == "6/8"
    assert [(c.bar, c.meter) for c in job.tempo_changes] == [(2, "6/8"), (5, "4/4")]
    rate = studio.geometry.sample_rate
    assert request.span.n_samples == round(3 * 1.8 * rate)
    take = studio.run(request).takes[0]
    assert (take.meter, take.plan.steps_per_bar) == ("6/8", 12)
    assert len(studio.audio("Verse")) == round(3 * 1.8 * rate)
    # Back in 4/4 (its plan goes), a re-run from the record renders in 6/8 with its plan.
    studio.doc.history.push(SetSectionMeter(verse.id, None))
    rerun = ops.rerun_take(studio.project, studio.blobs.get, take.id, geometry=studio.geometry)
    assert rerun.job is not None and rerun.job.conditioning.meter == "6/8"
    _rerun_matches(studio, take.id)
    # A take from before format 1.2 records no meter: its plan's steps tell it was another.
    legacy = studio.project.replace_section(studio.section("Verse").model_copy(
        update={"takes": tuple(t.model_copy(update={"meter": None})
                               for t in studio.section("Verse").takes)}))
    with pytest.raises(ops.OperationError, match=r"12 steps per bar.*4/4 \(16\)"):
        ops.rerun_take(legacy, studio.blobs.get, take.id, geometry=studio.geometry)


def test_a_neighbour_rendered_at_its_old_tempo_is_not_context_and_blocks_nothing(
        studio: Studio) -> None:
    # The verse goes to 150 BPM and keeps its take (it plays stretched); the intro and the
    # chorus can still be rendered, without the verse's stale latent as their context.
    verse = studio.section("Verse")
    stale = verse.active_take
    first_chorus = studio.section("Chorus").active_take
    assert stale.id in first_chorus.context_take_ids
    studio.doc.history.push(EditSectionSettings(verse.id, bpm=150.0))
    # A take rendered next to the verse's take cannot be re-run exactly any more: it says so.
    with pytest.raises(ops.OperationError, match="no longer context there"):
        ops.rerun_take(studio.project, studio.blobs.get, first_chorus.id,
                       geometry=studio.geometry)
    for name in ("Intro", "Chorus"):
        request = ops.regenerate_section(studio.project, studio.blobs.get,
                                         studio.section(name).id, geometry=studio.geometry)
        assert stale.id not in request.context_take_ids
        window = ops.timeline.build_window(studio.project, studio.blobs.get, studio.geometry,
                                           studio.section(name), request.span)
        assert window.frames == request.span.n_frames  # no context where the verse is
        take = studio.run(request).takes[0]
        assert take.context_take_ids == ()
    _rerun_matches(studio, studio.section("Chorus").active_take.id)


def test_a_rerun_sees_only_the_context_its_take_saw(studio: Studio) -> None:
    # The chorus goes stale (150 BPM), the verse is regenerated without it as context, the
    # chorus comes back to 100 BPM: the verse's take still re-runs as it was made, without the
    # chorus it never heard. The same holds for a neighbour rendered after the take.
    chorus = studio.section("Chorus")
    studio.doc.history.push(EditSectionSettings(chorus.id, bpm=150.0))
    verse = studio.section("Verse")
    take = studio.run(ops.regenerate_section(studio.project, studio.blobs.get, verse.id,
                                             geometry=studio.geometry)).takes[0]
    assert take.context_take_ids == (studio.section("Intro").active_take.id,)
    studio.doc.history.push(EditSectionSettings(chorus.id, bpm=None))
    rerun = ops.rerun_take(studio.project, studio.blobs.get, take.id, geometry=studio.geometry)
    assert rerun.context_take_ids == take.context_take_ids
    _rerun_matches(studio, take.id)
