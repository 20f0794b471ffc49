"""Commands that change where sections sit on the bar ruler: add, remove, move, resize,
duplicate. Inserting or growing a section pushes the sections after it to the right (ripple)
so nothing overlaps; removing or shrinking pulls them back by the same amount."""

from __future__ import annotations

from collections.abc import Iterable

from melodex_studio.music.plan import Plan, PlanBar
from melodex_studio.project.commands.base import EditError, ProjectEdit, find_section
from melodex_studio.project.fields import bar_span, new_id, validated_copy
from melodex_studio.project.project_model import Project
from melodex_studio.project.section import Section


def _shifted(sections: Iterable[Section], delta: int) -> list[Section]:
    return [validated_copy(section, start_bar=section.start_bar + delta) for section in sections]


def insert_with_ripple(project: Project, section: Section) -> Project:
    """`section` inserted at its start bar; sections from there on move right just enough
    that nothing overlaps (their gaps to each other stay as they were)."""
    if any(existing.id == section.id for existing in project.sections):
        raise EditError(f"the project already has a section with id {section.id}")
    at = section.start_bar
    for existing in project.sections:
        if existing.start_bar < at < existing.end_bar:
            raise EditError(
                f"bar {at + 1} is inside {existing.span_text}: add sections at a section "
                "boundary or in a gap"
            )
    before = [existing for existing in project.sections if existing.start_bar < at]
    after = [existing for existing in project.sections if existing.start_bar >= at]
    shift = max(0, section.end_bar - after[0].start_bar) if after else 0
    return project.with_sections((*before, section, *_shifted(after, shift)))


def _plan_resized(plan: Plan | None, length_bars: int) -> Plan | None:
    """The plan cut to `length_bars`, or extended with empty (unplanned) bars."""
    if plan is None or plan.n_bars == length_bars:
        return plan
    if length_bars < plan.n_bars:
        return plan.model_copy(update={"bars": plan.bars[:length_bars]})
    empty = PlanBar(drums=(0,) * plan.steps_per_bar)
    missing = length_bars - plan.n_bars
    return plan.model_copy(update={"bars": plan.bars + (empty,) * missing})


class AddSection(ProjectEdit):
    """Insert `section` at `at_bar` (default: its own start bar), rippling later sections."""

    def __init__(self, section: Section, *, at_bar: int | None = None) -> None:
        super().__init__()
        self.section = section
        self.at_bar = section.start_bar if at_bar is None else at_bar

    def apply(self, project: Project) -> Project:
        placed = validated_copy(self.section, start_bar=self.at_bar)
        return insert_with_ripple(project, placed)

    def describe(self, project: Project) -> str:
        return f"Add {self.section.name}"


class RemoveSection(ProjectEdit):
    """Remove a section (and its takes); later sections move left by its length."""

    def __init__(self, section_id: str) -> None:
        super().__init__()
        self.section_id = section_id

    def apply(self, project: Project) -> Project:
        removed = find_section(project, self.section_id)
        before = [s for s in project.sections if s.start_bar < removed.start_bar]
        after = [s for s in project.sections if s.start_bar > removed.start_bar]
        return project.with_sections((*before, *_shifted(after, -removed.length_bars)))

    def describe(self, project: Project) -> str:
        return f"Remove {project.section(self.section_id).name}"


class MoveSection(ProjectEdit):
    """Move a section to start at `start_bar`; refused if it would overlap another.
    Consecutive moves of one section (a drag) merge into one undo step."""

    def __init__(self, section_id: str, start_bar: int) -> None:
        super().__init__()
        self.section_id = section_id
        self.start_bar = start_bar
        self.merge_key = ("move", section_id)

    def apply(self, project: Project) -> Project:
        section = find_section(project, self.section_id)
        if self.start_bar < 0:
            raise EditError(f"a section cannot start before bar 1 (asked for {self.start_bar})")
        moved = validated_copy(section, start_bar=self.start_bar)
        for other in project.sections:
            if other.id != section.id and moved.overlaps(other):
                raise EditError(
                    f"moving {section.name!r} to {bar_span(moved.start_bar, moved.end_bar)} "
                    f"would overlap {other.span_text}"
                )
        return project.replace_section(moved)

    def describe(self, project: Project) -> str:
        return f"Move {project.section(self.section_id).name}"


class ResizeSection(ProjectEdit):
    """Change a section's length. Its plan is cut or padded with empty bars; its takes stay.
    With `ripple` the sections after it move by the change; without, growing into another
    section is refused. Consecutive resizes of one section merge."""

    def __init__(self, section_id: str, length_bars: int, *, ripple: bool = True) -> None:
        super().__init__()
        self.section_id = section_id
        self.length_bars = length_bars
        self.ripple = ripple
        self.merge_key = ("resize", section_id, ripple)

    def apply(self, project: Project) -> Project:
        section = find_section(project, self.section_id)
        resized = validated_copy(
            section,
            length_bars=self.length_bars,
            plan=_plan_resized(section.plan, self.length_bars),
        )
        before = [s for s in project.sections if s.start_bar < section.start_bar]
        after = [s for s in project.sections if s.start_bar > section.start_bar]
        if self.ripple:
            after = _shifted(after, resized.length_bars - section.length_bars)
        elif after and after[0].start_bar < resized.end_bar:
            raise EditError(
                f"{section.name!r} cannot grow to {bar_span(resized.start_bar, resized.end_bar)}: "
                f"{after[0].span_text} is in the way"
            )
        return project.with_sections((*before, resized, *after))

    def describe(self, project: Project) -> str:
        return f"Resize {project.section(self.section_id).name}"


class DuplicateSection(ProjectEdit):
    """A copy right after the section (later sections ripple right): same prompt, settings,
    plan and mix, and a copy of the ACTIVE take only, with a new id whose parent is the
    original take. The copy's name is made unique ("Chorus 2")."""

    def __init__(
        self,
        section_id: str,
        *,
        name: str | None = None,
        new_section_id: str | None = None,
        new_take_id: str | None = None,
    ) -> None:
        super().__init__()
        self.section_id = section_id
        self.name = name
        # Ids are fixed here, not in apply, so the duplicate is the same value after redo.
        self.new_section_id = new_section_id or new_id()
        self.new_take_id = new_take_id or new_id()

    def apply(self, project: Project) -> Project:
        original = find_section(project, self.section_id)
        name = self.name if self.name is not None else project.unique_section_name(original.name)
        active = original.active_take
        takes = ()
        if active is not None:
            takes = (
                validated_copy(
                    active,
                    id=self.new_take_id,
                    section_id=self.new_section_id,
                    parent_id=active.id,
                ),
            )
        copy = validated_copy(
            original,
            id=self.new_section_id,
            name=name,
            start_bar=original.end_bar,
            takes=takes,
            active_take_id=takes[0].id if takes else None,
        )
        return insert_with_ripple(project, copy)

    def describe(self, project: Project) -> str:
        return f"Duplicate {project.section(self.section_id).name}"
