"""Undoable edits of the document, one small class per edit."""

from __future__ import annotations

from melodex_studio.project.commands.arrangement import (
    AddSection,
    DuplicateSection,
    MoveSection,
    RemoveSection,
    ResizeSection,
    insert_with_ripple,
)
from melodex_studio.project.commands.base import (
    Command,
    EditError,
    MacroCommand,
    ProjectEdit,
    edit_error_from,
)
from melodex_studio.project.commands.project_fields import PROJECT_EDIT_FIELDS, EditProjectFields
from melodex_studio.project.commands.section_edits import (
    GENERATION_FIELDS,
    SECTION_SETTING_FIELDS,
    EditPlanBar,
    EditPrompt,
    EditSectionSettings,
    RenameSection,
    SetPlan,
    SetSectionKey,
    SetSectionMeter,
)
from melodex_studio.project.commands.takes import (
    AddTake,
    DeleteTake,
    RenameTake,
    SetActiveTake,
    newest_take,
)

__all__ = [
    "GENERATION_FIELDS",
    "PROJECT_EDIT_FIELDS",
    "SECTION_SETTING_FIELDS",
    "AddSection",
    "AddTake",
    "Command",
    "DeleteTake",
    "DuplicateSection",
    "EditError",
    "EditPlanBar",
    "EditProjectFields",
    "EditPrompt",
    "EditSectionSettings",
    "MacroCommand",
    "MoveSection",
    "ProjectEdit",
    "RemoveSection",
    "RenameSection",
    "RenameTake",
    "ResizeSection",
    "SetActiveTake",
    "SetPlan",
    "SetSectionKey",
    "SetSectionMeter",
    "edit_error_from",
    "insert_with_ripple",
    "newest_take",
]
