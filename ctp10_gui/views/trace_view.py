"""Spectral trace view: the trace list, plot, resonance table, cursor readout and live marker.

The parts live in their own modules (trace_plot, resonance_table, trace_files); this widget
lays them out, keeps them on the same trace, offers the table export and the insertion-loss
normalisation, and aims the live marker at the last trace's detector: its wavelength read
through the link, its power taken from the live batches.
"""

from __future__ import annotations

import logging
import math
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QFileDialog,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ctp10_gui.hardware.scpi import frequency_thz
from ctp10_gui.link.port import LinkPort
from ctp10_gui.models.connection import LinkState, LinkStatus
from ctp10_gui.models.resonance import (
    export_resonance_csv,
    insertion_loss_unit,
    normalise_insertion_loss,
)
from ctp10_gui.models.samples import SnapshotBatch
from ctp10_gui.models.traces import StoredTrace, TraceStore
from ctp10_gui.procedures.marker import read_detector_wavelength
from ctp10_gui.views.layout import ProportionalSplitter
from ctp10_gui.views.resonance_table import ResonanceTable, choice_text
from ctp10_gui.views.theme import DARK, Theme, repolish
from ctp10_gui.views.trace_files import TraceFiles
from ctp10_gui.views.trace_plot import TracePlot

__all__ = ["TraceView"]

log = logging.getLogger(__name__)

_ONLINE = {LinkState.CONNECTED, LinkState.LIVE, LinkState.BUSY}
_MARKER_WAVELENGTH_EVERY_MS = 2000  # the detector wavelength changes only when a user sets it
_MARKER_DRAW_MS = 100  # 10 Hz label update; batches arrive at ≤ 50 Hz


class TraceView(QWidget):
    """Overlay of stored traces with cursor readout, resonance table, live marker, export/open."""

    def __init__(self, traces: TraceStore, controller: LinkPort, *, theme: Theme = DARK,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("traceView")
        self._traces = traces
        self._controller = controller
        self._live_wavelength_nm: float | None = None
        self._live_power_dbm: float | None = None
        self._live_source: tuple[int, int] | None = None

        self.plot = TracePlot(theme)
        self.plot.cursor_moved.connect(self._show_cursor_text)
        self.resonance_table = ResonanceTable()
        self.resonance_table.resonances_changed.connect(self.plot.mark_resonances)
        self.resonance_table.zoom_requested.connect(self.plot.zoom_to)
        self.resonance_table.trace_chosen.connect(self._select_in_list)
        self.resonance_table.export_button.clicked.connect(self.export_table_dialog)
        self.files = TraceFiles(traces, self)

        # -- readouts and controls -----------------------------------------------------------
        self.cursor_label = QLabel("Move the mouse over the plot for a readout.", self)
        self.cursor_label.setObjectName("cursorReadout")
        self.cursor_label.setProperty("role", "hint")
        self.cursor_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.cursor_label.setWordWrap(True)  # never widens the window
        self.message = QLabel("", self)
        self.message.setObjectName("traceMessage")
        self.message.setWordWrap(True)
        self.message.hide()
        self.files.message.connect(self.show_message)
        self.resonance_table.message.connect(self.show_message)

        self.open_button = QPushButton("Open…", self)
        self.open_button.setToolTip("Load exported .csv or .npy traces back into the view")
        self.open_button.clicked.connect(self.open_dialog)
        self.export_button = QPushButton("Export…", self)
        self.export_button.setToolTip("Write the selected traces to CSV or NPY with metadata JSON")
        self.export_button.clicked.connect(self.export_dialog)
        self.files.busy_changed.connect(lambda busy: self.export_button.setEnabled(not busy))
        self.files.busy_changed.connect(lambda busy: self.open_button.setEnabled(not busy))
        self.remove_button = QPushButton("Remove", self)
        self.remove_button.setToolTip("Remove the selected traces from the view")
        self.remove_button.clicked.connect(self.remove_selected)
        self.fit_button = QPushButton("Fit", self)
        self.fit_button.setToolTip("Show every visible trace whole")
        self.fit_button.clicked.connect(self.plot.fit_all)
        self.normalise_button = QPushButton("IL normalise…", self)
        self.normalise_button.setToolTip(
            "Subtract a reference trace (interpolated on λ) from the analysed trace: "
            "the insertion loss becomes a new trace")
        self.normalise_button.clicked.connect(self.normalise_dialog)
        self.marker_check = QCheckBox("Live marker", self)
        self.marker_check.setToolTip(
            "Mark the detector's current wavelength and live power on the last trace"
        )
        self.marker_check.setChecked(True)
        self.marker_check.toggled.connect(self._on_marker_toggled)
        toolbar = QHBoxLayout()
        for w in (self.open_button, self.export_button, self.remove_button, self.fit_button):
            toolbar.addWidget(w)
        toolbar.addStretch(1)

        self.trace_list = QListWidget(self)
        self.trace_list.setObjectName("traceList")
        self.trace_list.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.trace_list.setToolTip("Tick to show, select to export or remove, "
                                   "click to list its resonances")
        # Long names wrap onto a second line rather than hide under a sideways scroll bar.
        self.trace_list.setWordWrap(True)
        self.trace_list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.trace_list.itemChanged.connect(self._on_item_changed)
        self.trace_list.currentItemChanged.connect(self._on_current_item)

        side = QWidget(self)
        side_layout = QVBoxLayout(side)
        side_layout.setContentsMargins(0, 0, 0, 0)
        side_layout.addWidget(QLabel("Traces", side))
        side_layout.addWidget(self.trace_list, 1)
        side_layout.addWidget(self.resonance_table.controls)
        side_layout.addWidget(self.normalise_button)

        # The table sits under the plot, where its seven columns (~400 px) fit a 1280 px
        # window; beside the plot they would not.
        plot_and_table = ProportionalSplitter(Qt.Orientation.Vertical, (3, 2), self)
        plot_and_table.addWidget(self.plot)
        plot_and_table.addWidget(self.resonance_table)
        plot_and_table.setChildrenCollapsible(False)
        # Fixed first proportions: the side panel's size hint would otherwise win the first
        # layout and squeeze the plot to a sliver.
        splitter = ProportionalSplitter(Qt.Orientation.Horizontal, (3, 1), self)
        splitter.addWidget(plot_and_table)
        splitter.addWidget(side)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 1)
        # At its narrowest the window still fits a 1024 px laptop screen; list names and the
        # table then scroll sideways.
        side.setMinimumWidth(140)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(toolbar)
        layout.addWidget(splitter, 1)
        # The marker switch sits with the readouts it controls: in the button row it would
        # make the tab too wide for a 1024 px window.
        readout_row = QHBoxLayout()
        readout_row.addWidget(self.cursor_label, 1)
        readout_row.addWidget(self.marker_check)
        layout.addLayout(readout_row)
        layout.addWidget(self.message)

        # -- live marker inputs ----------------------------------------------------------------
        self._marker_timer = QTimer(self)
        self._marker_timer.setInterval(_MARKER_WAVELENGTH_EVERY_MS)
        self._marker_timer.timeout.connect(self.read_marker_wavelength)
        self._marker_draw_timer = QTimer(self)
        self._marker_draw_timer.setSingleShot(True)
        self._marker_draw_timer.setInterval(_MARKER_DRAW_MS)
        self._marker_draw_timer.timeout.connect(self._draw_marker)
        controller.batch_received.connect(self._on_batch)
        controller.state_changed.connect(self._on_state)

        traces.subscribe(self._sync)
        self.destroyed.connect(lambda *_: traces.unsubscribe(self._sync))
        self._sync()

    # -- store -> list and plot -----------------------------------------------------------------
    @property
    def store(self) -> TraceStore:
        """Return the TraceStore this view shows."""
        return self._traces

    def set_theme(self, theme: Theme) -> None:
        """Recolour the plot and the trace list for a theme (dark or light)."""
        self.plot.set_theme(theme)
        for row in range(self.trace_list.count()):
            item = self.trace_list.item(row)
            item.setForeground(self.plot.colour(item.data(Qt.ItemDataRole.UserRole)))

    def _sync(self) -> None:
        """Follow the store: list and draw new traces, drop removed ones; keep the analysed one."""
        present = list(self._traces)
        keys = {t.key for t in present}
        self.trace_list.blockSignals(True)  # the resonances follow below, once
        for row in reversed(range(self.trace_list.count())):
            if self.trace_list.item(row).data(Qt.ItemDataRole.UserRole) not in keys:
                self.trace_list.takeItem(row)
        added = self.plot.sync(present)
        for trace in added:
            item = QListWidgetItem(trace.title)
            item.setData(Qt.ItemDataRole.UserRole, trace.key)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked)
            item.setForeground(self.plot.colour(trace.key))
            item.setToolTip(_trace_tooltip(trace))
            self.trace_list.addItem(item)
        self.trace_list.blockSignals(False)
        self.resonance_table.set_traces(present)
        self._select_in_list(self.resonance_table.analysed_trace.key
                             if self.resonance_table.analysed_trace is not None else None)
        self._follow_last_trace()

    def _on_item_changed(self, item: QListWidgetItem) -> None:
        key = item.data(Qt.ItemDataRole.UserRole)
        self.plot.set_trace_visible(key, item.checkState() == Qt.CheckState.Checked)

    def selected_keys(self) -> list[int]:
        """Return the keys of the selected traces (the current one if none is selected)."""
        keys = [i.data(Qt.ItemDataRole.UserRole) for i in self.trace_list.selectedItems()]
        current = self.trace_list.currentItem()
        if not keys and current is not None:
            keys = [current.data(Qt.ItemDataRole.UserRole)]
        return keys

    def current_trace(self) -> StoredTrace | None:
        """Return the trace whose resonances are listed (the chooser's trace)."""
        return self.resonance_table.analysed_trace

    def _on_current_item(self, item: QListWidgetItem | None, *_: object) -> None:
        if item is not None:
            self.resonance_table.choose(item.data(Qt.ItemDataRole.UserRole))

    def _select_in_list(self, key: int | None) -> None:
        """Make the analysed trace the list's current row (without re-choosing it)."""
        for row in range(self.trace_list.count()):
            item = self.trace_list.item(row)
            current = self.trace_list.currentItem()
            if item.data(Qt.ItemDataRole.UserRole) == key and item is not current:
                self.trace_list.blockSignals(True)
                self.trace_list.setCurrentItem(item)
                self.trace_list.blockSignals(False)
                return

    # -- cursor ---------------------------------------------------------------------------------
    def show_cursor(self, wavelength_nm: float, y: float) -> None:
        """Put the crosshair at (wavelength nm, y) and show the readout of the current trace."""
        self.plot.show_crosshair(wavelength_nm, y)
        self._show_cursor_text(wavelength_nm, y)

    def _show_cursor_text(self, wavelength_nm: float, y: float) -> None:
        self.cursor_label.setText(self.cursor_text(wavelength_nm, y))

    def cursor_text(self, wavelength_nm: float, y: float) -> str:
        """Return the readout text at a cursor position (wavelength nm, y in the axis unit)."""
        parts = [f"λ {wavelength_nm:.4f} nm"]
        if wavelength_nm > 0:
            parts.append(f"{frequency_thz(wavelength_nm):.5f} THz")
        parts.append(f"cursor {y:.2f}")
        trace = self.current_trace()
        if trace is not None:
            value = trace.value_at(wavelength_nm)
            if math.isfinite(value):
                parts.append(f"{trace.label}: {value:.3f} {trace.unit}")
        return " · ".join(parts)

    # -- live marker ----------------------------------------------------------------------------
    def _on_marker_toggled(self, on: bool) -> None:
        if on:
            self._follow_last_trace()
        else:
            self._marker_timer.stop()
            self.plot.hide_marker()

    def _follow_last_trace(self) -> None:
        """Aim the live marker at the last trace's detector and read its wavelength."""
        last = self._traces.last
        source = (
            (last.module, last.channel)
            if last is not None and last.module is not None and last.channel is not None
            else None
        )
        if source != self._live_source:
            self._live_source = source
            self._live_power_dbm = None
            self._live_wavelength_nm = None
        if source is None or not self.marker_check.isChecked():
            self._marker_timer.stop()
            self._draw_marker()
            return
        self.read_marker_wavelength()
        self._marker_timer.start()

    def read_marker_wavelength(self) -> None:
        """Ask the instrument for the marked detector's wavelength (nm) through the link."""
        source = self._live_source
        state = self._controller.status.state
        # During a sweep (BUSY) no detector setting moves: ask again after it.
        if source is None or state not in _ONLINE or state is LinkState.BUSY:
            return

        def done(wavelength_nm: float) -> None:
            if self._live_source == source:
                self._live_wavelength_nm = wavelength_nm
                self._draw_marker()

        def failed(exc: Exception) -> None:
            log.warning("live marker: cannot read detector %d/%d wavelength: %s", *source, exc)

        self._controller.request(partial(read_detector_wavelength, module=source[0],
                                         channel=source[1]), done, failed)

    def _on_state(self, status: LinkStatus) -> None:
        if status.state in (LinkState.CONNECTED, LinkState.LIVE):
            self.read_marker_wavelength()

    def _on_batch(self, batch: SnapshotBatch) -> None:
        source = self._live_source
        if source is None or batch.module != source[0] or source[1] not in batch.channels:
            return
        column = batch.values_dbm[:, batch.channels.index(source[1])]
        finite = column[np.isfinite(column)]
        self._live_power_dbm = float(finite[-1]) if finite.size else None
        if not self._marker_draw_timer.isActive():
            self._marker_draw_timer.start()

    def _draw_marker(self) -> None:
        wavelength = self._live_wavelength_nm
        last = self._traces.last
        if (
            not self.marker_check.isChecked()
            or wavelength is None
            or last is None
            or self.plot.trace(last.key) is None
        ):
            self.plot.hide_marker()
            return
        power = self._live_power_dbm
        # On a raw (dBm) trace the live power itself is comparable; on a TF (dB) trace the dot
        # sits on the trace and the label carries the live dBm value.
        y = power if (last.unit == "dBm" and power is not None) else last.value_at(wavelength)
        power_text = f"{power:.2f} dBm" if power is not None else "no live power"
        self.plot.show_marker(wavelength, y, f" live {power_text} @ {wavelength:.3f} nm")

    # -- remove / export / open -------------------------------------------------------------------
    def remove_selected(self) -> None:
        """Remove the selected traces from the store (and so from the view)."""
        for key in self.selected_keys():
            self._traces.remove(key)

    def export_dialog(self) -> None:
        """Ask for a file name and export the selected traces (CSV or NPY by the chosen type)."""
        keys = self.selected_keys()
        if not keys:
            self.show_message("Nothing to export: fetch or open a trace first.", "error")
            return
        path, chosen = QFileDialog.getSaveFileName(
            self, "Export traces", self.files.start_path("export", "trace.csv"),
            "CSV with JSON metadata (*.csv);;NumPy (*.npy)"
        )
        if not path:
            return
        if not Path(path).suffix:
            path += ".npy" if "npy" in chosen else ".csv"
        self.files.export(keys, path)

    def open_dialog(self) -> None:
        """Ask for exported files and load them into the view."""
        paths, _ = QFileDialog.getOpenFileNames(
            self, "Open traces", self.files.start_path("open"),
            "Exported traces (*.csv *.npy);;All files (*)"
        )
        if paths:
            self.files.open(paths)

    # -- resonance table export, insertion-loss normalisation -------------------------------------
    def export_table_dialog(self) -> None:
        """Ask for a CSV file name (in the last export folder) and write the resonance table."""
        trace = self.current_trace()
        if trace is None or not self.resonance_table.resonances:
            self.show_message("Nothing to export: the resonance table is empty.", "error")
            return
        path, _ = QFileDialog.getSaveFileName(
            self, "Export resonance table",
            self.files.start_path("export", f"resonances_trace{trace.key}.csv"),
            "CSV (*.csv)")
        if path:
            self.export_table(path if Path(path).suffix else path + ".csv")

    def export_table(self, path: str | Path) -> Path | None:
        """Write the resonance table to path as CSV; return it, None (with a message) on failure."""
        trace = self.current_trace()
        rows = self.resonance_table.resonances
        target = Path(path)
        source = choice_text(trace) if trace is not None else ""
        try:
            written = export_resonance_csv(rows, target, source=source)
        except OSError as exc:
            self.show_message(f"Cannot write the resonance table to {target}: "
                              f"{exc.strerror or exc}.", "error")
            return None
        self.files.remember_export_folder(target.parent)
        self.show_message(f"Exported {len(rows)} resonances of {trace.title if trace else ''} "
                          f"to {written.name}", "ok")
        return written

    def normalise_dialog(self) -> None:
        """Ask which stored trace is the reference, then normalise the analysed trace by it."""
        trace = self.current_trace()
        others = [t for t in self._traces if trace is not None and t.key != trace.key]
        if trace is None or not others:
            self.show_message("IL normalisation needs two traces: the analysed trace and a "
                              "reference trace (fetch or open one).", "error")
            return
        names = [choice_text(t) for t in others]
        name, ok = QInputDialog.getItem(
            self, "IL normalise", f"Subtract which reference from {trace.title}?", names, 0, False)
        if ok and name in names:
            self.normalise(trace.key, others[names.index(name)].key)

    def normalise(self, trace_key: int, reference_key: int) -> StoredTrace | None:
        """Store trace − reference (interpolated on λ) as a new trace and analyse it."""
        try:
            trace, reference = self._traces.get(trace_key), self._traces.get(reference_key)
        except KeyError:
            self.show_message("Cannot normalise: that trace was removed.", "error")
            return None
        try:
            unit = insertion_loss_unit(trace.unit, reference.unit)
            x, y = normalise_insertion_loss(trace.wavelength_nm, trace.values,
                                            reference.wavelength_nm, reference.values)
        except ValueError as exc:
            self.show_message(f"Cannot normalise {trace.title} by {reference.title}: {exc}.",
                              "error")
            return None
        name = f"trace {trace.key} − trace {reference.key} (IL)"
        # The normalised trace keeps what the instrument was and did for the measured one.
        kept = ("instrument", "acquired", "settings", "instrument_state")
        metadata: dict[str, Any] = {k: trace.metadata[k] for k in kept if k in trace.metadata}
        metadata["insertion_loss"] = {"trace": trace.title, "reference": reference.title,
                                      "reference_source": reference.source,
                                      "interpolation": "linear in dB on the trace's λ"}
        result = self._traces.add_arrays(x, y, unit=unit, module=trace.module,
                                         channel=trace.channel, metadata=metadata, name=name)
        self.resonance_table.choose(result.key)
        self.show_message(f"Added {result.title}; the table now analyses it.", "ok")
        return result

    def show_message(self, text: str, role: str = "hint") -> None:
        """Show a status line under the plot ("hint", "ok" or "error")."""
        self.message.setText(text)
        self.message.setProperty("role", role)
        repolish(self.message)
        self.message.setVisible(bool(text))


def _trace_tooltip(trace: StoredTrace) -> str:
    """Return a trace's list tooltip: label, points and span, unit, instrument, origin."""
    meta = trace.metadata
    ident = meta.get("instrument") or {}
    lines = [
        trace.label,
        f"{trace.points} points, {trace.x_bounds[0]:.3f}–{trace.x_bounds[1]:.3f} nm",
        f"unit {trace.unit}",
    ]
    if ident:
        lines.append(f"{ident.get('model', '')} {ident.get('serial', '')}".strip())
    if meta.get("acquired"):
        lines.append(f"acquired {meta['acquired']}")
    if trace.source != "instrument":
        lines.append(f"from {trace.source}")
    return "\n".join(lines)

