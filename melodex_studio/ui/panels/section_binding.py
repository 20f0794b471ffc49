"""Keeps a panel showing the current section: it follows the selection and refreshes when that
section changes, and tells the panel's change handlers to ignore programmatic updates (so a
refresh never echoes back into the history as an edit)."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject

from melodex_studio.project.section import Section
from melodex_studio.ui.context import StudioContext


class CurrentSectionBinding(QObject):
    """Calls `show(section | None)` whenever the current section is another value; while it
    runs, `updating` is True."""

    def __init__(
        self,
        context: StudioContext,
        show: Callable[[Section | None], None],
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.context = context
        self.updating = False
        self._show = show
        self._shown: Section | None = None
        context.selection.sig_current_changed.connect(self.refresh)
        context.signals.sig_project_changed.connect(self.refresh)

    @property
    def section(self) -> Section | None:
        """The section as last shown (the current project's value after every refresh)."""
        return self._shown

    def refresh(self, *_args: object) -> None:
        section = self.context.selection.current_section()
        if section is self._shown and section is not None:
            return
        self._shown = section
        self.updating = True
        try:
            self._show(section)
        finally:
            self.updating = False

    def force_refresh(self) -> None:
        self._shown = None
        self.refresh()
