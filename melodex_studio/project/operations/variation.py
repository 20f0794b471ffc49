"""Variations from a take's checkpoints, and re-running a take from its record.

A variation resumes a stored trajectory: strength s picks the step k whose time t_k is the
first at or below s (the engine's rule, mirrored here without torch), the take's state x_k is
the start, and the remaining steps run with the new prompt or guidance. Strength 0 is the
take itself (no step runs, so no job is sent); strength 1 starts from its initial noise. An
imported recording has no trajectory: its x_k is its latent noised to t_k (`state_latent`).

A re-run rebuilds the operation that made a take from what the take recorded (operation,
seed, noise, settings, prompt, plan, parent, region), so with the same project around it the
result is the same take, bit for bit: the determinism guarantee of design §3.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from melodex_studio.music.plan import Plan
from melodex_studio.project.commands.arrangement import ResizeSection
from melodex_studio.project.models import GenerationSettings, Project, Section, Take, TakeOperation
from melodex_studio.project.operations.requests import (
    RenderRequest,
    bar_names,
    bar_ranges,
    build_request,
    extend_section,
    fresh_seeds,
    render_section,
    repaint_bars,
)
from melodex_studio.project.operations.timeline import (
    DEFAULT_CONTEXT_FRAMES,
    MELODEX_TINY_GEOMETRY,
    LatentGeometry,
    OperationError,
    ReadBlob,
    build_window,
    check_latent_space,
    fit_frames,
    read_latent,
    section_span,
    take_latent_for_span,
)
from melodex_studio.worker.blobs import BlobBag, decode_tensor
from melodex_studio.worker.jobs import ResumeFrom


def timestep_schedule(steps: int, shift: float = 1.0) -> list[float]:
    """`engine.sampling.timestep_schedule` in plain Python: steps + 1 times from 1 to 0."""
    times = [1.0 - k / steps for k in range(steps + 1)]
    times = [shift * t / (1.0 + (shift - 1.0) * t) for t in times]
    times[0], times[-1] = 1.0, 0.0
    return times


def start_step_for_strength(steps: int, strength: float, shift: float = 1.0) -> int:
    """The first step whose time is at or below `strength` (0 -> steps, 1 -> 0)."""
    if not 0.0 <= strength <= 1.0:
        raise OperationError(f"strength must be between 0 and 1, not {strength}")
    return next(k for k, t in enumerate(timestep_schedule(steps, shift)) if t <= strength + 1e-9)


def _parent(section: Section, take: Take) -> Take:
    if take.parent_id is None:
        raise OperationError(f"take {take.display_name} records no parent take")
    try:
        return section.take(take.parent_id)
    except KeyError:
        raise OperationError(
            f"take {take.display_name} was made from take {take.parent_id[:8]}, which was deleted"
        ) from None


def state_at_step(section: Section, take: Take, step: int) -> tuple[Take, str | None]:
    """Where x_step of `take`'s trajectory is stored: (take, blob) for its noise (step 0), a
    stored checkpoint or its final latent (last step); for a variation, the parent's state
    before it branched off. An imported take has no trajectory in between: (that take, None),
    and `state_latent` noises its latent to the step's time."""
    if step == 0 and take.noise is not None and (
            take.operation is not TakeOperation.VARY or take.variation is not None):
        return take, take.noise  # a variation's noise is its own since it draws some
    if step == take.settings.steps and take.final_latent is not None:
        return take, take.final_latent
    for checkpoint in take.checkpoints:
        if checkpoint.step == step:
            return take, checkpoint.latent
    if take.operation is TakeOperation.IMPORT and 0 < step < take.settings.steps:
        return take, None
    branched = take.source_checkpoint_step
    if take.operation is TakeOperation.VARY and branched is not None and step <= branched:
        return state_at_step(section, _parent(section, take), step)
    stored = sorted(c.step for c in take.checkpoints)
    raise OperationError(
        f"take {take.display_name} stored no state at step {step} (it has steps "
        f"{', '.join(map(str, stored)) or 'none'}); choose a strength that lands on one"
    )


def _rendered_bars(section: Section, origin: Take) -> tuple[tuple[int, int], ...]:
    """The bars `origin`'s trajectory rendered, where it kept the others at its parent's: a
    repaint's ranges (or those of a variation of one), an extension's new bars (all of them
    when its parent is gone); () for a take rendered whole."""
    if origin.repaint_ranges:
        return origin.repaint_ranges
    if origin.operation is TakeOperation.EXTEND and origin.parent_id is not None:
        try:
            before = section.take(origin.parent_id).region_end_bar
        except KeyError:
            return ()
        if 0 < before < origin.region_end_bar:
            return ((before, origin.region_end_bar),)
    return ()


def context_seed_of(take: Take) -> int:
    """The seed whose draw noised the frames around the section while `take`'s trajectory was
    rendered: a variation's recorded one, else the take's own seed (its render drew all its
    noise from it)."""
    if take.operation is TakeOperation.VARY and take.context_seed is not None:
        return take.context_seed
    return take.seed


def vary_steps(take: Take) -> list[int]:
    """The steps a variation of `take` can start from: its stored checkpoints, or every step of
    an imported recording (`state_at_step`: its latent noised to that step's time)."""
    if take.operation is TakeOperation.IMPORT:
        return list(range(take.settings.steps))
    return [checkpoint.step for checkpoint in take.checkpoints]


def state_latent(read_blob: ReadBlob, section: Section, take: Take, step: int,
                 shift: float = 1.0) -> np.ndarray:
    """x_step of `take`'s trajectory as an array. For an imported recording (or a variation
    that branched off one) it is the recording's latent noised to step k's time with the
    import's own noise, ``(1 - t) x0 + t noise`` (the engine's `noised`): what a render
    started from that latent at that strength holds."""
    origin, ref = state_at_step(section, take, step)
    if ref is not None:
        return decode_tensor(read_blob(ref))
    if origin.final_latent is None or origin.noise is None:
        raise OperationError(f"take {origin.display_name} lacks the latent or noise to vary")
    t = np.float32(timestep_schedule(origin.settings.steps, shift)[step])
    x0 = decode_tensor(read_blob(origin.final_latent)).astype(np.float32)
    noise = decode_tensor(read_blob(origin.noise)).astype(np.float32)
    return (np.float32(1.0) - t) * x0 + t * noise


def vary_take(
    project: Project,
    read_blob: ReadBlob,
    take_id: str,
    strength: float | None = None,
    *,
    prompt: str | None = None,
    settings: GenerationSettings | None = None,
    plan: Plan | None = None,
    step: int | None = None,
    variation: float | None = 1.0,
    seed: int | None = None,
    repaint_ranges: tuple[tuple[int, int], ...] | None = None,
    geometry: LatentGeometry = MELODEX_TINY_GEOMETRY,
    context_frames: int = DEFAULT_CONTEXT_FRAMES,
    preview_every: int = 0,
) -> RenderRequest:
    """Vary take `take_id` from its state at `step` (or the step `strength` picks: the share of
    the denoising run again), optionally with a new prompt, settings (guidance, interval,
    sampler; the number of steps stays the take's) or plan.

    `variation` is how much of the randomness still to come is drawn anew, from `seed` (a
    fresh seed of the section by default, never its locked one): 0 continues the take's own
    noise, so with the same prompt and plan the take comes back as it was; 1 draws all of it
    anew. The state at the step moves with its noise (the worker's `vary_noise`), so the music
    up to that step stays, and the frames around the section keep the noise they had. None is
    a variation as made before format 1.3 (a re-run of one): the render's own draw from
    `seed`, by default the take's. Where the state is a repaint's or an extension's, only the
    bars it rendered are rendered again (`repaint_ranges`, by default those; a re-run passes
    those its take recorded).
    """
    try:
        section = project.section_of_take(take_id)
    except KeyError:
        raise OperationError(f"the project has no take {take_id}") from None
    if variation is not None and not 0.0 <= variation <= 1.0:
        raise OperationError(f"variation must be between 0 and 1, not {variation}")
    source = section.take(take_id)
    check_latent_space(source, geometry)
    steps = source.settings.steps
    base = settings or source.settings
    if base.steps != steps:
        raise OperationError(f"a variation keeps the take's {steps} steps (asked for {base.steps})")
    if step is None:
        if strength is None:
            raise OperationError("a variation needs the step it starts from or a strength")
        k = start_step_for_strength(steps, strength, geometry.schedule_shift)
    else:
        if not 0 <= step <= steps:
            raise OperationError(f"step {step} is outside the take's 0..{steps} steps")
        k = step
    if strength is None:  # the share of the denoising run again, as a strength would say
        strength = float(timestep_schedule(steps, geometry.schedule_shift)[k])
    if seed is None:
        seed = source.seed if variation is None else fresh_seeds(section, 1, False)[0]
    settings = base.model_copy(update={"seed": seed})
    prompt = source.prompt if prompt is None else prompt
    plan = section.plan if plan is None else plan
    span = section_span(project, section, geometry)
    shared: dict[str, Any] = dict(
        operation=TakeOperation.VARY,
        span=span,
        geometry=geometry,
        prompt=prompt,
        settings=settings,
        plan=plan,
        seeds=(seed,),
        parent=source,
        description=f"Vary {section.name} from step {k}"
                    + (f", {variation:.0%} new" if variation else ""),
        strength=strength,
        source_checkpoint_step=k,
        variation=variation,
    )
    if k >= steps:  # the last step: the variation is its source (its record too), no job
        shared.update(settings=source.settings, prompt=source.prompt, plan=source.plan,
                      variation=None if variation is None else 0.0,
                      context_seed=None if variation is None else context_seed_of(source))
        return RenderRequest(job=None, blobs=BlobBag(), section_id=section.id,  # type: ignore[arg-type]
                             style=section.style, length_bars=section.length_bars,
                             context_take_ids=source.context_take_ids, **shared)
    origin, ref = state_at_step(section, source, k)
    if variation is not None and origin.noise is None:
        raise OperationError(f"take {origin.display_name} recorded no noise to vary from")
    noise_of = None if variation is None else origin
    context_seed = None if variation is None else context_seed_of(origin)
    shared["context_seed"] = context_seed
    bag = BlobBag()
    if ref is None and geometry.noises_imports:
        # An import: the worker brings its clean latent to step k its own way, with its noise.
        if origin.final_latent is None or origin.noise is None:
            raise OperationError(f"take {origin.display_name} lacks the latent or noise to vary")
        clean = fit_frames(read_latent(read_blob, origin.final_latent), span.n_frames,
                           f"take {origin.display_name}")
        resume = ResumeFrom(latent=bag.add_latent(clean), step=k, total_steps=steps, clean=True,
                            variation=variation, context_seed=context_seed)
        window = build_window(project, read_blob, geometry, section, span, None, context_frames)
        return build_request(project, section, window, [window.keep], read_blob=read_blob,
                             bag=bag, resume=resume, noise_of=origin,
                             preview_every=preview_every, **shared)
    state = state_latent(read_blob, section, source, k, geometry.schedule_shift)
    state = fit_frames(state, span.n_frames, f"take {source.display_name}")
    resume = ResumeFrom(latent=bag.add_latent(state), step=k, total_steps=steps,
                        variation=variation, context_seed=context_seed)
    pinned = () if variation is None else (
        _rendered_bars(section, origin) if repaint_ranges is None else repaint_ranges)
    if pinned:
        # A repaint's (or an extension's) trajectory kept its other bars at its parent's, and
        # so does a variation of it: they stay as they are, bit for bit, and only the bars it
        # rendered vary.
        own = take_latent_for_span(source, read_blob, span, geometry)
        window = build_window(project, read_blob, geometry, section, span, own, context_frames)
        generate, regions = bar_ranges(project, section, span, window, pinned, geometry)
        shared["description"] = shared["description"].replace(
            f"Vary {section.name}", f"Vary {bar_names(pinned)} of {section.name}")
        return build_request(project, section, window, generate, read_blob=read_blob, bag=bag,
                             resume=resume, noise_of=noise_of, preview_every=preview_every,
                             repaint_ranges=pinned, splice_regions=regions, **shared)
    window = build_window(project, read_blob, geometry, section, span, None, context_frames)
    return build_request(project, section, window, [window.keep], read_blob=read_blob, bag=bag,
                         resume=resume, noise_of=noise_of, preview_every=preview_every, **shared)


def with_context_takes(project: Project, take: Take) -> Project:
    """The project as `take` saw it: each neighbour's recorded context take made active again,
    and the other sections' takes (rendered later, or not context then) left out, so the
    re-run sees the context the take saw (only for the re-run's view; the document is not
    touched)."""
    recorded = set(take.context_take_ids)
    for other in project.sections:
        if (other.id != take.section_id and other.active_take_id is not None
                and other.active_take_id not in recorded):
            project = project.replace_section(other.model_copy(update={"active_take_id": None}))
    for context_id in take.context_take_ids:
        try:
            neighbour = project.section_of_take(context_id)
        except KeyError:
            raise OperationError(
                f"take {take.display_name} was rendered next to take {context_id}, which has "
                "been deleted: it can no longer be re-run exactly"
            ) from None
        if neighbour.active_take_id != context_id:
            project = project.replace_section(
                neighbour.model_copy(update={"active_take_id": context_id})
            )
    return project


def rerun_take(
    project: Project,
    read_blob: ReadBlob,
    take_id: str,
    *,
    geometry: LatentGeometry = MELODEX_TINY_GEOMETRY,
    context_frames: int = DEFAULT_CONTEXT_FRAMES,
) -> RenderRequest:
    """The request that made take `take_id`, rebuilt from its record (same seed and noise)."""
    try:
        section = project.section_of_take(take_id)
    except KeyError:
        raise OperationError(f"the project has no take {take_id}") from None
    take = section.take(take_id)
    check_latent_space(take, geometry)
    project = with_context_takes(project, take)
    if take.key is not None and take.key != str(project.section_key(section)):
        # Rendered before the section changed key: the re-run renders in the take's key.
        project = project.replace_section(section.model_copy(update={"key": take.key}))
        section = project.section(section.id)
    if take.bpm is not None and take.bpm != project.section_bpm(section):
        # Rendered before the section's tempo changed: the re-run renders at the take's.
        project = project.replace_section(section.model_copy(update={"bpm": take.bpm}))
        section = project.section(section.id)
    if take.meter is not None and take.meter != str(project.section_meter(section)):
        # And in the meter it was rendered in, with its plan (in that meter's steps).
        project = project.replace_section(
            section.model_copy(update={"meter": take.meter, "plan": take.plan}))
    section = project.section(section.id)
    steps = project.section_steps(section)
    if take.plan is not None and take.plan.steps_per_bar != steps:
        # A take from before format 1.2 records no meter: its plan says it was another one.
        raise OperationError(
            f"take {take.display_name} was planned with {take.plan.steps_per_bar} steps per bar "
            f"and {section.name} is now in {project.section_meter(section)} ({steps}): set the "
            "section's meter back to re-run it")
    request = _request_from_record(project, read_blob, project.section(section.id), take,
                                   geometry, context_frames)
    lost = [i for i in take.context_take_ids if i not in request.context_take_ids]
    if lost:
        raise OperationError(
            f"take {take.display_name} was rendered next to take {lost[0]}, which is no longer "
            "context there (its section's tempo, length or place changed since): it can no "
            "longer be re-run exactly; regenerate that section or set it back")
    return request


def _request_from_record(project: Project, read_blob: ReadBlob, section: Section, take: Take,
                         geometry: LatentGeometry, context_frames: int) -> RenderRequest:
    """The request of `take`'s operation with its recorded seed, noise and settings."""
    options = dict(
        prompt=take.prompt,
        settings=take.settings,
        plan=take.plan,
        geometry=geometry,
        context_frames=context_frames,
    )
    operation = take.operation
    if operation in (TakeOperation.GENERATE, TakeOperation.REGENERATE, TakeOperation.RETAKE):
        return render_section(
            project,
            read_blob,
            section.id,
            operation,
            seeds=(take.seed,),
            noise_of=take,
            **options,  # type: ignore[arg-type]
        )
    if operation is TakeOperation.REPAINT:
        return repaint_bars(
            project,
            read_blob,
            section.id,
            take.repaint_ranges,
            seed=take.seed,
            parent=_parent(section, take),
            noise_of=take,
            **options,  # type: ignore[arg-type]
        )
    if operation is TakeOperation.EXTEND:
        parent = _parent(section, take)
        old_length = parent.region_end_bar
        before = ResizeSection(section.id, old_length).apply(project)
        return extend_section(
            before,
            read_blob,
            section.id,
            section.length_bars - old_length,
            seed=take.seed,
            parent=parent,
            noise_of=take,
            **options,  # type: ignore[arg-type]
        )
    if operation is TakeOperation.VARY and take.strength is not None:
        return vary_take(
            project,
            read_blob,
            _parent(section, take).id,
            take.strength,
            prompt=take.prompt,
            settings=take.settings,
            plan=take.plan,
            step=take.source_checkpoint_step,
            variation=take.variation,  # absent: made before 1.3, rendered from its seed alone
            seed=take.seed,
            repaint_ranges=take.repaint_ranges,  # the bars it rendered, as recorded
            geometry=geometry,
            context_frames=context_frames,
        )
    raise OperationError(f"a take made by {operation} cannot be re-run from its record")
