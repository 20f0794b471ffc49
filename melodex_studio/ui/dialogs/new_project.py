"""The New Project dialog: title, tempo, key, meter and a form template (editable as text,
"Intro:8, Verse:16, Chorus:8"), checked as the musician types."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from melodex_studio.project.factory import SectionsSpecError, new_project, parse_sections_spec
from melodex_studio.project.fields import MAX_TITLE_CHARS, SUPPORTED_METERS
from melodex_studio.project.project_model import Project
from melodex_studio.ui.music_fields import add_key_items, tempo_spin_box

#: Form templates a producer recognises: (label, sections spec, tempo, key).
TEMPLATES: tuple[tuple[str, str, float, str], ...] = (
    ("Pop song", "Intro:8, Verse:16, Pre-Chorus:8, Chorus:8, Verse:16, Chorus:8, Bridge:8, "
     "Chorus:8, Outro:8", 110.0, "C major"),
    ("Lo-fi beat", "Intro:4, Loop A:16, Loop B:16, Loop A:16, Outro:4", 82.0, "A minor"),
    ("EDM track", "Intro:16, Build:8, Drop:16, Breakdown:16, Build:8, Drop:16, Outro:16",
     126.0, "F minor"),
    ("Film cue", "Opening:8, Theme:16, Development:16, Climax:8, Resolution:8", 90.0, "D minor"),
    ("Short sketch", "Intro:8, Verse:16, Chorus:8", 120.0, "C major"),
)


class NewProjectDialog(QDialog):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("New Project")
        self.setMinimumWidth(460)
        layout = QVBoxLayout(self)
        form = QFormLayout()
        self.title_edit = QLineEdit("Untitled")
        self.title_edit.setAccessibleName("Title")
        self.title_edit.setMaxLength(MAX_TITLE_CHARS)
        self.template_combo = QComboBox()
        self.template_combo.setAccessibleName("Template")
        for label, spec, bpm, key in TEMPLATES:
            self.template_combo.addItem(label, (spec, bpm, key))
        self.bpm_spin = tempo_spin_box("Tempo", "The song's tempo in quarter notes per minute")
        self.bpm_spin.setKeyboardTracking(True)  # the length below follows as it is typed
        self.key_combo = QComboBox()
        self.key_combo.setAccessibleName("Key")
        add_key_items(self.key_combo)
        self.meter_combo = QComboBox()
        self.meter_combo.setAccessibleName("Meter")
        for meter in SUPPORTED_METERS:
            self.meter_combo.addItem(meter, meter)
        self.sections_edit = QLineEdit()
        self.sections_edit.setAccessibleName("Sections")
        self.sections_edit.setToolTip(
            "NAME:BARS, separated by commas; a section in a tempo or meter of its own adds "
            "@BPM and/or @METER: Bridge:8@3/4, Outro:4@76")
        self.summary = QLabel()
        self.summary.setObjectName("hint")
        self.summary.setWordWrap(True)
        form.addRow("Title", self.title_edit)
        form.addRow("Template", self.template_combo)
        form.addRow("Tempo", self.bpm_spin)
        form.addRow("Key", self.key_combo)
        form.addRow("Meter", self.meter_combo)
        form.addRow("Sections", self.sections_edit)
        form.addRow("", self.summary)
        layout.addLayout(form)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Create")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        self.template_combo.currentIndexChanged.connect(self._template_chosen)
        self.sections_edit.textChanged.connect(self._validate)
        self.title_edit.textChanged.connect(self._validate)
        self.bpm_spin.valueChanged.connect(self._validate)
        self.meter_combo.currentIndexChanged.connect(self._validate)
        self._template_chosen(0)
        self.title_edit.selectAll()
        self.title_edit.setFocus()

    def _template_chosen(self, index: int) -> None:
        spec, bpm, key = self.template_combo.itemData(index)
        self.sections_edit.setText(spec)
        self.bpm_spin.setValue(bpm)
        self.key_combo.setCurrentIndex(self.key_combo.findData(key))

    def _validate(self) -> bool:
        ok_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        if not self.title_edit.text().strip():
            self.summary.setText("Give the project a title.")
            ok_button.setEnabled(False)
            return False
        try:
            parsed = parse_sections_spec(self.sections_edit.text())
        except SectionsSpecError as error:
            self.summary.setText(str(error))
            self.sections_edit.setProperty("invalid", True)
            self.sections_edit.style().polish(self.sections_edit)
            ok_button.setEnabled(False)
            return False
        self.sections_edit.setProperty("invalid", False)
        self.sections_edit.style().polish(self.sections_edit)
        bars = sum(section.bars for section in parsed)
        minutes, seconds = divmod(round(self.project().grid().bar_to_seconds(bars)), 60)
        self.summary.setText(f"{len(parsed)} sections, {bars} bars, {minutes}:{seconds:02d}")
        ok_button.setEnabled(True)
        return True

    def project(self) -> Project:
        """The project the dialog describes (call after it was accepted)."""
        return new_project(
            self.title_edit.text().strip() or "Untitled",
            bpm=self.bpm_spin.value(),
            key=self.key_combo.currentData(),
            meter=self.meter_combo.currentData(),
            sections_spec=self.sections_edit.text(),
        )
