"""The resonance table: which trace it analyses, and its dips or peaks with ER, FWHM, Q and FSR.

The analysis of a 940 001-point trace takes ~40 ms here (more on a lab laptop, and 2 cores
shared), so it runs as a background job; a click on a row asks the plot to zoom to that dip.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Literal

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ctp10_gui.models.resonance import (
    RESONANCE_HEADER_MEANINGS,
    RESONANCE_HEADERS,
    ResonanceMetrics,
    analyse_resonances,
    resonance_cells,
    zoom_span_nm,
)
from ctp10_gui.models.traces import StoredTrace
from ctp10_gui.views.background_job import BackgroundJobs

__all__ = ["ResonanceTable", "choice_text"]

RESONANCE_DELAY_MS = 30  # after the first paint of a new trace, and once per burst of steps

Question = tuple[int, Literal["dip", "peak"], int]  # (trace key, kind, count)


def choice_text(trace: StoredTrace) -> str:
    """Return a trace's name in the chooser: "trace 3 · M4 C1 TF live · 10:42:13"."""
    acquired = trace.metadata.get("acquired")
    if not isinstance(acquired, str):
        return trace.title
    try:
        when = datetime.fromisoformat(acquired)
    except ValueError:
        return trace.title
    # Local time of day: what the user saw on the clock when the sweep ran.
    local = when.astimezone() if when.tzinfo is not None else when
    return f"{trace.title} · {local:%H:%M:%S}"


class ResonanceTable(QWidget):
    """Analysed-trace chooser, dips/peaks, count (1–100), export, and the resonance table."""

    resonances_changed = Signal(object)  # list[ResonanceMetrics] of the analysed trace
    zoom_requested = Signal(float, float)  # (start nm, stop nm) around a clicked resonance
    trace_chosen = Signal(object)  # key (int) of the analysed trace, None when there is none
    message = Signal(str, str)  # (text, role "hint" / "ok" / "error") for the status line

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._traces: dict[int, StoredTrace] = {}
        self._chosen: StoredTrace | None = None
        self._rows: list[ResonanceMetrics] = []
        self._answered: Question | None = None  # the question the table shows the answer to
        self._jobs = BackgroundJobs(self)

        self.trace_combo = QComboBox(self)
        self.trace_combo.setObjectName("resonanceTrace")
        self.trace_combo.setToolTip("The trace whose resonances are listed")
        self.trace_combo.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.trace_combo.setMinimumContentsLength(6)
        self.trace_combo.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.trace_combo.currentIndexChanged.connect(self._on_trace_index)
        self.kind_combo = QComboBox(self)
        self.kind_combo.addItem("Dips", "dip")
        self.kind_combo.addItem("Peaks", "peak")
        self.kind_combo.currentIndexChanged.connect(lambda *_: self.schedule())
        self.count_spin = QSpinBox(self)
        self.count_spin.setRange(1, 100)
        self.count_spin.setValue(10)
        self.count_spin.setToolTip("How many of the deepest dips / highest peaks to list (1–100)")
        self.count_spin.valueChanged.connect(lambda *_: self.schedule())
        self.export_button = QPushButton("Export table…", self)
        self.export_button.setToolTip("Write the table to a CSV file")

        # Two-line headers ("FWHM" over "(pm)"): the seven columns then fit ~400 px.
        headers = ("#", *(h.replace(" ", "\n", 1) for h in RESONANCE_HEADERS))
        self.table = QTableWidget(0, len(headers), self)
        self.table.setObjectName("resonanceTable")
        for col, (header, meaning) in enumerate(
                zip(headers, ("Row", *RESONANCE_HEADER_MEANINGS), strict=True)):
            item = QTableWidgetItem(header)
            item.setToolTip(meaning)
            self.table.setHorizontalHeaderItem(col, item)
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setSectionResizeMode(
            QHeaderView.ResizeMode.ResizeToContents
        )
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.cellClicked.connect(self._on_row_clicked)
        self.table.cellDoubleClicked.connect(self._on_row_clicked)
        self.table.cellActivated.connect(self._on_row_clicked)
        self.table.setToolTip("Click a row to zoom the plot to that resonance")

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        row = QHBoxLayout()
        caption = QLabel("Resonances of", self)
        caption.setMinimumWidth(20)  # cut only in the narrowest window, never widening it
        row.addWidget(caption)
        row.addWidget(self.trace_combo, 1)
        layout.addLayout(row)
        layout.addWidget(self.table, 1)
        # Dips/peaks, count and export go where the view has room (beside the trace list):
        # in the table's own row they would widen the window past a 1024 px screen.
        self.controls = QWidget(self)
        controls = QVBoxLayout(self.controls)
        controls.setContentsMargins(0, 0, 0, 0)
        choice = QHBoxLayout()
        choice.addWidget(self.kind_combo, 1)
        choice.addWidget(self.count_spin)
        controls.addLayout(choice)
        controls.addWidget(self.export_button)

        # Run after the first paint of a new trace, and once for a burst of spin-box steps.
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(RESONANCE_DELAY_MS)
        self._timer.timeout.connect(self.update_now)

    # -- what is analysed -----------------------------------------------------------------------
    @property
    def resonances(self) -> list[ResonanceMetrics]:
        """Return the resonances listed in the table, by ascending wavelength."""
        return list(self._rows)

    @property
    def analysed_trace(self) -> StoredTrace | None:
        """Return the trace whose resonances are listed, None when there is none."""
        return self._chosen

    @property
    def kind(self) -> Literal["dip", "peak"]:
        """Return what is listed: "dip" or "peak"."""
        return "peak" if self.kind_combo.currentData() == "peak" else "dip"

    @property
    def busy(self) -> bool:
        """Return True while an analysis runs in the background."""
        return self._jobs.busy

    def set_traces(self, traces: Sequence[StoredTrace]) -> None:
        """Offer these traces; keep the chosen one, or say so and pick the newest if it left."""
        previous = self._chosen
        self._traces = {t.key: t for t in traces}
        if previous is not None and previous.key in self._traces:
            chosen: StoredTrace | None = previous
        else:
            chosen = traces[-1] if traces else None
        self.trace_combo.blockSignals(True)
        self.trace_combo.clear()
        for trace in traces:
            self.trace_combo.addItem(choice_text(trace), trace.key)
            self.trace_combo.setItemData(self.trace_combo.count() - 1,
                                         f"{trace.points} points, unit {trace.unit}",
                                         Qt.ItemDataRole.ToolTipRole)
        if chosen is not None:
            self.trace_combo.setCurrentIndex(self.trace_combo.findData(chosen.key))
        self.trace_combo.blockSignals(False)
        if chosen is not previous:
            if previous is not None:
                now = (f"the table now analyses {chosen.title}." if chosen is not None
                       else "no trace is left to analyse.")
                gone = previous.title
                self.message.emit(f"{gone[:1].upper()}{gone[1:]} was removed: {now}", "hint")
            self._set_chosen(chosen)
        self.schedule()

    def choose(self, key: int) -> None:
        """Analyse trace key (ignored when it is not offered)."""
        index = self.trace_combo.findData(key)
        if index >= 0:
            self.trace_combo.setCurrentIndex(index)

    def _on_trace_index(self, index: int) -> None:
        key = self.trace_combo.itemData(index) if index >= 0 else None
        self._set_chosen(self._traces.get(key) if isinstance(key, int) else None)
        self.schedule()

    def _set_chosen(self, trace: StoredTrace | None) -> None:
        self._chosen = trace
        if self._answered is not None and (trace is None or self._answered[0] != trace.key):
            # Another trace's rows must not be clicked while this one's are computed.
            self._rows = []
            self.table.setRowCount(0)
        self.trace_chosen.emit(trace.key if trace is not None else None)

    # -- analysis -------------------------------------------------------------------------------
    def schedule(self) -> None:
        """Update the table shortly, after the plot has been painted."""
        self._timer.start()

    def _question(self) -> Question | None:
        trace = self._chosen
        return (trace.key, self.kind, self.count_spin.value()) if trace is not None else None

    def update_now(self) -> None:
        """Start listing the analysed trace's resonances unless the table already shows them."""
        question = self._question()
        trace = self._chosen
        if question is None or trace is None:
            if self._answered is not None or self._rows:
                self._answered = None
                self._show([])
            return
        if question == self._answered or self._jobs.busy:
            return  # a running job calls update_now again when it reports back
        x, y = trace.wavelength_nm, trace.values
        _, kind, count = question

        def work() -> list[ResonanceMetrics]:
            return analyse_resonances(x, y, kind=kind, count=count)

        def done(rows: list[ResonanceMetrics]) -> None:
            if question == self._question():
                self._answered = question
                self._show(rows)
            self.update_now()

        def failed(exc: Exception) -> None:
            self.message.emit(f"Cannot analyse {trace.title}: {exc}", "error")
            if question == self._question():
                self._answered = question
                self._show([])
            self.update_now()

        self._jobs.start("resonances", work, done, failed)

    def _show(self, rows: list[ResonanceMetrics]) -> None:
        self._rows = rows
        self.table.setRowCount(len(rows))
        unit = self._chosen.unit if self._chosen is not None else ""
        for r, metrics in enumerate(rows):
            extreme = "minimum" if metrics.kind == "dip" else "maximum"
            tip = (f"{extreme} {metrics.value:.2f} {unit} at {metrics.wavelength_nm:.4f} nm, "
                   f"baseline {metrics.baseline:.2f} {unit}\nClick to zoom to it")
            for col, text in enumerate((str(r + 1), *resonance_cells(metrics))):
                cell = QTableWidgetItem(text)
                cell.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                cell.setToolTip(tip)
                self.table.setItem(r, col, cell)
        self.resonances_changed.emit(self.resonances)

    def _on_row_clicked(self, row: int, _col: int) -> None:
        if 0 <= row < len(self._rows):
            self.zoom_requested.emit(*zoom_span_nm(self._rows[row]))
