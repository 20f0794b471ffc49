"""Where the studio's icons, theme and demo project live, and themed icons made from them.

Icons are drawn in one neutral colour (#d7dae0); `icon()` recolours the SVG text for the
current theme before rendering, so one set of files serves the dark and the light theme.
"""

from __future__ import annotations

import os
import sys
from functools import cache
from pathlib import Path

from PySide6.QtCore import QByteArray, QRectF, QSize, Qt
from PySide6.QtGui import QIcon, QImage, QPainter, QPixmap
from PySide6.QtSvg import QSvgRenderer

#: The colour the SVG files are drawn in; replaced by the theme's icon colour.
ICON_SOURCE_COLOUR = "#d7dae0"
ICON_SIZES = (16, 20, 24, 32, 48)


def resources_dir() -> Path:
    """The resources folder: $MELODEX_RESOURCES_DIR, the source checkout, or an install's
    share folder (a wheel puts data files under <prefix>/share/melodex-studio)."""
    override = os.environ.get("MELODEX_RESOURCES_DIR")
    candidates = [Path(override)] if override else []
    candidates += [
        Path(__file__).resolve().parents[2] / "resources",
        Path(sys.prefix) / "share" / "melodex-studio" / "resources",
    ]
    for candidate in candidates:
        if (candidate / "theme").is_dir():
            return candidate
    return candidates[0]


def icon_path(name: str) -> Path:
    return resources_dir() / "icons" / f"{name}.svg"


@cache
def _svg_text(name: str) -> str | None:
    path = icon_path(name)
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        return None


def render_svg(svg_text: str, size: int, ratio: float = 1.0) -> QPixmap:
    """An SVG drawn into a square transparent pixmap of `size` logical pixels."""
    device = max(1, round(size * ratio))
    image = QImage(device, device, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    renderer = QSvgRenderer(QByteArray(svg_text.encode("utf-8")))
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    renderer.render(painter, QRectF(0, 0, device, device))
    painter.end()
    pixmap = QPixmap.fromImage(image)
    pixmap.setDevicePixelRatio(ratio)
    return pixmap


_icon_cache: dict[tuple[str, str], QIcon] = {}


def icon(name: str, colour: str | None = None) -> QIcon:
    """The icon `resources/icons/<name>.svg` in `colour` (default: the theme's icon colour).
    A missing file gives an empty icon: a missing picture must never stop the studio."""
    from melodex_studio.ui.theme import current_palette

    colour = colour or current_palette().icon
    key = (name, colour)
    cached = _icon_cache.get(key)
    if cached is not None:
        return cached
    text = _svg_text(name)
    result = QIcon()
    if text is not None:
        text = text.replace(ICON_SOURCE_COLOUR, colour)
        for size in ICON_SIZES:
            result.addPixmap(render_svg(text, size, 2.0 if size <= 24 else 1.0))
    _icon_cache[key] = result
    return result


def app_icon() -> QIcon:
    text = _svg_text("app")
    result = QIcon()
    if text is not None:
        for size in (16, 32, 48, 64, 128, 256):
            result.addPixmap(render_svg(text, size))
    return result


def clear_icon_cache() -> None:
    """Forget rendered icons (after a theme change)."""
    _icon_cache.clear()


def icon_size(logical: int = 18) -> QSize:
    return QSize(logical, logical)
