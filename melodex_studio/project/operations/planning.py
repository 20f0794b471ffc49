"""Planning requests: the structure transformer writes a section's bar-level plan.

A section with locked bars is re-planned around them: the current plan goes to the worker as
the template, its locked bars are fed to the model unchanged and only the others are sampled.
The end of the previous section's plan is the context, so harmony and groove carry over.
"""

from __future__ import annotations

from dataclasses import dataclass

from melodex_studio.music.key import Key
from melodex_studio.music.key_change import plan_in_key
from melodex_studio.music.plan import Plan, PlanBar
from melodex_studio.music.plan_midi import midi_bytes_to_plan
from melodex_studio.project.commands import SetPlan
from melodex_studio.project.models import Project, Section
from melodex_studio.project.operations.timeline import OperationError, section_of
from melodex_studio.worker.jobs import Conditioning, PlanJob, PlanOutput


@dataclass(frozen=True)
class PlanRequest:
    """A plan job and what it is for: a section's plan, or the plan of an extension
    (`extend_by` > 0: the section's bars stay, `extend_by` new bars are planned after them)."""

    section_id: str
    job: PlanJob
    description: str
    original: Plan | None = None
    extend_by: int = 0


def _previous_plan(project: Project, section: Section) -> Plan | None:
    """The plan of the section that ends where this one starts (no gap between them, the same
    meter), moved into this section's key when the two differ (the planner reads it in that
    key)."""
    meter = project.section_meter(section)
    for other in project.sections:
        if (other.end_bar == section.start_bar and other.plan is not None
                and project.section_meter(other) == meter):
            return plan_in_key(other.plan, project.section_key(other),
                               project.section_key(section))
    return None


def section_conditioning(
    project: Project, section: Section, prompt: str | None = None
) -> Conditioning:
    """What a job for `section` is conditioned on: its prompt (or `prompt`), style, kind and
    energy, in its own tempo, key and meter (else the song's)."""
    return Conditioning(
        prompt=section.prompt if prompt is None else prompt,
        style=section.style,
        bpm=project.section_bpm(section),
        key=str(project.section_key(section)),
        meter=str(project.section_meter(section)),
        section_kind=str(section.kind),
        energy=section.energy,
    )


def plan_request(
    project: Project,
    section_id: str,
    *,
    seed: int | None = None,
    temperature: float = 1.0,
    top_k: int = 0,
) -> PlanRequest:
    """Plan a section; if its plan has locked bars, only the unlocked bars are re-planned."""
    section = section_of(project, section_id)
    template = section.plan if section.plan is not None and section.plan.locked_bars() else None
    job = PlanJob(
        conditioning=section_conditioning(project, section),
        n_bars=section.length_bars,
        seed=section.settings.seed if seed is None else seed,
        template=template,
        previous=_previous_plan(project, section),
        temperature=temperature,
        top_k=top_k,
    )
    verb = "Re-plan unlocked bars of" if template is not None else "Plan"
    return PlanRequest(section.id, job, f"{verb} {section.name}", original=section.plan)


def plan_extension(
    project: Project, section_id: str, add_bars: int, *, seed: int | None = None
) -> PlanRequest:
    """Plan `add_bars` bars after a section's current plan (which is kept as it is)."""
    section = section_of(project, section_id)
    if add_bars < 1:
        raise OperationError(f"extend by at least one bar, not {add_bars}")
    steps = project.section_steps(section)
    old = section.plan or Plan.empty(section.length_bars, steps)
    kept = tuple(bar.model_copy(update={"locked": True}) for bar in old.bars)
    new = (PlanBar(drums=(0,) * steps),) * add_bars
    job = PlanJob(
        conditioning=section_conditioning(project, section),
        n_bars=section.length_bars + add_bars,
        seed=section.settings.seed if seed is None else seed,
        template=Plan(steps_per_bar=steps, bars=kept + new),
        previous=_previous_plan(project, section),
    )
    return PlanRequest(
        section.id, job, f"Plan {add_bars} more bars of {section.name}", old, extend_by=add_bars
    )


def finish_plan(request: PlanRequest, output: PlanOutput) -> Plan:
    """The plan the worker wrote; for an extension, the old bars exactly as they were
    (their lock flags included) followed by the new ones."""
    plan = output.plan
    if request.extend_by and request.original is not None:
        plan = plan.model_copy(
            update={"bars": request.original.bars + plan.bars[request.original.n_bars :]}
        )
    return plan


def plan_command(project: Project, request: PlanRequest, output: PlanOutput) -> SetPlan:
    """The undoable edit that installs a finished plan (undo restores the previous plan). A
    plan written in a key the section has left while it was planned moves into the new one."""
    section = section_of(project, request.section_id)
    plan = plan_in_key(finish_plan(request, output), Key.parse(request.job.conditioning.key),
                       project.section_key(section))
    if plan.n_bars != section.length_bars:
        raise OperationError(
            f"{section.name!r} is now {section.length_bars} bars long; the plan has {plan.n_bars}"
        )
    return SetPlan(section.id, plan)


#: A plan sketch is a few kilobytes; a bigger "MIDI file" is refused before it is parsed.
MAX_MIDI_BYTES = 1 << 20


def midi_plan_command(project: Project, section_id: str, data: bytes, name: str) -> SetPlan:
    """The undoable edit that replaces a section's plan with the one a MIDI file holds
    (`music.plan_midi`: notes on the plan's channels, or any chord track recognised bar by
    bar), read in the section's key and meter and fitted to the section's bars."""
    section = section_of(project, section_id)
    if len(data) > MAX_MIDI_BYTES:
        raise OperationError(f"{name} is {len(data) // 1024} KB; a plan's MIDI file is at most "
                             f"{MAX_MIDI_BYTES // 1024} KB")
    try:
        read = midi_bytes_to_plan(data, key=project.section_key(section),
                                  meter=project.section_meter(section),
                                  n_bars=section.length_bars)
    except (OSError, EOFError, ValueError, KeyError, IndexError, TypeError) as error:
        reason = str(error).strip().splitlines()[0][:120] if str(error).strip() else (
            type(error).__name__)
        raise OperationError(f"cannot read {name} as a MIDI plan: {reason}") from None
    return SetPlan(section.id, read.plan)
