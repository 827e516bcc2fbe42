"""The GUI event-loop gap probe: a 10 ms timer in the GUI thread that keeps its longest gap."""

from __future__ import annotations

import time

from PySide6.QtCore import Qt, QTimer

__all__ = ["GUI_GAP_LIMIT_S", "GapMeter"]

GUI_GAP_LIMIT_S = 0.1  # the GUI event loop must never stall longer than this


class GapMeter:
    """Tick a 10 ms timer in the GUI thread and keep the longest gap between ticks."""

    def __init__(self) -> None:
        self.max_gap_s = 0.0
        self.worst_at = 0.0  # monotonic s at which the longest gap began
        self.started = time.monotonic()
        self._last: float | None = None
        self._timer = QTimer()
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.setInterval(10)
        self._timer.timeout.connect(self._tick)
        self._timer.start()

    def _tick(self) -> None:
        now = time.monotonic()
        if self._last is not None and now - self._last > self.max_gap_s:
            self.max_gap_s = now - self._last
            self.worst_at = self._last
        self._last = now

    def stop(self) -> float:
        """Stop measuring and return the longest gap in s."""
        self._timer.stop()
        return self.max_gap_s
