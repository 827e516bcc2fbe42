"""Full-screen "big numbers": the readouts alone, as large as the screen allows."""

from __future__ import annotations

import time
from collections.abc import Callable

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent, QKeyEvent, QKeySequence, QScreen, QShortcut
from PySide6.QtWidgets import QHBoxLayout, QPushButton, QVBoxLayout, QWidget

from ctp10_gui.link.port import LinkPort
from ctp10_gui.views.readouts import ReadoutGrid, ReadoutHub
from ctp10_gui.views.status_badges import StatusBadges
from ctp10_gui.views.theme import Theme

CLOSE_KEYS = ("Esc", "F11")  # keys that leave the big-numbers window
# A window manager applies the fullscreen state within a few frames; checked after this (ms).
FULLSCREEN_CHECK_MS = 300


class BigNumbersWindow(QWidget):
    """Top-level window with the link badges and one huge card per channel."""

    closed = Signal()

    def __init__(
        self, hub: ReadoutHub, controller: LinkPort, theme: Theme, *,
        is_simulator: Callable[[], bool] = lambda: False,
        clock: Callable[[], float] = time.monotonic, parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent, Qt.WindowType.Window)
        self.setWindowTitle("CTP10 — big numbers")
        self.hub = hub
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 8, 12, 12)
        top = QHBoxLayout()
        # The badges come along: a big number without its link state could be trusted wrongly.
        self.badges = StatusBadges(controller, clock=clock, is_simulator=is_simulator, parent=self)
        self.badges.retry_requested.connect(controller.retry_now)
        top.addWidget(self.badges, 1)
        self.unit_button = QPushButton(self)
        self.unit_button.clicked.connect(
            lambda: hub.unit_requested.emit("mW" if hub.unit == "dBm" else "dBm"))
        top.addWidget(self.unit_button)
        reset = QPushButton("Reset all peaks", self)
        reset.clicked.connect(lambda: hub.reset_peak(None))
        top.addWidget(reset)
        self.exit_button = QPushButton("Exit big numbers (Esc)", self)
        self.exit_button.clicked.connect(self.close)
        top.addWidget(self.exit_button)
        layout.addLayout(top)
        self.grid = ReadoutGrid(hub, theme, big=True, parent=self)
        layout.addWidget(self.grid, 1)
        for key in CLOSE_KEYS:
            QShortcut(QKeySequence(key), self).activated.connect(self.close)
        hub.changed.connect(self._sync_unit)
        self._sync_unit()

    def show_full_screen(self, screen: QScreen | None = None) -> None:
        """Show full screen on screen (default: its own); cover it even with no window manager."""
        if screen is not None and self.windowHandle() is not None:
            self.windowHandle().setScreen(screen)
        elif screen is not None:
            self.move(screen.geometry().topLeft())
        self.showFullScreen()
        # Without a window manager nobody honours the fullscreen request and the window keeps
        # its own size (an 822 x 100 strip): look again once a window manager would have acted.
        QTimer.singleShot(FULLSCREEN_CHECK_MS, self._cover_screen)

    def _cover_screen(self) -> None:
        """Size the window to its screen when fullscreen was asked for but not applied."""
        if not self.isVisible() or not self.isFullScreen():
            return
        wanted = self.screen().geometry()
        if self.geometry() != wanted:
            self.setGeometry(wanted)

    def apply_theme(self, theme: Theme) -> None:
        """Restyle the cards."""
        self.grid.apply_theme(theme)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        """Close on Esc even when a button has the focus."""
        if event.key() == Qt.Key.Key_Escape:
            self.close()
            return
        super().keyPressEvent(event)

    def closeEvent(self, event: QCloseEvent) -> None:
        """Tell the main window the mode ended."""
        super().closeEvent(event)
        self.closed.emit()

    def _sync_unit(self) -> None:
        self.unit_button.setText("Show mW" if self.hub.unit == "dBm" else "Show dBm")
