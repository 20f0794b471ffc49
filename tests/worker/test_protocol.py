"""Messages, frames and blobs: what crosses the process boundary round-trips exactly."""

from __future__ import annotations

import numpy as np
import pytest

from melodex_studio.music.plan import Plan
from melodex_studio.worker.blobs import BlobBag, BlobError, decode_tensor, encode_audio
from melodex_studio.worker.jobs import (
    AudioSpan,
    Conditioning,
    FrameRange,
    PlanJob,
    RenderJob,
    ResumeFrom,
    TempoChange,
    job_blob_refs,
)
from melodex_studio.worker.protocol import (
    CancelJob,
    Envelope,
    FailureKind,
    JobFailed,
    Priority,
    Progress,
    ProtocolError,
    SubmitJob,
    decode_frame,
    encode_frame,
    envelope_from_json,
    envelope_to_json,
)

COND = Conditioning(prompt="lazy lo-fi keys", bpm=92.0, key="A minor", meter="4/4")


def _render_job(bag: BlobBag) -> RenderJob:
    source = bag.add_latent(np.zeros((16, 40), np.float32))
    return RenderJob(
        conditioning=COND,
        plan=Plan.empty(2, 16),
        plan_start_bar=1,
        window_start=30,
        window_frames=40,
        generate=(FrameRange(start=10, end=30),),
        source_latent=source,
        seeds=(7, 8),
        steps=8,
        guidance=4.0,
        keep=FrameRange(start=10, end=30),
        decode=AudioSpan(start=10 * 1024 - 300, end=30 * 1024 + 5),
    )


def test_frame_round_trip_keeps_message_and_blob_bytes() -> None:
    bag = BlobBag()
    job = _render_job(bag)
    message = SubmitJob(job_id="job-1", priority=Priority.AUDITION, job=job)
    envelope = decode_frame(encode_frame(message, bag))
    assert envelope.message == message
    assert dict(envelope.blobs) == dict(bag)
    assert job_blob_refs(job) == frozenset(bag)


def test_json_transport_round_trip_matches_binary() -> None:
    bag = BlobBag()
    message = SubmitJob(job_id="job-2", job=_render_job(bag))
    envelope = envelope_from_json(envelope_to_json(Envelope(message, bag)))
    assert envelope.message == message and dict(envelope.blobs) == dict(bag)


def test_damaged_frames_are_refused_with_a_reason() -> None:
    bag = BlobBag()
    frame = bytearray(encode_frame(SubmitJob(job_id="job-3", job=_render_job(bag)), bag))
    frame[-1] ^= 0xFF  # flip a bit inside the blob
    with pytest.raises(ProtocolError, match="sha256"):
        decode_frame(bytes(frame))
    with pytest.raises(ProtocolError, match="magic"):
        decode_frame(b"XXXX" + bytes(frame[4:]))
    with pytest.raises(ProtocolError, match="truncated"):
        decode_frame(bytes(frame[:-10]))
    with pytest.raises(ProtocolError, match="invalid message"):
        decode_frame(encode_frame(CancelJob(job_id="x")).replace(b"cancel", b"cancex"))


def test_every_message_kind_is_json() -> None:
    for message in (
        CancelJob(job_id="a"),
        Progress(job_id="a", step=3, total=8),
        JobFailed(job_id="a", kind=FailureKind.OOM, reason="out of memory"),
    ):
        assert decode_frame(encode_frame(message)).message == message


def test_jobs_validate_their_geometry() -> None:
    with pytest.raises(ValueError, match="source latent"):
        RenderJob(
            conditioning=COND,
            window_start=0,
            window_frames=10,
            generate=(FrameRange(start=2, end=5),),
            seeds=(1,),
            steps=4,
            guidance=1.0,
            keep=FrameRange(start=0, end=10),
        )
    with pytest.raises(ValueError, match="template plan"):
        PlanJob(conditioning=COND, n_bars=4, seed=1, template=Plan.empty(2, 16))
    # A variation that draws new randomness mixes it with the noise its state holds.
    bag = BlobBag()
    state = bag.add_latent(np.zeros((16, 20), np.float32))
    job = _render_job(bag)
    resume = ResumeFrom(latent=state, step=4, total_steps=8, variation=0.5)
    with pytest.raises(ValueError, match="needs the noise its state holds"):
        RenderJob.model_validate({**job.model_dump(), "resume": resume.model_dump()})
    noise = bag.add_noise(np.zeros((16, 20), np.float32))
    assert RenderJob.model_validate({**job.model_dump(), "resume": resume.model_dump(),
                                     "noise": noise}).resume.variation == 0.5
    with pytest.raises(ValueError, match="less than or equal to 1"):
        ResumeFrom(latent=state, step=4, total_steps=8, variation=1.5)


def test_a_render_jobs_tempo_map_is_whole_and_readable() -> None:
    base = dict(conditioning=COND, window_start=0, window_frames=10,
                generate=(FrameRange(start=0, end=10),), seeds=(1,), steps=4, guidance=1.0,
                keep=FrameRange(start=0, end=10))
    change = TempoChange(bar=4, bpm=90.0, meter="3/4")
    job = RenderJob(**base, first_bpm=120.0, first_meter="4/4", tempo_changes=(change,))
    grid = job.grid(24000)
    assert (grid.bpm_at(3), grid.bpm_at(4), str(grid.meter_at(4))) == (120.0, 90.0, "3/4")
    with pytest.raises(ValueError, match="first_bpm, first_meter"):
        RenderJob(**base, tempo_changes=(change,))
    with pytest.raises(ValueError, match="increasing bars"):
        RenderJob(**base, first_bpm=120.0, first_meter="4/4", tempo_changes=(change, change))
    with pytest.raises(ValueError, match="meter"):
        RenderJob(**base, first_bpm=120.0, first_meter="4/4",
                  tempo_changes=(TempoChange(bar=4, bpm=90.0, meter="three"),))


def test_blobs_are_content_addressed_and_typed() -> None:
    audio = np.linspace(-1, 1, 1000, dtype=np.float32)
    first, second = BlobBag(), BlobBag()
    assert first.add_audio(audio) == second.add_audio(audio.copy())
    sha = next(iter(first))
    assert np.array_equal(first.tensor(sha, "audio"), audio)
    with pytest.raises(BlobError, match="expected a 'latent'"):
        first.tensor(sha, "latent")
    with pytest.raises(BlobError, match="not a tensor blob"):
        decode_tensor(b"not safetensors")
    assert decode_tensor(encode_audio(audio[None, :])).shape == (1000,)
