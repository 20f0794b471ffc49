"""Every keyboard shortcut of the studio, listed from the actions themselves (so the list can
never disagree with what the keys do)."""

from __future__ import annotations

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

#: Mouse gestures on the timeline, which no action carries.
GESTURES = (
    ("Drag a section", "Move it (snaps to bars)"),
    ("Drag a section's edge", "Resize it"),
    ("Drag across a section's lower third", "Select bars (repaint, loop)"),
    ("Drag empty space", "Select sections"),
    ("Ctrl+click", "Add to or remove from the selection"),
    ("Click / drag the ruler", "Move the playhead / set the loop"),
    ("Wheel / Ctrl+wheel", "Scroll / zoom the timeline"),
    ("Double-click a section's name", "Rename it"),
    ("Double-click empty space", "Add a section there"),
)


class ShortcutsDialog(QDialog):
    def __init__(self, actions: list[QAction], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Keyboard Shortcuts")
        self.resize(520, 560)
        rows = [(a.text().replace("&", "").rstrip("…"),
                 ", ".join(k.toString(QKeySequence.SequenceFormat.NativeText)
                           for k in a.shortcuts()))
                for a in actions if a.shortcuts()]
        rows += list(GESTURES)
        table = QTableWidget(len(rows), 2)
        table.setHorizontalHeaderLabels(["Command", "Keys"])
        table.verticalHeader().setVisible(False)
        table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        table.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        for row, (command, keys) in enumerate(rows):
            table.setItem(row, 0, QTableWidgetItem(command))
            table.setItem(row, 1, QTableWidgetItem(keys))
        table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table = table
        layout = QVBoxLayout(self)
        layout.addWidget(table)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
