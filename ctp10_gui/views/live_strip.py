"""A compact line with the focused channels and a LASER ON light, above every tab but Live.

Setting a laser on the Instrument tab must never hide the power being watched. The reference
lasers' output states are not polled (a query per laser would slow the 1 kHz acquisition):
the light shows what the last read or set of each laser said, and its tooltip says so.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QWidget

from ctp10_gui.models.channel_names import key_channel
from ctp10_gui.models.connection import LinkState, LinkStatus
from ctp10_gui.models.readout import format_db
from ctp10_gui.views.fit_label import FitLabel
from ctp10_gui.views.readouts import ReadoutHub
from ctp10_gui.views.theme import repolish

STRIP_HEIGHT_PX = 34
_NEW_SESSION = {LinkState.DISCONNECTED, LinkState.CONNECTING}


class LaserLight(QLabel):
    """LASER ON / off / ? from the last known output state of each reference laser."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.states: dict[int, bool] = {}  # reference laser 1–10 → output on, as last read/set
        self.setProperty("role", "hint")
        self._show()

    def laser_read(self, laser: int, on: bool) -> None:
        """Record the output state on that reference laser number laser (1–10) read back or set."""
        self.states[laser] = bool(on)
        self._show()

    def set_link_status(self, status: LinkStatus) -> None:
        """Forget the states when a new session starts (they may have changed meanwhile)."""
        if status.state in _NEW_SESSION and self.states:
            self.states.clear()
            self._show()

    @property
    def on(self) -> bool | None:
        """Return True if a laser is known on, False if all known are off, None if none known."""
        if not self.states:
            return None
        return any(self.states.values())

    def _show(self) -> None:
        on = self.on
        text, role = {True: ("● LASER ON", "error"), False: ("○ lasers off", "hint"),
                      None: ("○ laser ?", "hint")}[on]
        self.setText(text)
        if self.property("role") != role:
            self.setProperty("role", role)
            repolish(self)
        known = ", ".join(f"laser {r} {'on' if v else 'off'}"
                          for r, v in sorted(self.states.items())) or "none read yet"
        self.setToolTip("Reference laser outputs as last read or set on the Instrument tab "
                        f"(not polled): {known}.")


class LiveStrip(QFrame):
    """One line: each focused channel's name, value and Δ to peak; the laser light."""

    def __init__(self, hub: ReadoutHub, names: Callable[[str], str],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.hub = hub
        self.names = names
        self.setFixedHeight(STRIP_HEIGHT_PX)
        self._row = QHBoxLayout(self)
        self._row.setContentsMargins(4, 0, 4, 0)
        self.labels: dict[str, FitLabel] = {}
        self.laser = LaserLight(self)
        self._row.addWidget(self.laser)
        self._timer = QTimer(self)
        self._timer.setInterval(100)  # the cards' rate
        self._timer.timeout.connect(self.refresh)
        self._timer.start()

    def set_focus(self, keys: list[str]) -> None:
        """Show these channel keys."""
        for label in self.labels.values():
            self._row.removeWidget(label)
            label.deleteLater()
        self.labels = {}
        for i, key in enumerate(keys):
            label = FitLabel(self, max_px=22, bold=True, mono=True)
            self.labels[key] = label
            self._row.insertWidget(i, label, 1)
        self.refresh()

    def refresh(self) -> None:
        """Redraw the values (skipped while hidden)."""
        if not self.isVisible():
            return
        for key, label in self.labels.items():
            ch = key_channel(key)
            if ch is None or ch not in self.hub.model.channels:
                label.show_text(f"{self.names(key)}  — —")
                continue
            p = self.hub.presentation(ch)
            delta = self.hub.model.reading(ch).delta_to_peak_db()
            text = f"{self.names(key)}  {p.value}"
            if p.style in ("live", "range") and delta is not None:
                text += f"  Δ {format_db(delta)}"
            elif p.age:
                text += f"  ({p.age})"
            label.show_text(text)
            if label.property("reading") != p.style:
                label.setProperty("reading", p.style)
                repolish(label)
