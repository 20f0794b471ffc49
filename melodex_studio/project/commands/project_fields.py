"""Editing the project's own fields: title, tempo, key, meter and the master bus."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from melodex_studio.music.meter import Meter
from melodex_studio.project.commands.base import EditError, ProjectEdit
from melodex_studio.project.fields import validated_copy
from melodex_studio.project.generation import MasterSettings
from melodex_studio.project.project_model import Project

PROJECT_EDIT_FIELDS = frozenset({"title", "bpm", "key", "meter", "master"})
_SINGLE_FIELD_TEXT = {
    "title": "Rename project",
    "bpm": "Change tempo",
    "key": "Change key",
    "meter": "Change meter",
    "master": "Edit master",
}


class EditProjectFields(ProjectEdit):
    """Change title, bpm, key, meter and/or master settings (`master` may be a
    MasterSettings or a mapping of the fields to change). A meter with a different number of
    16th steps per bar clears the section plans that no longer fit; undo restores them.
    Repeated edits of the same fields (the tempo field's arrows) merge."""

    def __init__(self, **changes: Any) -> None:
        super().__init__()
        unknown = set(changes) - PROJECT_EDIT_FIELDS
        if unknown:
            raise EditError(f"{sorted(unknown)[0]!r} is not an editable project field")
        if not changes:
            raise EditError("no project fields to change")
        self.changes = dict(changes)
        master = changes.get("master")
        master_fields = frozenset(master) if isinstance(master, Mapping) else None
        # Only edits of the same fields merge: a gain drag, not a gain after a loudness change.
        self.merge_key = ("project", frozenset(changes), master_fields)

    def apply(self, project: Project) -> Project:
        changes = dict(self.changes)
        master = changes.get("master")
        if isinstance(master, Mapping):
            changes["master"] = validated_copy(project.master, **master)
        elif master is not None and not isinstance(master, MasterSettings):
            raise EditError("master must be MasterSettings or a mapping of its fields")
        if "meter" in changes:
            try:
                steps = Meter.parse(str(changes["meter"])).sixteenths_per_bar
            except ValueError as error:
                raise EditError(str(error)) from None
            changes["sections"] = tuple(
                section
                if section.plan is None or section.plan.steps_per_bar == steps
                else validated_copy(section, plan=None)
                for section in project.sections
            )
        return validated_copy(project, **changes)

    def describe(self, project: Project) -> str:
        master = self.changes.get("master")
        if len(self.changes) == 1 and isinstance(master, Mapping) and set(master) == {"gain_db"}:
            return "Change master gain"
        if len(self.changes) == 1:
            return _SINGLE_FIELD_TEXT[next(iter(self.changes))]
        return "Edit project settings"
