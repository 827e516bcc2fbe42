"""Live strip chart of one module's channels: fixed x range, timer redraw, min/max decimation."""

from __future__ import annotations

import logging
import math
import re
import time
from collections import deque
from collections.abc import Callable, Sequence

import numpy as np
import pyqtgraph as pg
from pyqtgraph.functions import create_qpolygonf, ndarray_from_qpolygonf
from PySide6.QtCore import QPointF, QRect, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QPainter, QPainterPath, QPaintEvent, QPen, QPolygonF
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
    QStyleOptionGraphicsItem,
    QVBoxLayout,
    QWidget,
)

from ctp10_gui.hardware.power import ChannelStatus
from ctp10_gui.models.connection import LinkState
from ctp10_gui.models.samples import RingHistory, SnapshotBatch
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
HISTORY_S = 3600.0  # longest window: the ring holds one hour at the current poll rate
# Frames/s cap. Batches arrive every ≤ 20 ms and each gets its frame at once (reply-to-pixel
# latency); the cap only stops bursts of batches from drawing more often than a display shows.
DEFAULT_MAX_FPS = 60.0
SCROLL_FRAME_S = 1.0 / 30.0  # without new data, scroll at most 30 times a second
MAX_CAPACITY = 4_000_000  # 1 h at 1 kHz plus margin; beyond that the ring would be > 1 GB
_OUTAGE_STATES = {LinkState.STALE, LinkState.RECONNECTING, LinkState.OFFLINE}
# No data by the user's choice (disconnect, live off) or during a sweep: a cut, not an outage.
_CHOSEN_PAUSE_STATES = {
    LinkState.DISCONNECTED, LinkState.CONNECTING, LinkState.CONNECTED, LinkState.BUSY,
}


def capacity_for(poll_interval_s: float, history_s: float = HISTORY_S) -> int:
    """Return ring capacity (samples) for history_s at poll_interval_s (s, > 0), capped."""
    interval = max(poll_interval_s, 1e-3)  # "as fast as possible" still polls ≤ ~1 kHz
    return int(min(MAX_CAPACITY, math.ceil(history_s / interval * 1.05) + 1024))


class YAutoRange:
    """Y autoscale that never jitters: expand at once, shrink only after a sustained slack.

    The range keeps a minimum span (dB) so detector noise at the floor does not fill the
    plot; it grows as soon as data leaves it, and shrinks back around the data only when the
    data has used less than shrink_fill of the span for shrink_after_s seconds.
    """

    def __init__(self, min_span: float = 1.0, *, margin: float = 0.1, shrink_fill: float = 0.5,
                 shrink_after_s: float = 2.0) -> None:
        """Create with min_span (dB, > 0), margin (fraction of span) and shrink rules."""
        self.min_span = min_span
        self.margin = margin
        self.shrink_fill = shrink_fill
        self.shrink_after_s = shrink_after_s
        self.range: tuple[float, float] | None = None
        self._slack_since: float | None = None

    def fitted(self, lo: float, hi: float) -> tuple[float, float]:
        """Return the range that frames data lo..hi (dB) with margin and minimum span."""
        span = max((hi - lo) * (1.0 + 2.0 * self.margin), self.min_span)
        centre = 0.5 * (lo + hi)
        return (centre - 0.5 * span, centre + 0.5 * span)

    def fit(self, lo: float, hi: float) -> tuple[float, float]:
        """Set and return the fitted range for data lo..hi (dB)."""
        self.range = self.fitted(lo, hi)
        self._slack_since = None
        return self.range

    def update(self, lo: float, hi: float, now: float) -> tuple[float, float] | None:
        """Feed the visible data extent lo..hi (dB) at time now (s); return a new range or None."""
        if not (math.isfinite(lo) and math.isfinite(hi)):
            return None
        if self.range is None:
            return self.fit(lo, hi)
        r0, r1 = self.range
        if lo < r0 or hi > r1:
            pad = self.margin * max(hi - lo, self.min_span)
            new0, new1 = min(r0, lo - pad), max(r1, hi + pad)
            self.range = (new0, new1)
            self._slack_since = None
            return self.range
        span = r1 - r0
        f0, f1 = self.fitted(lo, hi)
        # Shrinking only pays when it changes the picture noticeably (≥ 10 % of the span).
        if (hi - lo) < self.shrink_fill * span and (f1 - f0) < 0.9 * span:
            if self._slack_since is None:
                self._slack_since = now
            elif now - self._slack_since >= self.shrink_after_s:
                return self.fit(lo, hi)
        else:
            self._slack_since = None
        return None


class _TimeAxis(pg.AxisItem):
    """Bottom axis labelled in seconds or minutes before now."""

    def __init__(self) -> None:
        super().__init__(orientation="bottom")
        self.window_s = 60.0

    def tickStrings(self, values: list[float], scale: float, spacing: float) -> list[str]:
        """Return tick labels: "−5 s" up to 2 min windows, "−10 min" above."""
        if self.window_s > 120:
            return [f"{v / 60:.0f} min".replace("-", "−") if v else "now" for v in values]
        return [f"{v:.0f} s".replace("-", "−") if v else "now" for v in values]


class _LiveCurve(pg.GraphicsObject):
    """One channel's decimated curve, drawn as polylines and repainted only where it changed.

    pyqtgraph's PlotCurveItem scans every frame's points for NaN-aware bounds, builds a
    QPainterPath, and invalidates its whole rectangle on each setData. Here the chart hands
    over the points with their rectangle, a polyline per run of finite points is filled straight
    from the numpy arrays, and a frame that only appended to the right end repaints just that.
    """

    MAX_RUNS = 64  # more gaps than this: one QPainterPath is cheaper than many polylines

    def __init__(self, pen: QPen) -> None:
        super().__init__()
        self._pen = pen
        self._x = np.empty(0)
        self._y = np.empty(0)
        self._rect = QRectF()
        self._shapes: list[QPolygonF | QPainterPath] | None = []  # of all points, lazily
        # paint() gets the exposed rectangle: a repaint of the newest columns then strokes
        # only the points there (the raster engine strokes clipped-away segments at full cost).
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemUsesExtendedStyleOption, True)

    def setPen(self, pen: QPen) -> None:
        """Draw with pen (1-px cosmetic) from now on."""
        self._pen = pen
        self.update()

    def getData(self) -> tuple[np.ndarray, np.ndarray]:
        """Return the x (s before now) and y points drawn."""
        return self._x, self._y

    def set_points(
        self, x: np.ndarray, y: np.ndarray, rect: QRectF, changed_from: float | None = None
    ) -> None:
        """Show points (x ascending s, NaN in y breaks the line) that fit in rect (data units).

        changed_from: x (s) left of which the points are those already shown (only the part
        right of it is repainted); None repaints the whole curve.
        """
        self._x, self._y = x, y
        self._shapes = None
        if rect != self._rect:
            self.prepareGeometryChange()  # repaints the old rectangle
            self._rect = rect
            self.update()
        elif changed_from is None:
            self.update()
        elif changed_from < rect.right():
            left = max(changed_from, rect.left())
            self.update(QRectF(left, rect.top(), rect.right() - left, rect.height()))

    def boundingRect(self) -> QRectF:
        """Return the rectangle (data units) that holds every point plus a pixel margin."""
        return self._rect

    def paint(self, p: QPainter, option: QStyleOptionGraphicsItem, *_: object) -> None:
        """Draw one polyline per run of ≥ 2 finite points (a path if there are many runs)."""
        x = self._x
        exposed = option.exposedRect
        # The points in the exposed x range, plus one on each side for the lines leaving it.
        a = max(0, int(np.searchsorted(x, exposed.left())) - 1)
        b = min(len(x), int(np.searchsorted(x, exposed.right(), side="right")) + 1)
        if a == 0 and b == len(x):
            if self._shapes is None:
                self._shapes = _shapes(x, self._y, self.MAX_RUNS)
            shapes = self._shapes
        else:
            shapes = _shapes(x[a:b], self._y[a:b], self.MAX_RUNS)
        # As pyqtgraph's curves: aliased on screen (fast), antialiased in exported images.
        export = self._exportOpts
        aa = export.get("antialias", True) if export else pg.getConfigOption("antialias")
        p.setRenderHint(QPainter.RenderHint.Antialiasing, bool(aa))
        p.setPen(self._pen)
        for shape in shapes:
            if isinstance(shape, QPolygonF):
                p.drawPolyline(shape)
            else:
                p.drawPath(shape)


def _shapes(x: np.ndarray, y: np.ndarray, max_runs: int) -> list[QPolygonF | QPainterPath]:
    """Return a QPolygonF per run of ≥ 2 finite points, or one path beyond max_runs runs."""
    bad = np.flatnonzero(~np.isfinite(y))
    starts = np.concatenate([[0], bad + 1])
    ends = np.concatenate([bad, [len(y)]])
    keep = ends - starts >= 2  # a lone point draws no line (as pyqtgraph's curves)
    if int(keep.sum()) > max_runs:
        return [pg.arrayToQPath(x, y, connect="finite")]
    out: list[QPolygonF | QPainterPath] = []
    for a, b in zip(starts[keep].tolist(), ends[keep].tolist(), strict=True):
        poly = create_qpolygonf(b - a)
        arr = ndarray_from_qpolygonf(poly)
        arr[:, 0] = x[a:b]
        arr[:, 1] = y[a:b]
        out.append(poly)
    return out


class _GridItem(pg.GraphicsObject):
    """Grid lines at the axes' ticks, as pyqtgraph's axis grid draws them, but cheaply.

    The axis grid makes each axis a cached pixmap as large as the plot, blended over the
    curves' area in every frame (≈ 12 % of a frame's paint). Here each line is a 1-px opaque
    rectangle in the colour the translucent line would give over the plain background (the
    grid lies right on it), which the raster engine fills ~10× faster than a blended line.
    """

    def __init__(self, vb: pg.ViewBox, x_axis: pg.AxisItem, y_axis: pg.AxisItem) -> None:
        super().__init__()
        self._vb = vb
        self._axes = (x_axis, y_axis)
        self._colour = QColor("white")
        self._background = QColor("black")
        self._alpha = 0.25
        # Per tick level: colour, x values of vertical lines, y values of horizontal lines.
        self._levels: list[tuple[QColor, list[float], list[float]]] = []
        self._rects: tuple[tuple[float, ...], list[tuple[QColor, list[QRect]]]] | None = None
        self.setZValue(-20)  # under the outage bands and the curves
        vb.sigRangeChanged.connect(self.rebuild)
        vb.sigResized.connect(self.rebuild)

    def set_style(self, colour: str, background: str, alpha: float) -> None:
        """Draw colour (a Qt colour name) at opacity alpha (0–1) over background."""
        self._colour = QColor(colour)
        self._background = QColor(background)
        self._alpha = alpha
        self.rebuild()

    def _blend(self, alpha: float) -> QColor:
        """Return colour at opacity alpha (0–1) over the background, as one opaque colour."""
        fg, bg = self._colour, self._background
        mix = [round(a * alpha + b * (1.0 - alpha)) for a, b in (
            (fg.red(), bg.red()), (fg.green(), bg.green()), (fg.blue(), bg.blue()))]
        return QColor(*mix)

    def rebuild(self, *_: object) -> None:
        """Recompute the lines for the current view range and size."""
        (x0, x1), (y0, y1) = self._vb.viewRange()
        levels: list[tuple[QColor, list[float], list[float]]] = []
        for axis, lo, hi, size, vertical in (
            (self._axes[0], x0, x1, self._vb.width(), True),
            (self._axes[1], y0, y1, self._vb.height(), False),
        ):
            if size <= 0:
                continue
            for level, (_spacing, values) in enumerate(axis.tickValues(lo, hi, size)):
                # pyqtgraph's rule: fainter for minor levels and for crowded ticks.
                crowd = min(max(0.05 * size / (len(values) + 1), 0.0), 1.0)
                # Whole alpha steps as pyqtgraph's grid pens have them.
                grid = int(255 * self._alpha) / 255.0
                colour = self._blend(int(255 * grid / (level + 1) * crowd) / 255.0)
                inside = [v for v in values if lo <= v <= hi]
                levels.append((colour, inside, []) if vertical else (colour, [], inside))
        self.prepareGeometryChange()
        self._levels = levels
        self._rects = None
        self.update()

    def boundingRect(self) -> QRectF:
        """Return the visible view rectangle (data coordinates)."""
        return self._vb.viewRect()

    def paint(self, p: QPainter, *_: object) -> None:
        """Fill each grid line as a 1-px rectangle in device pixels."""
        tr = p.transform()
        key = (tr.m11(), tr.m12(), tr.m21(), tr.m22(), tr.dx(), tr.dy())
        if self._rects is None or self._rects[0] != key:
            (x0, x1), (y0, y1) = self._vb.viewRange()
            box = tr.mapRect(QRectF(x0, y0, x1 - x0, y1 - y0)).toAlignedRect()
            rects: list[tuple[QColor, list[QRect]]] = []
            for colour, xs, ys in self._levels:
                # floor: the pixel a 1-px aliased line at that coordinate would light.
                cols = [QRect(math.floor(tr.map(QPointF(x, y0)).x()), box.top(), 1,
                              box.height()) for x in xs]
                rows = [QRect(box.left(), math.floor(tr.map(QPointF(x0, y)).y()), box.width(),
                              1) for y in ys]
                rects.append((colour, cols + rows))
            self._rects = (key, rects)
        p.save()
        p.resetTransform()
        for colour, boxes in self._rects[1]:
            for r in boxes:
                p.fillRect(r, colour)
        p.restore()


class _PlotView(pg.PlotWidget):
    """PlotWidget that reports the end of every paint (frame counting, reply-to-pixel latency)."""

    def __init__(self, axis: pg.AxisItem, on_painted: Callable[[], None]) -> None:
        super().__init__(axisItems={"bottom": axis})
        self._on_painted = on_painted

    def paintEvent(self, ev: QPaintEvent) -> None:
        """Paint, then tell the chart a frame reached the pixels."""
        super().paintEvent(ev)
        self._on_painted()


class StripChart(QWidget):
    """Strip chart of power (dBm, or dB relative to a channel's reference) against time."""

    window_changed = Signal(float)
    paused_changed = Signal(bool)

    def __init__(
        self, theme: Theme, *, window_s: float = 60.0, min_span_db: float = 1.0,
        poll_interval_s: float = 0.05, max_fps: float = DEFAULT_MAX_FPS,
        clock: Callable[[], float] = time.monotonic, parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._theme = theme
        self._clock = clock
        self._window_s = window_s
        self._module = 0
        self._channels: tuple[int, ...] = ()
        self._visible: dict[int, bool] = {}
        self._references: dict[int, float] = {}
        self._poll_interval_s = poll_interval_s
        self._capacity = capacity_for(poll_interval_s)
        self.history = RingHistory(self._capacity, 1)
        self._gap_marked = False  # the user disconnected: the next data starts a new line
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
        self._toggles: dict[int, QPushButton] = {}
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

        self._axis = _TimeAxis()
        self.plot = _PlotView(self._axis, self._painted)
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
        self._grid = _GridItem(self._vb, item.getAxis("bottom"), item.getAxis("left"))
        item.addItem(self._grid, ignoreBounds=True)
        self._apply_window_range()
        self._curves: dict[int, _LiveCurve] = {}
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
        self.plot.scene().sigMouseMoved.connect(self._mouse_moved)
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

    def set_poll_interval(self, seconds: float) -> None:
        """Size the ring for one hour at poll interval seconds (keeps history if it fits)."""
        self._poll_interval_s = seconds
        capacity = capacity_for(seconds)
        if capacity > self._capacity:
            self._capacity = capacity
            self.history = RingHistory(capacity, max(1, len(self._channels)))
            self._invalidate()

    def set_channels(self, module: int, channels: Sequence[int]) -> None:
        """Show module's channels; history restarts when the set changes."""
        channels = tuple(channels)
        if module == self._module and channels == self._channels:
            return
        self._module = module
        self._channels = channels
        self.history = RingHistory(self._capacity, max(1, len(channels)))
        self.autoscale.range = None
        item = self.plot.getPlotItem()
        for curve in self._curves.values():
            item.removeItem(curve)
        self._curves = {}
        for ch in channels:
            curve = _LiveCurve(self._pen(ch))
            curve.setZValue(10)
            # The chart sets both ranges itself: the view box need not track curve bounds.
            item.addItem(curve, ignoreBounds=True)
            self._curves[ch] = curve
            self._visible.setdefault(ch, True)
            curve.setVisible(self._visible[ch])
        self._title.setText(f"Module {module}")
        self._rebuild_toggles()
        self._invalidate()

    def add_batch(self, batch: SnapshotBatch) -> None:
        """Append a SnapshotBatch to the history; the timer draws it (never per sample)."""
        if len(batch.t_mono) == 0:
            return
        if batch.module != self._module or tuple(batch.channels) != self._channels:
            self.set_channels(batch.module, batch.channels)
        first = float(batch.t_mono[0])
        last = self.history.latest_t
        if self._outage_open():
            self.history.end_outage(first)
            self._invalidate()  # the band stops following now
        elif last is not None and not self._gap_marked and first - last > self._gap_s():
            # Silence the controller did not (yet) report: still a hole in the record.
            self.history.begin_outage(last)
            self.history.end_outage(first)
            self._invalidate()
        self._gap_marked = False
        self.history.append(batch)
        if self._oldest_new_t is None:
            self._oldest_new_t = first
        self._dirty = True  # only the newest columns changed
        self._request_frame()

    def set_link_state(self, state: LinkState) -> None:
        """Cut the curves when data stops; shade the interval only when the link failed."""
        last = self.history.latest_t
        if last is None:
            return  # nothing drawn yet: nothing to cut or shade
        if state in _OUTAGE_STATES:
            if not self._outage_open():
                self.history.begin_outage(last)
                self._invalidate()
        elif state in _CHOSEN_PAUSE_STATES:
            if self._outage_open():
                # Disconnected during an outage: the band ends where the watching ended.
                self.history.end_outage(self._clock())
            elif not self._gap_marked:
                self.history.mark_gap(last)
            self._gap_marked = True
            self._invalidate()

    @property
    def outages(self) -> list[tuple[float, float | None]]:
        """Return outage intervals (monotonic s; end None while open) still in the history."""
        return self.history.outages()

    def _outage_open(self) -> bool:
        outages = self.history.outages()
        return bool(outages) and outages[-1][1] is None

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

    def set_channel_visible(self, channel: int, visible: bool) -> None:
        """Show or hide one channel's curve."""
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

    def visible_curve_data(self, channel: int) -> tuple[np.ndarray, np.ndarray]:
        """Return the x (s before now) and y arrays last drawn for channel."""
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
        oldest = self.history.oldest_t
        evicting = (self.history.total_appended > self.history.capacity and oldest is not None
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
        shown = [i for i, ch in enumerate(self._channels) if self._visible.get(ch, True)]
        if len(self.history) == 0:
            shown = []
        # Pyramid-backed min/max, ≤ 3 points per pixel column whatever the window; the history
        # keeps finished columns (fixed in time), so a frame reduces only the edge columns,
        # of all channels in one pass.
        drawn = dict(zip(shown, self.history.decimated_many(shown, t0, t1, n_columns),
                         strict=True))
        # A margin of two pixels around the points: the 1-px pen strokes beside them.
        (y0, y1) = self._vb.viewRange()[1]
        pad_x = 2.0 * column_s
        pad_y = 2.0 * (y1 - y0) / max(1.0, float(self._vb.height()))
        for i, ch in enumerate(self._channels):
            curve = self._curves[ch]
            if i not in drawn:
                if len(curve.getData()[0]):
                    curve.set_points(np.empty(0), np.empty(0), QRectF())
                continue
            t, y = drawn[i]
            ref = self._references.get(ch)
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

    def _update_range_label(self, now: float) -> None:
        """Name the visible channels whose newest sample, if recent, is under or over range."""
        parts = []
        latest = self.history.latest_t
        if latest is not None and now - latest <= self._gap_s():
            row = self.history.view(1)[2][-1]
            for j, ch in enumerate(self._channels):
                state = int(row[j])
                if self._visible.get(ch, True) and state in _RANGE_WORDS:
                    colour = self._theme.channel_colour(ch).name()
                    parts.append(f'<span style="color:{colour}; font-weight:bold">CH{ch} '
                                 f'{_RANGE_WORDS[state]}</span>')
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

    def _gap_s(self) -> float:
        """Return the silence (s) after which the curve is cut: the stale rule, max(3 T, 1 s)."""
        return max(3.0 * self._poll_interval_s, 1.0)

    def _pen(self, channel: int) -> pg.QtGui.QPen:
        return pg.mkPen(self._theme.channel_colour(channel), width=1)  # 1 px cosmetic: fast

    def _apply_window_range(self) -> None:
        self._axis.window_s = self._window_s
        major = {10.0: 2.0, 60.0: 10.0, 600.0: 120.0, 3600.0: 600.0}.get(self._window_s)
        if major is not None:
            self._axis.setTickSpacing(major, major / 2)
        else:
            self._axis.setTickSpacing()
        self._vb.setXRange(-self._window_s, 0.0, padding=0.0)
        self._grid.rebuild()  # the tick spacing may change without the range changing

    def _rebuild_toggles(self) -> None:
        for button in self._toggles.values():
            self._toggle_box.removeWidget(button)
            button.deleteLater()
        self._toggles = {}
        for ch in self._channels:
            colour = self._theme.channel_colour(ch).name()
            button = QPushButton(f"CH{ch}", self)
            button.setCheckable(True)
            button.setChecked(self._visible.get(ch, True))
            button.setToolTip(f"Show or hide channel {ch}")
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
        for ch, button in self._toggles.items():
            unit = ("dB relative to its reference" if ch in relative else "dBm") if mixed else ""
            drawn_in = f" (drawn in {unit})" if unit else ""
            button.setToolTip(f"Show or hide channel {ch}{drawn_in}")

    def _manual_range(self, *_: object) -> None:
        if not self._setting_range:
            self._auto_y = False  # the user zoomed or dragged y: hold that until Fit

    def _mouse_moved(self, pos: QPointF) -> None:
        if not self._vb.sceneBoundingRect().contains(pos) or len(self.history) == 0:
            self._vline.hide()
            self.crosshair_label.setText("")
            return
        x = float(self._vb.mapSceneToView(pos).x())
        t, y, _status = self.history.view()
        target = self._frame_now + x
        i = int(np.clip(np.searchsorted(t, target), 0, len(t) - 1))
        if i > 0 and abs(t[i - 1] - target) < abs(t[i] - target):
            i -= 1
        self._vline.setPos(float(t[i] - self._frame_now))
        self._vline.show()
        parts = [f"{float(t[i] - self._frame_now):+.2f} s".replace("-", "−")]
        for j, ch in enumerate(self._channels):
            value = float(y[i, j])
            ref = self._references.get(ch)
            if not math.isfinite(value):
                parts.append(f"CH{ch} — —")
            elif ref is not None:
                parts.append(f"CH{ch} {value - ref:+.3f} dB")
            else:
                parts.append(f"CH{ch} {value:.3f} dBm")
        self.crosshair_label.setText("   ".join(parts).replace("-", "−"))

