"""The studio's look: colour palettes, the style sheet and the colours of section kinds.

The style sheet `resources/theme/studio.qss` holds `{{token}}` placeholders filled from a palette
file (`dark.json`, `light.json`), so both themes share one sheet and painted items (timeline,
plan editor) take their colours from the same palette as the widgets.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, fields
from pathlib import Path

from PySide6.QtGui import QColor, QFont, QPalette
from PySide6.QtWidgets import QApplication

from melodex_studio.project.section import SectionKind
from melodex_studio.settings.paths import cache_dir
from melodex_studio.ui.resources import ICON_SOURCE_COLOUR, clear_icon_cache, resources_dir

log = logging.getLogger(__name__)

_TOKEN = re.compile(r"\{\{(\w+)\}\}")
#: Icons the style sheet refers to by file (spin box and combo box arrows).
SHEET_ICONS = ("chevron_up", "chevron_down")


@dataclass(frozen=True)
class Palette:
    """Named colours of a theme (hex strings, as in the palette files)."""

    name: str = "dark"
    bg0: str = "#121418"
    bg1: str = "#1a1d22"
    bg2: str = "#22262d"
    bg3: str = "#2c3139"
    bg4: str = "#363c46"
    border: str = "#3a404a"
    text: str = "#d7dae0"
    text_dim: str = "#8b919d"
    text_bright: str = "#ffffff"
    accent: str = "#ff9f1c"
    accent_text: str = "#17191d"
    selection: str = "#3d5a80"
    error: str = "#ff5c5c"
    ok: str = "#4cc38a"
    playhead: str = "#ffd23f"
    loop: str = "#3aa7d9"
    grid_bar: str = "#242830"
    grid_phrase: str = "#323844"
    icon: str = "#d7dae0"

    def color(self, name: str, alpha: int | None = None) -> QColor:
        colour = QColor(getattr(self, name))
        if alpha is not None:
            colour.setAlpha(alpha)
        return colour


#: One colour per song-form role, readable on both themes: a producer tells the form at a glance.
SECTION_KIND_COLOURS: dict[SectionKind, str] = {
    SectionKind.INTRO: "#5b8def",
    SectionKind.VERSE: "#43b581",
    SectionKind.PRE_CHORUS: "#c9a43a",
    SectionKind.CHORUS: "#e0583b",
    SectionKind.BRIDGE: "#9b6bd6",
    SectionKind.BREAKDOWN: "#32aeb0",
    SectionKind.DROP: "#e04b8f",
    SectionKind.OUTRO: "#7083a6",
    SectionKind.CUSTOM: "#8f8f8f",
}

SECTION_KIND_LABELS: dict[SectionKind, str] = {
    SectionKind.INTRO: "Intro",
    SectionKind.VERSE: "Verse",
    SectionKind.PRE_CHORUS: "Pre-chorus",
    SectionKind.CHORUS: "Chorus",
    SectionKind.BRIDGE: "Bridge",
    SectionKind.BREAKDOWN: "Breakdown",
    SectionKind.DROP: "Drop",
    SectionKind.OUTRO: "Outro",
    SectionKind.CUSTOM: "Custom",
}

_current = Palette()


def current_palette() -> Palette:
    return _current


def section_colour(kind: SectionKind | str) -> QColor:
    return QColor(SECTION_KIND_COLOURS[SectionKind(kind)])


def load_palette(name: str) -> Palette:
    """The palette `resources/theme/<name>.json`; unknown keys are ignored and missing ones
    keep the built-in dark values, so an edited palette file cannot break the studio."""
    path = resources_dir() / "theme" / f"{name}.json"
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        log.warning("theme %s unreadable (%s); using the built-in dark palette", path, error)
        return Palette()
    known = {f.name for f in fields(Palette)}
    return Palette(**{k: str(v) for k, v in raw.items() if k in known})


def style_sheet(palette: Palette) -> str:
    """The studio style sheet with every {{token}} replaced by the palette's colour."""
    path = resources_dir() / "theme" / "studio.qss"
    try:
        template = path.read_text(encoding="utf-8")
    except OSError as error:
        log.warning("style sheet %s unreadable (%s)", path, error)
        return ""
    values = {"icons": themed_icon_dir(palette).as_posix()}
    return _TOKEN.sub(
        lambda m: values.get(m.group(1)) or str(getattr(palette, m.group(1), m.group(0))),
        template,
    )


def themed_icon_dir(palette: Palette) -> Path:
    """A folder of the icons the style sheet names (arrows), recoloured for `palette`: a
    style sheet can only point at files, so they are written once to the cache folder."""
    source = resources_dir() / "icons"
    target = cache_dir() / "theme-icons" / palette.icon.lstrip("#")
    try:
        target.mkdir(parents=True, exist_ok=True)
        for name in SHEET_ICONS:
            path = target / f"{name}.svg"
            if not path.exists():
                text = (source / f"{name}.svg").read_text(encoding="utf-8")
                path.write_text(text.replace(ICON_SOURCE_COLOUR, palette.icon), encoding="utf-8")
    except OSError as error:
        log.warning("cannot write themed icons to %s (%s); using the originals", target, error)
        return source
    return target


def qt_palette(palette: Palette) -> QPalette:
    """A QPalette matching the theme, for widgets the style sheet does not reach."""
    result = QPalette()
    role = QPalette.ColorRole
    result.setColor(role.Window, QColor(palette.bg1))
    result.setColor(role.WindowText, QColor(palette.text))
    result.setColor(role.Base, QColor(palette.bg0))
    result.setColor(role.AlternateBase, QColor(palette.bg1))
    result.setColor(role.Text, QColor(palette.text))
    result.setColor(role.Button, QColor(palette.bg3))
    result.setColor(role.ButtonText, QColor(palette.text))
    result.setColor(role.Highlight, QColor(palette.selection))
    result.setColor(role.HighlightedText, QColor(palette.text_bright))
    result.setColor(role.ToolTipBase, QColor(palette.bg3))
    result.setColor(role.ToolTipText, QColor(palette.text))
    result.setColor(role.PlaceholderText, QColor(palette.text_dim))
    result.setColor(role.Link, QColor(palette.accent))
    for group_role in (role.WindowText, role.Text, role.ButtonText):
        result.setColor(QPalette.ColorGroup.Disabled, group_role, QColor(palette.text_dim))
    return result


def apply_theme(app: QApplication, name: str) -> Palette:
    """Make `name` ("dark" or "light") the studio's theme; returns its palette."""
    global _current
    palette = load_palette(name)
    _current = palette
    clear_icon_cache()
    app.setStyle("Fusion")  # the one style that honours palettes the same on every platform
    app.setPalette(qt_palette(palette))
    app.setStyleSheet(style_sheet(palette))
    return palette


def monospace_font(point_size: float = 10.0) -> QFont:
    font = QFont("DejaVu Sans Mono")
    font.setStyleHint(QFont.StyleHint.Monospace)
    font.setPointSizeF(point_size)
    return font
