"""Save the settings as they change, so a crash or a power cut restarts on the same instrument.

A change schedules one save SAVE_DELAY_MS later (the changes of a burst go together); the save
writes only when the settings differ from the file. What changes without a signal (the
window's size and docks, the alignment panel) is looked at every CHECK_MS. The file is written
atomically by the store (temp file, fsync, rename), so a kill at any moment leaves the old or
the new file, never a torn one.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, QTimer

if TYPE_CHECKING:
    from ctp10_gui.views.main_window import MainWindow

__all__ = ["CHECK_MS", "SAVE_DELAY_MS", "SettingsAutosave"]

log = logging.getLogger(__name__)

SAVE_DELAY_MS = 500  # from the first change of a burst to the write
CHECK_MS = 2000  # what changes without a signal is saved within this + SAVE_DELAY_MS


class SettingsAutosave(QObject):
    """Write the window's settings within about 0.5 s of a change, only when they changed."""

    def __init__(self, window: MainWindow, *, delay_ms: int = SAVE_DELAY_MS,
                 check_ms: int = CHECK_MS) -> None:
        super().__init__(window)
        self._window = window
        self._problem: str | None = None  # the last write failure, said once
        self.saves = 0  # files written so far
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(delay_ms)
        self._timer.timeout.connect(self.save_now)
        self._check = QTimer(self)
        self._check.setInterval(check_ms)
        self._check.timeout.connect(self.schedule)
        self._check.start()
        controls = window.live_controls
        for signal in (window.controller.state_changed, window.theme_changed,
                       controls.pick_changed, controls.interval_changed, controls.unit_read,
                       window.hub.references_changed, window.hub.names_changed):
            signal.connect(self.schedule)

    def schedule(self, *_: Any) -> None:
        """Save SAVE_DELAY_MS after the first change not saved yet (later ones ride along)."""
        if not self._timer.isActive():
            self._timer.start()

    def save_now(self) -> bool:
        """Write the settings if they differ from the file; return True if written."""
        window = self._window
        store = window.store
        try:
            written = store.save_if_changed(window.collect_settings())
        except OSError as exc:
            problem = f"{exc.strerror or exc}"
            if problem != self._problem:
                self._problem = problem
                log.error("settings not saved to %s: %s", store.path, exc)
                window.show_notice(f"Settings could not be saved to {store.path} ({problem}); "
                                   "they are tried again at the next change.")
            return False
        if self._problem is not None:
            log.info("settings saved to %s again", store.path)
            self._problem = None
        if written:
            self.saves += 1
            log.info("settings saved to %s", store.path)
        return written
