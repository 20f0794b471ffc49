"""Import a recording into a section as a take (operation `import`).

The recording, at the codec's rate and fitted to the section's length (starting at its first
bar, or at the bar it was dropped on with silence before it; cut off at the section's end, or
silence added after it), becomes the take's audio exactly as it was. The worker
encodes it into the take's final latent and draws the noise a render from the take's seed
starts from. With both, the imported take works like a rendered one: Repaint rewrites some of
its bars and leaves every other sample of the recording as it was, Extend continues it, and Vary
starts from the recording noised to the chosen strength (`variation.state_latent`).

    request = import_recording(project, section_id, audio, name="riff.wav", geometry=geometry)
    handle = client.submit(request.job, blobs=request.blobs)
    outcome = finish_import(document.project, request, handle.result())
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np

from melodex_studio.music.key import Key
from melodex_studio.project.commands import AddTake
from melodex_studio.project.fields import MAX_NAME_CHARS
from melodex_studio.project.models import Project, Take, TakeOperation, new_id
from melodex_studio.project.operations.finish import RenderOutcome, recorded_by
from melodex_studio.project.operations.planning import section_conditioning
from melodex_studio.project.operations.requests import fresh_seeds
from melodex_studio.project.operations.timeline import (
    MELODEX_TINY_GEOMETRY,
    LatentGeometry,
    OperationError,
    bars_span,
    section_of,
    section_span,
)
from melodex_studio.worker.blobs import BlobBag
from melodex_studio.worker.jobs import EncodeJob, EncodeOutput
from melodex_studio.worker.protocol import Envelope, JobResult


@dataclass(frozen=True)
class ImportRequest:
    """The encode job for a recording fitted to a section, and what the take will record."""

    section_id: str
    job: EncodeJob
    blobs: BlobBag
    audio: str  # the fitted recording's blob: the take's audio
    n_samples: int
    n_frames: int
    seed: int
    name: str
    description: str
    geometry: LatentGeometry


def fit_recording(audio: np.ndarray, n_samples: int) -> np.ndarray:
    """Mono `audio` fitted to `n_samples`: its start kept, the rest cut off or silence added."""
    audio = np.asarray(audio, dtype=np.float32).reshape(-1)[:n_samples]
    if len(audio) < n_samples:
        audio = np.concatenate([audio, np.zeros(n_samples - len(audio), dtype=np.float32)])
    return np.ascontiguousarray(audio)


def recording_seconds(project: Project, section_id: str, start_bar: int,
                      geometry: LatentGeometry = MELODEX_TINY_GEOMETRY) -> float:
    """How much of a recording a section holds from its bar `start_bar` on (plus a frame):
    all of the file that needs reading, however long it is."""
    section = section_of(project, section_id)
    held = (section_span(project, section, geometry).n_samples
            - bars_span(project, section, 0, start_bar, geometry).n_samples)
    return (held + geometry.samples_per_frame) / geometry.sample_rate


def import_recording(
    project: Project,
    section_id: str,
    audio: np.ndarray,
    *,
    name: str,
    geometry: LatentGeometry = MELODEX_TINY_GEOMETRY,
    seed: int | None = None,
    start_bar: int = 0,
) -> ImportRequest:
    """The request that imports mono `audio` (at `geometry.sample_rate`) into a section, the
    recording starting at the section's bar `start_bar` (0-based; the bars before it silent,
    for a repaint to fill)."""
    section = section_of(project, section_id)
    if not 0 <= start_bar < section.length_bars:
        raise OperationError(f"{section.name!r} has bars 1-{section.length_bars}; a recording "
                             f"cannot start at bar {start_bar + 1}")
    if not np.isfinite(np.asarray(audio, dtype=np.float32)).all():
        raise OperationError(f"the recording {name!r} holds samples that are not numbers")
    span = section_span(project, section, geometry)
    lead = bars_span(project, section, 0, start_bar, geometry).n_samples
    fitted = fit_recording(np.concatenate([np.zeros(lead, dtype=np.float32),
                                           np.asarray(audio, dtype=np.float32).reshape(-1)]),
                           span.n_samples)
    chosen = fresh_seeds(section, 1)[0] if seed is None else seed
    bag = BlobBag()
    audio_ref = bag.add_audio(fitted)
    return ImportRequest(
        section_id=section.id,
        job=EncodeJob(audio=audio_ref, frames=span.n_frames, seed=chosen),
        blobs=bag,
        audio=audio_ref,
        n_samples=span.n_samples,
        n_frames=span.n_frames,
        seed=chosen,
        name=name,
        description=f"Import {name} into {section.name}"
        + (f" at bar {start_bar + 1}" if start_bar else ""),
        geometry=geometry,
    )


def finish_import(
    project: Project,
    request: ImportRequest,
    result: Envelope,
    *,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> RenderOutcome:
    """The take the import adds (active), the command that adds it, and its blobs."""
    section = section_of(project, request.section_id)
    if not isinstance(result.message, JobResult):
        raise OperationError("the import has no result to finish")
    output = result.message.output
    if not isinstance(output, EncodeOutput):
        raise OperationError(f"expected an encode result, got a {output.kind} result")
    span = section_span(project, section, request.geometry)
    if (span.n_samples, span.n_frames) != (request.n_samples, request.n_frames):
        raise OperationError(f"{section.name!r} changed length while the recording was "
                             "imported; import it again")
    cond = section_conditioning(project, section)
    blobs = BlobBag(result.blobs)
    kept = BlobBag()
    for ref in (output.latent, output.noise):
        kept.update({ref: blobs[ref]})
    kept.update({request.audio: request.blobs[request.audio]})
    take = Take(
        id=new_id(),
        section_id=section.id,
        region_start_bar=0,
        region_end_bar=section.length_bars,
        operation=TakeOperation.IMPORT,
        prompt=section.prompt,
        settings=section.settings.model_copy(update={"seed": request.seed}),
        plan=section.plan,
        style=section.style,
        seed=request.seed,
        noise=output.noise,
        final_latent=output.latent,
        audio=request.audio,
        created=now(),
        label=" ".join(request.name.split())[:MAX_NAME_CHARS].strip() or None,
        **recorded_by(output.model, cond),
    )
    command = AddTake(section.id, take, make_active=True)
    return RenderOutcome(command, (take,), kept, import_key_note(output.heard_key, cond.key))


def import_key_note(heard: str, section_key: str) -> str:
    """What the recording was heard in, when that is not the section's key or its relative
    (the same notes: a riff moved onto an A minor section's notes may well be heard in C
    major): repaints and variations render in the section's key, so the musician may want to
    set the section's key to the recording's first."""
    key = Key.parse(section_key)
    if not heard or Key.parse(heard) in (key, key.relative):
        return ""
    return (f"heard in {heard}, the section is in {section_key}: set the section's key to "
            f"{heard} to repaint or vary it in the recording's key")
