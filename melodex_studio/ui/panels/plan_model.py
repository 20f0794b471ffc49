"""The plan of one section as a Qt table: one column per bar; rows for the chord, energy,
density, the bar lock and one row per drum voice. Edits become EditPlanBar commands; a chord
that does not parse is refused with a message and never reaches the document."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QObject, Qt, Signal

from melodex_studio.music.chord import Chord
from melodex_studio.music.errors import MusicParseError
from melodex_studio.music.key import Key
from melodex_studio.music.plan import DrumVoice, PlanBar
from melodex_studio.project.commands import EditPlanBar
from melodex_studio.project.section import Section
from melodex_studio.ui.context import StudioContext


@dataclass(frozen=True)
class PlanRow:
    kind: str  # "chord", "energy", "density", "lock" or "drum"
    label: str
    voice: DrumVoice | None = None


DRUM_LABELS: dict[DrumVoice, str] = {
    DrumVoice.KICK: "Kick",
    DrumVoice.SNARE: "Snare",
    DrumVoice.CLAP: "Clap",
    DrumVoice.CLOSED_HAT: "Closed hat",
    DrumVoice.OPEN_HAT: "Open hat",
    DrumVoice.LOW_TOM: "Low tom",
    DrumVoice.HIGH_TOM: "High tom",
    DrumVoice.CRASH: "Crash",
    DrumVoice.RIDE: "Ride",
    DrumVoice.PERCUSSION: "Percussion",
}

ROWS: tuple[PlanRow, ...] = (
    PlanRow("chord", "Chord"),
    PlanRow("energy", "Energy"),
    PlanRow("density", "Density"),
    PlanRow("lock", "Lock"),
    *(PlanRow("drum", label, voice) for voice, label in DRUM_LABELS.items()),
)
ROW_INDEX = {row.kind if row.voice is None else row.voice.name.lower(): i
             for i, row in enumerate(ROWS)}
STEPS_ROLE = Qt.ItemDataRole.UserRole + 1  # tuple of booleans, one per 16th step


def toggled_drum(bar: PlanBar, voice: DrumVoice, step: int) -> PlanBar:
    drums = list(bar.drums)
    drums[step] ^= int(voice)
    return bar.model_copy(update={"drums": tuple(drums)})


class PlanTableModel(QAbstractTableModel):
    sig_invalid_input = Signal(str)  # a chord that could not be read, and why

    def __init__(self, context: StudioContext, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self.section: Section | None = None
        self.key: Key | None = None

    def set_section(self, section: Section | None) -> None:
        old = self.section
        # Chords are shown spelled in the section's key ("Db" in Ab major, not "C#").
        self.key = None if section is None else self.context.project.section_key(section)
        same_shape = (
            old is not None and section is not None and old.id == section.id
            and old.plan is not None and section.plan is not None
            and old.plan.n_bars == section.plan.n_bars
        )
        if same_shape:
            self.section = section
            self.dataChanged.emit(self.index(0, 0),
                                  self.index(len(ROWS) - 1, self.columnCount() - 1))
            return
        self.beginResetModel()
        self.section = section
        self.endResetModel()

    # -- reading ---------------------------------------------------------------------------

    def rowCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() or self._plan() is None else len(ROWS)

    def columnCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: B008
        plan = self._plan()
        return 0 if parent.isValid() or plan is None else plan.n_bars

    def _plan(self):
        return None if self.section is None else self.section.plan

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = 0):
        horizontal = orientation == Qt.Orientation.Horizontal
        if role == Qt.ItemDataRole.ToolTipRole and horizontal and self.section is not None:
            return (f"Bar {section + 1} of {self.section.name} "
                    f"(song bar {self.section.start_bar + section + 1})")
        if role != Qt.ItemDataRole.DisplayRole:
            return None
        if orientation == Qt.Orientation.Horizontal:
            return str(section + 1)
        return ROWS[section].label

    def data(self, index: QModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        plan = self._plan()
        if plan is None or not index.isValid():
            return None
        row = ROWS[index.row()]
        bar = plan.bars[index.column()]
        if row.kind == "chord":
            if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.EditRole):
                if bar.chord is None:
                    return "" if role == Qt.ItemDataRole.EditRole else "–"
                return bar.chord if self.key is None else bar.chord_in(self.key)
            if role == Qt.ItemDataRole.TextAlignmentRole:
                return int(Qt.AlignmentFlag.AlignCenter)
            if role == Qt.ItemDataRole.ToolTipRole:
                return "Type a chord (Am7, F#m7b5, C/E); empty for no chord"
        elif row.kind in ("energy", "density"):
            value = bar.energy if row.kind == "energy" else bar.density
            if role == Qt.ItemDataRole.DisplayRole:
                return f"{round(value * 100)}"
            if role == Qt.ItemDataRole.EditRole:
                return round(value * 100)
            if role == STEPS_ROLE:
                return value
            if role == Qt.ItemDataRole.TextAlignmentRole:
                return int(Qt.AlignmentFlag.AlignCenter)
        elif row.kind == "lock":
            if role == Qt.ItemDataRole.CheckStateRole:
                return Qt.CheckState.Checked if bar.locked else Qt.CheckState.Unchecked
            if role == Qt.ItemDataRole.ToolTipRole:
                return "A locked bar keeps its plan when the section is re-planned"
        elif row.voice is not None:
            if role == STEPS_ROLE:
                return tuple(bool(mask & int(row.voice)) for mask in bar.drums)
            if role == Qt.ItemDataRole.ToolTipRole:
                return f"{row.label}: click a step to switch it on or off"
        return None

    def flags(self, index: QModelIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        base = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
        kind = ROWS[index.row()].kind
        if kind in ("chord", "energy", "density"):
            return base | Qt.ItemFlag.ItemIsEditable
        if kind == "lock":
            return base | Qt.ItemFlag.ItemIsUserCheckable
        return base

    # -- writing ---------------------------------------------------------------------------

    def setData(self, index: QModelIndex, value, role: int = Qt.ItemDataRole.EditRole) -> bool:
        plan = self._plan()
        if plan is None or not index.isValid() or self.section is None:
            return False
        row = ROWS[index.row()]
        bar = plan.bars[index.column()]
        if row.kind == "chord" and role == Qt.ItemDataRole.EditRole:
            text = str(value).strip()
            if text in ("", "-", "–", "N.C.", "NC", "n.c."):
                new = bar.model_copy(update={"chord": None})
            else:
                try:
                    chord = Chord.parse(text)
                except MusicParseError as error:
                    self.sig_invalid_input.emit(str(error))
                    return False
                new = bar.model_copy(update={"chord": chord.symbol})
        elif row.kind in ("energy", "density") and role == Qt.ItemDataRole.EditRole:
            try:
                number = max(0, min(100, int(value))) / 100.0
            except (TypeError, ValueError):
                self.sig_invalid_input.emit(f"{value!r} is not a number from 0 to 100")
                return False
            new = bar.model_copy(update={row.kind: number})
        elif row.kind == "lock" and role == Qt.ItemDataRole.CheckStateRole:
            new = bar.model_copy(update={"locked": Qt.CheckState(value) == Qt.CheckState.Checked})
        else:
            return False
        return self.replace_bar(index.column(), new)

    def toggle_step(self, bar_index: int, voice: DrumVoice, step: int) -> bool:
        plan = self._plan()
        if plan is None or not 0 <= step < plan.steps_per_bar:
            return False
        return self.replace_bar(bar_index, toggled_drum(plan.bars[bar_index], voice, step))

    def replace_bar(self, bar_index: int, bar: PlanBar) -> bool:
        plan = self._plan()
        if self.section is None or plan is None or plan.bars[bar_index] == bar:
            return False
        return self.context.undo.push(EditPlanBar(self.section.id, bar_index, bar))
