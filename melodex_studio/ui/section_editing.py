"""Arrangement edits started from menus, shortcuts and the timeline's context menu: add,
duplicate, delete, rename, mute, select all, loop the selection. Each becomes one undo step."""

from __future__ import annotations

import secrets

from PySide6.QtCore import QObject, QPoint
from PySide6.QtWidgets import QInputDialog, QMenu, QWidget

from melodex_studio.project.commands import (
    AddSection,
    Command,
    DuplicateSection,
    EditSectionSettings,
    RemoveSection,
    RenameSection,
)
from melodex_studio.project.fields import MAX_SEED, new_id
from melodex_studio.project.generation import GenerationSettings
from melodex_studio.project.section import Section, SectionKind
from melodex_studio.ui.actions import StudioActions
from melodex_studio.ui.context import StudioContext
from melodex_studio.ui.playback import LoopBars, PlaybackController
from melodex_studio.ui.resources import icon
from melodex_studio.ui.theme import SECTION_KIND_LABELS

#: Usual lengths in bars of each form role, for a new section of that kind.
DEFAULT_LENGTHS: dict[SectionKind, int] = {
    SectionKind.INTRO: 8,
    SectionKind.VERSE: 16,
    SectionKind.PRE_CHORUS: 8,
    SectionKind.CHORUS: 8,
    SectionKind.BRIDGE: 8,
    SectionKind.BREAKDOWN: 8,
    SectionKind.DROP: 16,
    SectionKind.OUTRO: 8,
    SectionKind.CUSTOM: 8,
}


class SectionEditing(QObject):
    def __init__(
        self,
        context: StudioContext,
        actions: StudioActions,
        playback: PlaybackController,
        dialog_parent: QWidget,
    ) -> None:
        super().__init__(dialog_parent)
        self.context = context
        self.actions = actions
        self.playback = playback
        self.dialog_parent = dialog_parent
        actions.add_section.triggered.connect(self._add_from_action)
        actions.duplicate.triggered.connect(self.duplicate_selected)
        actions.delete.triggered.connect(self.delete_selected)
        actions.rename.triggered.connect(lambda: self.rename(self.context.selection.current_id))
        actions.mute.triggered.connect(self.toggle_mute)
        actions.select_all.triggered.connect(self.select_all)
        actions.loop_selection.triggered.connect(self.loop_selection)
        context.selection.sig_selection_changed.connect(self._update_enabled)
        context.selection.sig_current_changed.connect(self._update_enabled)
        context.signals.sig_project_changed.connect(self._update_enabled)  # mute's check mark
        self._update_enabled()

    def _update_enabled(self, *_args: object) -> None:
        sections = self.context.selection.selected_sections()
        self.actions.duplicate.setEnabled(bool(sections))
        self.actions.delete.setEnabled(bool(sections))
        self.actions.mute.setEnabled(bool(sections))
        self.actions.mute.setChecked(bool(sections) and all(s.muted for s in sections))
        self.actions.rename.setEnabled(self.context.selection.current_id is not None)

    def _add_from_action(self) -> None:
        self.add_section()

    def _add_at(self, kind: SectionKind | None, bar: int | None) -> None:
        self.add_section(kind, bar)

    # -- edits ----------------------------------------------------------------------------------

    def add_section(self, kind: SectionKind | None = None, at_bar: int | None = None) -> str | None:
        """Add a section of `kind` at `at_bar` (default: after the current section, else at the
        end). A bar inside a section means: right after that section. Returns the new id."""
        project = self.context.project
        if at_bar is None:
            current = self.context.selection.current_section()
            at_bar = current.end_bar if current is not None else project.length_bars
        inside = project.section_at_bar(at_bar)
        if inside is not None and inside.start_bar != at_bar:
            at_bar = inside.end_bar
        if kind is None:
            kind = _next_kind(project.sections, at_bar)
        label = SECTION_KIND_LABELS[kind]
        section = Section(
            id=new_id(),
            name=project.unique_section_name(label),
            kind=kind,
            start_bar=at_bar,
            length_bars=DEFAULT_LENGTHS[kind],
            settings=GenerationSettings(seed=secrets.randbits(63) & MAX_SEED),
        )
        if self.context.undo.push(AddSection(section)):
            self.context.selection.select_one(section.id)
            return section.id
        return None

    def duplicate_selected(self) -> None:
        sections = self.context.selection.selected_sections()
        if not sections:
            return
        # Right to left, so each copy lands right after its original.
        commands: list[Command] = [
            DuplicateSection(s.id) for s in sorted(sections, key=lambda s: -s.start_bar)
        ]
        text = f"Duplicate {sections[0].name}" if len(sections) == 1 else (
            f"Duplicate {len(sections)} sections")
        if self.context.undo.push_all(text, commands):
            copies = [c.new_section_id for c in commands if isinstance(c, DuplicateSection)]
            self.context.selection.select(copies)

    def delete_selected(self) -> None:
        sections = self.context.selection.selected_sections()
        if not sections:
            return
        commands: list[Command] = [
            RemoveSection(s.id) for s in sorted(sections, key=lambda s: -s.start_bar)
        ]
        text = f"Delete {sections[0].name}" if len(sections) == 1 else (
            f"Delete {len(sections)} sections")
        if self.context.undo.push_all(text, commands):
            self.context.selection.clear()

    def toggle_mute(self) -> None:
        """Mute the selected sections, or unmute them when all are muted already; the whole
        selection is one undo step. A muted section keeps its place, takes and plan."""
        sections = self.context.selection.selected_sections()
        if not sections:
            return
        mute = not all(section.muted for section in sections)
        changing = [section for section in sections if section.muted != mute]
        commands: list[Command] = [EditSectionSettings(s.id, muted=mute) for s in changing]
        verb = "Mute" if mute else "Unmute"
        text = f"{verb} {changing[0].name}" if len(changing) == 1 else (
            f"{verb} {len(changing)} sections")
        self.context.undo.push_all(text, commands)
        self._update_enabled()  # the check mark follows the project, not the click

    def rename(self, section_id: str | None) -> None:
        if section_id is None:
            return
        section = self.context.project.section(section_id)
        name, ok = QInputDialog.getText(
            self.dialog_parent, "Rename Section", "Name:", text=section.name
        )
        if ok and name.strip() and name.strip() != section.name:
            self.context.undo.push(RenameSection(section_id, name.strip()))

    def select_all(self) -> None:
        ids = [section.id for section in self.context.project.sections]
        self.context.selection.select(ids)

    def loop_selection(self) -> None:
        """Loop the selected bars, else the selected sections' span; switch looping on."""
        selection = self.context.selection
        bar_range = selection.bar_range
        if bar_range is not None:
            section = self.context.project.section(bar_range.section_id)
            loop = LoopBars(section.start_bar + bar_range.start, section.start_bar + bar_range.end)
        else:
            sections = selection.selected_sections()
            if not sections:
                self.playback.set_loop_enabled(not self.playback.loop_enabled)
                return
            loop = LoopBars(min(s.start_bar for s in sections), max(s.end_bar for s in sections))
        self.playback.set_loop(loop, True)
        if not self.playback.playing:
            self.playback.seek_bar(loop.start)

    # -- the timeline's context menu --------------------------------------------------------

    def build_context_menu(self, section_id: str | None, bar: int, parent: QWidget) -> QMenu:
        menu = QMenu(parent)
        actions = self.actions
        if section_id is not None:
            for action in actions.generation_actions():
                menu.addAction(action)
            menu.addSeparator()
            menu.addAction(actions.duplicate)
            menu.addAction(actions.rename)
            menu.addAction(actions.delete)
            menu.addAction(actions.mute)
            menu.addSeparator()
            menu.addAction(actions.loop_selection)
            menu.addSeparator()
        add_menu = menu.addMenu(icon("add_section"), "Add Section Here")
        for kind, label in SECTION_KIND_LABELS.items():
            if kind is SectionKind.CUSTOM:
                continue
            add_menu.addAction(label).triggered.connect(
                lambda _=False, kind=kind: self._add_at(kind, bar))
        return menu

    def show_context_menu(self, section_id: str | None, bar: int, global_pos: QPoint) -> None:
        menu = self.build_context_menu(section_id, bar, self.dialog_parent)
        menu.exec(global_pos)
        menu.deleteLater()


def _next_kind(sections: tuple[Section, ...], at_bar: int) -> SectionKind:
    """A sensible form role for a section added at `at_bar`: Intro first, then alternate
    Verse and Chorus, Outro never implied."""
    before = [s for s in sections if s.start_bar < at_bar]
    if not before:
        return SectionKind.INTRO
    last = before[-1].kind
    return SectionKind.CHORUS if last in (SectionKind.VERSE, SectionKind.PRE_CHORUS) else (
        SectionKind.VERSE)
