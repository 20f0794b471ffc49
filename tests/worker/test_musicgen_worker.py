"""MusicGen as the studio's model: a worker on a tiny random folder (built in the test,
nothing downloaded) runs the take operations a left-to-right model can, with the guarantees the
built-in model gives (neighbours and kept bars bit for bit, re-runs exact), and refuses the one
it cannot (a repaint with kept bars after it) with what to do instead."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
import torch

from melodex_studio.project import operations as ops
from melodex_studio.project.document import Document
from melodex_studio.project.fields import validated_copy
from melodex_studio.project.models import new_project
from melodex_studio.store import MemoryBlobs
from melodex_studio.worker.handles import JobError
from melodex_studio.worker.inprocess import InProcessClient
from melodex_studio.worker.protocol import WorkerConfig
from tests.finished_renders import imported_take, rendered_song, run_request
from tests.musicgen_folder import write_tiny_musicgen

RATE = 8000  # the tiny folder's EnCodec: 80 samples a frame, 100 frames a second


@pytest.fixture(scope="module")
def client(tmp_path_factory) -> Iterator[InProcessClient]:
    folder = write_tiny_musicgen(tmp_path_factory.mktemp("musicgen"))
    worker = InProcessClient(WorkerConfig(model="musicgen", model_dir=str(folder), threads=2))
    yield worker
    worker.close()


def test_the_worker_says_what_the_model_is_and_cannot_do(client) -> None:
    info = client.status.model
    assert info is not None and info.model_id == "musicgen"
    assert (info.sample_rate, info.samples_per_frame, info.latent_channels) == (RATE, 80, 4)
    assert info.latent_frame_rate == 100.0 and not info.plans and info.imports
    assert info.noises_imports
    assert not info.repaints_inside and not info.diffusion
    assert len(info.weights_hash) == 64


def test_sections_continue_vary_and_rerun_with_the_studios_guarantees(client) -> None:
    doc, blobs, geometry = rendered_song(client, "MusicGen", 240)  # a bar: 1 s, 100 frames
    intro, verse = doc.project.sections
    take = verse.active_take
    assert len(ops.read_audio(blobs.get, take.audio)) == 2 * RATE
    # The studio asks to listen for the key, but on a CPU a large model renders once (minutes
    # each), without listening.
    request = ops.regenerate_section(doc.project, blobs.get, verse.id, geometry=geometry)
    assert request.job.key_retries
    output = client.submit(request.job, blobs=request.blobs).result(120).message.output
    candidate = output.candidates[0]
    assert candidate.renders == 1 and not candidate.heard_key
    codes = ops.read_latent(blobs.get, take.final_latent)
    assert codes.shape == (4, 200) and np.array_equal(codes, np.round(codes))
    intro_audio = ops.read_audio(blobs.get, intro.active_take.audio)
    verse_audio = ops.read_audio(blobs.get, take.audio)
    # Repaint the verse's last bar: a continuation of its first bar; the intro stays.
    repaint = ops.repaint_bars(doc.project, blobs.get, verse.id, [(1, 2)], seed=9,
                               geometry=geometry)
    repainted_take = run_request(client, doc, blobs, repaint).takes[0]
    repainted = ops.read_audio(blobs.get, repainted_take.audio)
    fade = ops.crossfade_samples(geometry.sample_rate)
    assert np.array_equal(repainted[: RATE - fade], verse_audio[: RATE - fade])
    assert not np.array_equal(repainted[RATE:], verse_audio[RATE:])
    assert np.array_equal(ops.read_audio(blobs.get, doc.project.sections[0].active_take.audio),
                          intro_audio)
    # A variation of that repaint varies its last bar only: the first stays, code for code.
    vary = ops.vary_take(doc.project, blobs.get, repainted_take.id, 0.5, geometry=geometry)
    varied_repaint = run_request(client, doc, blobs, vary).takes[0]
    assert varied_repaint.repaint_ranges == ((1, 2),)
    before = ops.read_latent(blobs.get, repainted_take.final_latent)
    after = ops.read_latent(blobs.get, varied_repaint.final_latent)
    assert np.array_equal(after[:, :100], before[:, :100])
    assert not np.array_equal(after[:, 100:], before[:, 100:])
    # The verse's first bar has a kept bar after it: MusicGen cannot fill that gap.
    gap = ops.repaint_bars(doc.project, blobs.get, verse.id, [(0, 1)], geometry=geometry)
    with pytest.raises(JobError, match="cannot repaint bars with kept bars"):
        client.submit(gap.job, blobs=gap.blobs).result(60)
    # A re-run from the record is the same take, bit for bit.
    rerun = ops.rerun_take(doc.project, blobs.get, take.id, geometry=geometry)
    again = ops.finish_render(doc.project, rerun, client.submit(
        rerun.job, blobs=rerun.blobs).result(120), blobs.get).takes[0]
    assert (again.final_latent, again.audio, again.noise) == (take.final_latent, take.audio,
                                                              take.noise)
    # A variation that draws nothing anew is the take again (same noise, same context), from
    # step 0 or half way.
    for strength, step in ((1.0, 0), (0.5, 2)):
        vary = ops.vary_take(doc.project, blobs.get, take.id, strength, variation=0.0,
                             geometry=geometry)
        same = run_request(client, doc, blobs, vary).takes[0]
        assert same.source_checkpoint_step == step and same.final_latent == take.final_latent
    # From half way, with the same prompt, it keeps the first half of the take's codes and
    # writes the rest anew from a new seed (another prompt too); a re-run is exact.
    for prompt in (None, "brass fanfare"):
        vary = ops.vary_take(doc.project, blobs.get, take.id, 0.5, prompt=prompt,
                             geometry=geometry)
        half = run_request(client, doc, blobs, vary).takes[0]
        assert (half.source_checkpoint_step, half.variation) == (2, 1.0)
        assert half.seed != take.seed
        half_codes = ops.read_latent(blobs.get, half.final_latent)
        assert np.array_equal(half_codes[:, :100], codes[:, :100])
        assert not np.array_equal(half_codes[:, 100:], codes[:, 100:])
        rerun = ops.rerun_take(doc.project, blobs.get, half.id, geometry=geometry)
        again = ops.finish_render(doc.project, rerun, client.submit(
            rerun.job, blobs=rerun.blobs).result(120), blobs.get).takes[0]
        assert (again.final_latent, again.noise) == (half.final_latent, half.noise)
    # A variation that keeps part of its source's randomness, varied again with nothing new
    # from a later step or from its own, is itself again: it draws from its own noise.
    partial = run_request(client, doc, blobs, ops.vary_take(
        doc.project, blobs.get, take.id, 0.5, variation=0.6, geometry=geometry)).takes[0]
    for step in (3, 2):
        same = run_request(client, doc, blobs, ops.vary_take(
            doc.project, blobs.get, partial.id, None, step=step, variation=0.0,
            geometry=geometry)).takes[0]
        assert same.final_latent == partial.final_latent, step
    # The planner is the built-in model's: a plan job says so.
    with pytest.raises(JobError, match="MusicGen writes no plans"):
        client.submit(ops.plan_request(doc.project, verse.id).job).result(60)


def test_a_folder_that_is_not_musicgen_is_refused_with_the_reason(tmp_path) -> None:
    from melodex_studio.worker.server.models import ModelUnavailable
    from melodex_studio.worker.server.musicgen_executor import MusicGenExecutor

    executor = MusicGenExecutor(WorkerConfig(model="musicgen", model_dir=str(tmp_path)))
    with pytest.raises(ModelUnavailable, match="not a MusicGen folder"):
        executor.load()
    with pytest.raises(ModelUnavailable, match="Preferences"):
        MusicGenExecutor(WorkerConfig(model="musicgen")).load()


def test_guidance_holds_to_the_end_whatever_the_sections_interval(client) -> None:
    """The guidance interval is one of noise levels; over a token model's progress it would
    leave the end of the section unguided, so MusicGen guides everywhere."""
    project = new_project("MusicGen", 240, "A minor", "4/4", "Intro:1", seed=4)
    section = project.sections[0]
    geometry = ops.LatentGeometry.from_model(client.status.model)
    latents = []
    for interval in ((0.0, 1.0), (0.0, 0.25)):
        settings = section.settings.model_copy(update={"steps": 4, "guidance_interval": interval})
        changed = project.replace_section(validated_copy(section, prompt="warm pads",
                                                         settings=settings))
        request = ops.generate_section(changed, MemoryBlobs().get, section.id, geometry=geometry)
        result = client.submit(request.job, blobs=request.blobs).result(120)
        latents.append(result.blobs[result.message.output.candidates[0].final_latent])
    assert latents[0] == latents[1]


def test_a_recording_is_imported_as_codes_and_continued_from_any_point(client) -> None:
    project = new_project("MusicGen", 240, "A minor", "4/4", "Riff:2", seed=4)
    section = project.sections[0]
    project = project.replace_section(validated_copy(
        section, prompt="warm pads", settings=section.settings.model_copy(update={"steps": 4})))
    doc, blobs = Document(project), MemoryBlobs()
    geometry = ops.LatentGeometry.from_model(client.status.model)
    assert geometry.noises_imports
    time = np.arange(2 * RATE) / RATE
    riff = (0.3 * np.sin(2 * np.pi * 220 * time) * (np.sin(2 * np.pi * 2 * time) > 0))
    imported = imported_take(client, doc, blobs, geometry, section.id, riff.astype(np.float32))
    codes = ops.read_latent(blobs.get, imported.final_latent)
    assert codes.shape == (4, 200) and np.array_equal(codes, np.round(codes))
    assert codes.min() >= 0 and codes.max() < 16
    # Vary from half way: the recording's first bar is kept code for code, the second written
    # by the model as a continuation of it.
    vary = ops.vary_take(doc.project, blobs.get, imported.id, 0.5, geometry=geometry)
    half = run_request(client, doc, blobs, vary).takes[0]
    varied = ops.read_latent(blobs.get, half.final_latent)
    assert np.array_equal(varied[:, :100], codes[:, :100])
    assert not np.array_equal(varied[:, 100:], codes[:, 100:])
    # Extend the recording by a bar: the new bar continues it, the recording stays.
    extended = run_request(client, doc, blobs, ops.extend_section(
        doc.project, blobs.get, section.id, 1, geometry=geometry)).takes[0]
    longer = ops.read_latent(blobs.get, extended.final_latent)
    assert longer.shape == (4, 300) and np.array_equal(longer[:, :200], varied)


def test_a_worker_on_a_gpu_with_bfloat16_loads_the_networks_so_and_says_it(
        tmp_path, monkeypatch) -> None:
    """What a worker does on a GPU that computes in bfloat16 (here the CPU stands in for it:
    the choice of dtype is made to say bfloat16), and that the musician can refuse it."""
    from melodex_studio.worker.server import folder_executor
    from melodex_studio.worker.server.musicgen_executor import MusicGenExecutor

    monkeypatch.setattr(folder_executor, "compute_dtype",
                        lambda device, half: torch.bfloat16 if half else torch.float32)
    folder = write_tiny_musicgen(tmp_path)
    half = InProcessClient(WorkerConfig(model="musicgen", model_dir=str(folder), threads=2))
    try:
        assert half.status.precision == "bfloat16"
        doc, blobs, _ = rendered_song(half, "MusicGen", 240)
        take = doc.project.sections[1].active_take
        assert len(ops.read_audio(blobs.get, take.audio)) == 2 * RATE
    finally:
        half.close()
    for allowed, dtype in ((True, torch.bfloat16), (False, torch.float32)):
        executor = MusicGenExecutor(WorkerConfig(model="musicgen", model_dir=str(folder),
                                                 half_precision=allowed))
        executor.load()
        assert executor.describe().precision == str(dtype).removeprefix("torch.")
        assert executor.backend.model.decoder.dtype == dtype
        assert executor.backend.model.audio_encoder.dtype == torch.float32
