"""The strip chart's graphics items: time axis, live curve, cheap grid and the frame-counting view.

Each exists because pyqtgraph's stock item cost measurable frame time on Qt's software raster
(benchmarks/bench_strip_chart.py); the docstrings say what each one saves.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pyqtgraph as pg
from pyqtgraph.functions import create_qpolygonf, ndarray_from_qpolygonf
from PySide6.QtCore import QPointF, QRect, QRectF
from PySide6.QtGui import QColor, QPainter, QPainterPath, QPaintEvent, QPen, QPolygonF
from PySide6.QtWidgets import QGraphicsItem, QStyleOptionGraphicsItem


class TimeAxis(pg.AxisItem):
    """Bottom axis labelled in seconds or minutes before now."""

    def __init__(self) -> None:
        super().__init__(orientation="bottom")
        self.window_s = 60.0

    def tickStrings(self, values: list[float], scale: float, spacing: float) -> list[str]:
        """Return tick labels: "−5 s" up to 2 min windows, "−10 min" above."""
        if self.window_s > 120:
            return [f"{v / 60:.0f} min".replace("-", "−") if v else "now" for v in values]
        return [f"{v:.0f} s".replace("-", "−") if v else "now" for v in values]


class LiveCurve(pg.GraphicsObject):
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


class GridItem(pg.GraphicsObject):
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


class PlotView(pg.PlotWidget):
    """PlotWidget that reports the end of every paint (frame counting, reply-to-pixel latency)."""

    def __init__(self, axis: pg.AxisItem, on_painted: Callable[[], None]) -> None:
        super().__init__(axisItems={"bottom": axis})
        self._on_painted = on_painted

    def paintEvent(self, ev: QPaintEvent) -> None:
        """Paint, then tell the chart a frame reached the pixels."""
        super().paintEvent(ev)
        self._on_painted()
