"""What the musician has selected: sections on the timeline, the current section (the one the
inspector and plan editor show) and a bar range inside it (for repaint and loop).

Shared by the timeline, the panels and the actions, so each reads one truth instead of
asking the others' widgets. Ids are kept, never Section values: the project changes under
the selection and views look the current section up in `document.project`.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QObject, Signal

from melodex_studio.project.document import Document
from melodex_studio.project.section import Section
from melodex_studio.ui.events import DocumentSignals


@dataclass(frozen=True)
class BarRange:
    """Bars [start, end) of a section, relative to the section's start (0-based)."""

    section_id: str
    start: int
    end: int

    @property
    def n_bars(self) -> int:
        return self.end - self.start

    def label(self) -> str:
        return f"bar {self.start + 1}" if self.n_bars == 1 else f"bars {self.start + 1}-{self.end}"


class SelectionModel(QObject):
    sig_selection_changed = Signal(object)  # tuple[str, ...] of selected section ids
    sig_current_changed = Signal(object)  # current section id or None
    sig_bar_range_changed = Signal(object)  # BarRange or None

    def __init__(
        self, document: Document, signals: DocumentSignals, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self.document = document
        self._selected: tuple[str, ...] = ()
        self._current: str | None = None
        self._bar_range: BarRange | None = None
        signals.sig_project_changed.connect(self._prune)

    # -- reading ------------------------------------------------------------------------------

    @property
    def selected_ids(self) -> tuple[str, ...]:
        return self._selected

    @property
    def current_id(self) -> str | None:
        return self._current

    @property
    def bar_range(self) -> BarRange | None:
        return self._bar_range

    def current_section(self) -> Section | None:
        if self._current is None:
            return None
        try:
            return self.document.project.section(self._current)
        except KeyError:
            return None

    def selected_sections(self) -> list[Section]:
        project = self.document.project
        known = {section.id: section for section in project.sections}
        return [known[sid] for sid in self._selected if sid in known]

    # -- changing -----------------------------------------------------------------------------

    def select(self, ids: list[str] | tuple[str, ...], current: str | None = None) -> None:
        """Select exactly `ids`; the current section becomes `current`, or stays if still
        selected, or becomes the last of `ids`."""
        ids = tuple(dict.fromkeys(ids))
        if current is None:
            current = self._current if self._current in ids else (ids[-1] if ids else None)
        if ids != self._selected:
            self._selected = ids
            self.sig_selection_changed.emit(ids)
        self._set_current(current)

    def select_one(self, section_id: str | None) -> None:
        self.select(() if section_id is None else (section_id,), section_id)

    def toggle(self, section_id: str) -> None:
        if section_id in self._selected:
            self.select(tuple(s for s in self._selected if s != section_id))
        else:
            self.select((*self._selected, section_id), section_id)

    def clear(self) -> None:
        self.select(())

    def set_bar_range(self, bar_range: BarRange | None) -> None:
        if bar_range == self._bar_range:
            return
        self._bar_range = bar_range
        self.sig_bar_range_changed.emit(bar_range)

    def _set_current(self, section_id: str | None) -> None:
        if section_id == self._current:
            return
        self._current = section_id
        if self._bar_range is not None and self._bar_range.section_id != section_id:
            self.set_bar_range(None)
        self.sig_current_changed.emit(section_id)

    def _prune(self) -> None:
        """Drop ids of sections that no longer exist (removed, undone, other project)."""
        project = self.document.project
        known = {section.id: section for section in project.sections}
        kept = tuple(sid for sid in self._selected if sid in known)
        if kept != self._selected:
            self.select(kept)
        if self._current is not None and self._current not in known:
            self._set_current(kept[-1] if kept else None)
        bar_range = self._bar_range
        if bar_range is not None:
            section = known.get(bar_range.section_id)
            if section is None or bar_range.end > section.length_bars:
                self.set_bar_range(None)
