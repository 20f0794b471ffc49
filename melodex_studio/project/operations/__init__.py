"""Operations: a musician's intent plus the project's state -> a worker job; the finished job ->
an undoable command that adds the new takes (or plan). Pure Python: jobs are values, tensors
are blobs, and nothing here imports torch.

    request = regenerate_section(project, read_blob, section_id)
    handle = client.submit(request.job, blobs=request.blobs)
    outcome = finish_render(document.project, request, handle.result(), read_blob)
    blobs.update(outcome.blobs); document.history.push(outcome.command)
"""

from __future__ import annotations

from melodex_studio.project.operations.finish import RenderOutcome, finish_render
from melodex_studio.project.operations.importing import (
    ImportRequest,
    finish_import,
    fit_recording,
    import_recording,
    recording_seconds,
)
from melodex_studio.project.operations.planning import (
    PlanRequest,
    finish_plan,
    midi_plan_command,
    plan_command,
    plan_extension,
    plan_request,
)
from melodex_studio.project.operations.requests import (
    RenderRequest,
    extend_section,
    fresh_seeds,
    generate_section,
    regenerate_section,
    render_section,
    repaint_bars,
    retake_section,
)
from melodex_studio.project.operations.splice import (
    SPLICE_CROSSFADE_SECONDS,
    changed_zone,
    crossfade_samples,
    splice_audio,
)
from melodex_studio.project.operations.timeline import (
    DEFAULT_CONTEXT_FRAMES,
    MELODEX_TINY_GEOMETRY,
    LatentGeometry,
    OperationError,
    ReadBlob,
    SectionSpan,
    bars_span,
    read_audio,
    read_latent,
    section_span,
)
from melodex_studio.project.operations.variation import (
    rerun_take,
    start_step_for_strength,
    vary_steps,
    vary_take,
)

__all__ = [
    "DEFAULT_CONTEXT_FRAMES",
    "MELODEX_TINY_GEOMETRY",
    "SPLICE_CROSSFADE_SECONDS",
    "ImportRequest",
    "LatentGeometry",
    "OperationError",
    "PlanRequest",
    "ReadBlob",
    "RenderOutcome",
    "RenderRequest",
    "SectionSpan",
    "bars_span",
    "changed_zone",
    "crossfade_samples",
    "extend_section",
    "finish_import",
    "finish_plan",
    "finish_render",
    "fit_recording",
    "fresh_seeds",
    "generate_section",
    "import_recording",
    "midi_plan_command",
    "plan_command",
    "plan_extension",
    "plan_request",
    "read_audio",
    "read_latent",
    "recording_seconds",
    "regenerate_section",
    "render_section",
    "repaint_bars",
    "rerun_take",
    "retake_section",
    "section_span",
    "splice_audio",
    "start_step_for_strength",
    "vary_steps",
    "vary_take",
]
