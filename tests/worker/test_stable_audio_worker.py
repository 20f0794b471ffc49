"""Stable Audio Open as the studio's model: a worker on a tiny random folder (built in the
test, nothing downloaded) runs the take operations, with the guarantees the built-in model
gives: neighbours and unrepainted bars bit for bit, re-runs exact."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from melodex_studio.engine.backends.stable_audio import EdmSchedule
from melodex_studio.engine.sampling import seeded_noise
from melodex_studio.project import operations as ops
from melodex_studio.project.commands import EditSectionSettings
from melodex_studio.project.fields import validated_copy
from melodex_studio.project.models import new_project
from melodex_studio.store import MemoryBlobs
from melodex_studio.worker.blobs import decode_tensor
from melodex_studio.worker.handles import JobError
from melodex_studio.worker.inprocess import InProcessClient
from melodex_studio.worker.protocol import WorkerConfig
from melodex_studio.worker.server.folder_executor import prompt_text
from tests.finished_renders import imported_take, rendered_song, run_request
from tests.stable_audio_folder import write_tiny_stable_audio


@pytest.fixture(scope="module")
def client(tmp_path_factory) -> Iterator[InProcessClient]:
    # 8 kHz audio, a hop of 256 samples: 31.25 latent frames a second.
    folder = write_tiny_stable_audio(tmp_path_factory.mktemp("sao"), sample_rate=8000,
                                     downsampling=(4, 8, 8))
    worker = InProcessClient(WorkerConfig(model="stable-audio", model_dir=str(folder),
                                          threads=2))
    yield worker
    worker.close()


def test_the_worker_says_what_the_model_is_and_cannot_do(client) -> None:
    info = client.status.model
    assert info is not None and info.model_id == "stable-audio-open"
    assert (info.sample_rate, info.samples_per_frame, info.latent_channels) == (8000, 256, 3)
    assert not info.plans and info.imports and info.noises_imports and info.repaints_inside
    assert len(info.weights_hash) == 64


def test_sections_render_repaint_and_rerun_with_the_studios_guarantees(client) -> None:
    doc, blobs, geometry = rendered_song(client, "SAO", 120)
    intro, verse = doc.project.sections
    assert len(ops.read_audio(blobs.get, verse.active_take.audio)) == 4 * 8000  # 2 bars of 2 s
    intro_audio = ops.read_audio(blobs.get, intro.active_take.audio)
    verse_audio = ops.read_audio(blobs.get, verse.active_take.audio)
    # Repaint the verse's second bar: its first bar (up to the crossfade) and the intro stay.
    repaint = ops.repaint_bars(doc.project, blobs.get, verse.id, [(1, 2)], seed=9,
                               geometry=geometry)
    take = run_request(client, doc, blobs, repaint).takes[0]
    repainted = ops.read_audio(blobs.get, take.audio)
    fade = ops.crossfade_samples(geometry.sample_rate)
    assert np.array_equal(repainted[: 8000 * 2 - fade], verse_audio[: 8000 * 2 - fade])
    assert not np.array_equal(repainted[8000 * 2 :], verse_audio[8000 * 2 :])
    assert np.array_equal(ops.read_audio(blobs.get, doc.project.sections[0].active_take.audio),
                          intro_audio)
    # A re-run from the record is the same take, bit for bit.
    again = ops.finish_render(doc.project, rerun := ops.rerun_take(
        doc.project, blobs.get, take.id, geometry=geometry),
        client.submit(rerun.job, blobs=rerun.blobs).result(120), blobs.get).takes[0]
    assert (again.final_latent, again.audio, again.noise) == (take.final_latent, take.audio,
                                                              take.noise)
    # A variation that draws nothing anew starts from the take's own noise: with the same
    # context (the intro) and settings, it is the take again.
    first = doc.project.sections[1].takes[0]
    vary = ops.vary_take(doc.project, blobs.get, first.id, 1.0, variation=0.0, geometry=geometry)
    varied = run_request(client, doc, blobs, vary).takes[0]
    assert varied.source_checkpoint_step == 0 and varied.final_latent == first.final_latent
    # One that draws 60 % anew from half way holds sqrt(1 - 0.6^2) of the take's noise and
    # 0.6 of its own seed's draw, and starts from the take's state moved with it by sigma_k.
    vary = ops.vary_take(doc.project, blobs.get, first.id, 0.5, variation=0.6, geometry=geometry)
    varied = run_request(client, doc, blobs, vary).takes[0]
    k = varied.source_checkpoint_step
    assert 0 < k < first.settings.steps and varied.seed != first.seed
    keep = slice(vary.job.keep.start, vary.job.keep.end)
    draw = seeded_noise(varied.seed, (3, vary.job.window_frames))[:, keep].numpy()
    old, new = (decode_tensor(blobs.get(t.noise)) for t in (first, varied))
    np.testing.assert_allclose(new, 0.8 * old + 0.6 * draw, rtol=1e-6, atol=1e-6)
    sigma = float(EdmSchedule().sigmas(first.settings.steps)[k])
    state = ops.read_latent(blobs.get, first.checkpoint_at(k).latent)
    start = ops.read_latent(blobs.get, varied.checkpoint_at(k).latent)
    np.testing.assert_allclose(start, state + sigma * (new - old), rtol=1e-5, atol=1e-4)
    assert varied.final_latent != first.final_latent
    rerun = ops.rerun_take(doc.project, blobs.get, varied.id, geometry=geometry)
    assert ops.finish_render(doc.project, rerun, client.submit(
        rerun.job, blobs=rerun.blobs).result(120), blobs.get).takes[0].final_latent == (
        varied.final_latent)
    # Takes another model rendered are neither context nor worked from.
    other = ops.MELODEX_TINY_GEOMETRY
    request = ops.regenerate_section(doc.project, blobs.get, verse.id, geometry=other)
    assert request.context_take_ids == ()
    with pytest.raises(ops.OperationError, match="rendered by stable-audio-open"):
        ops.repaint_bars(doc.project, blobs.get, verse.id, [(0, 1)], geometry=other)
    with pytest.raises(ops.OperationError, match="switch the model back"):
        ops.vary_take(doc.project, blobs.get, first.id, 0.5, geometry=other)
    # The planner is the built-in model's: a plan job says so.
    with pytest.raises(JobError, match="writes no plans"):
        client.submit(ops.plan_request(doc.project, verse.id).job).result(60)


def test_the_prompt_carries_the_tempo_and_key_in_words(client) -> None:
    project = new_project("SAO", 96, "F# minor", "4/4", "Intro:2", seed=1)
    section = validated_copy(project.sections[0], prompt="dusty keys", style="lo-fi", bpm=84.0)
    project = project.replace_section(section)
    request = ops.generate_section(project, MemoryBlobs().get, section.id,
                                   geometry=ops.LatentGeometry.from_model(client.status.model))
    assert prompt_text(request.job) == "dusty keys, lo-fi, 84 BPM, F# minor"


def test_a_folder_that_is_not_stable_audio_open_is_refused_with_the_reason(tmp_path) -> None:
    from melodex_studio.worker.server.models import ModelUnavailable
    from melodex_studio.worker.server.stable_audio_executor import StableAudioExecutor

    executor = StableAudioExecutor(WorkerConfig(model="stable-audio", model_dir=str(tmp_path)))
    with pytest.raises(ModelUnavailable, match="not a Stable Audio Open folder"):
        executor.load()
    with pytest.raises(ModelUnavailable, match="Preferences"):
        StableAudioExecutor(WorkerConfig(model="stable-audio")).load()


def test_an_imported_recording_is_varied_from_its_latent_noised_the_models_way(client) -> None:
    doc, blobs, geometry = rendered_song(client, "SAO", 120, sections="Riff:2")
    section = doc.project.sections[0]
    time = np.arange(4 * 8000) / 8000
    riff = (0.3 * np.sin(2 * np.pi * 220 * time)).astype(np.float32)
    imported = imported_take(client, doc, blobs, geometry, section.id, riff)
    vary = ops.vary_take(doc.project, blobs.get, imported.id, 0.5, geometry=geometry)
    assert vary.job.resume is not None and vary.job.resume.clean  # the worker noises it
    assert vary.job.noise is not None  # with the import's own noise
    varied = run_request(client, doc, blobs, vary).takes[0]
    assert varied.final_latent != imported.final_latent
    # The state it started from is the recording's latent at step k's noise level with the
    # variation's noise (Stable Audio Open's x0 + sigma noise, not the built-in model's mix);
    # drawing nothing anew, that noise is the import's own.
    k = varied.source_checkpoint_step
    sigma = float(EdmSchedule().sigmas(varied.settings.steps)[k])
    for variation in (1.0, 0.0):
        if variation == 0.0:
            request = ops.vary_take(doc.project, blobs.get, imported.id, 0.5, variation=0.0,
                                    geometry=geometry)
            varied = run_request(client, doc, blobs, request).takes[0]
            assert varied.noise == imported.noise
        start = varied.checkpoint_at(k)
        expected = (ops.read_latent(blobs.get, imported.final_latent)
                    + sigma * decode_tensor(blobs.get(varied.noise)))
        np.testing.assert_allclose(ops.read_latent(blobs.get, start.latent), expected,
                                   rtol=1e-5, atol=1e-4)
    again = run_request(client, doc, blobs, ops.vary_take(
        doc.project, blobs.get, imported.id, 0.5, variation=0.0, geometry=geometry)).takes[0]
    assert again.final_latent == varied.final_latent  # deterministic
    rerun = ops.rerun_take(doc.project, blobs.get, varied.id, geometry=geometry)
    assert ops.finish_render(doc.project, rerun, client.submit(
        rerun.job, blobs=rerun.blobs).result(120), blobs.get).takes[0].final_latent == (
        varied.final_latent)


def test_an_import_varies_after_its_section_moved_a_frame(client) -> None:
    """A section whose bars now round to one frame more or less than when a recording was
    imported into it: the import's latent and noise are both fitted to it."""
    # 3 bars at 120 BPM: 187.5 frames, so where the riff starts decides 187 or 188.
    doc, blobs, geometry = rendered_song(client, "SAO", 120, sections="Intro:1,Riff:3")
    intro, riff = doc.project.sections
    riff_audio = (0.3 * np.sin(np.arange(6 * 8000) / 8000 * 2 * np.pi * 220)).astype(np.float32)
    imported = imported_take(client, doc, blobs, geometry, riff.id, riff_audio)
    frames = ops.section_span(doc.project, riff, geometry).n_frames
    for bpm in np.arange(100.0, 140.0, 0.25):  # an intro tempo that moves the riff a frame
        doc.history.push(EditSectionSettings(intro.id, bpm=float(bpm)))
        moved = ops.section_span(doc.project, doc.project.sections[1], geometry).n_frames
        if moved != frames:
            break
    assert abs(moved - frames) == 1
    vary = ops.vary_take(doc.project, blobs.get, imported.id, 0.5, geometry=geometry)
    varied = run_request(client, doc, blobs, vary).takes[0]
    assert ops.read_latent(blobs.get, varied.final_latent).shape[1] == moved
