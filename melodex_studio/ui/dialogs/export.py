"""The export dialog: a mixdown (WAV, FLAC, MP3, OGG), per-section files and the plan as
MIDI, normalised to a loudness target with a true-peak ceiling. The export runs in the file
executor; the dialog shows its progress and stays responsive."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from melodex_studio.audio.export import ExportOptions, ExportReport, export_project
from melodex_studio.project.take import Take
from melodex_studio.ui.context import StudioContext

#: (label, format, subtype)
FORMATS: tuple[tuple[str, str, str | None], ...] = (
    ("WAV 24-bit", "wav", "PCM_24"),
    ("WAV 16-bit", "wav", "PCM_16"),
    ("WAV 32-bit float", "wav", "FLOAT"),
    ("FLAC 24-bit", "flac", "PCM_24"),
    ("MP3", "mp3", None),
    ("Ogg Vorbis", "ogg", "VORBIS"),
)
#: (label, LUFS target or None for the project's, "off" for none)
LOUDNESS: tuple[tuple[str, float | str], ...] = (
    ("Project target", "project"),
    ("Streaming (-14 LUFS)", -14.0),
    ("Podcast / social (-16 LUFS)", -16.0),
    ("Broadcast, film (-23 LUFS)", -23.0),
    ("Club, loud (-9 LUFS)", -9.0),
    ("Off (no normalisation)", "off"),
)

ReadTakeAudio = Callable[[Take], object]


class ExportDialog(QDialog):
    def __init__(
        self,
        context: StudioContext,
        read_take_audio: ReadTakeAudio,
        default_path: Path,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.context = context
        self.read_take_audio = read_take_audio
        self.report: ExportReport | None = None
        self.setWindowTitle("Export")
        self.setMinimumWidth(520)
        layout = QVBoxLayout(self)
        form = QFormLayout()
        self.path_edit = QLineEdit(str(default_path))
        self.path_edit.setAccessibleName("Export file")
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        path_row = QHBoxLayout()
        path_row.addWidget(self.path_edit, 1)
        path_row.addWidget(browse)
        self.format_combo = QComboBox()
        self.format_combo.setAccessibleName("Format")
        for label, fmt, subtype in FORMATS:
            self.format_combo.addItem(label, (fmt, subtype))
        self.rate_combo = QComboBox()
        self.rate_combo.setAccessibleName("Sample rate")
        for rate in (44100, 48000):
            self.rate_combo.addItem(f"{rate} Hz", rate)
        self.loudness_combo = QComboBox()
        self.loudness_combo.setAccessibleName("Loudness target")
        project_target = context.project.master.loudness_target_lufs
        for label, value in LOUDNESS:
            text = f"{label} ({project_target:g} LUFS)" if value == "project" else label
            self.loudness_combo.addItem(text, value)
        self.peak_spin = QDoubleSpinBox()
        self.peak_spin.setRange(-9.0, 0.0)
        self.peak_spin.setSingleStep(0.5)
        self.peak_spin.setSuffix(" dBTP")
        self.peak_spin.setValue(context.project.master.true_peak_dbtp)
        self.peak_spin.setAccessibleName("True-peak ceiling")
        self.mixdown_check = QCheckBox("Mixdown of the whole song")
        self.mixdown_check.setChecked(True)
        self.mixdown_check.setEnabled(False)  # always written: section files are cut from it
        self.sections_check = QCheckBox("One file per section")
        self.midi_check = QCheckBox("The plan as MIDI (chords, bass, melody, drums)")
        form.addRow("File", path_row)
        form.addRow("Format", self.format_combo)
        form.addRow("Sample rate", self.rate_combo)
        form.addRow("Loudness", self.loudness_combo)
        form.addRow("Peak ceiling", self.peak_spin)
        form.addRow("Write", self.mixdown_check)
        form.addRow("", self.sections_check)
        form.addRow("", self.midi_check)
        layout.addLayout(form)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setVisible(False)
        self.result_label = QLabel()
        self.result_label.setWordWrap(True)
        layout.addWidget(self.progress)
        layout.addWidget(self.result_label)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.export_button = self.buttons.addButton(
            "Export", QDialogButtonBox.ButtonRole.AcceptRole)
        self.export_button.setDefault(True)
        self.export_button.clicked.disconnect()
        self.export_button.clicked.connect(self.start_export)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        self.format_combo.currentIndexChanged.connect(self._format_changed)

    def _format_changed(self, _index: int) -> None:
        fmt, _subtype = self.format_combo.currentData()
        path = Path(self.path_edit.text())
        self.path_edit.setText(str(path.with_suffix(f".{fmt}")))

    def _browse(self) -> None:
        fmt, _ = self.format_combo.currentData()
        name, _ = QFileDialog.getSaveFileName(self, "Export To", self.path_edit.text(),
                                              f"Audio (*.{fmt})")
        if name:
            self.path_edit.setText(name)

    def options(self) -> ExportOptions:
        fmt, subtype = self.format_combo.currentData()
        path = Path(self.path_edit.text()).expanduser()
        if path.suffix.lower() != f".{fmt}":
            path = path.with_suffix(f".{fmt}")
        return ExportOptions(
            path=path,
            format=fmt,
            subtype=subtype,
            sample_rate=self.rate_combo.currentData(),
            loudness_lufs=self.loudness_combo.currentData(),
            true_peak_dbtp=self.peak_spin.value(),
            per_section=self.sections_check.isChecked(),
            midi=self.midi_check.isChecked(),
        )

    def start_export(self) -> None:
        options = self.options()
        self.export_button.setEnabled(False)
        self.progress.setVisible(True)
        self.progress.setValue(0)
        self.result_label.setObjectName("")
        self.result_label.setText(f"Exporting {options.path.name}…")
        self.context.executor.submit(
            f"Export {options.path.name}", export_project, self.context.project,
            self.read_take_audio, options,
            on_progress=self._progress, on_done=self._done, on_error=self._failed, context=self,
        )

    def _progress(self, fraction: float, _text: str = "") -> None:
        self.progress.setValue(round(fraction * 1000))

    def _done(self, report: ExportReport) -> None:
        self.report = report
        self.progress.setValue(1000)
        self.export_button.setEnabled(True)
        warnings = "".join(f"\n⚠ {w}" for w in report.warnings)
        self.result_label.setText(f"Done: {report.summary()}{warnings}")

    def _failed(self, error: BaseException) -> None:
        self.export_button.setEnabled(True)
        self.progress.setVisible(False)
        self.result_label.setObjectName("errorText")
        self.result_label.style().polish(self.result_label)
        self.result_label.setText(f"Export failed: {' '.join(str(error).split())}")
