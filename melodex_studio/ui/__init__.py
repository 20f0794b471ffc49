"""Everything PySide6: the studio window and its parts."""
