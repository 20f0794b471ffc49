"""Import Audio's options: the recording's tempo and key, so it is stretched onto the section's
bars and transposed into its key as it comes in (`audio.recording_import`), the way a DAW warps
a loop to the song. Both are optional: "as recorded" imports the file as it is."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QLabel,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from melodex_studio.audio.recording_import import (
    AS_IT_IS,
    MAX_TEMPO_FACTOR,
    MIN_TEMPO_FACTOR,
    ImportOptions,
)
from melodex_studio.music.key import Key

__all__ = ["AS_IT_IS", "ImportOptions", "ImportRecordingDialog"]

AS_RECORDED = "As recorded"
NO_TEMPO = 19.0  # the tempo box's minimum, shown as AS_RECORDED; under 20 BPM reads as recorded


class ImportRecordingDialog(QDialog):
    """Asks for the recording's tempo and key (each may stay "as recorded")."""

    def __init__(self, file_name: str, section_name: str, section_bpm: float, section_key: Key,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Import Audio")
        self.setMinimumWidth(380)
        self.section_bpm = section_bpm
        self.section_key = section_key
        layout = QVBoxLayout(self)
        intro = QLabel(f"<b>{file_name}</b> into {section_name}, which plays at "
                       f"{section_bpm:g} BPM in {section_key}.")
        intro.setWordWrap(True)
        layout.addWidget(intro)
        form = QFormLayout()
        self.tempo_spin = QDoubleSpinBox()
        self.tempo_spin.setAccessibleName("Tempo of the recording")
        self.tempo_spin.setRange(NO_TEMPO, 400.0)  # the minimum reads "As recorded"
        self.tempo_spin.setValue(NO_TEMPO)
        self.tempo_spin.setDecimals(1)
        self.tempo_spin.setSuffix(" BPM")
        self.tempo_spin.setSpecialValueText(AS_RECORDED)
        self.tempo_spin.setToolTip("The tempo it was played at: it is stretched to the "
                                   "section's, its pitch kept")
        self.key_combo = QComboBox()
        self.key_combo.setAccessibleName("Key of the recording")
        self.key_combo.addItem(AS_RECORDED, None)
        for key in Key.all():
            self.key_combo.addItem(str(key), key.index)
        self.key_combo.setToolTip("The key it is in: it is moved the shortest way into the "
                                  "section's key (or its relative), its tempo kept")
        self.transpose_spin = QSpinBox()
        self.transpose_spin.setAccessibleName("Transpose")
        self.transpose_spin.setRange(-12, 12)
        self.transpose_spin.setSuffix(" semitones")
        form.addRow("Its tempo", self.tempo_spin)
        form.addRow("Its key", self.key_combo)
        form.addRow("Transpose", self.transpose_spin)
        layout.addLayout(form)
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        layout.addWidget(self.summary)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                   | QDialogButtonBox.StandardButton.Cancel)
        self.import_button = buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.import_button.setText("Import")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.key_combo.currentIndexChanged.connect(self._key_chosen)
        self.tempo_spin.valueChanged.connect(self._show_summary)
        self.transpose_spin.valueChanged.connect(self._show_summary)
        self._show_summary()

    def _key_chosen(self) -> None:
        index = self.key_combo.currentData()
        self.transpose_spin.setValue(
            0 if index is None else Key.from_index(index).semitones_to(self.section_key))
        self._show_summary()

    def options(self) -> ImportOptions:
        bpm = self.tempo_spin.value()
        return ImportOptions.onto(self.section_bpm, bpm if bpm >= 20.0 else None,
                                  self.transpose_spin.value())

    def _show_summary(self) -> None:
        options = self.options()
        fits = MIN_TEMPO_FACTOR <= options.tempo_factor <= MAX_TEMPO_FACTOR
        self.import_button.setEnabled(fits)
        done = []
        if options.recording_bpm is not None and options.tempo_factor != 1.0:
            done.append(f"stretched from {options.recording_bpm:g} to {self.section_bpm:g} BPM")
        if options.semitones:
            steps = abs(options.semitones)
            done.append(f"{steps} semitone{'s' * (steps > 1)} "
                        f"{'up' if options.semitones > 0 else 'down'}")
        if not fits:
            self.summary.setText(f"{options.recording_bpm:g} BPM is too far from "
                                 f"{self.section_bpm:g}: a recording can be stretched to a "
                                 "quarter or four times its speed.")
        else:
            self.summary.setText(f"It comes in {' and '.join(done)}." if done
                                 else "It comes in as recorded.")
