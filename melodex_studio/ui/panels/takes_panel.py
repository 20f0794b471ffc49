"""The current section's takes: audition one (it plays from the section's start, looped),
make one active, delete, rename; see where a take came from; and pick a checkpoint of it to
vary from, with a strength."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QPushButton,
    QSlider,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from melodex_studio.project.commands import DeleteTake, RenameTake, SetActiveTake
from melodex_studio.project.operations import vary_steps
from melodex_studio.project.section import Section
from melodex_studio.project.take import Take, TakeOperation
from melodex_studio.ui.context import StudioContext
from melodex_studio.ui.panels.section_binding import CurrentSectionBinding
from melodex_studio.ui.playback import PlaybackController
from melodex_studio.ui.resources import icon
from melodex_studio.worker.model_paths import MUSICGEN_MODEL_ID

TAKE_ID_ROLE = Qt.ItemDataRole.UserRole


def take_origin(take: Take, section: Section) -> str:
    """Where a take came from, as a musician reads it, in the list's own names: "Take 2 @ step
    8 · 30% new"."""
    if take.parent_id is None:
        return "your recording" if take.operation is TakeOperation.IMPORT else "new"
    try:
        parent = section.take(take.parent_id)
        name = parent.label or f"Take {section.take_index(parent.id) + 1}"
    except KeyError:
        name = f"{take.parent_id[:8]} (deleted)"
    text = name
    if take.source_checkpoint_step is not None:
        text += f" @ step {take.source_checkpoint_step}"
    if take.variation is not None:
        text += f" · {take.variation:.0%} new"
    elif take.strength is not None:  # a variation made before variations drew new noise
        text += f" · strength {take.strength:.2f}"
    return text


def take_details(take: Take) -> str:
    """The tooltip of a take: how it was rendered (tempo and key where it recorded them)."""
    parts = [f"seed {take.seed}", f"{take.settings.steps} steps",
             f"guidance {take.settings.guidance:g}"]
    parts += [f"{take.bpm:g} BPM"] if take.bpm is not None else []
    parts += [take.key] if take.key is not None else []
    return " · ".join([*parts, f"{take.created:%Y-%m-%d %H:%M}"])


class TakesPanel(QWidget):
    sig_vary_requested = Signal(str, str, int, float)  # section id, take id, step, variation

    def __init__(
        self, context: StudioContext, playback: PlaybackController, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.context = context
        self.playback = playback
        self._generation_available = False
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 6, 8, 8)
        self.title = QLabel("Takes")
        self.title.setObjectName("sectionTitle")
        layout.addWidget(self.title)
        self.tree = QTreeWidget()
        self.tree.setAccessibleName("Takes")
        self.tree.setColumnCount(4)
        self.tree.setHeaderLabels(["", "Take", "Operation", "Origin"])
        self.tree.setRootIsDecorated(False)
        self.tree.setAlternatingRowColors(True)
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        # Click the name of the selected take to rename it (double-click auditions).
        self.tree.setEditTriggers(QAbstractItemView.EditTrigger.SelectedClicked)
        header = self.tree.header()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)  # the longest: elided
        self.tree.setMinimumHeight(110)
        self.empty_label = QLabel("No takes yet. Generate the section to get one.")
        self.empty_label.setObjectName("hint")
        self.empty_label.setWordWrap(True)
        layout.addWidget(self.tree)
        layout.addWidget(self.empty_label)

        buttons = QHBoxLayout()
        self.audition_button = QPushButton(icon("audition"), "Audition")
        self.audition_button.setToolTip("Play this take from the section's start, looped")
        self.activate_button = QPushButton(icon("active"), "Make Active")
        self.activate_button.setToolTip("The take that plays in the song")
        self.delete_button = QPushButton(icon("delete"), "")
        self.delete_button.setToolTip("Delete this take")
        self.delete_button.setAccessibleName("Delete take")
        buttons.addWidget(self.audition_button)
        buttons.addWidget(self.activate_button)
        buttons.addStretch(1)
        buttons.addWidget(self.delete_button)
        layout.addLayout(buttons)

        self.vary_box = QGroupBox("Vary from this step")
        vary = QVBoxLayout(self.vary_box)
        self.checkpoint_slider = QSlider(Qt.Orientation.Horizontal)
        self.checkpoint_slider.setAccessibleName("Checkpoint step")
        self.checkpoint_label = QLabel()
        self.variation_slider = QSlider(Qt.Orientation.Horizontal)
        self.variation_slider.setRange(5, 100)
        self.variation_slider.setValue(100)
        self.variation_slider.setAccessibleName("Variation")
        self.variation_slider.setToolTip(
            "How much of what comes after the step is drawn anew: 100% all of it, lower stays "
            "closer to the take")
        self.variation_label = QLabel()
        self.vary_button = QPushButton(icon("vary"), "Vary")
        self.vary_button.setObjectName("primary")
        row = QHBoxLayout()
        row.addWidget(QLabel("Step"))
        row.addWidget(self.checkpoint_slider, 1)
        row.addWidget(self.checkpoint_label)
        vary.addLayout(row)
        row = QHBoxLayout()
        row.addWidget(QLabel("Variation"))
        row.addWidget(self.variation_slider, 1)
        row.addWidget(self.variation_label)
        vary.addLayout(row)
        vary.addWidget(self.vary_button)
        layout.addWidget(self.vary_box)
        layout.addStretch(1)

        self.tree.itemSelectionChanged.connect(self._update_controls)
        self.tree.itemDoubleClicked.connect(lambda item, _col: self.audition())
        self.tree.itemChanged.connect(self._label_edited)
        self.audition_button.clicked.connect(self.audition)
        self.activate_button.clicked.connect(self.make_active)
        self.delete_button.clicked.connect(self.delete)
        self.checkpoint_slider.valueChanged.connect(self._update_vary_labels)
        self.variation_slider.valueChanged.connect(self._update_vary_labels)
        self.vary_button.clicked.connect(self._vary)
        self.binding = CurrentSectionBinding(context, self.show_section, self)
        self.binding.refresh()

    # -- model -> widgets -----------------------------------------------------------------------

    def show_section(self, section: Section | None) -> None:
        selected = self.selected_take_id()
        self.tree.blockSignals(True)
        self.tree.clear()
        if section is not None:
            for number, take in enumerate(section.takes, start=1):
                item = QTreeWidgetItem([
                    "", take.label or f"Take {number}", str(take.operation).capitalize(),
                    take_origin(take, section),
                ])
                item.setData(0, TAKE_ID_ROLE, take.id)
                item.setFlags(item.flags() | Qt.ItemFlag.ItemIsEditable)
                item.setToolTip(1, take_details(take))
                if take.operation is TakeOperation.VARY:  # the origin is what it varies
                    item.setToolTip(3, f"A variation of {item.text(3)}")
                if take.id == section.active_take_id:
                    item.setIcon(0, icon("active", "#ff9f1c"))
                    font = item.font(1)
                    font.setBold(True)
                    item.setFont(1, font)
                self.tree.addTopLevelItem(item)
                if take.id == selected or (selected is None and take.id == section.active_take_id):
                    item.setSelected(True)
                    self.tree.setCurrentItem(item)
        self.tree.blockSignals(False)
        if section is None:
            self.title.setText("Takes")
            self.empty_label.setText("Select a section to see its takes.")
        else:
            count = len(section.takes)
            self.title.setText(f"Takes · {section.name}" + (f" ({count})" if count else ""))
            self.empty_label.setText("No takes yet. Generate the section to get one "
                                     "(right-click it, or Ctrl+G).")
        has_takes = section is not None and bool(section.takes)
        self.tree.setVisible(has_takes)
        self.empty_label.setVisible(not has_takes)
        self._update_controls()

    def selected_take_id(self) -> str | None:
        items = self.tree.selectedItems()
        return items[0].data(0, TAKE_ID_ROLE) if items else None

    def selected_take(self) -> Take | None:
        section = self.binding.section
        take_id = self.selected_take_id()
        if section is None or take_id is None:
            return None
        try:
            return section.take(take_id)
        except KeyError:
            return None

    def set_generation_available(self, available: bool) -> None:
        self._generation_available = available
        self._update_controls()

    def _update_controls(self) -> None:
        take = self.selected_take()
        section = self.binding.section
        has = take is not None
        self.audition_button.setEnabled(has and take.audio is not None)
        self.activate_button.setEnabled(has and section is not None and
                                        section.active_take_id != take.id)
        self.delete_button.setEnabled(has)
        steps = vary_steps(take) if take is not None else []
        self.vary_box.setVisible(bool(steps))
        if steps:
            self.checkpoint_slider.blockSignals(True)
            self.checkpoint_slider.setRange(0, len(steps) - 1)
            self.checkpoint_slider.setValue(min(self.checkpoint_slider.value(), len(steps) - 1))
            self.checkpoint_slider.blockSignals(False)
        self.vary_button.setEnabled(bool(steps) and self._generation_available)
        self.vary_button.setToolTip("" if self._generation_available else
                                    "Needs the inference worker")
        self._update_vary_labels()

    def checkpoint_step(self) -> int | None:
        take = self.selected_take()
        steps = vary_steps(take) if take is not None else []
        if not steps:
            return None
        return steps[min(self.checkpoint_slider.value(), len(steps) - 1)]

    def variation(self) -> float:
        return self.variation_slider.value() / 100.0

    def _update_vary_labels(self, *_args: object) -> None:
        step = self.checkpoint_step()
        take = self.selected_take()
        total = take.settings.steps if take is not None else 0
        tokens = take is not None and take.model_id == MUSICGEN_MODEL_ID
        label = "" if step is None else f"{step}/{total}"
        if tokens and step is not None and total:  # a token model's step is a point in time
            label += f" · keeps {step / total:.0%}"
        self.checkpoint_label.setText(label)
        self.checkpoint_slider.setToolTip(
            "MusicGen keeps the take up to this point and writes the rest again" if tokens
            else "Early steps keep only the rough shape; late steps keep nearly everything")
        self.variation_label.setText(f"{self.variation():.0%}")

    # -- widgets -> commands --------------------------------------------------------------------

    def audition(self) -> None:
        take = self.selected_take()
        section = self.binding.section
        if take is not None and section is not None and take.audio is not None:
            self.playback.audition(section.id, take.id)

    def make_active(self) -> None:
        take = self.selected_take()
        section = self.binding.section
        if take is not None and section is not None:
            self.context.undo.push(SetActiveTake(section.id, take.id))

    def delete(self) -> None:
        take = self.selected_take()
        section = self.binding.section
        if take is None or section is None:
            return
        answer = QMessageBox.question(
            self, "Delete Take",
            f"Delete {take.label or 'this take'} of {section.name}? Undo brings it back.",
        )
        if answer == QMessageBox.StandardButton.Yes:
            self.context.undo.push(DeleteTake(section.id, take.id))

    def _label_edited(self, item: QTreeWidgetItem, column: int) -> None:
        section = self.binding.section
        if column != 1 or section is None or self.binding.updating:
            return
        take_id = item.data(0, TAKE_ID_ROLE)
        label = item.text(1).strip()
        index = section.take_index(take_id) + 1
        if label == f"Take {index}":
            return
        self.context.undo.push(RenameTake(section.id, take_id, label or None))

    def _vary(self) -> None:
        take = self.selected_take()
        section = self.binding.section
        step = self.checkpoint_step()
        if take is not None and section is not None and step is not None:
            self.sig_vary_requested.emit(section.id, take.id, step, self.variation())
