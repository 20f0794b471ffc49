"""Editing the project's own fields: title, tempo, key, meter and the master bus."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from melodex_studio.music.errors import MusicParseError
from melodex_studio.music.key import Key
from melodex_studio.music.key_change import plan_in_key
from melodex_studio.music.meter import Meter
from melodex_studio.project.commands.base import EditError, ProjectEdit
from melodex_studio.project.fields import validated_copy
from melodex_studio.project.generation import MasterSettings
from melodex_studio.project.project_model import Project
from melodex_studio.project.section import Section

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
    16th steps per bar clears the plans of the sections that follow it and no longer fit
    (sections with a meter of their own keep theirs); undo restores them. A new
    key moves the plans of the sections that follow the song's key into it
    (`music.key_change`); sections with a key of their own keep theirs.
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
        # Only edits of the same fields merge (a tempo's arrows, a gain drag, not a gain after a
        # loudness change), and never a choice of key or meter: each is its own step.
        self.merge_key = None if {"key", "meter"} & changes.keys() else (
            "project", frozenset(changes), master_fields)

    def apply(self, project: Project) -> Project:
        changes = dict(self.changes)
        master = changes.get("master")
        if isinstance(master, Mapping):
            changes["master"] = validated_copy(project.master, **master)
        elif master is not None and not isinstance(master, MasterSettings):
            raise EditError("master must be MasterSettings or a mapping of its fields")
        sections = project.sections
        if "meter" in changes:
            try:
                steps = Meter.parse(str(changes["meter"])).sixteenths_per_bar
            except ValueError as error:
                raise EditError(str(error)) from None
            sections = tuple(
                section
                if section.plan is None or section.meter is not None
                or section.plan.steps_per_bar == steps
                else validated_copy(section, plan=None)
                for section in sections
            )
        if "key" in changes:
            sections = _plans_in_key(sections, project.key, str(changes["key"]))
        if sections is not project.sections:
            changes["sections"] = sections
        return validated_copy(project, **changes)

    def describe(self, project: Project) -> str:
        master = self.changes.get("master")
        if len(self.changes) == 1 and isinstance(master, Mapping) and set(master) == {"gain_db"}:
            return "Change master gain"
        if len(self.changes) == 1:
            return _SINGLE_FIELD_TEXT[next(iter(self.changes))]
        return "Edit project settings"


def _plans_in_key(sections: tuple[Section, ...], old: str, new: str) -> tuple[Section, ...]:
    """`sections` with the plans of those that follow the song's key moved from `old` to
    `new`; the same tuple when nothing moves."""
    try:
        old_key, new_key = Key.parse(old), Key.parse(new)
    except MusicParseError as error:
        raise EditError(str(error)) from None
    if old_key == new_key or not any(s.key is None and s.plan for s in sections):
        return sections
    return tuple(
        validated_copy(section, plan=plan_in_key(section.plan, old_key, new_key))
        if section.key is None and section.plan is not None
        else section
        for section in sections
    )
