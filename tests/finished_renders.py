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
