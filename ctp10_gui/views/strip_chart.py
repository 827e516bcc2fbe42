"""Live strip chart of the app's LiveHistory: fixed x range, paced frames, min/max decimation."""

from __future__ import annotations

import logging
import math
import re
import time
from collections import deque
from collections.abc import Callable, Mapping

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QObject, QPointF, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QGraphicsItem,
    QGraphicsScene,
    QGraphicsView,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from ctp10_gui.hardware.power import ChannelStatus
from ctp10_gui.models.live_history import HistoryChange, LiveHistory
from ctp10_gui.models.y_autorange import YAutoRange
from ctp10_gui.views.strip_chart_cursor import (
    SeriesKey,
    derived_legend,
    nearest_sample,
    readout,
    series_keys,
    series_name,
)
from ctp10_gui.views.strip_chart_items import GridItem, LiveCurve, PlotView, TimeAxis
from ctp10_gui.views.theme import Theme, repolish

log = logging.getLogger(__name__)

_RANGE_WORDS = {
    int(ChannelStatus.UNDER): "\u25bc under range",
    int(ChannelStatus.OVER): "\u25b2 over range",
}


def _plain(rich: str) -> str:
    """Return rich text without its tags and with spaces for &nbsp;."""
    return re.sub(r"<[^>]+>", "", rich).replace("&nbsp;", " ")


WINDOWS_S: dict[str, float] = {"10 s": 10.0, "1 min": 60.0, "10 min": 600.0, "1 h": 3600.0}
# Frames/s cap. Batches arrive every ≤ 20 ms and each gets its frame at once (reply-to-pixel
# latency); the cap only stops bursts of batches from drawing more often than a display shows.
DEFAULT_MAX_FPS = 60.0
SCROLL_FRAME_S = 1.0 / 30.0  # without new data, scroll at most 30 times a second


class StripChart(QWidget):
    """Strip chart of power (dBm, or dB relative to a channel's reference) against time.

    Draws the LiveHistory it is given; the app feeds that history, the chart only reads it.
    """

    window_changed = Signal(float)
    paused_changed = Signal(bool)

    def __init__(
        self, theme: Theme, history: LiveHistory, *, window_s: float = 60.0,
        min_span_db: float = 1.0, max_fps: float = DEFAULT_MAX_FPS,
        clock: Callable[[], float] = time.monotonic, parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._theme = theme
        self._clock = clock
        self._window_s = window_s
        self.history = history
        self._channels: tuple[int, ...] = ()
        self._keys: tuple[SeriesKey, ...] = ()  # measured channels, then derived names
        self._visible: dict[SeriesKey, bool] = {}
        self._references: dict[int, float] = {}
        self._paused = False
        self._frozen_until: float | None = None
        self._dirty = True  # something to draw: the next tick asks for a frame
        # The whole picture must be redrawn (not just newly appended samples): set by every
        # change but a plain append.
        self._full = True
        self._frame_key: tuple[float, int, float] | None = None  # (now, columns, window) drawn
        self._oldest_new_t: float | None = None  # oldest sample appended since the last frame
        self._frame_now = clock()
        self._drawn_newest_t = -math.inf
        self.autoscale = YAutoRange(min_span_db)
        self._auto_y = True
        self._setting_range = False
        self.frames = 0
        # (paint end, newest sample drawn) per frame; the benchmark reads it for latency.
        self.frame_log: deque[tuple[float, float]] = deque(maxlen=20_000)
        self._build_ui()
        # Frames are paced, never per sample: new data asks for a frame, which comes at once
        # if the last one is at least 1/max_fps old, else when it is (≤ 60 Hz).
        self._min_frame_s = 1.0 / min(max(max_fps, 1.0), 60.0)
        self._last_frame_t = 0.0  # monotonic s of the last frame
        self._frame_timer = QTimer(self)
        self._frame_timer.setSingleShot(True)
        self._frame_timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._frame_timer.timeout.connect(self._frame)
        # Without data (outage, idle) time still moves: this timer scrolls the picture.
        self._timer = QTimer(self)
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.setInterval(max(1, round(1000.0 * self._min_frame_s)))
        self._timer.timeout.connect(self._tick)
        self.set_window(window_s)
        self._timer.start()
        history.subscribe(self._history_changed)
        self._rebuild_curves()

    # ---- construction -------------------------------------------------------------------
    def _build_ui(self) -> None:
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        bar = QHBoxLayout()
        bar.setContentsMargins(4, 2, 4, 2)
        self._title = QLabel("No data yet", self)
        self._title.setProperty("role", "hint")
        bar.addWidget(self._title)
        self._toggle_box = QHBoxLayout()
        bar.addLayout(self._toggle_box)
        self._toggles: dict[SeriesKey, QPushButton] = {}
        self._names: dict[int, str] = {}  # channel titles for the toggles; missing: "CH n"
        bar.addStretch(1)
        self.window_combo = QComboBox(self)
        self.window_combo.addItems(list(WINDOWS_S))
        self.window_combo.setToolTip("Time window shown (the last hour is always kept)")
        self.window_combo.currentTextChanged.connect(lambda t: self.set_window(WINDOWS_S[t]))
        bar.addWidget(self.window_combo)
        self.span_spin = QDoubleSpinBox(self)
        self.span_spin.setRange(0.01, 100.0)
        self.span_spin.setDecimals(2)
        self.span_spin.setSingleStep(0.5)
        self.span_spin.setSuffix(" dB")
        self.span_spin.setValue(self.autoscale.min_span)
        self.span_spin.setToolTip(
            "Minimum y span of the autoscale (dB), so noise does not fill the plot")
        self.span_spin.valueChanged.connect(self.set_min_span)
        bar.addWidget(self.span_spin)
        self.fit_button = QPushButton("Fit", self)
        self.fit_button.setToolTip("Autoscale y to the visible data again")
        self.fit_button.clicked.connect(self.fit)
        bar.addWidget(self.fit_button)
        self.pause_button = QPushButton("Pause", self)
        self.pause_button.setCheckable(True)
        self.pause_button.setToolTip("Freeze the picture; data keeps being recorded (Space)")
        self.pause_button.toggled.connect(self.set_paused)
        bar.addWidget(self.pause_button)
        layout.addLayout(bar)

        self._axis = TimeAxis()
        self.plot = PlotView(self._axis, self._painted)
        self.plot.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        item = self.plot.getPlotItem()
        item.hideButtons()
        item.setMenuEnabled(False)
        item.setLabel("left", "power (dBm)")
        for name in ("left", "bottom"):
            # Axes change only with the ranges: a device pixmap cache spares re-laying out
            # their text whenever a frame's dirty rectangle touches them.
            item.getAxis(name).setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        # Curves change shape every frame: a BSP index would be rebuilt each time for nothing.
        self.plot.scene().setItemIndexMethod(QGraphicsScene.ItemIndexMethod.NoIndex)
        # One dirty rectangle per frame. pyqtgraph's MinimalViewportUpdate clips the paint to the
        # union of the four curves' rectangles, a multi-rectangle region through which the
        # raster engine strokes a 1-px line 3–8× slower (bench_strip_chart.py: 2.9 vs 0.8 ms a
        # curve); the curves span the plot anyway, so the bounding rectangle paints no more.
        self.plot.setViewportUpdateMode(
            QGraphicsView.ViewportUpdateMode.BoundingRectViewportUpdate)
        # The view paints its cached background over every exposed pixel: erasing first (the
        # widget's own background fill) is a second full fill of the dirty area per frame.
        self.plot.viewport().setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent, True)
        self._vb = item.getViewBox()
        self._vb.setMouseEnabled(x=False, y=True)  # x is time-before-now: fixed by design
        self._vb.enableAutoRange(x=False, y=False)
        self._vb.setDefaultPadding(0.0)
        self._vb.sigRangeChangedManually.connect(self._manual_range)
        self._grid = GridItem(self._vb, item.getAxis("bottom"), item.getAxis("left"))
        item.addItem(self._grid, ignoreBounds=True)
        self._apply_window_range()
        self._curves: dict[SeriesKey, LiveCurve] = {}
        self._bands: list[pg.LinearRegionItem] = []
        self._vline = pg.InfiniteLine(angle=90, movable=False)
        self._vline.setZValue(20)
        self._vline.hide()
        item.addItem(self._vline, ignoreBounds=True)
        # Under or over range draws no curve: without a word the plot would look empty for
        # no reason while the fiber is still far off. Says what the newest sample is.
        self.range_label = QLabel("", self.plot)
        self.range_label.setTextFormat(Qt.TextFormat.RichText)
        self.range_label.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.range_label.hide()
        self._range_text = ""
        self.crosshair_label = QLabel("", self)
        self.crosshair_label.setProperty("role", "detail")
        self.crosshair_label.setAlignment(Qt.AlignmentFlag.AlignRight)
        self._cursor_scene: QPointF | None = None  # where the mouse rests on the plot
        self.plot.scene().sigMouseMoved.connect(self._mouse_moved)
        self.plot.viewport().installEventFilter(self)
        layout.addWidget(self.plot, 1)
        layout.addWidget(self.crosshair_label)
        self.apply_theme(self._theme)

    # ---- public API ---------------------------------------------------------------------
    @property
    def window_s(self) -> float:
        """Return the visible time span (s)."""
        return self._window_s

    @property
    def paused(self) -> bool:
        """Return True while the picture is frozen."""
        return self._paused

    @property
    def channels(self) -> tuple[int, ...]:
        """Return the channels the history holds."""
        return self._channels

    @property
    def auto_y(self) -> bool:
        """Return True while the y range follows the data."""
        return self._auto_y

    def apply_theme(self, theme: Theme) -> None:
        """Restyle background, axes, curves and bands for theme."""
        self._theme = theme
        self.plot.setBackground(theme.background)
        item = self.plot.getPlotItem()
        for name in ("left", "bottom"):
            axis = item.getAxis(name)
            axis.setPen(pg.mkPen(theme.foreground))
            axis.setTextPen(pg.mkPen(theme.foreground))
        self._grid.set_style(theme.foreground, theme.background, theme.grid_alpha)
        self._vline.setPen(pg.mkPen(theme.crosshair, width=1, style=Qt.PenStyle.DashLine))
        for ch, curve in self._curves.items():
            curve.setPen(self._pen(ch))
        for band in self._bands:
            band.setBrush(pg.mkBrush(theme.outage_brush))
        # A veil of the background under the range note, so grid and curves do not cross it.
        veil = QColor(theme.background)
        self.range_label.setStyleSheet(
            f"QLabel {{ background-color: rgba({veil.red()}, {veil.green()}, {veil.blue()}, 210);"
            " border-radius: 3px; padding: 1px 5px; }")
        self._range_text = "\0"  # matches no text: the next frame rebuilds it in new colours
        self._rebuild_toggles()
        self._invalidate()

    def _history_changed(self, change: HistoryChange) -> None:
        """Follow the history: new curves for new channels, a frame for new samples."""
        if change.layout:
            self._rebuild_curves()
        if change.full:
            self._invalidate()
        if change.oldest_new_t is not None:
            if self._oldest_new_t is None:
                self._oldest_new_t = change.oldest_new_t
            self._dirty = True
            self._request_frame()

    def _rebuild_curves(self) -> None:
        """Make one curve per series of the history (a new layout restarts the picture)."""
        self._channels = self.history.channels
        self._keys = series_keys(self.history)
        self.autoscale.range = None
        item = self.plot.getPlotItem()
        for curve in self._curves.values():
            item.removeItem(curve)
        self._curves = {}
        for key in self._keys:
            curve = LiveCurve(self._pen(key))
            curve.setZValue(10)
            # The chart sets both ranges itself: the view box need not track curve bounds.
            item.addItem(curve, ignoreBounds=True)
            self._curves[key] = curve
            self._visible.setdefault(key, True)
            curve.setVisible(self._visible[key])
        self._title.setText(f"Module {self.history.module}")
        self._rebuild_toggles()
        self._invalidate()

    @property
    def outages(self) -> list[tuple[float, float | None]]:
        """Return outage intervals (monotonic s; end None while open) still in the history."""
        return self.history.outages()

    def set_window(self, seconds: float) -> None:
        """Show the last seconds (s, one of WINDOWS_S preferred)."""
        self._window_s = float(seconds)
        label = next((k for k, v in WINDOWS_S.items() if v == seconds), None)
        if label is not None and self.window_combo.currentText() != label:
            self.window_combo.setCurrentText(label)
        self._apply_window_range()
        self._invalidate()
        self.window_changed.emit(self._window_s)

    def set_paused(self, paused: bool) -> None:
        """Freeze (True) or resume (False) the picture; data is kept either way."""
        self._paused = paused
        # Frozen means frozen: later samples stay out of the picture even when it is redrawn
        # (a channel toggled, a reference set) until the user resumes.
        self._frozen_until = self.history.latest_t if paused else None
        if self.pause_button.isChecked() != paused:
            self.pause_button.setChecked(paused)
        self.pause_button.setText("Resume" if paused else "Pause")
        self._invalidate()
        self.paused_changed.emit(paused)

    def set_channel_visible(self, channel: SeriesKey, visible: bool) -> None:
        """Show or hide one curve: a channel (number) or a derived channel (name)."""
        self._visible[channel] = visible
        self.autoscale.range = None  # a user choice: frame what is shown now, no hysteresis
        if channel in self._curves:
            self._curves[channel].setVisible(visible)
        button = self._toggles.get(channel)
        if button is not None and button.isChecked() != visible:
            button.setChecked(visible)
        self._invalidate()

    def set_references(self, references: dict[int, float]) -> None:
        """Plot channel c as dB relative to references[c] (dBm); others stay in dBm."""
        if references != self._references:
            self._references = dict(references)
            self.autoscale.range = None
            self._update_y_label()
            self._invalidate()

    def set_min_span(self, db: float) -> None:
        """Set the autoscale minimum y span (dB)."""
        self.autoscale.min_span = float(db)
        if abs(self.span_spin.value() - db) > 1e-9:
            self.span_spin.setValue(db)
        self.autoscale.range = None
        self._invalidate()

    def fit(self) -> None:
        """Return to autoscale and frame the visible data now."""
        self._auto_y = True
        self.autoscale.range = None
        self._invalidate()
        self.redraw()

    def visible_curve_data(self, channel: SeriesKey) -> tuple[np.ndarray, np.ndarray]:
        """Return the x (s before now) and y arrays last drawn for a channel or derived name."""
        x, y = self._curves[channel].getData()
        return np.asarray(x), np.asarray(y)

    def visible_bands(self) -> list[tuple[float, float]]:
        """Return the shaded outage bands drawn, as (x0, x1) in s before now."""
        return [tuple(b.getRegion()) for b in self._bands if b.isVisible()]

    def y_range(self) -> tuple[float, float]:
        """Return the y range shown (dBm or dB)."""
        lo, hi = self._vb.viewRange()[1]
        return float(lo), float(hi)

    def set_y_range(self, lo: float, hi: float) -> None:
        """Fix the y range (manual mode) until Fit is pressed."""
        self._auto_y = False
        self._setting_range = True
        try:
            self._vb.setYRange(lo, hi, padding=0.0)
        finally:
            self._setting_range = False
        self._invalidate()

    # ---- drawing ------------------------------------------------------------------------
    def _tick(self) -> None:
        width = max(1.0, float(self._vb.width()))
        idle = time.monotonic() - self._last_frame_t
        # Data asks for its own frames; this keeps time scrolling when data is sparse or
        # absent: a frame once time moved a pixel column, at least every 1/30 s.
        if self._dirty or idle >= max(self._window_s / width, SCROLL_FRAME_S):
            self._request_frame()

    def _request_frame(self) -> None:
        if self._paused or self._frame_timer.isActive() or not self.isVisible():
            return
        wait = self._last_frame_t + self._min_frame_s - time.monotonic()
        self._frame_timer.start(min(1000, max(0, math.ceil(wait * 1000.0))))

    def _frame(self) -> None:
        if self._paused or not self.isVisible():
            return
        self._last_frame_t = time.monotonic()
        self.redraw(snap=True)

    def redraw(self, now: float | None = None, *, snap: bool = False) -> None:
        """Draw the visible slice of the history relative to now (s, monotonic).

        snap (live frames): round now up to the next pixel column, so the picture scrolls in
        whole columns; between two steps only the newest columns change and only they are
        repainted, which makes long windows (a column is 0.5 s at 10 min) nearly free.
        """
        now = self._clock() if now is None else now
        n_columns = max(100, int(self._vb.width()))
        column_s = self._window_s / n_columns
        if self._paused:
            now = self._frame_now
        elif snap:
            now = math.ceil(now / column_s) * column_s
        key = (now, n_columns, self._window_s)
        changed_from: float | None = None  # x (s) right of which the picture changed
        ring = self.history.ring
        oldest = ring.oldest_t
        evicting = (ring.total_appended > ring.capacity and oldest is not None
                    and oldest > now - self._window_s)  # the left edge loses samples too
        if snap and not self._full and not evicting and key == self._frame_key:
            if self._oldest_new_t is None:
                self._dirty = False
                return  # nothing new and not a column later: the picture is unchanged
            # The column of the oldest new sample, and the one before for the line into it.
            changed_from = (math.floor(self._oldest_new_t / column_s) - 1) * column_s - now
        self._frame_key = key
        self._frame_now = now
        self._dirty = False
        self._full = False
        self._oldest_new_t = None
        t0, t1 = now - self._window_s, now
        if self._paused and self._frozen_until is not None:
            t1 = max(t0 + 1e-6, min(t1, self._frozen_until))
        lo, hi = math.inf, -math.inf
        shown = [i for i, series in enumerate(self._keys) if self._visible.get(series, True)]
        if len(self.history) == 0:
            shown = []
        # Pyramid-backed min/max, ≤ 3 points per pixel column whatever the window; the history
        # keeps finished columns (fixed in time), so a frame reduces only the edge columns,
        # of all channels in one pass.
        drawn = dict(zip(shown, self.history.ring.decimated_many(shown, t0, t1, n_columns),
                         strict=True))
        # A margin of two pixels around the points: the 1-px pen strokes beside them.
        (y0, y1) = self._vb.viewRange()[1]
        pad_x = 2.0 * column_s
        pad_y = 2.0 * (y1 - y0) / max(1.0, float(self._vb.height()))
        for i, series in enumerate(self._keys):
            curve = self._curves[series]
            if i not in drawn:
                if len(curve.getData()[0]):
                    curve.set_points(np.empty(0), np.empty(0), QRectF())
                continue
            t, y = drawn[i]
            ref = self._references.get(series) if isinstance(series, int) else None
            if ref is not None:
                y = y - ref
            x = t - now
            # fmin/fmax skip NaN (gap points) and give NaN only for an all-NaN curve.
            y_lo = float(np.fmin.reduce(y)) if len(y) else math.nan
            y_hi = float(np.fmax.reduce(y)) if len(y) else math.nan
            if math.isfinite(y_lo):
                lo, hi = min(lo, y_lo), max(hi, y_hi)
                # Right edge at x = 0, not at the newest point: the rectangle stays put while
                # samples arrive, so appending repaints only the newest columns.
                rect = QRectF(float(x[0]) - pad_x, y_lo - pad_y, -float(x[0]) + 2.0 * pad_x,
                              y_hi - y_lo + 2.0 * pad_y)
            else:
                rect = QRectF()
            curve.set_points(x, y, rect, changed_from)
        latest = self.history.latest_t
        if latest is not None:
            self._drawn_newest_t = min(latest, t1)  # a frozen picture ends at t1
        if self._auto_y:
            new = self.autoscale.update(lo, hi, now)
            if new is not None:
                self._setting_range = True
                try:
                    self._vb.setYRange(new[0], new[1], padding=0.0)
                finally:
                    self._setting_range = False
        if changed_from is None:  # bands only move when the picture scrolls
            self._draw_bands(now)
        if not self._paused:
            self._update_range_label(now)
        if self._cursor_scene is not None:
            self._show_cursor(self._cursor_scene)  # new data scrolled under a still cursor

    def _update_range_label(self, now: float) -> None:
        """Name the visible channels whose newest sample, if recent, is under or over range."""
        parts = []
        latest = self.history.latest_t
        if latest is not None and now - latest <= self.history.stale_after_s:
            row = self.history.ring.view(1)[2][-1]
            for j, key in enumerate(self._keys):
                state = int(row[j])
                if self._visible.get(key, True) and state in _RANGE_WORDS:
                    colour = self.colour(key).name()
                    parts.append(f'<span style="color:{colour}; font-weight:bold">'
                                 f'{self._series_title(key)} {_RANGE_WORDS[state]}</span>')
        text = " &nbsp; ".join(parts)
        if text != self._range_text:
            self._range_text = text
            self.range_label.setText(text)
            self.range_label.adjustSize()
            self.range_label.setVisible(bool(text))
        if text:
            # Bottom left inside the plot area, where an under-range curve would run.
            corner = self.plot.mapFromScene(self._vb.sceneBoundingRect().bottomLeft())
            self.range_label.move(corner.x() + 8, corner.y() - self.range_label.height() - 6)

    def _draw_bands(self, now: float) -> None:
        item = self.plot.getPlotItem()
        shown = 0
        for start, stop in self.history.outages():
            end = now if stop is None else stop
            if end < now - self._window_s:
                continue
            if shown == len(self._bands):
                band = pg.LinearRegionItem(
                    movable=False, brush=pg.mkBrush(self._theme.outage_brush), pen=pg.mkPen(None))
                band.setZValue(-10)
                band.setToolTip("No data from the instrument in this interval")
                item.addItem(band, ignoreBounds=True)
                self._bands.append(band)
            band = self._bands[shown]
            band.setRegion((start - now, end - now))
            band.show()
            shown += 1
        for band in self._bands[shown:]:
            band.hide()

    def _invalidate(self) -> None:
        """Ask for a frame that redraws the whole picture."""
        self._dirty = True
        self._full = True

    def _painted(self) -> None:
        self.frames += 1
        self.frame_log.append((self._clock(), self._drawn_newest_t))

    # ---- helpers ------------------------------------------------------------------------
    def range_text(self) -> str:
        """Return the under/over-range note shown on the plot, as plain text ("" if none)."""
        return _plain(self._range_text) if self.range_label.isVisible() else ""

    def colour(self, key: SeriesKey) -> QColor:
        """Return a channel's colour; derived ones take the palette from its end backwards."""
        if isinstance(key, int):
            return self._theme.channel_colour(key)
        k = self._keys.index(key) - len(self._channels) if key in self._keys else 0
        return self._theme.channel_colour(len(self._theme.channel_colours) - k)

    def _pen(self, key: SeriesKey) -> pg.QtGui.QPen:
        return pg.mkPen(self.colour(key), width=1)  # 1 px cosmetic: fast

    def _apply_window_range(self) -> None:
        self._axis.window_s = self._window_s
        major = {10.0: 2.0, 60.0: 10.0, 600.0: 120.0, 3600.0: 600.0}.get(self._window_s)
        if major is not None:
            self._axis.setTickSpacing(major, major / 2)
        else:
            self._axis.setTickSpacing()
        self._vb.setXRange(-self._window_s, 0.0, padding=0.0)
        self._grid.rebuild()  # the tick spacing may change without the range changing

    def _series_title(self, key: SeriesKey) -> str:
        """Return a series' title: "CH3 · input GC" (user or port name), a derived name as is."""
        return self._names.get(key, f"CH{key}") if isinstance(key, int) else key

    def set_channel_names(self, names: Mapping[int, str]) -> None:
        """Name the channels in the toggles' tooltips ("CH3 · input GC"; missing: "CH n")."""
        self._names = dict(names)
        self._update_y_label()

    def _rebuild_toggles(self) -> None:
        for button in self._toggles.values():
            self._toggle_box.removeWidget(button)
            button.hide()  # deleted only when the event loop next runs: not drawn until then
            button.deleteLater()
        self._toggles = {}
        for ch in self._keys:
            colour = self.colour(ch).name()
            # "CH n" on the button, the user's name in the tooltip: names up to 24 characters
            # on four buttons would widen the window past a 1024 px screen.
            text = series_name(ch)
            button = QPushButton(text if len(text) <= 10 else text[:9] + "…", self)
            button.setCheckable(True)
            button.setChecked(self._visible.get(ch, True))
            dim = self._theme.dim
            bg = self._theme.background
            button.setStyleSheet(
                f"QPushButton {{ color: {colour}; background-color: {bg}; font-weight: bold;"
                f" border: 2px solid {colour}; }}"
                f"QPushButton:!checked {{ color: {dim}; border: 1px dashed {dim}; }}")
            button.toggled.connect(lambda on, c=ch: self.set_channel_visible(c, on))
            self._toggle_box.addWidget(button)
            self._toggles[ch] = button
            repolish(button)
        self._update_y_label()

    def _update_y_label(self) -> None:
        item = self.plot.getPlotItem()
        relative = sorted(set(self._references) & set(self._channels))
        mixed = bool(relative) and len(relative) < len(self._channels)
        if not relative:
            item.setLabel("left", "power (dBm)")
        elif not mixed:
            item.setLabel("left", "relative power (dB)")
        else:
            # Both units on one axis: the label names the fewer curves, in the fewest letters
            # (the toggles cannot say it: longer texts would widen the window past 1024 px).
            absolute = [ch for ch in self._channels if ch not in relative]
            if len(relative) <= len(absolute):
                names, unit, other = relative, "dB rel.", "dBm"
            else:
                names, unit, other = absolute, "dBm", "dB rel."
            listed = "CH" + ", ".join(str(ch) for ch in names)
            item.setLabel("left", f"power: {other} · {listed} in {unit}")
        derived = {c.name: c for c in self.history.derived}
        if derived:
            # One axis for all: a derived curve is drawn as its level in dB (dBm for a sum).
            # Few words: at 1280×720 the plot is under 200 px tall; the toggles' tooltips and
            # the exported image's legend say each curve's unit.
            label = item.getAxis("left").labelText
            short = {"power (dBm)": "dBm", "relative power (dB)": "dB rel."}.get(label, label)
            item.setLabel("left", f"{short}; derived in dB")
        for key, button in self._toggles.items():
            if isinstance(key, str):
                button.setToolTip(f"Show or hide {derived_legend(derived[key])}")
                continue
            name = self._series_title(key)
            unit = ("dB relative to its reference" if key in relative else "dBm") if mixed else ""
            button.setToolTip(f"Show or hide {name}" + (f" (drawn in {unit})" if unit else ""))

    def _manual_range(self, *_: object) -> None:
        if not self._setting_range:
            self._auto_y = False  # the user zoomed or dragged y: hold that until Fit

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """Clear the cursor readout when the mouse leaves the plot."""
        if event.type() == QEvent.Type.Leave and watched is self.plot.viewport():
            self._clear_cursor()
        return False

    def _clear_cursor(self) -> None:
        self._cursor_scene = None
        self._vline.hide()
        self.crosshair_label.setText("")

    def _mouse_moved(self, pos: QPointF) -> None:
        if not self._vb.sceneBoundingRect().contains(pos):
            self._clear_cursor()
            return
        self._cursor_scene = QPointF(pos)
        self._show_cursor(pos)

    def _show_cursor(self, pos: QPointF) -> None:
        """Read out the sample nearest the cursor, or say there is none near it."""
        x = float(self._vb.mapSceneToView(pos).x())
        when = f"{x:+.2f} s".replace("-", "−")
        target = self._frame_now + x
        i = nearest_sample(self.history, target)
        if i is None:
            self._vline.hide()
            self.crosshair_label.setText(f"{when} · no data")
            return
        t = self.history.ring.view()[0]
        self._vline.setPos(float(t[i] - self._frame_now))
        self._vline.show()
        self.crosshair_label.setText(
            readout(self.history, self._keys, self._references, self._frame_now, i))
