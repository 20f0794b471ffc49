"""Fields the transport bar and the inspector both show, built once: the 24 keys in the order a
musician looks for them, a level in dB over the project's gain range, and a tempo."""

from __future__ import annotations

from PySide6.QtWidgets import QComboBox, QDoubleSpinBox

from melodex_studio.music.key import Key
from melodex_studio.project.fields import MAX_BPM, MAX_GAIN_DB, MIN_BPM, MIN_GAIN_DB


def add_key_items(combo: QComboBox) -> None:
    """The 24 keys, majors then minors, each by tonic; the item data is the key's name (what
    the project stores)."""
    for key in sorted(Key.all(), key=lambda k: (k.mode.value, k.tonic)):
        combo.addItem(key.name, key.name)


def gain_spin_box(accessible_name: str, tooltip: str) -> QDoubleSpinBox:
    """A level in dB (-60 to +12, half-dB arrows) that commits when typing is done."""
    spin = QDoubleSpinBox()
    spin.setRange(MIN_GAIN_DB, MAX_GAIN_DB)
    spin.setDecimals(1)
    spin.setSingleStep(0.5)
    spin.setSuffix(" dB")
    spin.setKeyboardTracking(False)
    spin.setAccessibleName(accessible_name)
    spin.setToolTip(tooltip)
    return spin


def tempo_spin_box(accessible_name: str, tooltip: str) -> QDoubleSpinBox:
    """A tempo in BPM (20 to 400, tenths) that commits when typing is done."""
    spin = QDoubleSpinBox()
    spin.setRange(MIN_BPM, MAX_BPM)
    spin.setDecimals(1)
    spin.setSuffix(" BPM")
    spin.setKeyboardTracking(False)
    spin.setAccessibleName(accessible_name)
    spin.setToolTip(tooltip)
    return spin
