"""A finished render -> new takes -> one undoable command.

Every new take records design §4 in full: seed, initial noise, model id and weights hash,
sampler, steps, guidance (the settings), plan, prompt, checkpoints, final latent, audio, parent
and operation. The takes enter the project only through the returned command (AddTake, in a
macro for a retake or an extension), so undo restores the previous active take, and redo puts
the same takes back: undo never re-runs inference.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np

from melodex_studio.music.key import Key
from melodex_studio.project.commands import AddTake, Command, MacroCommand, ResizeSection, SetPlan
from melodex_studio.project.models import Checkpoint, Project, Take, TakeOperation, new_id
from melodex_studio.project.operations.requests import RenderRequest
from melodex_studio.project.operations.splice import crossfade_samples, splice_audio
from melodex_studio.project.operations.timeline import (
    OperationError,
    ReadBlob,
    fit_samples,
    read_audio,
)
from melodex_studio.worker.blobs import BlobBag
from melodex_studio.worker.jobs import Conditioning, ModelInfo, RenderedCandidate, RenderOutput
from melodex_studio.worker.protocol import Envelope, JobResult


@dataclass(frozen=True)
class RenderOutcome:
    """The command to push, the takes it adds (first = the one that plays) and the blobs they
    reference, which the caller adds to the project's blob store."""

    command: Command
    takes: tuple[Take, ...]
    blobs: BlobBag
    note: str = ""  # what listening for the key did, for the status bar ("" when nothing)


def _utc_now() -> datetime:
    return datetime.now(UTC)


def finish_render(
    project: Project,
    request: RenderRequest,
    result: Envelope | None,
    read_blob: ReadBlob,
    *,
    now: Callable[[], datetime] = _utc_now,
) -> RenderOutcome:
    """Turn the worker's JobResult (None for a request without a job) into takes + command."""
    try:
        section = project.section(request.section_id)
    except KeyError:
        raise OperationError("the section was removed while it was rendering") from None
    parent = request.parent
    if parent is not None and parent.id not in section.take_ids():
        raise OperationError(f"take {parent.display_name} was deleted while rendering from it")
    if request.job is None:
        return _strength_zero(request, now)
    if result is None or not isinstance(result.message, JobResult):
        raise OperationError("the render has no result to finish")
    output = result.message.output
    if not isinstance(output, RenderOutput):
        raise OperationError(f"expected a render result, got a {output.kind} result")
    blobs = BlobBag(result.blobs)
    kept = BlobBag()
    takes: list[Take] = []
    count = len(output.candidates)
    for index, candidate in enumerate(output.candidates):
        audio_ref = _audio(request, candidate, blobs, kept, read_blob)
        for ref in (
            candidate.noise,
            candidate.final_latent,
            *(c.latent for c in candidate.checkpoints),
        ):
            kept.add(blobs[ref])
        label = f"candidate {index + 1} of {count}" if count > 1 else None
        takes.append(_take(request, candidate, output, audio_ref, label, now()))
    note = key_check_note(output.candidates, request.job.conditioning.key)  # the key asked
    return RenderOutcome(_command(request, takes), tuple(takes), kept, note)


def key_check_note(candidates: tuple[RenderedCandidate, ...], key: str) -> str:
    """A line on the candidates the worker listened to for `key`: silent when each was heard
    in it at the first render, else how many renders it took or what it was heard in."""
    asked = Key.parse(key)
    notes = []
    for candidate in candidates:
        if candidate.heard_key is None:
            continue
        heard = Key.parse(candidate.heard_key) if candidate.heard_key else None
        renders = f"{candidate.renders} render{'s' if candidate.renders > 1 else ''}"
        if heard == asked and candidate.renders > 1:
            notes.append(f"heard in {asked} after {renders}")
        elif heard != asked:
            notes.append(f"heard in {heard if heard else 'no clear key'}, not {asked}, after "
                         f"{renders}")
    return "; ".join(notes)


def _audio(
    request: RenderRequest,
    candidate: RenderedCandidate,
    blobs: BlobBag,
    kept: BlobBag,
    read_blob: ReadBlob,
) -> str:
    if candidate.audio is None:
        raise OperationError("the render returned no audio")
    if request.splice_regions is None:
        return kept.add(blobs[candidate.audio])
    parent = request.parent
    assert parent is not None and parent.audio is not None
    geometry = request.geometry
    new_audio = blobs.tensor(candidate.audio, "audio").reshape(-1)
    n_samples = request.span.n_samples
    # The parent covers the section as it was (shorter, for an extension): fit it to that
    # length, then zeros stand for the bars it never had (they are all inside the region).
    base_length = request.splice_regions[0][0] if request.resized_to else n_samples
    base = fit_samples(
        read_audio(read_blob, parent.audio),
        base_length,
        geometry.samples_per_frame,
        f"take {parent.display_name}",
    )
    base = np.concatenate([base, np.zeros(n_samples - base_length, dtype=np.float32)])
    spliced = splice_audio(
        base, new_audio, request.splice_regions, crossfade_samples(geometry.sample_rate)
    )
    return kept.add_audio(spliced)


def recorded_by(model: ModelInfo, cond: Conditioning | None) -> dict[str, Any]:
    """What every new take records of the model that made it and of the timing and key it was
    made in (a re-run from the record renders in them again)."""
    return {
        "model_id": model.model_id,
        "weights_hash": model.weights_hash,
        "latent_frame_rate": model.latent_frame_rate,
        "audio_sample_rate": model.sample_rate,
        "key": None if cond is None else cond.key,
        "bpm": None if cond is None else cond.bpm,
        "meter": None if cond is None else cond.meter,
    }


def _take(
    request: RenderRequest,
    candidate: RenderedCandidate,
    output: RenderOutput,
    audio_ref: str,
    label: str | None,
    created: datetime,
) -> Take:
    return Take(
        id=new_id(),
        section_id=request.section_id,
        region_start_bar=0,
        region_end_bar=request.length_bars,
        repaint_ranges=request.repaint_ranges,
        parent_id=request.parent.id if request.parent else None,
        context_take_ids=request.context_take_ids,
        operation=request.operation,
        prompt=request.prompt,
        settings=request.settings.model_copy(update={"seed": candidate.seed}),
        plan=request.plan,
        style=request.style,
        seed=candidate.seed,
        strength=request.strength,
        source_checkpoint_step=request.source_checkpoint_step,
        variation=request.variation,
        context_seed=request.context_seed,
        noise=candidate.noise,
        checkpoints=tuple(Checkpoint(step=c.step, latent=c.latent) for c in candidate.checkpoints),
        final_latent=candidate.final_latent,
        audio=audio_ref,
        created=created,
        label=label,
        **recorded_by(output.model, None if request.job is None else request.job.conditioning),
    )


def _strength_zero(request: RenderRequest, now: Callable[[], datetime]) -> RenderOutcome:
    """A variation at strength 0 runs no step: it is its source take under a new id."""
    source = request.parent
    assert source is not None
    take = source.model_copy(
        update={
            "id": new_id(),
            "parent_id": source.id,
            "operation": TakeOperation.VARY,
            # A 1.3 copy keeps a repaint's ranges: its state is the repaint's, which a variation
            # of it renders only there.
            "repaint_ranges": source.repaint_ranges if request.variation is not None else (),
            "strength": request.strength,
            "source_checkpoint_step": request.source_checkpoint_step,
            "variation": request.variation,
            "context_seed": request.context_seed,
            "prompt": request.prompt,
            "settings": request.settings,
            "created": now(),
            "label": None,
        }
    )
    take = Take.model_validate(take.model_dump())
    return RenderOutcome(_command(request, [take]), (take,), BlobBag())


def _command(request: RenderRequest, takes: list[Take]) -> Command:
    first, *others = takes
    children: list[Command] = []
    if request.resized_to is not None:
        children.append(ResizeSection(request.section_id, request.resized_to))
        if request.plan is not None:
            children.append(SetPlan(request.section_id, request.plan))
    children.append(AddTake(request.section_id, first, make_active=True))
    children.extend(AddTake(request.section_id, take, make_active=False) for take in others)
    if len(children) == 1:
        return children[0]
    return MacroCommand(request.description, children)
