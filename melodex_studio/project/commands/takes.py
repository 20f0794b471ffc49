"""Commands on a section's takes. A finished render enters the project through AddTake, so
undoing a render only removes the take (no inference runs) and redo puts the same take back."""

from __future__ import annotations

from melodex_studio.project.commands.base import EditError, ProjectEdit, find_section
from melodex_studio.project.fields import validated_copy
from melodex_studio.project.project_model import Project
from melodex_studio.project.section import Section
from melodex_studio.project.take import Take, TakeOperation

_OPERATION_VERBS = {
    TakeOperation.PLAN: "Plan",
    TakeOperation.GENERATE: "Generate",
    TakeOperation.REGENERATE: "Regenerate",
    TakeOperation.REPAINT: "Repaint",
    TakeOperation.VARY: "Vary",
    TakeOperation.EXTEND: "Extend",
    TakeOperation.RETAKE: "Retake",
    TakeOperation.IMPORT: "Import into",
}


def _take_of(section: Section, take_id: str) -> Take:
    try:
        return section.take(take_id)
    except KeyError:
        raise EditError(f"{section.name!r} has no take {take_id}") from None


def newest_take(takes: tuple[Take, ...]) -> Take | None:
    """The most recently created take (the later one in the list on a tie)."""
    newest: Take | None = None
    for take in takes:
        if newest is None or take.created >= newest.created:
            newest = take
    return newest


class AddTake(ProjectEdit):
    """Add a finished take to its section and (by default) make it the one that plays."""

    def __init__(self, section_id: str, take: Take, *, make_active: bool = True) -> None:
        super().__init__()
        if take.section_id != section_id:
            raise EditError(
                f"take {take.id} belongs to section {take.section_id}, not {section_id}"
            )
        self.section_id = section_id
        self.take = take
        self.make_active = make_active

    def apply(self, project: Project) -> Project:
        section = find_section(project, self.section_id)
        changes: dict[str, object] = {"takes": (*section.takes, self.take)}
        if self.make_active:
            changes["active_take_id"] = self.take.id
        return project.replace_section(validated_copy(section, **changes))

    def describe(self, project: Project) -> str:
        return f"{_OPERATION_VERBS[self.take.operation]} {project.section(self.section_id).name}"


class DeleteTake(ProjectEdit):
    """Delete a take. If it was playing, the newest remaining take plays instead (none if it
    was the last). Its blobs are freed by the store once nothing references them."""

    def __init__(self, section_id: str, take_id: str) -> None:
        super().__init__()
        self.section_id = section_id
        self.take_id = take_id

    def apply(self, project: Project) -> Project:
        section = find_section(project, self.section_id)
        _take_of(section, self.take_id)
        remaining = tuple(take for take in section.takes if take.id != self.take_id)
        active = section.active_take_id
        if active == self.take_id:
            newest = newest_take(remaining)
            active = None if newest is None else newest.id
        return project.replace_section(
            validated_copy(section, takes=remaining, active_take_id=active)
        )

    def describe(self, project: Project) -> str:
        section = project.section(self.section_id)
        return f"Delete take {section.take(self.take_id).display_name} of {section.name}"


class SetActiveTake(ProjectEdit):
    """Choose the take that plays (None: none). Switching back and forth between takes of one
    section while auditioning merges into one undo step."""

    def __init__(self, section_id: str, take_id: str | None) -> None:
        super().__init__()
        self.section_id = section_id
        self.take_id = take_id
        self.merge_key = ("active_take", section_id)

    def apply(self, project: Project) -> Project:
        section = find_section(project, self.section_id)
        if self.take_id is not None:
            _take_of(section, self.take_id)
        return project.replace_section(validated_copy(section, active_take_id=self.take_id))

    def describe(self, project: Project) -> str:
        return f"Switch take of {project.section(self.section_id).name}"


class RenameTake(ProjectEdit):
    """Give a take a label ("warmer keys"); None or "" removes it."""

    def __init__(self, section_id: str, take_id: str, label: str | None) -> None:
        super().__init__()
        self.section_id = section_id
        self.take_id = take_id
        self.label = (label or "").strip() or None
        self.merge_key = ("take_label", take_id)

    def apply(self, project: Project) -> Project:
        section = find_section(project, self.section_id)
        take = _take_of(section, self.take_id)
        index = section.take_index(self.take_id)
        takes = list(section.takes)
        takes[index] = validated_copy(take, label=self.label)
        return project.replace_section(validated_copy(section, takes=tuple(takes)))

    def describe(self, project: Project) -> str:
        return f"Rename take of {project.section(self.section_id).name}"
