"""The inspector: what the current section is and how it should sound: name, form role,
prompt (with the prompts used before), energy, instrumentation, its level in the mix (gain and
mute), then the generation settings (their own widget, stacked here). The takes have a panel of
their own below it."""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QFocusEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMenu,
    QPlainTextEdit,
    QScrollArea,
    QSlider,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from melodex_studio.project.commands import (
    Command,
    EditPrompt,
    EditSectionSettings,
    RenameSection,
    SetSectionKey,
    SetSectionMeter,
)
from melodex_studio.project.fields import (
    MAX_GAIN_DB,
    MAX_INSTRUMENTS,
    MAX_PROMPT_CHARS,
    MIN_GAIN_DB,
    SUPPORTED_METERS,
)
from melodex_studio.project.section import Section, SectionKind
from melodex_studio.ui.context import StudioContext
from melodex_studio.ui.music_fields import add_key_items, gain_spin_box, tempo_spin_box
from melodex_studio.ui.panels.generation_settings import GenerationSettingsBox
from melodex_studio.ui.panels.section_binding import CurrentSectionBinding
from melodex_studio.ui.resources import icon
from melodex_studio.ui.theme import SECTION_KIND_LABELS

PROMPT_COMMIT_MS = 400
PROMPT_HISTORY_SIZE = 15


class PromptEdit(QPlainTextEdit):
    """A prompt box that commits after a short pause in typing and when it loses focus; the
    history merges consecutive prompt edits into one undo step."""

    sig_commit = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setTabChangesFocus(True)  # Tab moves on, as in every other field
        self.setPlaceholderText("Describe the music: \"dusty lo-fi keys, lazy swing drums\"")
        self.setAccessibleName("Prompt")
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(PROMPT_COMMIT_MS)
        self._timer.timeout.connect(self.commit)
        self.textChanged.connect(self._timer.start)
        self._silent = False

    def set_text_silently(self, text: str) -> None:
        if text == self.toPlainText():
            return
        self._silent = True
        self.setPlainText(text)
        self._timer.stop()
        self._silent = False

    @property
    def pending(self) -> bool:
        """Typed text not yet committed."""
        return self._timer.isActive()

    def commit(self) -> None:
        self._timer.stop()
        if not self._silent:
            self.sig_commit.emit(self.toPlainText()[:MAX_PROMPT_CHARS])

    def focusOutEvent(self, event: QFocusEvent) -> None:
        if self._timer.isActive():
            self.commit()
        super().focusOutEvent(event)


class InspectorPanel(QScrollArea):
    def __init__(self, context: StudioContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self.setObjectName("inspector")
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        body = QWidget()
        self.setWidget(body)
        layout = QVBoxLayout(body)
        layout.setContentsMargins(10, 8, 10, 10)
        layout.setSpacing(10)

        self.title = QLabel("No section selected")
        self.title.setObjectName("sectionTitle")
        self.hint = QLabel("Click a section on the timeline, or add one with Ctrl+T.")
        self.hint.setObjectName("hint")
        self.hint.setWordWrap(True)
        layout.addWidget(self.title)
        layout.addWidget(self.hint)

        self.fields = QWidget()
        form = QFormLayout(self.fields)
        form.setContentsMargins(0, 0, 0, 0)
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.name_edit = QLineEdit()
        self.name_edit.setAccessibleName("Section name")
        self.name_edit.setMaxLength(64)
        self.kind_combo = QComboBox()
        self.kind_combo.setAccessibleName("Section type")
        for kind, label in SECTION_KIND_LABELS.items():
            self.kind_combo.addItem(label, kind.value)
        self.key_combo = QComboBox()
        self.key_combo.setAccessibleName("Section key")
        self.key_combo.setToolTip("The section's key: the song's, or one of its own (a key "
                                  "change). Its plan's chords move with it.")
        self.key_combo.addItem("Song key", None)
        add_key_items(self.key_combo)
        # A tempo of its own (a tempo change): off, the section follows the song's tempo.
        self.tempo_spin = tempo_spin_box(
            "Section tempo", "The section's tempo: the song's, or its own from its first bar "
            "to its last (the sections after it keep their bars)")
        self.own_tempo_check = QCheckBox("Own")
        self.own_tempo_check.setAccessibleName("Own tempo")
        self.own_tempo_check.setToolTip("Give the section a tempo of its own; off, it follows "
                                        "the song's tempo")
        tempo_row = QHBoxLayout()
        tempo_row.addWidget(self.tempo_spin, 1)
        tempo_row.addWidget(self.own_tempo_check)
        self.meter_combo = QComboBox()
        self.meter_combo.setAccessibleName("Section meter")
        self.meter_combo.setToolTip("The section's meter: the song's, or its own (a plan in "
                                    "another meter is cleared; undo brings it back)")
        self.meter_combo.addItem("Song meter", None)
        for meter in SUPPORTED_METERS:
            self.meter_combo.addItem(meter, meter)
        form.addRow("Name", self.name_edit)
        form.addRow("Type", self.kind_combo)
        form.addRow("Tempo", tempo_row)
        form.addRow("Meter", self.meter_combo)
        form.addRow("Key", self.key_combo)

        self.prompt_edit = PromptEdit()
        self.prompt_edit.setMinimumHeight(76)
        self.prompt_edit.setMaximumHeight(120)
        self.history_button = QToolButton()
        self.history_button.setText("History")
        self.history_button.setToolTip("Prompts used before in this project")
        self.history_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.history_menu = QMenu(self.history_button)
        self.history_menu.aboutToShow.connect(self._fill_history)
        self.history_button.setMenu(self.history_menu)
        prompt_box = QVBoxLayout()
        prompt_box.setSpacing(2)
        prompt_box.addWidget(self.prompt_edit)
        prompt_row = QHBoxLayout()
        prompt_row.addStretch(1)
        prompt_row.addWidget(self.history_button)
        prompt_box.addLayout(prompt_row)
        form.addRow("Prompt", prompt_box)

        self.energy_slider = QSlider(Qt.Orientation.Horizontal)
        self.energy_slider.setRange(0, 100)
        self.energy_slider.setAccessibleName("Energy")
        self.energy_slider.setToolTip("How intense the section is (the plan's energy follows)")
        self.energy_value = QLabel("50")
        self.energy_value.setMinimumWidth(26)
        energy_row = QHBoxLayout()
        energy_row.addWidget(self.energy_slider, 1)
        energy_row.addWidget(self.energy_value)
        form.addRow("Energy", energy_row)

        self.instruments_edit = QLineEdit()
        self.instruments_edit.setAccessibleName("Instrumentation")
        self.instruments_edit.setPlaceholderText("rhodes, upright bass, brushed kit")
        self.instruments_edit.setToolTip("Instruments, separated by commas")
        form.addRow("Instruments", self.instruments_edit)

        # The section's level in the mix: playback and export, never what the model renders.
        self.gain_spin = gain_spin_box(
            "Section gain", "The section's level in the playback and the export "
            f"({MIN_GAIN_DB:g} to +{MAX_GAIN_DB:g} dB)")
        self.mute_check = QCheckBox("Mute")
        self.mute_check.setAccessibleName("Mute section")
        self.mute_check.setToolTip("Silence the section; it keeps its place and its takes (M)")
        level_row = QHBoxLayout()
        level_row.addWidget(self.gain_spin, 1)
        level_row.addWidget(self.mute_check)
        form.addRow("Gain", level_row)
        layout.addWidget(self.fields)

        self.generation = GenerationSettingsBox(context)
        layout.addWidget(self.generation)
        layout.addStretch(1)

        self.name_edit.editingFinished.connect(self._rename)
        self.kind_combo.activated.connect(self._kind_chosen)
        self.key_combo.activated.connect(
            lambda _index: self._own_chosen(self.key_combo, "key", SetSectionKey))
        context.signals.sig_project_changed.connect(self._show_song_fields)
        self.tempo_spin.valueChanged.connect(self._tempo_edited)
        self.meter_combo.activated.connect(
            lambda _index: self._own_chosen(self.meter_combo, "meter", SetSectionMeter))
        self.own_tempo_check.toggled.connect(self._own_tempo_toggled)
        self.prompt_edit.sig_commit.connect(self._prompt_committed)
        self.energy_slider.valueChanged.connect(self._energy_moved)
        self.instruments_edit.editingFinished.connect(self._instruments_edited)
        self.gain_spin.valueChanged.connect(self._gain_edited)
        self.mute_check.toggled.connect(self._mute_toggled)
        self.setTabOrder(self.name_edit, self.kind_combo)
        self.setTabOrder(self.kind_combo, self.tempo_spin)
        self.setTabOrder(self.tempo_spin, self.own_tempo_check)
        self.setTabOrder(self.own_tempo_check, self.meter_combo)
        self.setTabOrder(self.meter_combo, self.key_combo)
        self.setTabOrder(self.key_combo, self.prompt_edit)
        self.setTabOrder(self.prompt_edit, self.energy_slider)
        self.setTabOrder(self.energy_slider, self.instruments_edit)
        self.setTabOrder(self.instruments_edit, self.gain_spin)
        self.setTabOrder(self.gain_spin, self.mute_check)
        # Connected before the binding, so a half-typed prompt is saved to the section it was
        # typed for before the inspector switches to another one.
        context.selection.sig_current_changed.connect(self._flush_prompt)
        self.binding = CurrentSectionBinding(context, self.show_section, self)
        self.binding.refresh()
        self.show_section(None)

    # -- model -> widgets -----------------------------------------------------------------------

    def show_section(self, section: Section | None) -> None:
        enabled = section is not None
        for widget in (self.fields, self.generation):
            widget.setVisible(enabled)
        self.hint.setVisible(not enabled)
        if section is None:
            self.title.setText("No section selected")
            return
        self.title.setText(f"{section.name}  ·  {section.span_text.split('(')[-1].rstrip(')')}")
        if not self.name_edit.hasFocus():
            self.name_edit.setText(section.name)
        self.kind_combo.setCurrentIndex(self.kind_combo.findData(section.kind.value))
        self._show_song_fields()
        self.key_combo.setCurrentIndex(max(0, self.key_combo.findData(section.key)))
        self.meter_combo.setCurrentIndex(max(0, self.meter_combo.findData(section.meter)))
        self.own_tempo_check.setChecked(section.bpm is not None)
        self.tempo_spin.setEnabled(section.bpm is not None)
        self.tempo_spin.setValue(self.context.project.section_bpm(section))
        if not self.prompt_edit.hasFocus() or self._prompt_owner != section.id:
            self.prompt_edit.set_text_silently(section.prompt)
        self._prompt_owner = section.id
        self.energy_slider.blockSignals(True)
        self.energy_slider.setValue(round(section.energy * 100))
        self.energy_slider.blockSignals(False)
        self.energy_value.setText(str(round(section.energy * 100)))
        if not self.instruments_edit.hasFocus():
            self.instruments_edit.setText(", ".join(section.instrumentation))
        self.gain_spin.setValue(section.gain_db)  # the handlers ignore what equals the section
        self.mute_check.setChecked(section.muted)

    _prompt_owner: str | None = None

    # -- widgets -> commands --------------------------------------------------------------------

    def _current_id(self) -> str | None:
        section = self.binding.section
        return None if section is None else section.id

    def _rename(self) -> None:
        section = self.binding.section
        name = self.name_edit.text().strip()
        if section is None or self.binding.updating or not name or name == section.name:
            if section is not None and not name:
                self.name_edit.setText(section.name)
            return
        if not self.context.undo.push(RenameSection(section.id, name)):
            self.name_edit.setText(section.name)

    def _kind_chosen(self, _index: int) -> None:
        section_id = self._current_id()
        kind = SectionKind(self.kind_combo.currentData())
        if section_id is None or self.binding.updating:
            return
        if self.context.project.section(section_id).kind is not kind:
            self.context.undo.push(EditSectionSettings(section_id, kind=kind))

    def _push_or_restore(self, section: Section, command: Command) -> None:
        """Push `command`; when it is refused, show the section's own values again."""
        if not self.context.undo.push(command):
            self.show_section(section)

    def _own_chosen(self, combo: QComboBox, field: str,
                    command: type[SetSectionKey | SetSectionMeter]) -> None:
        """The key or meter combo chose the song's (None) or one of the section's own."""
        section = self.binding.section
        value = combo.currentData()
        if section is None or self.binding.updating or value == getattr(section, field):
            return
        self._push_or_restore(section, command(section.id, value))

    def _tempo_edited(self, value: float) -> None:
        section = self.binding.section
        if section is None or self.binding.updating or section.bpm in (None, value):
            return
        self._push_or_restore(section, EditSectionSettings(section.id, bpm=value))

    def _own_tempo_toggled(self, own: bool) -> None:
        """On: the section keeps the tempo it plays at now, as its own, ready to change."""
        section = self.binding.section
        if section is None or self.binding.updating or own == (section.bpm is not None):
            return
        bpm = self.context.project.bpm if own else None
        self._push_or_restore(section, EditSectionSettings(section.id, bpm=bpm))

    def _show_song_fields(self, *_args: object) -> None:
        """The key's and the meter's first entries name the song's, which a section without
        its own follows; a section without its own tempo shows the song's."""
        project = self.context.project
        self.key_combo.setItemText(0, f"Song key ({project.key})")
        self.meter_combo.setItemText(0, f"Song meter ({project.meter})")
        section = self.binding.section
        if section is not None and section.bpm is None and self.tempo_spin.value() != project.bpm:
            self.tempo_spin.setValue(project.bpm)  # `_tempo_edited` ignores a followed tempo

    def _prompt_committed(self, text: str) -> None:
        section_id = self._prompt_owner
        if section_id is None or self.binding.updating:
            return
        try:
            section = self.context.project.section(section_id)
        except KeyError:
            return
        if section.prompt != text:
            self.context.undo.push(EditPrompt(section_id, text))

    def _energy_moved(self, value: int) -> None:
        self.energy_value.setText(str(value))
        section_id = self._current_id()
        if section_id is not None and not self.binding.updating:
            self.context.undo.push(EditSectionSettings(section_id, energy=value / 100.0))

    def _instruments_edited(self) -> None:
        section = self.binding.section
        if section is None or self.binding.updating:
            return
        names = tuple(
            dict.fromkeys(part.strip() for part in self.instruments_edit.text().split(",")
                          if part.strip())
        )[:MAX_INSTRUMENTS]
        if names != section.instrumentation:
            self.context.undo.push(EditSectionSettings(section.id, instrumentation=names))

    def _gain_edited(self, value: float) -> None:
        section = self.binding.section
        if section is None or self.binding.updating or value == section.gain_db:
            return
        self._push_or_restore(section, EditSectionSettings(section.id, gain_db=value))

    def _mute_toggled(self, muted: bool) -> None:
        section = self.binding.section
        if section is None or self.binding.updating or muted == section.muted:
            return
        self._push_or_restore(section, EditSectionSettings(section.id, muted=muted))

    def _flush_prompt(self, *_args: object) -> None:
        if self.prompt_edit.pending:
            self.prompt_edit.commit()

    def _fill_history(self) -> None:
        self.history_menu.clear()
        for prompt in prompt_history(self.context.project, self._current_id()):
            label = prompt if len(prompt) <= 60 else prompt[:57] + "…"
            action = self.history_menu.addAction(icon("rename"), label)
            action.setToolTip(prompt)
            action.triggered.connect(lambda _=False, p=prompt: self._use_prompt(p))
        if self.history_menu.isEmpty():
            self.history_menu.addAction("No earlier prompts yet").setEnabled(False)

    def _use_prompt(self, prompt: str) -> None:
        self.prompt_edit.setPlainText(prompt)
        self.prompt_edit.commit()


def prompt_history(project, section_id: str | None) -> list[str]:
    """Distinct prompts worth reusing, newest first: this section's takes, then the other
    sections' prompts and takes."""
    seen: dict[str, None] = {}
    ordered = sorted(project.sections, key=lambda s: s.id != section_id)
    for section in ordered:
        takes = sorted(section.takes, key=lambda t: t.created, reverse=True)
        texts = [take.prompt for take in takes]
        if section.id != section_id:
            texts.insert(0, section.prompt)
        for text in texts:
            if text.strip() and text not in seen:
                seen[text] = None
    current = project.section(section_id).prompt if section_id else None
    return [p for p in seen if p != current][:PROMPT_HISTORY_SIZE]
