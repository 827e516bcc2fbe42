"""The spectral trace plot: decimated curves, crosshair, resonance marks and the live marker.

A 1 M-point trace is never handed to Qt whole: on every x-range change each curve gets the
visible slice reduced to its min and max per pixel column (PlotCurveItem, 1-px cosmetic pen,
no finite check when the trace has no NaN). First draw ≈ 10 ms, pan redraw ≈ 5 ms for 1 M
points here (benchmarks/bench_trace.py); pyqtgraph's own path is 114/77 ms.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QWidget

from ctp10_gui.models.decimation import decimate_visible
from ctp10_gui.models.resonance import ResonanceMetrics
from ctp10_gui.models.traces import StoredTrace
from ctp10_gui.views.theme import DARK, Theme

__all__ = ["TracePlot"]


class _TraceCurve:
    """The drawn state of one stored trace: its curve, colour and visibility."""

    def __init__(self, trace: StoredTrace, colour: QColor) -> None:
        self.trace = trace
        self.colour = colour
        pen = pg.mkPen(colour, width=1)  # width 1 is cosmetic: 5–6× faster than 2
        self.curve = pg.PlotCurveItem(pen=pen, name=trace.label, antialias=False)
        self.curve.setZValue(10)
        self.visible = True


class TracePlot(pg.PlotWidget):
    """Overlay of stored traces, drawn decimated to the visible wavelength range."""

    redrawn = Signal()  # curves were re-decimated for the current view (tests, benchmarks)
    cursor_moved = Signal(float, float)  # (wavelength nm, y) under the mouse

    def __init__(self, theme: Theme = DARK, parent: QWidget | None = None) -> None:
        super().__init__(parent, background=theme.background)
        self.setObjectName("tracePlot")
        self._theme = theme
        self._curves: dict[int, _TraceCurve] = {}
        item = self.getPlotItem()
        item.hideButtons()  # the "A" button would auto-range to the decimated slice only
        item.setLabel("bottom", "Wavelength", units="nm")
        item.getAxis("bottom").enableAutoSIPrefix(False)
        item.setLabel("left", "Transmission", units="dB")
        item.getAxis("left").enableAutoSIPrefix(False)
        item.showGrid(x=True, y=True, alpha=theme.grid_alpha)
        for axis in ("left", "bottom"):
            # Grid lines at the labelled ticks only: each finer level of translucent lines
            # costs more than the curve itself in software rendering (1200×700 pan redraw,
            # interleaved medians: 3 levels 46 ms, 2 levels 24 ms, 1 level 13 ms, none 11 ms).
            item.getAxis(axis).setStyle(maxTickLevel=0)
        self.legend = item.addLegend(offset=(-10, 10))
        self.viewbox = item.getViewBox()
        self.viewbox.disableAutoRange()
        self.viewbox.sigXRangeChanged.connect(self._on_x_range)
        self.viewbox.sigResized.connect(self.redraw)

        self._vline = pg.InfiniteLine(angle=90, movable=False)
        self._hline = pg.InfiniteLine(angle=0, movable=False)
        for line in (self._vline, self._hline):
            line.setZValue(20)
            line.hide()
            item.addItem(line, ignoreBounds=True)
        self._mouse_proxy = pg.SignalProxy(
            self.scene().sigMouseMoved, rateLimit=60, slot=self._on_mouse_moved
        )
        self._res_points = pg.ScatterPlotItem(size=9, symbol="t", brush=None)
        self._res_points.setZValue(15)
        item.addItem(self._res_points, ignoreBounds=True)
        self._marker_line = pg.InfiniteLine(angle=90, movable=False)
        self._marker_point = pg.ScatterPlotItem(size=12, symbol="o")
        self._marker_text = pg.TextItem(anchor=(0, 1))
        for marker in (self._marker_line, self._marker_point, self._marker_text):
            marker.setZValue(30)
            marker.hide()
            item.addItem(marker, ignoreBounds=True)
        self.set_theme(theme)

    # -- what is drawn ------------------------------------------------------------------------
    @property
    def curves(self) -> dict[int, pg.PlotCurveItem]:
        """Return the drawn curve of each trace key (tests, benchmarks)."""
        return {key: c.curve for key, c in self._curves.items()}

    def trace(self, key: int) -> StoredTrace | None:
        """Return the drawn trace of key, None if it is not drawn."""
        tc = self._curves.get(key)
        return tc.trace if tc is not None else None

    def colour(self, key: int) -> QColor:
        """Return the colour trace key is drawn in (Okabe–Ito by key)."""
        colours = self._theme.channel_colours
        return QColor(colours[(key - 1) % len(colours)])

    @property
    def crosshair_wavelength_nm(self) -> float | None:
        """Return the crosshair's wavelength in nm, None while it is hidden."""
        return float(self._vline.value()) if self._vline.isVisible() else None

    @property
    def resonance_marks(self) -> list[float]:
        """Return the wavelengths (nm) of the resonances marked on the plot."""
        if not self._res_points.isVisible():
            return []
        return [float(v) for v in self._res_points.data["x"]]

    @property
    def marker_point(self) -> tuple[float, float] | None:
        """Return the live marker dot (wavelength nm, y), None while it is hidden."""
        if not self._marker_point.isVisible():
            return None
        data = self._marker_point.data
        return (float(data["x"][0]), float(data["y"][0]))

    @property
    def marker_text(self) -> str:
        """Return the live marker's label ("" when hidden)."""
        return str(self._marker_text.toPlainText()) if self._marker_text.isVisible() else ""

    # -- traces -------------------------------------------------------------------------------
    def sync(self, traces: Sequence[StoredTrace]) -> list[StoredTrace]:
        """Draw exactly these traces; return the ones newly added (fitted into view if any)."""
        present = {t.key: t for t in traces}
        for key in [k for k in self._curves if k not in present]:
            tc = self._curves.pop(key)
            self.getPlotItem().removeItem(tc.curve)
            self.legend.removeItem(tc.curve)
        added: list[StoredTrace] = []
        for key, trace in present.items():
            if key in self._curves:
                continue
            tc = _TraceCurve(trace, self.colour(key))
            self._curves[key] = tc
            self.getPlotItem().addItem(tc.curve)
            added.append(trace)
        if added:
            self._update_axis_label()
            self.fit_all()
        else:
            self.redraw()
        return added

    def set_trace_visible(self, key: int, visible: bool) -> None:
        """Show or hide trace key's curve."""
        tc = self._curves.get(key)
        if tc is None:
            return
        tc.visible = visible
        tc.curve.setVisible(visible)
        self.redraw()

    def _update_axis_label(self) -> None:
        units = {c.trace.unit for c in self._curves.values()}
        unit = units.pop() if len(units) == 1 else "dB / dBm"
        name = "Transmission" if unit == "dB" else "Power"
        self.getPlotItem().setLabel("left", name, units=unit)

    # -- drawing ------------------------------------------------------------------------------
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
            self.redraw()  # no sigXRangeChanged came: the curves still need their data

    def zoom_to(self, start_nm: float, stop_nm: float) -> None:
        """Show start–stop nm, with y fitted to the visible traces' data in that span."""
        ys: list[float] = []
        for tc in self._curves.values():
            if not tc.visible:
                continue
            x = tc.trace.wavelength_nm
            lo, hi = np.searchsorted(x, (start_nm, stop_nm), side="left")
            part = tc.trace.values[lo:min(hi + 1, x.size)]
            part = part[np.isfinite(part)] if tc.trace.has_nan else part
            if part.size:
                ys.extend((float(part.min()), float(part.max())))
        if ys:
            y0, y1 = min(ys), max(ys)
            pad = max((y1 - y0) * 0.05, 0.05)
            self.viewbox.setRange(xRange=(start_nm, stop_nm), yRange=(y0 - pad, y1 + pad),
                                  padding=0.0)
        else:
            self.viewbox.setXRange(start_nm, stop_nm, padding=0.0)

    def _on_x_range(self, *_: object) -> None:
        self.redraw()

    def redraw(self, *_: object) -> None:
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

    # -- theme --------------------------------------------------------------------------------
    def set_theme(self, theme: Theme) -> None:
        """Recolour background, axes, curves, crosshair, marks, marker and legend."""
        self._theme = theme
        self.setBackground(theme.background)
        item = self.getPlotItem()
        for axis in ("left", "bottom"):
            item.getAxis(axis).setPen(theme.foreground)
            item.getAxis(axis).setTextPen(theme.foreground)
        item.showGrid(x=True, y=True, alpha=theme.grid_alpha)
        for key, tc in self._curves.items():
            tc.colour = self.colour(key)
            tc.curve.setPen(pg.mkPen(tc.colour, width=1))
        crosshair = pg.mkPen(theme.crosshair, width=1, style=Qt.PenStyle.DotLine)
        self._vline.setPen(crosshair)
        self._hline.setPen(crosshair)
        self._res_points.setPen(pg.mkPen(theme.foreground))
        self._marker_line.setPen(pg.mkPen(theme.foreground, width=1,
                                          style=Qt.PenStyle.DashLine))
        self._marker_point.setPen(pg.mkPen(theme.foreground, width=1))
        self._marker_point.setBrush(pg.mkBrush(theme.foreground))
        self._marker_text.setColor(theme.foreground)
        # A translucent theme background keeps the legend readable over the curves.
        background = QColor(theme.background)
        background.setAlpha(200)
        self.legend.setBrush(pg.mkBrush(background))
        self.legend.setPen(pg.mkPen(theme.dim))
        self.legend.setLabelTextColor(theme.foreground)
        for _sample, label in self.legend.items:
            label.setText(label.text)  # setLabelTextColor colours only labels drawn later

    # -- crosshair ----------------------------------------------------------------------------
    def _on_mouse_moved(self, args: Sequence[object]) -> None:
        pos = args[0]
        if not isinstance(pos, QPointF) or not self.viewbox.sceneBoundingRect().contains(pos):
            self._vline.hide()
            self._hline.hide()
            return
        point = self.viewbox.mapSceneToView(pos)
        self.show_crosshair(point.x(), point.y())
        self.cursor_moved.emit(point.x(), point.y())

    def show_crosshair(self, wavelength_nm: float, y: float) -> None:
        """Put the crosshair at (wavelength nm, y in the axis unit)."""
        self._vline.setPos(wavelength_nm)
        self._hline.setPos(y)
        self._vline.show()
        self._hline.show()

    # -- resonance marks ----------------------------------------------------------------------
    def mark_resonances(self, resonances: Sequence[ResonanceMetrics]) -> None:
        """Mark resonances on the plot (▼ under a dip, ▲ over a peak); none hides the marks."""
        if not resonances:
            self._res_points.hide()
            return
        self._res_points.setData(
            [r.wavelength_nm for r in resonances],
            [r.value for r in resonances],
            symbol="t" if resonances[0].kind == "dip" else "t1",
        )
        self._res_points.show()

    # -- live marker --------------------------------------------------------------------------
    def hide_marker(self) -> None:
        """Hide the live marker's line, dot and label."""
        for marker in (self._marker_line, self._marker_point, self._marker_text):
            marker.hide()

    def show_marker(self, wavelength_nm: float, y: float | None, text: str) -> None:
        """Draw the live marker at wavelength_nm; the dot at y when finite; text as its label."""
        self._marker_line.setPos(wavelength_nm)
        self._marker_line.show()
        if y is not None and math.isfinite(y):
            self._marker_point.setData([wavelength_nm], [y])
            self._marker_point.show()
            self._marker_text.setPos(wavelength_nm, y)
        else:
            self._marker_point.hide()
            self._marker_text.setPos(wavelength_nm, self.viewbox.viewRange()[1][1])
        self._marker_text.setText(text)
        # Right of the middle the label hangs to the left of the marker, or it runs off the plot.
        x0, x1 = self.viewbox.viewRange()[0]
        self._marker_text.setAnchor((1, 1) if wavelength_nm > (x0 + x1) / 2 else (0, 1))
        self._marker_text.show()
