"""Sentences the main view says once: a pick that is not installed, a unit changed elsewhere.

Both come from elsewhere than the Live tab (the acquisition dock, the instrument itself) but
decide whether the numbers on it can be trusted, so the window's notice line says them.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QTimer

from ctp10_gui.hardware.power import UNIT_CHANGED_EVENT

if TYPE_CHECKING:
    from ctp10_gui.views.main_window import MainWindow

__all__ = ["UnitChangeNotices", "wire_main_view_notices"]

# Unit changes reported within this many ms (one per channel, e.g. after a *RST elsewhere)
# make one sentence.
GATHER_MS = 100
# The poller's sentence names the channel and the unit it replies in now.
_UNIT_CHANGE = re.compile(r"channel (\d+) replies in (\S+)")


class UnitChangeNotices(QObject):
    """Turn the link's unit_changed events into one sentence per change, not one per sample."""

    def __init__(self, say: Callable[[str], None], *,
                 wall_clock: Callable[[], float] = time.time,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._say = say
        self._wall_clock = wall_clock
        self._changes: dict[str, str] = {}  # "CH1" → unit, in the order they came
        self._since: float | None = None
        self._other: list[str] = []  # sentences that name no channel, said as they are
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(GATHER_MS)
        self._timer.timeout.connect(self._flush)

    def link_event(self, kind: str, text: str) -> None:
        """Take one link event; unit changes are said together once the burst is over."""
        if kind != UNIT_CHANGED_EVENT:
            return
        if self._since is None:
            self._since = self._wall_clock()
        match = _UNIT_CHANGE.search(text)
        if match is None:
            self._other.append(text[:1].upper() + text[1:])
        else:
            self._changes[f"CH{match.group(1)}"] = match.group(2)
        if not self._timer.isActive():
            self._timer.start()

    def _flush(self) -> None:
        since = self._since
        self._since = None
        changes, self._changes = self._changes, {}
        other, self._other = self._other, []
        if since is None:
            return
        at = time.strftime("%H:%M:%S", time.localtime(since))
        by_unit: dict[str, list[str]] = {}
        for channel, unit in changes.items():
            by_unit.setdefault(unit, []).append(channel)
        parts = [f"{', '.join(channels)} unit changed on the instrument to {unit}"
                 for unit, channels in by_unit.items()]
        if parts:
            self._say(f"{'; '.join(parts)} — values converted from {at}")
        for text in other:
            self._say(text)


def wire_main_view_notices(window: MainWindow) -> UnitChangeNotices:
    """Say refused picks and unit changes in window's notice line; return the unit notices."""
    window.live_controls.pick_refused.connect(window.show_notice)
    notices = UnitChangeNotices(window.show_notice, parent=window)
    window.controller.link_event.connect(notices.link_event)
    return notices
