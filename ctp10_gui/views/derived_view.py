"""Derived channels in the window: their cards under the readouts and the editor dialog.

The strip chart draws the app's LiveHistory of measured channels only, so derived channels
are shown as cards and in the alignment view (focus picker), not as chart curves.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QVBoxLayout,
    QWidget,
)

from ctp10_gui.models.connection import LinkState
from ctp10_gui.models.derived import ERROR, OK, OVER, UNDER, DerivedChannel, DerivedKind
from ctp10_gui.models.derived_readings import DerivedReading, DerivedReadings, parse_definitions
from ctp10_gui.models.readout import NO_DATA, format_db, format_mw
from ctp10_gui.views.fit_label import FitLabel
from ctp10_gui.views.readouts import ReadoutHub
from ctp10_gui.views.theme import repolish

_LIVE = {LinkState.LIVE, LinkState.BUSY}
_RANGE_WORDS = {UNDER: "below range", OVER: "above range", ERROR: "error"}


def format_derived(r: DerivedReading) -> str:
    """Return a derived value as shown: "−8.00 dB", "0.5012", "1.234 mW", "below range"."""
    if r.status is None:
        return NO_DATA
    if r.status != OK or not math.isfinite(r.value):
        return _RANGE_WORDS.get(r.status, NO_DATA)
    if r.channel.kind is DerivedKind.DIFFERENCE_DB:
        return format_db(r.value)
    if r.channel.kind is DerivedKind.SUM_MW:
        return format_mw(r.value)
    return f"{r.value:.4g}"


def derived_style(r: DerivedReading, hub: ReadoutHub) -> tuple[str, str]:
    """Return (reading style, age text) of r under the hub's link state and stale rule."""
    if hub.state not in _LIVE or hub.other_instrument or r.t is None:
        return "none", "not live"
    age = hub.clock() - r.t
    if age > hub.stale_s:
        return "stale", f"{age:.1f} s old"
    if r.status == ERROR:
        return "error", ""
    return ("live" if r.status == OK else "range"), ""


def definitions_text(channels: list[DerivedChannel]) -> str:
    """Return the editor text of definitions: one "name = expression" per line."""
    return "\n".join(f"{c.name} = {c.expression}" for c in channels)


class DerivedCard(QFrame):
    """One derived channel: its definition, value and Δ to its peak."""

    def __init__(self, name: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.name = name
        self.setProperty("readout", True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 4, 10, 4)
        self.title_label = FitLabel(self, max_px=22, bold=True)
        self.value_label = FitLabel(self, bold=True, mono=True,
                                    align=Qt.AlignmentFlag.AlignRight)
        self.delta_label = FitLabel(self, max_px=22, align=Qt.AlignmentFlag.AlignRight)
        self.delta_label.setProperty("role", "detail")
        layout.addWidget(self.title_label, 2)
        layout.addWidget(self.value_label, 5)
        layout.addWidget(self.delta_label, 2)

    def show_reading(self, r: DerivedReading, style: str, age: str) -> None:
        """Draw r in style, with its age when not live."""
        self.title_label.show_text(f"{r.channel.name} = {r.channel.expression}")
        self.value_label.show_text(format_derived(r))
        if self.value_label.property("reading") != style:
            self.value_label.setProperty("reading", style)
            repolish(self.value_label)
        delta = r.delta_to_peak_db() if style == "live" else None
        self.delta_label.show_text(age or (f"Δ to peak {format_db(delta)}" if delta is not None
                                           else ""))


class DerivedRow(QWidget):
    """The derived channels' cards in a row, refreshed at 10 Hz while visible."""

    def __init__(self, readings: DerivedReadings, hub: ReadoutHub,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.readings = readings
        self.hub = hub
        self._row = QHBoxLayout(self)
        self._row.setContentsMargins(0, 0, 0, 0)
        self.cards: dict[str, DerivedCard] = {}
        self.setMinimumHeight(70)
        self.rebuild()
        self._timer = QTimer(self)
        self._timer.setInterval(100)
        self._timer.timeout.connect(self.refresh)
        self._timer.start()

    def rebuild(self) -> None:
        """Make one card per derived channel; hide the row when there is none."""
        for card in self.cards.values():
            self._row.removeWidget(card)
            card.deleteLater()
        self.cards = {}
        for name in self.readings.names():
            card = DerivedCard(name, self)
            self.cards[name] = card
            self._row.addWidget(card, 1)
        self.setVisible(bool(self.cards))
        self.refresh()

    def refresh(self) -> None:
        """Redraw the cards (skipped while hidden)."""
        if not self.isVisible():
            return
        for name, card in self.cards.items():
            r = self.readings.reading(name)
            card.show_reading(r, *derived_style(r, self.hub))


class DerivedDialog(QDialog):
    """Edit the derived channels as text, one "name = CH4 - CH3" per line."""

    def __init__(self, readings: DerivedReadings, apply: Callable[[list[DerivedChannel]], None],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Derived channels")
        self._apply = apply
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel(
            "One per line, name = expression: 'IL = CH4 - CH3' (dB), 'split = CH1 / CH2' "
            "(ratio), 'total = CH1 + CH2' (mW).", self))
        self.editor = QPlainTextEdit(definitions_text(readings.channels), self)
        layout.addWidget(self.editor, 1)
        self.error_label = QLabel("", self)
        self.error_label.setProperty("role", "error")
        self.error_label.setWordWrap(True)
        layout.addWidget(self.error_label)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self)
        buttons.accepted.connect(self.apply)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.resize(520, 260)

    def apply(self) -> None:
        """Use the definitions and close, or say which line is wrong and stay open."""
        try:
            channels = parse_definitions(self.editor.toPlainText())
        except ValueError as exc:
            self.error_label.setText(f"Not applied: {exc}.")
            return
        self._apply(channels)
        self.accept()

