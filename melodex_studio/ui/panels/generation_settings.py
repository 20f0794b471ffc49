"""Generation settings of the current section: a guidance preset from the product brief
(film 1-2, social 3-5, sound design 7-10), the guidance itself, and an expert area with steps,
sampler, guidance interval and the seed with its lock."""

from __future__ import annotations

import secrets

from PySide6.QtCore import Qt
from PySide6.QtGui import QRegularExpressionValidator
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from melodex_studio.project.commands import EditSectionSettings
from melodex_studio.project.fields import MAX_DENOISING_STEPS, MAX_GUIDANCE, MAX_SEED
from melodex_studio.project.generation import PRESETS
from melodex_studio.project.section import Section
from melodex_studio.ui.context import StudioContext
from melodex_studio.ui.panels.section_binding import CurrentSectionBinding
from melodex_studio.ui.resources import icon

SAMPLERS = (("euler", "Euler"), ("heun", "Heun (2 passes a step)"))


def preset_label(name: str) -> str:
    preset = PRESETS[name]
    if name == "custom":
        return preset.label
    return f"{preset.label}  ({preset.guidance_min:g}–{preset.guidance_max:g})"


class GenerationSettingsBox(QGroupBox):
    def __init__(self, context: StudioContext, parent: QWidget | None = None) -> None:
        super().__init__("Generation", parent)
        self.context = context
        layout = QVBoxLayout(self)
        form = QFormLayout()
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.preset_combo = QComboBox()
        self.preset_combo.setAccessibleName("Guidance preset")
        self.preset_combo.setToolTip(
            "Where the guidance comes from: film scoring wants low guidance for natural, "
            "unobtrusive audio; social content the middle; sound design pushes it hard."
        )
        for name in PRESETS:
            self.preset_combo.addItem(preset_label(name), name)
        self.guidance_spin = QDoubleSpinBox()
        self.guidance_spin.setRange(0.0, MAX_GUIDANCE)
        self.guidance_spin.setSingleStep(0.1)
        self.guidance_spin.setDecimals(1)
        self.guidance_spin.setKeyboardTracking(False)
        self.guidance_spin.setAccessibleName("Guidance")
        self.guidance_spin.setToolTip(
            "Classifier-free guidance: how literally the prompt is followed")
        self.guidance_note = QLabel()
        self.guidance_note.setObjectName("hint")
        guidance_row = QHBoxLayout()
        guidance_row.addWidget(self.guidance_spin)
        guidance_row.addWidget(self.guidance_note, 1)
        form.addRow("Preset", self.preset_combo)
        form.addRow("Guidance", guidance_row)
        layout.addLayout(form)

        self.expert = QToolButton()
        self.expert.setObjectName("disclosure")
        self.expert.setText("Expert settings")
        self.expert.setCheckable(True)
        self.expert.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.expert.setIcon(icon("chevron_right"))
        self.expert.setToolTip("Steps, sampler, guidance interval and seed")
        self.expert_body = QWidget()
        expert_form = QFormLayout(self.expert_body)
        expert_form.setContentsMargins(0, 0, 0, 0)
        self.steps_spin = QSpinBox()
        self.steps_spin.setRange(1, MAX_DENOISING_STEPS)
        self.steps_spin.setKeyboardTracking(False)
        self.steps_spin.setAccessibleName("Steps")
        self.sampler_combo = QComboBox()
        self.sampler_combo.setAccessibleName("Sampler")
        for value, label in SAMPLERS:
            self.sampler_combo.addItem(label, value)
        self.interval_start = QDoubleSpinBox()
        self.interval_end = QDoubleSpinBox()
        for spin, name in ((self.interval_start, "from"), (self.interval_end, "to")):
            spin.setRange(0.0, 1.0)
            spin.setSingleStep(0.05)
            spin.setDecimals(2)
            spin.setKeyboardTracking(False)
            spin.setAccessibleName(f"Guidance interval {name}")
        interval_row = QHBoxLayout()
        interval_row.addWidget(self.interval_start)
        interval_row.addWidget(QLabel("to"))
        interval_row.addWidget(self.interval_end)
        self.interval_error = QLabel()
        self.interval_error.setObjectName("errorText")
        self.seed_edit = QLineEdit()
        self.seed_edit.setAccessibleName("Seed")
        self.seed_edit.setValidator(QRegularExpressionValidator(r"\d{1,19}"))
        self.seed_lock = QCheckBox("Lock")
        self.seed_lock.setToolTip(
            "Keep this seed for regenerations (otherwise each gets a new one)")
        self.seed_dice = QToolButton()
        self.seed_dice.setIcon(icon("dice"))
        self.seed_dice.setToolTip("A new random seed")
        self.seed_dice.setAccessibleName("New random seed")
        seed_row = QHBoxLayout()
        seed_row.addWidget(self.seed_edit, 1)
        seed_row.addWidget(self.seed_dice)
        seed_row.addWidget(self.seed_lock)
        expert_form.addRow("Steps", self.steps_spin)
        expert_form.addRow("Sampler", self.sampler_combo)
        expert_form.addRow("Guidance in", interval_row)
        expert_form.addRow("", self.interval_error)
        expert_form.addRow("Seed", seed_row)
        self.expert_body.setVisible(False)
        self.expert.toggled.connect(self._toggle_expert)
        layout.addWidget(self.expert)
        layout.addWidget(self.expert_body)

        self.preset_combo.activated.connect(self._preset_chosen)
        self.guidance_spin.valueChanged.connect(self._guidance_edited)
        self.steps_spin.valueChanged.connect(self._steps_edited)
        self.sampler_combo.activated.connect(self._sampler_chosen)
        self.interval_start.valueChanged.connect(self._interval_edited)
        self.interval_end.valueChanged.connect(self._interval_edited)
        self.seed_edit.editingFinished.connect(self._seed_edited)
        self.seed_lock.toggled.connect(self._seed_lock_toggled)
        self.seed_dice.clicked.connect(self._new_seed)
        self.binding = CurrentSectionBinding(context, self.show_section, self)
        self.binding.refresh()
        self.set_model(True, "the model")

    def set_model(self, diffusion: bool, name: str) -> None:
        """Grey out what the model in use does not read: a token model (MusicGen) has no
        sampler and no noise levels to guide over, and its steps are points along the take."""
        unused = "" if diffusion else f"Not used by {name}: it writes tokens, not denoising steps"
        for widget in (self.sampler_combo, self.interval_start, self.interval_end):
            widget.setEnabled(diffusion)
            widget.setToolTip(unused)
        self.steps_spin.setToolTip(
            "Denoising steps: more is slower and a little cleaner" if diffusion else
            f"Checkpoints along the take: Vary from step k of them keeps the first k/steps "
            f"of the take ({name})")

    def _toggle_expert(self, shown: bool) -> None:
        self.expert_body.setVisible(shown)
        self.expert.setIcon(icon("chevron_down" if shown else "chevron_right"))

    def show_section(self, section: Section | None) -> None:
        if section is None:
            return
        settings = section.settings
        widgets = (self.preset_combo, self.guidance_spin, self.steps_spin, self.sampler_combo,
                   self.interval_start, self.interval_end, self.seed_lock)
        for widget in widgets:
            widget.blockSignals(True)
        self.preset_combo.setCurrentIndex(self.preset_combo.findData(settings.preset))
        self.guidance_spin.setValue(settings.guidance)
        self.steps_spin.setValue(settings.steps)
        self.sampler_combo.setCurrentIndex(self.sampler_combo.findData(settings.sampler))
        self.interval_start.setValue(settings.guidance_interval[0])
        self.interval_end.setValue(settings.guidance_interval[1])
        self.seed_lock.setChecked(settings.seed_locked)
        for widget in widgets:
            widget.blockSignals(False)
        if not self.seed_edit.hasFocus():
            self.seed_edit.setText(str(settings.seed))
        self.interval_error.setText("")
        preset = settings.preset_info
        if settings.preset != "custom" and not preset.contains(settings.guidance):
            self.guidance_note.setText(f"outside {preset.label.lower()} range")
        else:
            self.guidance_note.setText("")

    def _push(self, **changes: object) -> bool:
        section = self.binding.section
        if section is None or self.binding.updating:
            return False
        current = section.settings
        if all(getattr(current, name) == value for name, value in changes.items()):
            return False
        pushed = self.context.undo.push(EditSectionSettings(section.id, **changes))
        if not pushed:
            self.binding.force_refresh()
        return pushed

    def _guidance_edited(self, value: float) -> None:
        self._push(guidance=round(value, 2))

    def _steps_edited(self, value: int) -> None:
        self._push(steps=value)

    def _sampler_chosen(self, _index: int) -> None:
        self._push(sampler=self.sampler_combo.currentData())

    def _seed_lock_toggled(self, checked: bool) -> None:
        self._push(seed_locked=checked)

    def _preset_chosen(self, _index: int) -> None:
        self._push(preset=self.preset_combo.currentData())

    def _interval_edited(self, _value: float) -> None:
        low, high = self.interval_start.value(), self.interval_end.value()
        if not low < high:
            self.interval_error.setText("the interval must start before it ends")
            return
        self.interval_error.setText("")
        self._push(guidance_interval=(round(low, 3), round(high, 3)))

    def _seed_edited(self) -> None:
        text = self.seed_edit.text().strip()
        section = self.binding.section
        if section is None:
            return
        if not text or int(text) > MAX_SEED:
            self.seed_edit.setText(str(section.settings.seed))
            return
        self._push(seed=int(text))

    def _new_seed(self) -> None:
        seed = secrets.randbits(63) & MAX_SEED
        self.seed_edit.setText(str(seed))
        self._push(seed=seed)
