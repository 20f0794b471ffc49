"""What a section block shows while it renders: a progress strip and the rough preview.

Both change many times during a render, so each says which part of the block it covers:
a progress tick repaints that strip, not the whole block (a block's full paint, with its
antialiased fills over the whole lane, is what made a render stall the main thread).
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QImage, QPainter

from melodex_studio.ui.timeline.waveform import PEAKS_PER_SECOND, waveform_image

PROGRESS_BAR_HEIGHT = 8.0
PROGRESS_LABEL_HEIGHT = 16.0
PREVIEW_HEIGHT_FRACTION = 0.6


def progress_bar_rect(body: QRectF) -> QRectF:
    return QRectF(body.left() + 6, body.bottom() - 14, body.width() - 12, PROGRESS_BAR_HEIGHT)


def progress_rect(body: QRectF) -> QRectF:
    """Everything the progress strip paints (bar and label), with a pixel of margin for the
    antialiased edges; no wider, so that repainting it never touches the next block."""
    bar = progress_bar_rect(body)
    top = bar.top() - PROGRESS_LABEL_HEIGHT - 2
    return QRectF(bar.left(), top, bar.width(), bar.bottom() - top).adjusted(-1, -1, 1, 1)


def preview_band(body: QRectF) -> QRectF:
    """The horizontal band the preview waveform is drawn in (the block's whole width)."""
    height = body.height() * PREVIEW_HEIGHT_FRACTION
    top = body.top() + (body.height() - height) / 2
    return QRectF(body.left(), top, body.width(), height).adjusted(-1, -1, 1, 1)


def paint_progress(painter: QPainter, body: QRectF, palette, fraction: float, text: str) -> None:
    bar = progress_bar_rect(body)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(QColor(0, 0, 0, 150))
    painter.drawRoundedRect(bar, 4, 4)
    done = QRectF(bar.left(), bar.top(), bar.width() * max(0.0, min(1.0, fraction)), bar.height())
    painter.setBrush(QColor(palette.accent))
    painter.drawRoundedRect(done, 4, 4)
    painter.setPen(QColor(palette.text_bright))
    font = QFont(painter.font())
    font.setPointSizeF(8)
    painter.setFont(font)
    label = fitted_label(text or f"Rendering {round(fraction * 100)}%",
                         QFontMetricsF(font), bar.width())
    painter.drawText(QRectF(bar.left(), bar.top() - 18, bar.width(), PROGRESS_LABEL_HEIGHT),
                     Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, label)


def fitted_label(label: str, metrics: QFontMetricsF, width: float) -> str:
    """`label` if it fits in `width`; else its last word (the part that moves: "13/24" of
    "Regenerate 13/24", "40%" of "Rendering 40%"), elided if even that is too wide. A narrow
    block then still shows how far its render is instead of "Regenerate 1"."""
    if metrics.horizontalAdvance(label) <= width:
        return label
    last = label.rsplit(" ", 1)[-1]
    return metrics.elidedText(last, Qt.TextElideMode.ElideRight, width)


class PreviewImage:
    """The preview waveform as an image, rebuilt only when the peaks or its size change."""

    def __init__(self) -> None:
        self._key: tuple | None = None
        self._image: QImage | None = None

    def paint(self, painter: QPainter, body: QRectF, palette, peaks: np.ndarray, rate: int,
              seconds_per_bar: float, pixels_per_bar: float, block_width: float) -> None:
        bucket = max(1, round(rate / PEAKS_PER_SECOND))
        seconds = len(peaks) * bucket / rate
        width = min(block_width, seconds / seconds_per_bar * pixels_per_bar)
        height = body.height() * PREVIEW_HEIGHT_FRACTION
        if width <= 1:
            return
        key = (id(peaks), round(width), round(height), palette.accent)
        if self._image is None or self._key != key:
            colour = QColor(palette.accent)
            colour.setAlpha(150)
            self._image = waveform_image(peaks, round(width), round(height), colour)
            self._key = key
        painter.drawImage(QPointF(0, body.top() + (body.height() - height) / 2), self._image)

    def clear(self) -> None:
        self._key, self._image = None, None
