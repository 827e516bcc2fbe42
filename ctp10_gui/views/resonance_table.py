"""The resonance table: the deepest dips or highest peaks of one trace, double-click to zoom."""

from __future__ import annotations

from typing import Literal

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ctp10_gui.models.traces import Resonance, StoredTrace, find_resonances

__all__ = ["ResonanceTable"]

RESONANCE_DELAY_MS = 30  # after the first paint of a new trace, and once per burst of steps


class ResonanceTable(QWidget):
    """Dips/peaks chooser, count (1–100) and the table of resonances of the shown trace."""

    resonances_changed = Signal(object)  # list[Resonance] of the shown trace
    zoom_requested = Signal(float)  # wavelength (nm) of a double-clicked resonance

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._trace: StoredTrace | None = None
        self._resonances: list[Resonance] = []
        self._asked: tuple[int, str, int] | None = None

        self.kind_combo = QComboBox(self)
        self.kind_combo.addItem("Dips", "dip")
        self.kind_combo.addItem("Peaks", "peak")
        self.kind_combo.currentIndexChanged.connect(lambda *_: self.schedule())
        self.count_spin = QSpinBox(self)
        self.count_spin.setRange(1, 100)
        self.count_spin.setValue(10)
        self.count_spin.setToolTip("How many of the deepest dips / highest peaks to list (1–100)")
        self.count_spin.valueChanged.connect(lambda *_: self.schedule())
        self.table = QTableWidget(0, 4, self)
        self.table.setObjectName("resonanceTable")
        self.table.setHorizontalHeaderLabels(["#", "λ (nm)", "Value", "Depth (dB)"])
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setSectionResizeMode(
            QHeaderView.ResizeMode.ResizeToContents
        )
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.cellDoubleClicked.connect(self._on_double_click)
        self.table.setToolTip("Double-click a row to zoom to that resonance")

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        row = QHBoxLayout()
        row.addWidget(QLabel("Resonances", self))
        row.addWidget(self.kind_combo)
        row.addWidget(self.count_spin)
        layout.addLayout(row)
        layout.addWidget(self.table, 1)

        # The finder takes ~40 ms on 1 M points: run it after the first paint of a new trace,
        # and once for a burst of spin-box steps.
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(RESONANCE_DELAY_MS)
        self._timer.timeout.connect(self.update_now)

    @property
    def resonances(self) -> list[Resonance]:
        """Return the resonances listed in the table."""
        return list(self._resonances)

    def show_trace(self, trace: StoredTrace | None) -> None:
        """List the resonances of trace (None empties the table) shortly, after a paint."""
        self._trace = trace
        self.schedule()

    def schedule(self) -> None:
        """Update the table shortly, after the plot has been painted."""
        self._timer.start()

    def update_now(self) -> None:
        """List the deepest dips or highest peaks of the shown trace."""
        trace = self._trace
        kind: Literal["dip", "peak"] = "peak" if self.kind_combo.currentData() == "peak" else "dip"
        count = self.count_spin.value()
        asked = (trace.key, kind, count) if trace is not None else None
        if asked is not None and asked == self._asked:
            return  # same trace and question: ~40 ms on 1 M points is not worth repeating
        self._asked = asked
        self._resonances = (
            find_resonances(trace.wavelength_nm, trace.values, kind=kind, count=count)
            if trace is not None
            else []
        )
        self.table.setRowCount(len(self._resonances))
        unit = trace.unit if trace is not None else ""
        for row, res in enumerate(self._resonances):
            cells = (
                str(row + 1),
                f"{res.wavelength_nm:.4f}",
                f"{res.value:.2f} {unit}",
                f"{res.depth_db:.2f}",
            )
            for col, text in enumerate(cells):
                cell = QTableWidgetItem(text)
                cell.setTextAlignment(
                    Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
                )
                self.table.setItem(row, col, cell)
        self.resonances_changed.emit(self.resonances)

    def _on_double_click(self, row: int, _col: int) -> None:
        if 0 <= row < len(self._resonances):
            self.zoom_requested.emit(self._resonances[row].wavelength_nm)
