"""Layout helpers shared by the panels."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Qt
from PySide6.QtGui import QResizeEvent, QShowEvent
from PySide6.QtWidgets import QSplitter, QWidget


class ProportionalSplitter(QSplitter):
    """A splitter that shares its first real width (or height) in fixed proportions."""

    def __init__(self, orientation: Qt.Orientation, proportions: Sequence[float],
                 parent: QWidget | None = None) -> None:
        """Split in orientation; proportions (each > 0) are applied once, at the first size."""
        super().__init__(orientation, parent)
        if not proportions or any(p <= 0 for p in proportions):
            raise ValueError(f"proportions must be positive, got {list(proportions)}")
        self._proportions = [float(p) for p in proportions]
        self._applied = False

    def resizeEvent(self, event: QResizeEvent) -> None:
        """Apply the proportions once the splitter is shown at a usable size."""
        super().resizeEvent(event)
        # A hidden tab is first laid out at its minimum size, where the children's size hints
        # decide; the proportions must wait until the splitter is on screen.
        if self._applied or not self.isVisible() or self.count() != len(self._proportions):
            return
        total = self.width() if self.orientation() == Qt.Orientation.Horizontal else self.height()
        if total <= 0:
            return
        self._applied = True
        whole = sum(self._proportions)
        self.setSizes([int(total * p / whole) for p in self._proportions])

    def showEvent(self, event: QShowEvent) -> None:
        """Apply the proportions when a tab that was hidden shows the splitter."""
        super().showEvent(event)
        if not self._applied:
            self.resizeEvent(QResizeEvent(self.size(), self.size()))
