"""Preferences: audio device and buffer, model and compute device, threads, autosave
interval and theme. Changes are validated by the Settings model and saved in the background."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from melodex_studio.settings import Settings
from melodex_studio.settings.model import AudioSettings, InferenceSettings
from melodex_studio.worker.model_paths import MUSICGEN_MODEL_ID, STABLE_AUDIO_MODEL_ID

DEFAULT_DEVICE = "System default"


def models_on_disk() -> list[str]:
    """Model ids in the shipped models folder (a folder with a config.json each)."""
    from melodex_studio.ui.resources import resources_dir

    root = resources_dir().parent / "models"
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if (p / "config.json").is_file())


class PreferencesDialog(QDialog):
    def __init__(self, settings: Settings, devices: list[str], parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Preferences")
        self.setMinimumWidth(560)  # room for a model folder's path
        self.original = settings
        layout = QVBoxLayout(self)

        audio = QGroupBox("Audio")
        audio_form = QFormLayout(audio)
        self.device_combo = QComboBox()
        self.device_combo.setAccessibleName("Output device")
        self.device_combo.addItem(DEFAULT_DEVICE, None)
        for name in devices:
            self.device_combo.addItem(name, name)
        current = settings.audio.output_device
        if current is not None and self.device_combo.findData(current) < 0:
            self.device_combo.addItem(f"{current} (not connected)", current)
        self.device_combo.setCurrentIndex(max(0, self.device_combo.findData(current)))
        if not devices:
            audio_form.addRow(QLabel("No audio output device found; playback is off."))
        self.rate_combo = QComboBox()
        for rate in (44100, 48000):
            self.rate_combo.addItem(f"{rate} Hz", rate)
        self.rate_combo.setCurrentIndex(self.rate_combo.findData(settings.audio.sample_rate))
        self.buffer_spin = QDoubleSpinBox()
        self.buffer_spin.setRange(2.0, 200.0)
        self.buffer_spin.setSuffix(" ms")
        self.buffer_spin.setValue(settings.audio.buffer_ms)
        self.buffer_spin.setToolTip(
            "Larger buffers survive a busy machine; smaller ones react faster")
        self.metronome_spin = QDoubleSpinBox()
        self.metronome_spin.setRange(-40.0, 0.0)
        self.metronome_spin.setDecimals(0)
        self.metronome_spin.setSuffix(" dB")
        self.metronome_spin.setValue(settings.audio.metronome_db)
        self.metronome_spin.setToolTip("How loud the metronome clicks (the downbeat click)")
        self.swap_fade_spin = QDoubleSpinBox()
        self.swap_fade_spin.setRange(0.0, 50.0)
        self.swap_fade_spin.setDecimals(0)
        self.swap_fade_spin.setSuffix(" ms")
        self.swap_fade_spin.setSpecialValueText("Cut")
        self.swap_fade_spin.setValue(settings.audio.swap_crossfade_ms)
        self.swap_fade_spin.setToolTip(
            "How long a take switched in during playback crossfades with the one it replaces, "
            "from the bar line on (exports are not affected)")
        audio_form.addRow("Output", self.device_combo)
        audio_form.addRow("Sample rate", self.rate_combo)
        audio_form.addRow("Buffer", self.buffer_spin)
        audio_form.addRow("Metronome level", self.metronome_spin)
        audio_form.addRow("Take switch fade", self.swap_fade_spin)
        layout.addWidget(audio)

        inference = QGroupBox("Model")
        model_form = QFormLayout(inference)
        self.model_combo = QComboBox()
        self.model_combo.setEditable(True)
        self.model_combo.setAccessibleName("Model")
        for model in dict.fromkeys([settings.inference.model_id, *models_on_disk(),
                                    STABLE_AUDIO_MODEL_ID, MUSICGEN_MODEL_ID]):
            self.model_combo.addItem(model)
        # The large models: the folders the musician downloaded (never fetched here).
        self.stable_audio_edit, stable_audio_row = self._folder_row(
            "Stable Audio Open folder", settings.inference.stable_audio_dir,
            "the folder with model_index.json",
            "Stable Audio Open 1.0 as diffusers lays it out (model_index.json, transformer/, "
            "vae/, text_encoder/, ...); used when the model is stable-audio-open")
        self.musicgen_edit, musicgen_row = self._folder_row(
            "MusicGen folder", settings.inference.musicgen_dir,
            "the folder with config.json and the tokenizer",
            "MusicGen (small, medium, large or stereo) as transformers saves it: config.json, "
            "the weights and the tokenizer files in one folder; used when the model is musicgen")
        self.compute_combo = QComboBox()
        self.compute_combo.setAccessibleName("Compute device")
        for value, label in (("auto", "Automatic (GPU if there is one)"), ("cpu", "CPU"),
                             ("cuda", "NVIDIA GPU (CUDA)")):
            self.compute_combo.addItem(label, value)
        self.compute_combo.setCurrentIndex(self.compute_combo.findData(settings.inference.device))
        self.half_check = QCheckBox("Half precision on the GPU (bfloat16)")
        self.half_check.setChecked(settings.inference.bf16_on_cuda)
        self.half_check.setToolTip(
            "On an NVIDIA GPU that computes in bfloat16 (RTX 30 series, A100 and newer) the "
            "models' networks take half the memory and run faster; the codecs stay float32. "
            "Off: float32 everywhere. A CPU always computes in float32.")
        self.compute_combo.currentIndexChanged.connect(self._show_half_precision)
        self._show_half_precision()
        self.threads_spin = QSpinBox()
        self.threads_spin.setRange(0, 256)
        self.threads_spin.setSpecialValueText("All cores")
        self.threads_spin.setValue(settings.inference.threads)
        model_form.addRow("Model", self.model_combo)
        model_form.addRow("Stable Audio Open", stable_audio_row)
        model_form.addRow("MusicGen", musicgen_row)
        model_form.addRow("Device", self.compute_combo)
        model_form.addRow("", self.half_check)
        model_form.addRow("CPU threads", self.threads_spin)
        model_form.addRow(QLabel("Model changes apply when the worker restarts."))
        layout.addWidget(inference)

        general = QGroupBox("Studio")
        general_form = QFormLayout(general)
        self.autosave_spin = QDoubleSpinBox()
        self.autosave_spin.setRange(5.0, 3600.0)
        self.autosave_spin.setDecimals(0)
        self.autosave_spin.setSuffix(" s")
        self.autosave_spin.setValue(settings.autosave_interval_s)
        self.autosave_spin.setToolTip(
            "Longest time between recovery-journal writes while you keep editing; every pause "
            "in editing writes it too")
        self.theme_combo = QComboBox()
        self.theme_combo.addItem("Dark", "dark")
        self.theme_combo.addItem("Light", "light")
        self.theme_combo.setCurrentIndex(self.theme_combo.findData(settings.theme))
        general_form.addRow("Autosave at least every", self.autosave_spin)
        general_form.addRow("Theme", self.theme_combo)
        layout.addWidget(general)

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                   | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)

    def _show_half_precision(self) -> None:
        """Half precision is a GPU's: greyed out while the CPU is the device."""
        self.half_check.setEnabled(self.compute_combo.currentData() != "cpu")

    def _folder_row(self, name: str, value: str | None, placeholder: str,
                    tip: str) -> tuple[QLineEdit, QHBoxLayout]:
        """A large model's folder: its path and a Browse… button."""
        edit = QLineEdit(value or "")
        edit.setAccessibleName(name)
        edit.setPlaceholderText(placeholder)
        edit.setToolTip(tip)
        browse = QPushButton("Browse…")
        browse.setAccessibleName(f"Browse for the {name}")

        def choose() -> None:
            folder = QFileDialog.getExistingDirectory(self, name, edit.text())
            if folder:
                edit.setText(folder)

        browse.clicked.connect(choose)
        row = QHBoxLayout()
        row.addWidget(edit, 1)
        row.addWidget(browse)
        return edit, row

    def settings(self) -> Settings:
        """The settings as edited (validated: out-of-range values cannot be entered)."""
        original = self.original
        audio = AudioSettings(
            output_device=self.device_combo.currentData(),
            sample_rate=self.rate_combo.currentData(),
            buffer_ms=self.buffer_spin.value(),
            swap_crossfade_ms=self.swap_fade_spin.value(),
            metronome_db=self.metronome_spin.value(),
        )
        inference = original.inference.model_copy(update={
            "model_id": self.model_combo.currentText().strip() or original.inference.model_id,
            "stable_audio_dir": self.stable_audio_edit.text().strip() or None,
            "musicgen_dir": self.musicgen_edit.text().strip() or None,
            "device": self.compute_combo.currentData(),
            "threads": self.threads_spin.value(),
            "bf16_on_cuda": self.half_check.isChecked(),
        })
        return original.model_copy(update={
            "audio": audio,
            "inference": InferenceSettings.model_validate(inference.model_dump()),
            "autosave_interval_s": self.autosave_spin.value(),
            "theme": self.theme_combo.currentData(),
        })
