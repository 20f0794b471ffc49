"""Intent + project state -> a render request (the worker job and what finishing it needs).

One masked-latent mechanism serves every operation (design §3):
- generate / regenerate / retake: the section's frames are sampled, the neighbours' current
  takes are fixed context around them (their final latents are the source outside the mask);
- repaint: only the frames of the chosen bars are sampled, the rest of the section is the
  active take's latent; its audio is spliced into the active take's audio;
- vary: sampling resumes from a stored checkpoint x_k of a take, with new prompt or guidance;
- extend: the section grows by N bars; the old bars are context, the new ones are sampled.
Every request is a plain value; `finish.finish_render` turns the worker's answer into a command.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

import numpy as np

from melodex_studio.engine.pipelines.render_in_key import DEFAULT_KEY_RETRIES as KEY_RETRIES
from melodex_studio.music.plan import Plan
from melodex_studio.project.commands.arrangement import ResizeSection
from melodex_studio.project.factory import derive_seed
from melodex_studio.project.models import (
    GenerationSettings,
    Project,
    Section,
    Take,
    TakeOperation,
)
from melodex_studio.project.operations.planning import section_conditioning
from melodex_studio.project.operations.splice import crossfade_samples
from melodex_studio.project.operations.timeline import (
    DEFAULT_CONTEXT_FRAMES,
    MELODEX_TINY_GEOMETRY,
    LatentGeometry,
    OperationError,
    ReadBlob,
    RenderWindow,
    SectionSpan,
    bars_span,
    build_window,
    fit_frames,
    section_of,
    section_span,
    take_latent_for_span,
)
from melodex_studio.worker.blobs import BlobBag, decode_tensor
from melodex_studio.worker.jobs import (
    MAX_CANDIDATES,
    AudioSpan,
    FrameRange,
    RenderJob,
    ResumeFrom,
    TempoChange,
)


@dataclass(frozen=True)
class RenderRequest:
    """A render job built from an intent, plus what turning its result into takes needs.

    `job` is None when no inference is needed (a variation at strength 0 is its source).
    `splice_regions` are section-relative sample ranges whose new audio replaces the parent's;
    None means the decoded audio is the whole take. `resized_to` is the section's new length
    for an extension.
    """

    operation: TakeOperation
    section_id: str
    job: RenderJob | None
    blobs: BlobBag
    span: SectionSpan
    geometry: LatentGeometry
    prompt: str
    style: str | None
    settings: GenerationSettings
    plan: Plan | None
    seeds: tuple[int, ...]
    length_bars: int
    parent: Take | None = None
    repaint_ranges: tuple[tuple[int, int], ...] = ()
    splice_regions: tuple[tuple[int, int], ...] | None = None
    strength: float | None = None
    source_checkpoint_step: int | None = None
    variation: float | None = None
    context_seed: int | None = None
    resized_to: int | None = None
    description: str = ""
    context_take_ids: tuple[str, ...] = ()


# --- seeds ---------------------------------------------------------------------------------------


def fresh_seeds(section: Section, count: int, honour_lock: bool = True,
                avoid: Collection[int] = ()) -> tuple[int, ...]:
    """Seeds for new takes: derived from the section's seed and its take count (so a CLI run
    repeats exactly), skipping any seed a take of the section already used, and `avoid` (the
    seeds of renders still running). A locked seed is kept (`honour_lock`): regenerating then
    changes only what the musician edited; a variation's new randomness never uses it."""
    if section.settings.seed_locked and honour_lock:
        return (section.settings.seed,) * count
    # A variation's context seed is the seed of a take that may be gone: still not new.
    used = {take.seed for take in section.takes} | set(avoid) | {
        take.context_seed for take in section.takes if take.context_seed is not None}
    seeds: list[int] = []
    index = len(section.takes) + 1
    while len(seeds) < count:
        seed = derive_seed(section.settings.seed, index)
        index += 1
        if seed not in used:
            used.add(seed)
            seeds.append(seed)
    return tuple(seeds)


# --- building blocks -----------------------------------------------------------------------------


def build_request(
    project: Project,
    section: Section,
    window: RenderWindow,
    generate: list[tuple[int, int]],
    *,
    operation: TakeOperation,
    span: SectionSpan,
    geometry: LatentGeometry,
    prompt: str,
    settings: GenerationSettings,
    plan: Plan | None,
    seeds: tuple[int, ...],
    parent: Take | None,
    description: str,
    read_blob: ReadBlob,
    noise_of: Take | None = None,
    bag: BlobBag | None = None,
    resume: ResumeFrom | None = None,
    preview_every: int = 0,
    key_retries: int = 0,
    **extra: Any,
) -> RenderRequest:
    """The worker job for `generate` (frame ranges of `window`) and the request around it: what
    every operation shares. `extra` holds the operation's own RenderRequest fields."""
    bag = bag if bag is not None else BlobBag()
    keep_start, keep_end = window.keep
    noise_ref = _noise_ref(noise_of, read_blob, bag, keep_end - keep_start)  # (bag order)
    covered = sum(end - start for start, end in generate)
    source_ref = bag.add_latent(window.source) if covered < window.frames else None
    changes = project.tempo_changes()
    first_bpm, first_meter = project.timing_at_start()
    decode_start, decode_end = window.decode_span(geometry)
    job = RenderJob(
        conditioning=section_conditioning(project, section, prompt),
        first_bpm=None if not changes else first_bpm,
        first_meter=None if not changes else first_meter,
        tempo_changes=tuple(TempoChange(bar=b, bpm=bpm, meter=m) for b, bpm, m in changes),
        song_seconds=max(project.grid().bar_to_seconds(project.length_bars), 1e-3),
        plan=plan,
        plan_start_bar=section.start_bar,
        window_start=window.start,
        window_frames=window.frames,
        generate=tuple(FrameRange(start=a, end=b) for a, b in generate),
        source_latent=source_ref,
        seeds=seeds,
        noise=noise_ref,
        steps=settings.steps,
        guidance=settings.guidance,
        guidance_interval=settings.guidance_interval,
        sampler=settings.sampler,
        resume=resume,
        keep=FrameRange(start=keep_start, end=keep_end),
        decode=AudioSpan(start=decode_start, end=decode_end),
        preview_every=preview_every,
        key_retries=key_retries,
    )
    return RenderRequest(
        context_take_ids=window.context_take_ids,
        operation=operation,
        section_id=section.id,
        job=job,
        blobs=bag,
        span=span,
        geometry=geometry,
        prompt=prompt,
        style=section.style,
        settings=settings,
        plan=plan,
        seeds=seeds,
        length_bars=section.length_bars,
        parent=parent,
        description=description,
        **extra,
    )


def _noise_ref(take: Take | None, read_blob: ReadBlob, bag: BlobBag,
               n_frames: int) -> str | None:
    """`take`'s recorded noise for a section of `n_frames` (its blob as it is, or fitted where
    the section's bars now round to a frame more or less)."""
    if take is None or take.noise is None:
        return None
    data = read_blob(take.noise)
    noise = decode_tensor(data)
    if noise.shape[-1] == n_frames:
        return bag.add(data)
    return bag.add_noise(fit_frames(noise, n_frames, f"the noise of take {take.display_name}"))


# --- whole-section renders -----------------------------------------------------------------------


def render_section(
    project: Project,
    read_blob: ReadBlob,
    section_id: str,
    operation: TakeOperation,
    *,
    seeds: tuple[int, ...],
    prompt: str | None = None,
    settings: GenerationSettings | None = None,
    plan: Plan | None = None,
    noise_of: Take | None = None,
    geometry: LatentGeometry = MELODEX_TINY_GEOMETRY,
    context_frames: int = DEFAULT_CONTEXT_FRAMES,
    preview_every: int = 0,
) -> RenderRequest:
    """Sample every frame of a section with its neighbours as context (generate, regenerate,
    retake). `noise_of` re-uses a take's recorded noise (a re-run). The worker listens to each
    new take and renders it again from a new seed when it is heard off the project's key
    (`render_in_key`; see `_listens_for_key` for when it does not)."""
    section = section_of(project, section_id)
    if not 1 <= len(seeds) <= MAX_CANDIDATES:
        raise OperationError(f"a render makes 1 to {MAX_CANDIDATES} takes, not {len(seeds)}")
    settings = (settings or section.settings).model_copy(update={"seed": seeds[0]})
    prompt = section.prompt if prompt is None else prompt
    plan = section.plan if plan is None else plan
    span = section_span(project, section, geometry)
    window = build_window(project, read_blob, geometry, section, span, None, context_frames)
    verb = {TakeOperation.RETAKE: f"{len(seeds)} takes of"}.get(operation, str(operation).title())
    return build_request(
        project,
        section,
        window,
        [window.keep],
        operation=operation,
        span=span,
        geometry=geometry,
        prompt=prompt,
        settings=settings,
        plan=plan,
        seeds=seeds,
        parent=section.active_take,
        description=f"{verb} {section.name}",
        read_blob=read_blob,
        noise_of=noise_of,
        preview_every=preview_every,
        key_retries=KEY_RETRIES if _listens_for_key(section, plan, noise_of, operation) else 0,
    )


def _listens_for_key(section: Section, plan: Plan | None, noise_of: Take | None,
                     operation: TakeOperation) -> bool:
    """Whether the worker listens to a whole-section render for the song's key: not for a
    re-run or a locked seed (they must come out as they were; a retake draws fresh seeds
    whatever the lock), nor for a plan with no pitched part (drums alone have no key to hear;
    each retry would be time wasted)."""
    locked = section.settings.seed_locked and operation is not TakeOperation.RETAKE
    if noise_of is not None or locked:
        return False
    return plan is None or any(bar.chord or bar.bass or bar.melody for bar in plan.bars)


def generate_section(
    project: Project,
    read_blob: ReadBlob,
    section_id: str,
    *,
    seed: int | None = None,
    **options: object,
) -> RenderRequest:
    """First render of a section, from its own seed (or `seed`)."""
    section = section_of(project, section_id)
    chosen = section.settings.seed if seed is None else seed
    return render_section(
        project, read_blob, section_id, TakeOperation.GENERATE, seeds=(chosen,), **options
    )  # type: ignore[arg-type]


def regenerate_section(
    project: Project,
    read_blob: ReadBlob,
    section_id: str,
    *,
    seed: int | None = None,
    **options: object,
) -> RenderRequest:
    """A new take of the whole section with a new seed; neighbours stay as they are."""
    section = section_of(project, section_id)
    seeds = fresh_seeds(section, 1) if seed is None else (seed,)
    return render_section(
        project, read_blob, section_id, TakeOperation.REGENERATE, seeds=seeds, **options
    )  # type: ignore[arg-type]


def retake_section(
    project: Project,
    read_blob: ReadBlob,
    section_id: str,
    count: int,
    *,
    seeds: tuple[int, ...] | None = None,
    **options: object,
) -> RenderRequest:
    """`count` candidates in one job (one batch); all become takes, the first one plays. They
    draw fresh seeds even when the section's seed is locked: four copies would be no choice."""
    section = section_of(project, section_id)
    if not 1 <= count <= MAX_CANDIDATES:
        raise OperationError(f"a retake makes 1 to {MAX_CANDIDATES} candidates, not {count}")
    chosen = fresh_seeds(section, count, honour_lock=False) if seeds is None else tuple(seeds)
    return render_section(
        project, read_blob, section_id, TakeOperation.RETAKE, seeds=chosen, **options
    )  # type: ignore[arg-type]


# --- partial renders -----------------------------------------------------------------------------


def _active_take(section: Section, what: str) -> Take:
    take = section.active_take
    if take is None:
        raise OperationError(f"{section.name!r} has no take to {what} yet: generate it first")
    return take


def repaint_bars(
    project: Project,
    read_blob: ReadBlob,
    section_id: str,
    ranges: list[tuple[int, int]] | tuple[tuple[int, int], ...],
    *,
    seed: int | None = None,
    parent: Take | None = None,
    prompt: str | None = None,
    settings: GenerationSettings | None = None,
    plan: Plan | None = None,
    noise_of: Take | None = None,
    geometry: LatentGeometry = MELODEX_TINY_GEOMETRY,
    context_frames: int = DEFAULT_CONTEXT_FRAMES,
    preview_every: int = 0,
) -> RenderRequest:
    """Re-generate bars [a, b) (0-based, inside the section) for each range, in one pass."""
    section = section_of(project, section_id)
    parent = parent or _active_take(section, "repaint")
    ordered = tuple(sorted((int(a), int(b)) for a, b in ranges))
    previous_end = 0
    for start, end in ordered:
        if not previous_end <= start < end <= section.length_bars:
            raise OperationError(
                f"repaint bars must be inside {section.name!r} (bars 1-{section.length_bars}) and "
                f"not overlap; got bars {start + 1}-{end}"
            )
        previous_end = end
    if not ordered:
        raise OperationError("name at least one range of bars to repaint")
    span = section_span(project, section, geometry)
    own = take_latent_for_span(parent, read_blob, span, geometry)
    window = build_window(project, read_blob, geometry, section, span, own, context_frames)
    generate, regions = bar_ranges(project, section, span, window, ordered, geometry)
    seeds = fresh_seeds(section, 1) if seed is None else (seed,)
    settings = (settings or section.settings).model_copy(update={"seed": seeds[0]})
    prompt = section.prompt if prompt is None else prompt
    plan = section.plan if plan is None else plan
    return build_request(
        project,
        section,
        window,
        generate,
        operation=TakeOperation.REPAINT,
        span=span,
        geometry=geometry,
        prompt=prompt,
        settings=settings,
        plan=plan,
        seeds=seeds,
        parent=parent,
        description=f"Repaint {bar_names(ordered)} of {section.name}",
        read_blob=read_blob,
        noise_of=noise_of,
        preview_every=preview_every,
        repaint_ranges=ordered,
        splice_regions=regions,
    )


def bar_names(ranges: tuple[tuple[int, int], ...]) -> str:
    """0-based [start, end) bar ranges as a musician counts them: "bar 2", "bars 2-4, 7"."""
    names = [f"{a + 1}" if b - a == 1 else f"{a + 1}-{b}" for a, b in ranges]
    single = len(ranges) == 1 and ranges[0][1] - ranges[0][0] == 1
    return f"{'bar' if single else 'bars'} {', '.join(names)}"


def bar_ranges(project: Project, section: Section, span: SectionSpan, window: RenderWindow,
               ranges: tuple[tuple[int, int], ...], geometry: LatentGeometry,
               ) -> tuple[list[tuple[int, int]], tuple[tuple[int, int], ...]]:
    """Bar ranges of a section as window frames to render and section samples to splice."""
    generate, regions = [], []
    for start, end in ranges:
        bars = bars_span(project, section, start, end, geometry)
        generate.append(window.to_window_frames(bars.start_frame, bars.end_frame))
        regions.append((bars.start_sample - span.start_sample, bars.end_sample - span.start_sample))
    return generate, tuple(regions)


def extend_section(
    project: Project,
    read_blob: ReadBlob,
    section_id: str,
    add_bars: int,
    *,
    plan: Plan | None = None,
    seed: int | None = None,
    parent: Take | None = None,
    prompt: str | None = None,
    settings: GenerationSettings | None = None,
    noise_of: Take | None = None,
    geometry: LatentGeometry = MELODEX_TINY_GEOMETRY,
    context_frames: int = DEFAULT_CONTEXT_FRAMES,
    preview_every: int = 0,
) -> RenderRequest:
    """Grow the section by `add_bars` (later sections move right) and render the new bars with
    what is there as context. `plan` is the plan of the grown section (e.g. from
    `planning.plan_extension`); by default the new bars get an empty plan."""
    section = section_of(project, section_id)
    parent = parent or _active_take(section, "extend")
    if add_bars < 1:
        raise OperationError(f"extend by at least one bar, not {add_bars}")
    new_length = section.length_bars + add_bars
    old_span = section_span(project, section, geometry)
    old_latent = take_latent_for_span(parent, read_blob, old_span, geometry)
    try:
        grown = ResizeSection(section.id, new_length).apply(project)
    except ValueError as exc:
        raise OperationError(f"cannot extend {section.name!r}: {exc}") from None
    grown_section = grown.section(section.id)
    if plan is not None and plan.n_bars != new_length:
        raise OperationError(f"the plan has {plan.n_bars} bars, the extended section {new_length}")
    plan = plan if plan is not None else grown_section.plan
    span = section_span(grown, grown_section, geometry)
    own = np.zeros((geometry.channels, span.n_frames), dtype=np.float32)
    own[:, : old_span.n_frames] = old_latent
    window = build_window(grown, read_blob, geometry, grown_section, span, own, context_frames)
    generate = [window.to_window_frames(old_span.end_frame, span.end_frame)]
    seeds = fresh_seeds(section, 1) if seed is None else (seed,)
    settings = (settings or section.settings).model_copy(update={"seed": seeds[0]})
    prompt = section.prompt if prompt is None else prompt
    return build_request(
        grown,
        grown_section,
        window,
        generate,
        operation=TakeOperation.EXTEND,
        span=span,
        geometry=geometry,
        prompt=prompt,
        settings=settings,
        plan=plan,
        seeds=seeds,
        parent=parent,
        description=f"Extend {section.name} by {add_bars} bars",
        read_blob=read_blob,
        noise_of=noise_of,
        preview_every=preview_every,
        splice_regions=((old_span.n_samples, span.n_samples),),
        resized_to=new_length,
    )


def splice_crossfade(request: RenderRequest) -> int:
    return crossfade_samples(request.geometry.sample_rate)
