"""Everything PySide6: the studio window and its parts."""

from melodex_studio.ui.qt_workarounds import guard_singleton_refcounts

guard_singleton_refcounts()
