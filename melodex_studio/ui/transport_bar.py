"""The transport bar: play, stop, loop, the position as bars.beats.16ths and as time, the
song's tempo, key and meter, and the master gain (edits go through the undo history like any
other)."""

from __future__ import annotations

import math

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QLabel,
    QSizePolicy,
    QToolBar,
    QWidget,
)

from melodex_studio.project.commands import EditProjectFields
from melodex_studio.project.fields import SUPPORTED_METERS
from melodex_studio.ui.actions import StudioActions
from melodex_studio.ui.context import StudioContext
from melodex_studio.ui.music_fields import add_key_items, gain_spin_box, tempo_spin_box
from melodex_studio.ui.playback import PlaybackController
from melodex_studio.ui.resources import icon, icon_size


def format_time(seconds: float) -> str:
    """m:ss.mmm, as a transport counter shows it."""
    seconds = max(0.0, seconds)
    minutes, rest = divmod(seconds, 60.0)
    return f"{int(minutes)}:{rest:06.3f}"


class TransportBar(QToolBar):
    def __init__(
        self,
        context: StudioContext,
        playback: PlaybackController,
        actions: StudioActions,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__("Transport", parent)
        self.setObjectName("transportBar")
        self.setMovable(False)
        self.setIconSize(icon_size(20))
        self.context = context
        self.playback = playback
        self.actions_ = actions

        self.addAction(actions.to_start)
        self.addAction(actions.play)
        self.widgetForAction(actions.play).setObjectName("transportPlay")
        self.addAction(actions.loop)
        self.addAction(actions.metronome)
        self.addAction(actions.audition_renders)
        self.addAction(actions.follow)
        self.addSeparator()

        self.position_label = QLabel("1.1.1")
        self.position_label.setObjectName("transportDisplay")
        self.position_label.setMinimumWidth(96)
        self.position_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.position_label.setToolTip("Position: bar . beat . sixteenth")
        self.time_label = QLabel(format_time(0.0))
        self.time_label.setObjectName("timeDisplay")
        self.time_label.setMinimumWidth(104)
        self.time_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.time_label.setToolTip("Position: minutes:seconds")
        # The tempo and meter at the playhead, shown while they are a section's own.
        self.timing_label = QLabel("")
        self.timing_label.setObjectName("timeDisplay")
        self.timing_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.timing_label.setToolTip("Tempo and meter at the playhead (a section's own)")
        self.addWidget(self.position_label)
        self.addWidget(self.time_label)
        self.timing_action = self.addWidget(self.timing_label)
        self.timing_action.setVisible(False)
        self.addSeparator()

        self.bpm = tempo_spin_box("Tempo", "The song's tempo in quarter notes per minute "
                                  "(a section may have its own)")
        self.key = QComboBox()
        self.key.setAccessibleName("Key")
        self.key.setToolTip("The song's key: plans write notes as degrees of it")
        add_key_items(self.key)
        self.meter = QComboBox()
        self.meter.setAccessibleName("Meter")
        self.meter.setToolTip("Time signature")
        for meter in SUPPORTED_METERS:
            self.meter.addItem(meter, meter)
        self.addWidget(_caption("Tempo"))
        self.addWidget(self.bpm)
        self.addWidget(_caption("Key"))
        self.addWidget(self.key)
        self.addWidget(_caption("Meter"))
        self.addWidget(self.meter)
        self.master_gain = gain_spin_box(
            "Master gain",
            "The level of the whole mix, in playback and before the export's loudness "
            "normalisation")
        self.addWidget(_caption("Master"))
        self.addWidget(self.master_gain)

        spacer = QWidget()
        spacer.setObjectName("toolbarSpacer")
        spacer.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.addWidget(spacer)
        self.addAction(actions.zoom_out)
        self.addAction(actions.zoom_in)

        self.bpm.valueChanged.connect(self._bpm_edited)
        self.master_gain.valueChanged.connect(self._master_gain_edited)
        self.key.activated.connect(lambda _i: self._push(key=self.key.currentData()))
        self.meter.activated.connect(lambda _i: self._push(meter=self.meter.currentData()))
        actions.play.triggered.connect(lambda _checked: playback.toggle_play())
        actions.to_start.triggered.connect(playback.go_to_start)
        actions.to_end.triggered.connect(playback.go_to_end)
        actions.loop.triggered.connect(playback.set_loop_enabled)
        actions.follow.toggled.connect(playback.set_follow)
        actions.metronome.toggled.connect(playback.set_metronome)
        actions.count_in.toggled.connect(playback.set_count_in)
        actions.audition_renders.toggled.connect(playback.set_audition_renders)
        playback.sig_position_changed.connect(self._show_position)
        playback.sig_state_changed.connect(self._show_state)
        playback.sig_loop_changed.connect(lambda _loop, enabled: actions.loop.setChecked(enabled))
        context.signals.sig_project_changed.connect(self.refresh)
        self.refresh()

    def refresh(self) -> None:
        project = self.context.project
        for widget, value in ((self.key, project.key), (self.meter, project.meter)):
            index = widget.findData(value)
            if index != widget.currentIndex():
                widget.setCurrentIndex(index)
        for spin, value in ((self.bpm, project.bpm), (self.master_gain, project.master.gain_db)):
            if abs(spin.value() - value) > 1e-9:
                spin.blockSignals(True)
                spin.setValue(value)
                spin.blockSignals(False)
        self._show_position(self.playback.position_bar)

    def _bpm_edited(self, value: float) -> None:
        if abs(value - self.context.project.bpm) > 1e-9:
            self._push(bpm=value)

    def _master_gain_edited(self, value: float) -> None:
        if abs(value - self.context.project.master.gain_db) <= 1e-9:
            return
        if not self.context.undo.push(EditProjectFields(master={"gain_db": value})):
            self.refresh()  # refused: show the project's value again

    def _push(self, **changes: object) -> None:
        project = self.context.project
        if all(getattr(project, name) == value for name, value in changes.items()):
            return
        if not self.context.undo.push(EditProjectFields(**changes)):
            self.refresh()  # refused: show the project's value again

    def _show_position(self, bar: float) -> None:
        project = self.context.project
        grid = project.grid()
        seconds = grid.bar_to_seconds(bar)
        self.position_label.setText(str(grid.position(seconds)))
        self.time_label.setText(format_time(seconds))
        at = grid.sixteenth_to_bar(math.floor(grid.seconds_to_sixteenth(seconds) + 1e-6))
        tempo, meter = grid.bpm_at(at), str(grid.meter_at(at))
        own = (tempo, meter) != (project.bpm, project.meter)
        if own:
            self.timing_label.setText(f"\u2669{tempo:g}  {meter}")
        if own != self.timing_action.isVisible():
            self.timing_action.setVisible(own)

    def _show_state(self, state: str) -> None:
        playing = state == "playing"
        self.actions_.play.setChecked(playing)
        self.actions_.play.setIcon(icon("stop" if playing else "play"))


def _caption(text: str) -> QLabel:
    label = QLabel(text)
    label.setProperty("caption", True)
    label.setContentsMargins(8, 0, 2, 0)
    return label
