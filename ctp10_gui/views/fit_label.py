"""A label whose font follows its box: as large as allowed, shrunk until the whole text fits."""

from __future__ import annotations

from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QFont, QFontMetrics, QResizeEvent
from PySide6.QtWidgets import QLabel, QSizePolicy, QWidget

MONO_FAMILIES = ["DejaVu Sans Mono", "Consolas", "Menlo", "Liberation Mono", "monospace"]
MIN_PX = 8  # below this nothing is readable anyway; a text that does not fit then is elided
LINE = 1.25  # box height / pixel size a line of text needs (ascent + descent + leading)


class FitLabel(QLabel):
    """One line of text at the largest pixel size ≤ max_px whose whole text fits the label."""

    def __init__(self, parent: QWidget | None = None, *, max_px: int = 400, bold: bool = False,
                 mono: bool = False,
                 align: Qt.AlignmentFlag = Qt.AlignmentFlag.AlignLeft) -> None:
        super().__init__(parent)
        self.max_px = max_px
        self._base = QFont()
        if mono:
            self._base.setFamilies(MONO_FAMILIES)
        self._base.setBold(bold)
        self._fitted: tuple[str, int, int, int] | None = None  # text, width, height, max_px
        self.setAlignment(align | Qt.AlignmentFlag.AlignVCenter)
        # The box decides the font, never the other way round (a font-driven minimum would
        # grow the box, then the font, then the window).
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)
        self.setMinimumSize(1, 1)

    def show_text(self, text: str) -> None:
        """Show text, refitting the font when it changed."""
        if text != self.text():
            self.setText(text)
            self._fit()

    def set_max_px(self, px: int) -> None:
        """Never draw larger than px pixels."""
        if px != self.max_px:
            self.max_px = px
            self._fit()

    def fits(self) -> bool:
        """Return True when the whole text fits the label's content box at the current font."""
        box = self.contentsRect()
        fm = self.fontMetrics()
        return fm.horizontalAdvance(self.text()) <= box.width() and fm.height() <= box.height()

    def resizeEvent(self, event: QResizeEvent) -> None:
        """Refit the font to the new size."""
        super().resizeEvent(event)
        self._fit()

    def changeEvent(self, event: QEvent) -> None:
        """Refit when the style changes the margins."""
        super().changeEvent(event)
        if event.type() == QEvent.Type.StyleChange:
            self._fitted = None
            self._fit()

    def _fit(self) -> None:
        box = self.contentsRect()
        key = (self.text(), box.width(), box.height(), self.max_px)
        if key == self._fitted:
            return
        self._fitted = key
        font = QFont(self._base)
        px = int(min(self.max_px, box.height() / LINE))
        text = self.text()
        if text:
            font.setPixelSize(max(px, 1))
            advance = QFontMetrics(font).horizontalAdvance(text)
            if advance > box.width() > 0:
                px = int(px * box.width() / advance)
        px = max(px, MIN_PX)
        # Glyph widths do not scale exactly with the pixel size: step down until it fits.
        while True:
            font.setPixelSize(px)
            fm = QFontMetrics(font)
            if px <= MIN_PX or (fm.horizontalAdvance(text) <= box.width()
                                and fm.height() <= box.height()):
                break
            px -= 1
        if px != self.font().pixelSize() or self.font().bold() != font.bold():
            self.setFont(font)  # a font change re-lays the window out: only when needed
