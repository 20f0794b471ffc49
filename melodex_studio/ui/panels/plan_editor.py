"""The plan editor: the current section's bars as a grid of chords, energy, density, locks
and drum steps. Type a chord to change it (checked with Chord.parse; a chord that cannot be
read is shown in red and not applied), click drum steps, lock bars, re-plan the rest."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QEvent, QModelIndex, QRectF, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QPainter, QPen
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from melodex_studio.music.plan import Plan
from melodex_studio.project.commands import SetPlan
from melodex_studio.project.operations import OperationError, midi_plan_command
from melodex_studio.project.section import Section
from melodex_studio.ui.context import StudioContext
from melodex_studio.ui.panels.plan_model import ROWS, STEPS_ROLE, PlanTableModel
from melodex_studio.ui.panels.section_binding import CurrentSectionBinding
from melodex_studio.ui.resources import icon
from melodex_studio.ui.theme import current_palette

BAR_COLUMN_WIDTH = 76
ROW_HEIGHT = 20
ERROR_MS = 5000


class PlanCellDelegate(QStyledItemDelegate):
    """Paints energy/density as level bars and drum rows as step grids; a click on a step
    toggles it. Chords edit in a line edit, levels in a spin box."""

    def __init__(self, model: PlanTableModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self.highlight: tuple[int, int] | None = None

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex) -> None:
        row = ROWS[index.row()]
        palette = current_palette()
        rect = QRectF(option.rect)
        if self.highlight is not None and self.highlight[0] <= index.column() < self.highlight[1]:
            tint = QColor(palette.accent)
            tint.setAlpha(40)
            painter.fillRect(rect, tint)
        if index.column() % 4 == 0:
            painter.setPen(QPen(QColor(palette.grid_phrase), 1))
            painter.drawLine(rect.topLeft(), rect.bottomLeft())
        if row.kind in ("energy", "density"):
            value = float(index.data(STEPS_ROLE) or 0.0)
            inner = rect.adjusted(4, 4, -4, -4)
            painter.fillRect(inner, QColor(palette.bg2))
            colour = QColor(palette.accent if row.kind == "energy" else palette.loop)
            colour.setAlpha(170)
            painter.fillRect(QRectF(inner.left(), inner.top(), inner.width() * value,
                                    inner.height()), colour)
            painter.setPen(QColor(palette.text))
            painter.drawText(inner, Qt.AlignmentFlag.AlignCenter, str(round(value * 100)))
            return
        if row.kind == "drum":
            steps = index.data(STEPS_ROLE) or ()
            self._paint_steps(painter, rect, steps, palette)
            return
        super().paint(painter, option, index)

    @staticmethod
    def _paint_steps(painter: QPainter, rect: QRectF, steps: tuple[bool, ...], palette) -> None:
        if not steps:
            return
        inner = rect.adjusted(3, 4, -3, -4)
        width = inner.width() / len(steps)
        on = QColor(palette.accent)
        beat_off = QColor(palette.bg4)
        off = QColor(palette.bg3)
        painter.setPen(Qt.PenStyle.NoPen)
        for i, hit in enumerate(steps):
            cell = QRectF(inner.left() + i * width + 0.5, inner.top(), max(1.0, width - 1.0),
                          inner.height())
            painter.fillRect(cell, on if hit else (beat_off if i % 4 == 0 else off))

    def editorEvent(self, event, model, option, index) -> bool:
        row = ROWS[index.row()]
        if row.kind == "drum" and event.type() == QEvent.Type.MouseButtonPress \
                and event.button() == Qt.MouseButton.LeftButton:
            steps = index.data(STEPS_ROLE) or ()
            if steps:
                inner = QRectF(option.rect).adjusted(3, 0, -3, 0)
                step = int((event.position().x() - inner.left()) / (inner.width() / len(steps)))
                if 0 <= step < len(steps):
                    self.model.toggle_step(index.column(), row.voice, step)
            return True
        return super().editorEvent(event, model, option, index)

    def createEditor(self, parent, option, index):
        kind = ROWS[index.row()].kind
        if kind in ("energy", "density"):
            editor = QSpinBox(parent)
            editor.setRange(0, 100)
            editor.setFrame(False)
            return editor
        editor = QLineEdit(parent)
        editor.setFrame(False)
        editor.setAlignment(Qt.AlignmentFlag.AlignCenter)
        return editor


class PlanEditor(QWidget):
    sig_replan_requested = Signal(str)  # section id: plan the unlocked bars with the model

    def __init__(self, context: StudioContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self._generation_available = False
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 6, 8, 6)
        layout.setSpacing(4)
        top = QHBoxLayout()
        self.title = QLabel("Plan")
        self.title.setObjectName("sectionTitle")
        self.error_label = QLabel()
        self.error_label.setObjectName("errorText")
        self.model_note = QLabel()  # says when the model in use does not read plans
        self.model_note.setObjectName("hint")
        self.model_note.setVisible(False)
        self.model_note.setWordWrap(True)
        self.create_button = QPushButton(icon("plan"), "Create Empty Plan")
        self.create_button.setToolTip("Start a plan by hand: no chords, no drums yet")
        self.replan_button = QPushButton(icon("regenerate"), "Re-plan Unlocked Bars")
        self.replan_button.setToolTip(
            "Let the structure model rewrite every bar that is not locked")
        self.clear_button = QPushButton("Clear Plan")
        self.midi_button = QPushButton(icon("open"), "Import MIDI…")
        self.midi_button.setToolTip(
            "Replace the plan with a MIDI sketch: chords, bass, melody and drums, read in the "
            "section's key (undo brings the plan back)")
        top.addWidget(self.title)
        top.addSpacing(12)
        top.addWidget(self.error_label, 1)
        top.addWidget(self.midi_button)
        top.addWidget(self.create_button)
        top.addWidget(self.replan_button)
        top.addWidget(self.clear_button)
        layout.addLayout(top)
        layout.addWidget(self.model_note)

        self.model = PlanTableModel(context, self)
        self.table = QTableView()
        self.table.setObjectName("planTable")
        self.table.setAccessibleName("Plan grid")
        self.table.setModel(self.model)
        self.delegate = PlanCellDelegate(self.model, self.table)
        self.table.setItemDelegate(self.delegate)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.DoubleClicked
                                   | QAbstractItemView.EditTrigger.EditKeyPressed
                                   | QAbstractItemView.EditTrigger.AnyKeyPressed)
        self.table.horizontalHeader().setDefaultSectionSize(BAR_COLUMN_WIDTH)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        self.table.verticalHeader().setDefaultSectionSize(ROW_HEIGHT)
        self.table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        self.table.setShowGrid(False)
        self.table.setWordWrap(False)
        self.empty_label = QLabel("Select a section to see its plan.")
        self.empty_label.setObjectName("hint")
        self.empty_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.empty_label, 1)

        self._error_timer = QTimer(self)
        self._error_timer.setSingleShot(True)
        self._error_timer.setInterval(ERROR_MS)
        self._error_timer.timeout.connect(lambda: self.error_label.setText(""))
        self.model.sig_invalid_input.connect(self.show_error)
        context.undo.sig_edit_refused.connect(self._edit_refused)
        self.create_button.clicked.connect(self.create_empty_plan)
        self.clear_button.clicked.connect(self.clear_plan)
        self.midi_button.clicked.connect(self._ask_midi)
        self.replan_button.clicked.connect(self._replan)
        context.selection.sig_bar_range_changed.connect(self._show_bar_range)
        self.binding = CurrentSectionBinding(context, self.show_section, self)
        self.binding.refresh()
        self.show_section(self.binding.section)

    def sizeHint(self) -> QSize:
        return QSize(900, ROW_HEIGHT * (len(ROWS) + 1) + 48)

    def show_section(self, section: Section | None) -> None:
        self.model.set_section(section)
        has_plan = section is not None and section.plan is not None
        self.table.setVisible(has_plan)
        self.empty_label.setVisible(not has_plan)
        self.create_button.setVisible(section is not None and not has_plan)
        self.clear_button.setVisible(has_plan)
        self.replan_button.setVisible(section is not None)
        self.midi_button.setVisible(section is not None)
        self.replan_button.setEnabled(self._generation_available)
        self.replan_button.setText("Re-plan Unlocked Bars" if has_plan else "Plan with Model")
        if section is None:
            self.title.setText("Plan")
            self.empty_label.setText("Select a section to see its plan.")
        else:
            self.title.setText(f"Plan · {section.name}")
            if not has_plan:
                self.empty_label.setText(
                    f"{section.name} has no plan yet. Plan it with the model, or create an "
                    "empty plan and write the chords yourself.")
            self.table.setMinimumHeight(ROW_HEIGHT * (len(ROWS) + 1) + 4)
        self._show_bar_range(self.context.selection.bar_range)

    def set_generation_available(self, available: bool, plans: bool = True,
                                 model: str = "") -> None:
        """`plans`: the worker's model writes and reads plans (Stable Audio Open and MusicGen
        render from the prompt alone)."""
        self._generation_available = available and plans
        self.replan_button.setEnabled(available and plans)
        prompt_only = available and not plans
        self.model_note.setVisible(prompt_only)
        note = (f"{model or 'This model'} renders from the prompt: the plan is kept for the "
                "built-in model and MIDI export")
        self.model_note.setText(note)
        self.model_note.setToolTip(note)
        if not available:
            tip = "Needs the inference worker"
        elif not plans:
            tip = (f"{model or 'The model in use'} writes and reads no plans: it renders from "
                   "the prompt; the plan is kept for the built-in model and MIDI export")
        else:
            tip = "Let the structure model rewrite every bar that is not locked"
        self.replan_button.setToolTip(tip)

    def show_error(self, message: str) -> None:
        self.error_label.setText(message)
        self._error_timer.start()

    def _edit_refused(self, message: str) -> None:
        if self.isVisible() and self.table.hasFocus():
            self.show_error(message)

    def _show_bar_range(self, bar_range) -> None:
        section = self.binding.section
        if bar_range is not None and section is not None and bar_range.section_id == section.id:
            self.delegate.highlight = (bar_range.start, bar_range.end)
            self.table.scrollTo(self.model.index(0, bar_range.start))
        else:
            self.delegate.highlight = None
        self.table.viewport().update()

    def create_empty_plan(self) -> None:
        section = self.binding.section
        if section is None or section.plan is not None:
            return
        plan = Plan.empty(section.length_bars, self.context.project.section_steps(section))
        self.context.undo.push(SetPlan(section.id, plan))

    def _ask_midi(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Import MIDI into the Plan", "",
                                              "MIDI (*.mid *.midi);;All files (*)")
        if path:
            self.import_midi(Path(path))

    def import_midi(self, path: Path) -> None:
        """Replace the current section's plan with the one the MIDI file at `path` holds: read
        and converted on the file thread, pushed as one undo step here."""
        section = self.binding.section
        if section is None:
            return
        project = self.context.project

        def read() -> SetPlan:
            try:
                data = path.read_bytes()
            except OSError as error:
                reason = error.strerror or str(error)
                raise OperationError(f"cannot read {path.name}: {reason}") from None
            return midi_plan_command(project, section.id, data, path.name)

        self.context.executor.submit(
            f"Import {path.name}", read,
            on_done=lambda command: self.context.undo.push_all(
                f"Import {path.name} into the plan of {section.name}", [command]),
            on_error=lambda error: self.show_error(str(error)), context=self)

    def clear_plan(self) -> None:
        section = self.binding.section
        if section is not None and section.plan is not None:
            self.context.undo.push(SetPlan(section.id, None))

    def _replan(self) -> None:
        section = self.binding.section
        if section is not None:
            self.sig_replan_requested.emit(section.id)
