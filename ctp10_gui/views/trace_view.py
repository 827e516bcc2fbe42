"""Spectral trace view: overlay, decimated drawing, cursor, resonances, live marker, files.

A 1 M-point trace is never handed to Qt whole: on every x-range change each curve gets the
visible slice reduced to its min and max per pixel column (PlotCurveItem, 1-px cosmetic pen,
no finite check when the trace has no NaN). First draw ≈ 10 ms, pan redraw ≈ 5 ms for 1 M
points here (benchmarks/bench_trace.py); pyqtgraph's own path is 114/77 ms.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QPointF, Qt, QTimer, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ctp10_gui.models.connection import LinkState
from ctp10_gui.models.decimation import decimate_visible
from ctp10_gui.models.traces import (
    Resonance,
    StoredTrace,
    TraceStore,
    export_trace,
    find_resonances,
    load_trace_file,
)
from ctp10_gui.views.layout import ProportionalSplitter
from ctp10_gui.views.theme import DARK, LIGHT, Theme, repolish

log = logging.getLogger(__name__)

C_NM_PER_S = 299_792_458e9  # speed of light in nm/s: f (THz) = C / λ (nm) / 1e12
_ONLINE = {LinkState.CONNECTED, LinkState.LIVE, LinkState.BUSY}
_MARKER_WAVELENGTH_EVERY_MS = 2000  # the detector wavelength changes only when a user sets it


def current_theme() -> Theme:
    """Return the theme matching pyqtgraph's configured background (set by theme.apply_theme)."""
    background = pg.mkColor(pg.getConfigOption("background"))
    return DARK if background.lightnessF() < 0.5 else LIGHT


def trace_colours(theme: Theme) -> tuple[str, ...]:
    """Return the Okabe–Ito overlay colours readable on the theme's background."""
    return theme.channel_colours


class _TraceCurve:
    """The drawn state of one stored trace: its curve and colour."""

    def __init__(self, trace: StoredTrace, colour: QColor) -> None:
        self.trace = trace
        self.colour = colour
        pen = pg.mkPen(colour, width=1)  # width 1 is cosmetic: 5–6× faster than 2
        self.curve = pg.PlotCurveItem(pen=pen, name=trace.label, antialias=False)
        self.curve.setZValue(10)
        self.visible = True


class TraceView(QWidget):
    """Overlay of stored traces with cursor readout, resonance table, live marker, export/open."""

    export_finished = Signal(object, str)  # list of written paths, error text ("" when fine)
    open_finished = Signal(object, str)  # list of StoredTrace added, error text
    redrawn = Signal()  # curves were re-decimated for the current view (tests, benchmarks)
    resonances_changed = Signal(object)  # list[Resonance] of the selected trace
    _io_done = Signal(object, object, str)  # (kind, result, error) from the file thread

    def __init__(self, traces: TraceStore, controller: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("traceView")
        self._traces = traces
        self._controller = controller
        self._theme = current_theme()
        self._curves: dict[int, _TraceCurve] = {}
        self._resonances: list[Resonance] = []
        self._resonance_key: tuple[int, str, int] | None = None
        self._live_wavelength_nm: float | None = None
        self._live_power_dbm: float | None = None
        self._live_source: tuple[int, int] | None = None
        self._io_busy = False

        # -- plot -------------------------------------------------------------------------
        self.plot = pg.PlotWidget(background=self._theme.background)
        self.plot.setObjectName("tracePlot")
        item = self.plot.getPlotItem()
        item.hideButtons()  # the "A" button would auto-range to the decimated slice only
        item.setLabel("bottom", "Wavelength", units="nm")
        item.getAxis("bottom").enableAutoSIPrefix(False)
        item.setLabel("left", "Transmission", units="dB")
        item.getAxis("left").enableAutoSIPrefix(False)
        item.showGrid(x=True, y=True, alpha=self._theme.grid_alpha)
        for axis in ("left", "bottom"):
            # Grid lines at the labelled ticks only: each finer level of translucent lines
            # costs more than the curve itself in software rendering (1200×700 pan redraw,
            # interleaved medians: 3 levels 46 ms, 2 levels 24 ms, 1 level 13 ms, none 11 ms).
            item.getAxis(axis).setStyle(maxTickLevel=0)
        self.legend = item.addLegend(offset=(-10, 10))
        self._style_legend()
        self.viewbox = item.getViewBox()
        self.viewbox.disableAutoRange()
        self.viewbox.sigXRangeChanged.connect(self._on_x_range)
        self.viewbox.sigResized.connect(self._redraw)
        crosshair_pen = pg.mkPen(self._theme.crosshair, width=1, style=Qt.PenStyle.DotLine)
        self._vline = pg.InfiniteLine(angle=90, movable=False, pen=crosshair_pen)
        self._hline = pg.InfiniteLine(angle=0, movable=False, pen=crosshair_pen)
        for line in (self._vline, self._hline):
            line.setZValue(20)
            line.hide()
            item.addItem(line, ignoreBounds=True)
        self._mouse_proxy = pg.SignalProxy(
            self.plot.scene().sigMouseMoved, rateLimit=60, slot=self._on_mouse_moved
        )
        self._res_points = pg.ScatterPlotItem(
            size=9, symbol="t", pen=pg.mkPen(self._theme.foreground), brush=None
        )
        self._res_points.setZValue(15)
        item.addItem(self._res_points, ignoreBounds=True)
        marker_pen = pg.mkPen(self._theme.foreground, width=1, style=Qt.PenStyle.DashLine)
        self._marker_line = pg.InfiniteLine(angle=90, movable=False, pen=marker_pen)
        self._marker_point = pg.ScatterPlotItem(
            size=12, symbol="o", pen=pg.mkPen(self._theme.foreground, width=1),
            brush=pg.mkBrush(self._theme.foreground),
        )
        self._marker_text = pg.TextItem(color=self._theme.foreground, anchor=(0, 1))
        for marker in (self._marker_line, self._marker_point, self._marker_text):
            marker.setZValue(30)
            marker.hide()
            item.addItem(marker, ignoreBounds=True)

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

        self.open_button = QPushButton("Open…", self)
        self.open_button.setToolTip("Load exported .csv or .npy traces back into the view")
        self.open_button.clicked.connect(self.open_dialog)
        self.export_button = QPushButton("Export…", self)
        self.export_button.setToolTip("Write the selected traces to CSV or NPY with metadata JSON")
        self.export_button.clicked.connect(self.export_dialog)
        self.remove_button = QPushButton("Remove", self)
        self.remove_button.setToolTip("Remove the selected traces from the view")
        self.remove_button.clicked.connect(self.remove_selected)
        self.fit_button = QPushButton("Fit", self)
        self.fit_button.setToolTip("Show every visible trace whole")
        self.fit_button.clicked.connect(self.fit_all)
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
        self.trace_list.setToolTip("Tick to show, select to export, remove or list resonances")
        self.trace_list.itemChanged.connect(self._on_item_changed)
        self.trace_list.currentItemChanged.connect(lambda *_: self.schedule_resonances())

        self.res_kind = QComboBox(self)
        self.res_kind.addItem("Dips", "dip")
        self.res_kind.addItem("Peaks", "peak")
        self.res_kind.currentIndexChanged.connect(lambda *_: self.schedule_resonances())
        self.res_count = QSpinBox(self)
        self.res_count.setRange(1, 100)
        self.res_count.setValue(10)
        self.res_count.setToolTip("How many of the deepest dips / highest peaks to list (1–100)")
        self.res_count.valueChanged.connect(lambda *_: self.schedule_resonances())
        self.res_table = QTableWidget(0, 4, self)
        self.res_table.setObjectName("resonanceTable")
        self.res_table.setHorizontalHeaderLabels(["#", "λ (nm)", "Value", "Depth (dB)"])
        self.res_table.verticalHeader().hide()
        self.res_table.horizontalHeader().setSectionResizeMode(
            QHeaderView.ResizeMode.ResizeToContents
        )
        self.res_table.horizontalHeader().setStretchLastSection(True)
        self.res_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.res_table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.res_table.cellDoubleClicked.connect(self._zoom_to_resonance)
        self.res_table.setToolTip("Double-click a row to zoom to that resonance")

        side = QWidget(self)
        side_layout = QVBoxLayout(side)
        side_layout.setContentsMargins(0, 0, 0, 0)
        side_layout.addWidget(QLabel("Traces", side))
        side_layout.addWidget(self.trace_list, 1)
        res_row = QHBoxLayout()
        res_row.addWidget(QLabel("Resonances", side))
        res_row.addWidget(self.res_kind)
        res_row.addWidget(self.res_count)
        side_layout.addLayout(res_row)
        side_layout.addWidget(self.res_table, 2)

        # Without fixed first proportions the side panel's size hint won the first layout
        # and squeezed the plot to a sliver.
        splitter = ProportionalSplitter(Qt.Orientation.Horizontal, (3, 1), self)
        splitter.addWidget(self.plot)
        splitter.addWidget(side)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 1)
        # 340 px fit the four resonance columns, but made a 1024 px laptop window impossible;
        # narrower, the table scrolls sideways.
        side.setMinimumWidth(250)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(toolbar)
        layout.addWidget(splitter, 1)
        # The marker switch sits with the readouts it controls; in the button row it made
        # the tab too wide for a 1024 px window.
        readout_row = QHBoxLayout()
        readout_row.addWidget(self.cursor_label, 1)
        readout_row.addWidget(self.marker_check)
        layout.addLayout(readout_row)
        layout.addWidget(self.message)

        # -- live marker inputs ----------------------------------------------------------------
        self._marker_timer = QTimer(self)
        self._marker_timer.setInterval(_MARKER_WAVELENGTH_EVERY_MS)
        self._marker_timer.timeout.connect(self.read_marker_wavelength)
        self._marker_draw_timer = QTimer(self)  # 10 Hz text update; batches arrive at ≤ 50 Hz
        self._marker_draw_timer.setSingleShot(True)
        self._marker_draw_timer.setInterval(100)
        self._marker_draw_timer.timeout.connect(self._draw_marker)
        controller.batch_received.connect(self._on_batch)
        controller.state_changed.connect(self._on_state)

        # The finder takes ~40 ms on 1 M points: run it after the first paint of a new trace,
        # and once for a burst of spin-box steps.
        self._res_timer = QTimer(self)
        self._res_timer.setSingleShot(True)
        self._res_timer.setInterval(30)
        self._res_timer.timeout.connect(self.update_resonances)
        self._io_done.connect(self._on_io_done)
        traces.subscribe(self._sync)
        self.destroyed.connect(lambda *_: traces.unsubscribe(self._sync))
        self._sync()

    # -- store -> curves ------------------------------------------------------------------------
    @property
    def curves(self) -> dict[int, pg.PlotCurveItem]:
        """Return the drawn curve of each trace key (tests, benchmarks)."""
        return {key: c.curve for key, c in self._curves.items()}

    @property
    def store(self) -> TraceStore:
        """Return the TraceStore this view shows."""
        return self._traces

    @property
    def crosshair_wavelength_nm(self) -> float | None:
        """Return the crosshair's wavelength in nm, None while it is hidden."""
        return float(self._vline.value()) if self._vline.isVisible() else None

    @property
    def marker_point(self) -> tuple[float, float] | None:
        """Return the live marker dot (wavelength nm, y), None while it is hidden."""
        if not self._marker_point.isVisible():
            return None
        data = self._marker_point.data
        return (float(data["x"][0]), float(data["y"][0]))

    @property
    def resonance_marks(self) -> list[float]:
        """Return the wavelengths (nm) of the resonances marked on the plot."""
        if not self._res_points.isVisible():
            return []
        return [float(v) for v in self._res_points.data["x"]]

    @property
    def resonances(self) -> list[Resonance]:
        """Return the resonances listed in the table."""
        return list(self._resonances)

    def _sync(self) -> None:
        """Follow the store: add curves for new traces, drop curves of removed ones."""
        present = {t.key: t for t in self._traces}
        for key in [k for k in self._curves if k not in present]:
            self._drop_curve(key)
        added = False
        colours = trace_colours(self._theme)
        for key, trace in present.items():
            if key in self._curves:
                continue
            colour = QColor(colours[(key - 1) % len(colours)])
            tc = _TraceCurve(trace, colour)
            self._curves[key] = tc
            self.plot.getPlotItem().addItem(tc.curve)
            item = QListWidgetItem(trace.label)
            item.setData(Qt.ItemDataRole.UserRole, key)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked)
            item.setForeground(colour)
            item.setToolTip(self._trace_tooltip(trace))
            self.trace_list.blockSignals(True)
            self.trace_list.addItem(item)
            self.trace_list.blockSignals(False)
            added = True
        if added:
            self.trace_list.blockSignals(True)  # resonances follow below, once
            self.trace_list.setCurrentRow(self.trace_list.count() - 1)
            self.trace_list.blockSignals(False)
            self._update_axis_label()
            self.fit_all()
        else:
            self._redraw()
        self.schedule_resonances()
        self._follow_last_trace()

    def _drop_curve(self, key: int) -> None:
        tc = self._curves.pop(key)
        self.plot.getPlotItem().removeItem(tc.curve)
        self.legend.removeItem(tc.curve)
        for row in range(self.trace_list.count()):
            if self.trace_list.item(row).data(Qt.ItemDataRole.UserRole) == key:
                self.trace_list.takeItem(row)
                break

    def _trace_tooltip(self, trace: StoredTrace) -> str:
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

    def _update_axis_label(self) -> None:
        units = {c.trace.unit for c in self._curves.values()}
        unit = units.pop() if len(units) == 1 else "dB / dBm"
        name = "Transmission" if unit == "dB" else "Power"
        self.plot.getPlotItem().setLabel("left", name, units=unit)

    def _on_item_changed(self, item: QListWidgetItem) -> None:
        key = item.data(Qt.ItemDataRole.UserRole)
        tc = self._curves.get(key)
        if tc is None:
            return
        tc.visible = item.checkState() == Qt.CheckState.Checked
        tc.curve.setVisible(tc.visible)
        self._redraw()

    def selected_keys(self) -> list[int]:
        """Return the keys of the selected traces (the current one if none is selected)."""
        keys = [i.data(Qt.ItemDataRole.UserRole) for i in self.trace_list.selectedItems()]
        if not keys and self.trace_list.currentItem() is not None:
            keys = [self.trace_list.currentItem().data(Qt.ItemDataRole.UserRole)]
        return keys

    def current_trace(self) -> StoredTrace | None:
        """Return the trace whose resonances are listed (the current list row)."""
        item = self.trace_list.currentItem()
        if item is None:
            return None
        tc = self._curves.get(item.data(Qt.ItemDataRole.UserRole))
        return tc.trace if tc else None

    # -- drawing --------------------------------------------------------------------------------
    def fit_all(self) -> None:
        """Set the view to the union of every visible trace's full extent."""
        xs: list[float] = []
        ys: list[float] = []
        for tc in self._curves.values():
            if tc.visible and tc.trace.points:
                xs.extend(tc.trace.x_bounds)
                ys.extend(tc.trace.y_bounds)
        xs = [v for v in xs if math.isfinite(v)]
        ys = [v for v in ys if math.isfinite(v)]
        if not xs or not ys:
            return
        y0, y1 = min(ys), max(ys)
        pad = max((y1 - y0) * 0.05, 0.5)
        before = self.viewbox.viewRange()[0]
        self.viewbox.setRange(
            xRange=(min(xs), max(xs)), yRange=(y0 - pad, y1 + pad), padding=0.0
        )
        if self.viewbox.viewRange()[0] == before:
            self._redraw()  # no sigXRangeChanged came: the curves still need their data

    def _on_x_range(self, *_: object) -> None:
        self._redraw()

    def _redraw(self, *_: object) -> None:
        """Give every visible curve its visible slice, decimated to ~2 points per pixel column."""
        if not self._curves:
            self.redrawn.emit()
            return
        (x0, x1), _ = self.viewbox.viewRange()
        columns = max(int(self.viewbox.width()), 100)
        for tc in self._curves.values():
            if not tc.visible:
                continue
            trace = tc.trace
            x, y = decimate_visible(
                trace.wavelength_nm, trace.values, x0, x1, columns, has_nan=trace.has_nan
            )
            if trace.has_nan:
                tc.curve.setData(x, y, connect="finite")
            else:
                tc.curve.setData(x, y, connect="all", skipFiniteCheck=True)
        self.redrawn.emit()

    def changeEvent(self, event: QEvent) -> None:
        """Follow a theme switch (style sheet change) with the plot colours."""
        super().changeEvent(event)
        if event.type() in (QEvent.Type.StyleChange, QEvent.Type.PaletteChange):
            # theme.apply_theme sets the style sheet before pyqtgraph's colours: look after it.
            QTimer.singleShot(0, self._follow_theme)

    def _follow_theme(self) -> None:
        theme = current_theme()
        if theme is not self._theme:
            self.set_theme(theme)

    def set_theme(self, theme: Theme) -> None:
        """Recolour plot, curves, crosshair, marker and legend for a theme (dark or light)."""
        self._apply_theme(theme)

    def _apply_theme(self, theme: Theme) -> None:
        self._theme = theme
        self.plot.setBackground(theme.background)
        item = self.plot.getPlotItem()
        for axis in ("left", "bottom"):
            item.getAxis(axis).setPen(theme.foreground)
            item.getAxis(axis).setTextPen(theme.foreground)
        colours = trace_colours(theme)
        for key, tc in self._curves.items():
            tc.colour = QColor(colours[(key - 1) % len(colours)])
            tc.curve.setPen(pg.mkPen(tc.colour, width=1))
        pen = pg.mkPen(theme.crosshair, width=1, style=Qt.PenStyle.DotLine)
        self._vline.setPen(pen)
        self._hline.setPen(pen)
        self._marker_text.setColor(theme.foreground)
        self._style_legend()

    def _style_legend(self) -> None:
        """Give the legend a translucent theme background so it stays readable over curves."""
        background = QColor(self._theme.background)
        background.setAlpha(200)
        self.legend.setBrush(pg.mkBrush(background))
        self.legend.setPen(pg.mkPen(self._theme.dim))
        self.legend.setLabelTextColor(self._theme.foreground)

    # -- cursor ---------------------------------------------------------------------------------
    def _on_mouse_moved(self, args: Sequence[object]) -> None:
        pos = args[0]
        if not isinstance(pos, QPointF) or not self.viewbox.sceneBoundingRect().contains(pos):
            self._vline.hide()
            self._hline.hide()
            return
        point = self.viewbox.mapSceneToView(pos)
        self.show_cursor(point.x(), point.y())

    def show_cursor(self, wavelength_nm: float, y: float) -> None:
        """Put the crosshair at (wavelength nm, y) and show the readout of the current trace."""
        self._vline.setPos(wavelength_nm)
        self._hline.setPos(y)
        self._vline.show()
        self._hline.show()
        self.cursor_label.setText(self.cursor_text(wavelength_nm, y))

    def cursor_text(self, wavelength_nm: float, y: float) -> str:
        """Return the readout text at a cursor position (wavelength nm, y in the axis unit)."""
        parts = [f"λ {wavelength_nm:.4f} nm"]
        if wavelength_nm > 0:
            parts.append(f"{C_NM_PER_S / wavelength_nm / 1e12:.5f} THz")
        parts.append(f"cursor {y:.2f}")
        trace = self.current_trace()
        if trace is not None:
            value = trace.value_at(wavelength_nm)
            if math.isfinite(value):
                parts.append(f"{trace.label}: {value:.3f} {trace.unit}")
        return " · ".join(parts)

    # -- resonances -----------------------------------------------------------------------------
    def schedule_resonances(self) -> None:
        """Update the resonance table shortly, after the plot has been painted."""
        self._res_timer.start()

    def update_resonances(self) -> None:
        """List the deepest dips or highest peaks of the current trace and mark them."""
        trace = self.current_trace()
        kind = self.res_kind.currentData()
        count = self.res_count.value()
        key = (trace.key, kind, count) if trace is not None else None
        if key is not None and key == self._resonance_key:
            return  # same trace and question: ~40 ms on 1 M points is not worth repeating
        self._resonance_key = key
        self._resonances = (
            find_resonances(trace.wavelength_nm, trace.values, kind=kind, count=count)
            if trace is not None
            else []
        )
        self.res_table.setRowCount(len(self._resonances))
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
                self.res_table.setItem(row, col, cell)
        if self._resonances:
            self._res_points.setData(
                [r.wavelength_nm for r in self._resonances],
                [r.value for r in self._resonances],
                symbol="t" if kind == "dip" else "t1",
            )
            self._res_points.show()
        else:
            self._res_points.hide()
        self.resonances_changed.emit(self.resonances)

    def _zoom_to_resonance(self, row: int, _col: int) -> None:
        if not 0 <= row < len(self._resonances):
            return
        res = self._resonances[row]
        (x0, x1), _ = self.viewbox.viewRange()
        half = min((x1 - x0) / 2, 0.5)  # 1 nm window at most: a resonance is narrow
        self.viewbox.setXRange(res.wavelength_nm - half, res.wavelength_nm + half, padding=0)

    # -- live marker ----------------------------------------------------------------------------
    def _on_marker_toggled(self, on: bool) -> None:
        if on:
            self._follow_last_trace()
        else:
            self._marker_timer.stop()
            for marker in (self._marker_line, self._marker_point, self._marker_text):
                marker.hide()

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
        """Ask the instrument for the marked detector's wavelength (nm) through the queue."""
        source = self._live_source
        status = getattr(self._controller, "status", None)
        if source is None or status is None or status.state not in _ONLINE:
            return
        if status.state is LinkState.BUSY:
            return  # a sweep moves no detector setting; ask again after it
        module, channel = source

        def done(wavelength: object) -> None:
            if self._live_source == source:
                self._live_wavelength_nm = float(wavelength)  # type: ignore[arg-type]
                self._draw_marker()

        def failed(exc: Exception) -> None:
            log.warning("live marker: cannot read detector %d/%d wavelength: %s", *source, exc)

        self._controller.request(
            lambda ctp10: ctp10.detector(module, channel).wavelength_nm, done, failed
        )

    def _on_state(self, status: Any) -> None:
        if status.state in (LinkState.CONNECTED, LinkState.LIVE):
            self.read_marker_wavelength()

    def _on_batch(self, batch: Any) -> None:
        source = self._live_source
        if source is None or batch.module != source[0] or source[1] not in batch.channels:
            return
        column = batch.values_dbm[:, batch.channels.index(source[1])]
        finite = column[np.isfinite(column)]
        self._live_power_dbm = float(finite[-1]) if finite.size else None
        if not self._marker_draw_timer.isActive():
            self._marker_draw_timer.start()

    @property
    def marker_text(self) -> str:
        """Return the live marker's label ("" when hidden)."""
        return self._marker_text.toPlainText() if self._marker_text.isVisible() else ""

    def _draw_marker(self) -> None:
        wavelength = self._live_wavelength_nm
        last = self._traces.last
        if (
            not self.marker_check.isChecked()
            or wavelength is None
            or last is None
            or last.key not in self._curves
        ):
            for marker in (self._marker_line, self._marker_point, self._marker_text):
                marker.hide()
            return
        power = self._live_power_dbm
        on_trace = last.value_at(wavelength)
        # On a raw (dBm) trace the live power itself is comparable; on a TF (dB) trace the dot
        # sits on the trace and the label carries the live dBm value.
        y = power if (last.unit == "dBm" and power is not None) else on_trace
        power_text = f"{power:.2f} dBm" if power is not None else "no live power"
        self._marker_line.setPos(wavelength)
        self._marker_line.show()
        if y is not None and math.isfinite(y):
            self._marker_point.setData([wavelength], [y])
            self._marker_point.show()
            self._marker_text.setPos(wavelength, y)
        else:
            self._marker_point.hide()
            y1 = self.viewbox.viewRange()[1][1]
            self._marker_text.setPos(wavelength, y1)
        self._marker_text.setText(f" live {power_text} @ {wavelength:.3f} nm")
        # Right of the middle the label hangs to the left of the marker, or it runs off the plot.
        x0, x1 = self.viewbox.viewRange()[0]
        self._marker_text.setAnchor((1, 1) if wavelength > (x0 + x1) / 2 else (0, 1))
        self._marker_text.show()

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
            self, "Export traces", "trace.csv", "CSV with JSON metadata (*.csv);;NumPy (*.npy)"
        )
        if not path:
            return
        if not Path(path).suffix:
            path += ".npy" if "npy" in chosen else ".csv"
        self.export(keys, path)

    def export(self, keys: Sequence[int], path: str | Path) -> None:
        """Write traces in a background thread; one file per trace ("_<label>" when several)."""
        target = Path(path)
        jobs: list[tuple[StoredTrace, Path]] = []
        for key in keys:
            trace = self._traces.get(key)
            name = target
            if len(keys) > 1:
                tag = trace.label.replace(" ", "_").replace("(", "").replace(")", "")
                name = target.with_name(f"{target.stem}_{tag}{target.suffix}")
            jobs.append((trace, name))

        def work() -> list[Path]:
            written: list[Path] = []
            for trace, name in jobs:
                written.extend(export_trace(trace, name))
            return written

        self._run_io("export", work, f"Exporting {len(jobs)} trace(s) to {target.parent}…")

    def open_dialog(self) -> None:
        """Ask for exported files and load them into the view."""
        paths, _ = QFileDialog.getOpenFileNames(
            self, "Open traces", "", "Exported traces (*.csv *.npy);;All files (*)"
        )
        if paths:
            self.open_files(paths)

    def open_files(self, paths: Sequence[str | Path]) -> None:
        """Read exported traces in a background thread, then add them to the store."""
        files = [Path(p) for p in paths]

        def work() -> list[tuple[Path, tuple[np.ndarray, np.ndarray, dict[str, Any]]]]:
            return [(p, load_trace_file(p)) for p in files]

        self._run_io("open", work, f"Opening {len(files)} file(s)…")

    def _run_io(self, kind: str, work: Any, note: str) -> None:
        if self._io_busy:
            self.show_message("Still writing or reading files; try again when it is done.", "error")
            return
        self._io_busy = True
        self.export_button.setEnabled(False)
        self.open_button.setEnabled(False)
        self.show_message(note, "hint")

        def run() -> None:
            # File I/O off the GUI thread: a 940 001-row CSV takes seconds to format or parse.
            try:
                result = work()
            except (OSError, ValueError) as exc:
                self._io_done.emit(kind, None, str(exc))
            except Exception as exc:  # anything else: still re-enable the buttons and say it
                log.exception("trace %s failed", kind)
                self._io_done.emit(kind, None, f"unexpected error: {exc!r}")
            else:
                self._io_done.emit(kind, result, "")

        threading.Thread(target=run, name=f"trace-{kind}", daemon=True).start()

    def _on_io_done(self, kind: str, result: Any, error: str) -> None:
        self._io_busy = False
        self.export_button.setEnabled(True)
        self.open_button.setEnabled(True)
        if kind == "export":
            if error:
                self.show_message(f"Export failed: {error}", "error")
            else:
                self.show_message(f"Exported {', '.join(p.name for p in result)}", "ok")
            self.export_finished.emit(result or [], error)
            return
        added: list[StoredTrace] = []
        if error:
            self.show_message(f"Open failed: {error}", "error")
        else:
            for path, (x, y, meta) in result:
                added.append(
                    self._traces.add_arrays(
                        x, y,
                        unit=str(meta.get("y_unit", "dB")),
                        module=_opt_int(meta.get("module")),
                        channel=_opt_int(meta.get("channel")),
                        trace_type=_opt_int(meta.get("trace_type")),
                        metadata=meta,
                        source=str(path),
                    )
                )
            self.show_message(f"Opened {', '.join(t.label for t in added)}", "ok")
        self.open_finished.emit(added, error)

    def show_message(self, text: str, role: str = "hint") -> None:
        """Show a status line under the plot ("hint", "ok" or "error")."""
        self.message.setText(text)
        self.message.setProperty("role", role)
        repolish(self.message)
        self.message.setVisible(bool(text))


def _opt_int(value: object) -> int | None:
    return None if value is None else int(value)  # type: ignore[call-overload]

