"""Running a take operation's request on a worker and landing its take, as the studio does:
what the large-model worker tests share."""

from __future__ import annotations

from melodex_studio.project import operations as ops
from melodex_studio.project.document import Document
from melodex_studio.store import MemoryBlobs
from melodex_studio.worker.inprocess import InProcessClient


def run_request(client: InProcessClient, doc: Document, blobs: MemoryBlobs,
                request: ops.RenderRequest) -> ops.RenderOutcome:
    """Submit `request`, finish it against the document, keep its blobs, push its command."""
    result = client.submit(request.job, blobs=request.blobs).result(120)
    outcome = ops.finish_render(doc.project, request, result, blobs.get)
    for sha in outcome.blobs:
        blobs.add(sha, outcome.blobs[sha])
    doc.history.push(outcome.command)
    return outcome


def rendered_song(client: InProcessClient, title: str, bpm: float,
                  sections: str = "Intro:2,Verse:2",
                  ) -> tuple[Document, MemoryBlobs, ops.LatentGeometry]:
    """A song in A minor whose sections ("warm pads", 4 steps) the worker's model has
    rendered one after another, each with the ones before it as context."""
    from melodex_studio.project.fields import validated_copy
    from melodex_studio.project.models import new_project

    project = new_project(title, bpm, "A minor", "4/4", sections, seed=4)
    project = project.with_sections(tuple(
        validated_copy(s, prompt="warm pads", settings=s.settings.model_copy(
            update={"steps": 4})) for s in project.sections))
    doc, blobs = Document(project), MemoryBlobs()
    geometry = ops.LatentGeometry.from_model(client.status.model)
    for section in project.sections:
        run_request(client, doc, blobs, ops.generate_section(doc.project, blobs.get, section.id,
                                                             geometry=geometry))
    return doc, blobs, geometry


def imported_take(client: InProcessClient, doc: Document, blobs: MemoryBlobs,
                  geometry: ops.LatentGeometry, section_id: str, audio):
    """Import mono `audio` (at the model's rate) into a section as its active take."""
    request = ops.import_recording(doc.project, section_id, audio, name="riff.wav",
                                   geometry=geometry)
    outcome = ops.finish_import(doc.project, request,
                                client.submit(request.job, blobs=request.blobs).result(60))
    for sha in outcome.blobs:
        blobs.add(sha, outcome.blobs[sha])
    doc.history.push(outcome.command)
    return outcome.takes[0]
