"""The alignment view's painted parts: the Δ-to-peak needle and the recent-power sparkline."""

from __future__ import annotations

import math

import numpy as np
from pyqtgraph.functions import create_qpolygonf, ndarray_from_qpolygonf
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

from ctp10_gui.models.readout import MINUS


def _span_text(span_db: float) -> str:
    return f"{span_db:g} dB"


class DeltaNeedle(QWidget):
    """A horizontal scale of ±span dB around the peak (0) with a needle at Δ-to-peak."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)
        self.setMinimumSize(1, 1)
        self.delta_db: float | None = None
        self.span_db = 0.1
        self.colour = QColor("#ffffff")
        self.dim = QColor("#7d8893")

    def set_delta(self, delta_db: float | None, span_db: float) -> None:
        """Place the needle at delta_db (dB; None: no needle) on a ±span_db scale."""
        if (delta_db, span_db) != (self.delta_db, self.span_db):
            self.delta_db, self.span_db = delta_db, span_db
            self.update()

    def set_colours(self, needle: QColor, dim: QColor) -> None:
        """Draw the needle in needle and the scale in dim."""
        self.colour, self.dim = needle, dim
        self.update()

    def paintEvent(self, _event: QPaintEvent) -> None:
        """Draw the scale, its end labels, the peak mark and the needle."""
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        w, h = self.width(), self.height()
        span = _span_text(self.span_db)
        ends = (f"{MINUS}{span}", "peak", f"+{span}")
        font = QFont()
        text_px = max(8, min(int(h * 0.28), 28))
        while text_px > 8:
            # Three labels side by side: each within a third of the width, never overlapping.
            font.setPixelSize(text_px)
            widest = max(QFontMetrics(font).horizontalAdvance(e) for e in ends)
            if widest <= (w - 12) / 3 - 8:
                break
            text_px -= 1
        font.setPixelSize(text_px)
        p.setFont(font)
        bar_h = max(4.0, h - text_px * 1.4)
        margin = 6.0
        x0, x1 = margin, w - margin
        mid = 0.5 * (x0 + x1)
        p.setPen(QPen(self.dim, 2))
        p.drawLine(QPointF(x0, bar_h / 2), QPointF(x1, bar_h / 2))
        for k in range(-4, 5):  # ticks every quarter span
            x = mid + k / 4 * (x1 - x0) / 2
            tick = bar_h * (0.45 if k % 4 == 0 else 0.25)
            p.drawLine(QPointF(x, bar_h / 2 - tick), QPointF(x, bar_h / 2 + tick))
        label_y = bar_h + 2
        label_box = QRectF(x0, label_y, x1 - x0, h - label_y)
        top = Qt.AlignmentFlag.AlignTop
        p.drawText(label_box, Qt.AlignmentFlag.AlignLeft | top, ends[0])
        p.drawText(label_box, Qt.AlignmentFlag.AlignHCenter | top, ends[1])
        p.drawText(label_box, Qt.AlignmentFlag.AlignRight | top, ends[2])
        if self.delta_db is not None and math.isfinite(self.delta_db):
            frac = max(-1.0, min(1.0, self.delta_db / self.span_db))
            x = mid + frac * (x1 - x0) / 2
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(self.colour)
            p.drawRect(QRectF(min(mid, x), bar_h * 0.3, abs(x - mid), bar_h * 0.4))
            p.setPen(QPen(self.colour, max(3.0, w / 200)))
            p.drawLine(QPointF(x, 0), QPointF(x, bar_h))
        p.end()


class Sparkline(QWidget):
    """The last seconds of one channel's power as a thin line, scaled to its own range."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)
        self.setMinimumSize(1, 1)
        self._t = np.empty(0)
        self._y = np.empty(0)
        self._span = (0.0, 1.0)
        self.colour = QColor("#ffffff")
        self.dim = QColor("#7d8893")
        self.window_s = 20.0

    def set_data(self, t: np.ndarray, y: np.ndarray, t_end: float) -> None:
        """Show samples (t s, y dBm, NaN breaks the line) over [t_end − window_s, t_end]."""
        self._t, self._y = t, y
        self._span = (t_end - self.window_s, t_end)
        self.update()

    def set_colours(self, line: QColor, dim: QColor) -> None:
        """Draw the line in line, the range text in dim."""
        self.colour, self.dim = line, dim
        self.update()

    def paintEvent(self, _event: QPaintEvent) -> None:
        """Draw the line, and its range (dB) in a corner so its scale is never a guess."""
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        w, h = self.width(), self.height()
        finite = np.isfinite(self._y)
        p.setPen(QPen(self.dim, 1))
        p.drawRect(QRectF(0.5, 0.5, w - 1, h - 1))
        font = QFont()
        text_px = max(8, min(int(h * 0.16), 18))
        font.setPixelSize(text_px)
        p.setFont(font)
        top = text_px * 1.3 + 2  # the range text has its own strip above the line
        if finite.sum() >= 2:
            lo, hi = float(self._y[finite].min()), float(self._y[finite].max())
            if hi - lo < 0.05:  # a flat line stays flat, noise is not blown up to full height
                mid = 0.5 * (lo + hi)
                lo, hi = mid - 0.025, mid + 0.025
            t0, t1 = self._span
            xs = (self._t - t0) / (t1 - t0) * (w - 4) + 2
            ys = (hi - self._y) / (hi - lo) * (h - top - 6) + top
            # One polyline per run of finite points, filled from numpy, in 1-px pens (the
            # raster engine's fast path; a wider pen goes through the stroker, 10+ ms on a
            # noisy 1 kHz line); drawn twice, 1 px apart, to read like a 2-px line.
            p.setRenderHint(QPainter.RenderHint.Antialiasing, False)
            p.setPen(QPen(self.colour, 0))
            bad = np.flatnonzero(~finite)
            for a, b in zip(np.concatenate([[0], bad + 1]).tolist(),
                            np.concatenate([bad, [len(ys)]]).tolist(), strict=True):
                if b - a >= 2:
                    poly = create_qpolygonf(b - a)
                    arr = ndarray_from_qpolygonf(poly)
                    arr[:, 0] = xs[a:b]
                    arr[:, 1] = ys[a:b]
                    p.drawPolyline(poly)
                    arr[:, 1] += 1.0
                    p.drawPolyline(poly)
            p.setPen(self.dim)
            p.drawText(QRectF(4, 2, w - 8, h - 4),
                       Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop,
                       f"last {self.window_s:g} s · span {hi - lo:.2f} dB")
        p.end()
