"""Export a pyqtgraph plot (strip chart, trace view) as a PNG or SVG image.

With ImageNotes the image gets a header band above the plot: the instrument, the time span,
wavelengths and unit as text lines, and a colour legend of the curves, so a picture pasted in
a lab notebook still says what it shows.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pyqtgraph as pg
from pyqtgraph.exporters import ImageExporter, SVGExporter
from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QImage, QPainter
from PySide6.QtSvg import QSvgGenerator
from PySide6.QtWidgets import QFileDialog, QWidget

from ctp10_gui.models.traces import StoredTrace

log = logging.getLogger(__name__)

FORMATS = {".png": "PNG image (*.png)", ".svg": "SVG drawing (*.svg)"}
FILE_FILTER = ";;".join(FORMATS.values())
DEFAULT_PNG_WIDTH_PX = 1600  # wider than most screens' plot area: sharp in reports
HEADER_FONT_FRACTION = 1 / 80  # header text height per image width: 20 px at 1600 px
MIN_HEADER_FONT_PX = 11


@dataclass(frozen=True)
class ImageNotes:
    """Text lines and a legend of (label, colour "#rrggbb") drawn above an exported plot."""

    lines: tuple[str, ...]
    legend: tuple[tuple[str, str], ...] = ()


def _time_text(t_wall: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t_wall))


def chart_notes(*, serial: str | None, module: int, channels: Sequence[int],
                colours: Mapping[int, str], wavelengths_nm: Mapping[int, float], unit: str,
                window_s: float, end_wall: float,
                relative: Sequence[int] = (), names: Mapping[int, str] | None = None,
                derived: Sequence[tuple[str, str]] = ()) -> ImageNotes:
    """Return the strip chart's header: instrument, span ending at end_wall (s), λ, unit.

    names: a title per channel ("CH3 · input GC", default "CH3"); derived: (text, colour) each.
    """
    who = f"CTP10 SN {serial}" if serial else "instrument not identified"
    start = end_wall - window_s
    span = f"{_time_text(start)} – {time.strftime('%H:%M:%S', time.localtime(end_wall))}"
    unit_line = f"power in {unit}"
    if relative:
        unit_line += ("; " + ", ".join(f"CH{c}" for c in relative)
                      + " in dB relative to its reference")
    legend = []
    for c in channels:
        wl = wavelengths_nm.get(c)
        title = (names or {}).get(c, f"CH{c}")
        text = f"{title} {wl:.3f} nm" if wl is not None and math.isfinite(wl) else title
        legend.append((text, colours.get(c, "#808080")))
    legend.extend(derived)
    return ImageNotes((f"{who} · module {module}", f"{span} (last {window_s:g} s)", unit_line),
                      tuple(legend))


def trace_notes(traces: Sequence[tuple[StoredTrace, str]]) -> ImageNotes:
    """Return the trace plot's header from (trace, colour): instruments, times, λ, units."""
    serials = sorted({str((t.metadata.get("instrument") or {}).get("serial") or "")
                      for t, _ in traces} - {""})
    times = sorted({str(t.metadata.get("acquired", "")) for t, _ in traces} - {""})
    lows = [t.x_bounds[0] for t, _ in traces if t.points]
    highs = [t.x_bounds[1] for t, _ in traces if t.points]
    units = sorted({t.unit for t, _ in traces})
    lines = [
        "CTP10 SN " + ", ".join(serials) if serials else "instrument not recorded",
        ("acquired " + (times[0] if len(times) == 1 else f"{times[0]} – {times[-1]}"))
        if times else "acquisition time not recorded",
        (f"{min(lows):.3f}–{max(highs):.3f} nm" if lows else "no points")
        + f" · values in {', '.join(units) or '—'}",
    ]
    return ImageNotes(tuple(lines), tuple((t.label, colour) for t, colour in traces))


def _header_font(width: int) -> QFont:
    font = QFont()
    font.setPixelSize(max(MIN_HEADER_FONT_PX, round(width * HEADER_FONT_FRACTION)))
    return font


def _legend_layout(width: int, notes: ImageNotes) -> list[tuple[float, int, str, str]]:
    """Return (x px, row, label, colour) per legend entry, wrapped to the image width."""
    font = _header_font(width)
    px = font.pixelSize()
    metrics = QFontMetricsF(font)
    placed: list[tuple[float, int, str, str]] = []
    x, row = float(px), 0
    for label, colour in notes.legend:
        entry = 2.5 * px + metrics.horizontalAdvance(label)
        if x > px and x + entry > width - px:
            x, row = float(px), row + 1
        placed.append((x, row, label, colour))
        x += entry + 1.5 * px
    return placed


def _header_height(width: int, notes: ImageNotes) -> int:
    px = _header_font(width).pixelSize()
    legend_rows = max((row for _, row, _, _ in _legend_layout(width, notes)), default=-1) + 1
    return round(px * (1.5 * (len(notes.lines) + legend_rows) + 1.0))


def _paint_header(painter: QPainter, width: int, notes: ImageNotes, background: QColor) -> None:
    """Paint the header band (width × _header_height) at the painter's origin."""
    height = _header_height(width, notes)
    painter.fillRect(QRectF(0, 0, width, height), background)
    text_colour = QColor("#000000") if background.lightness() >= 128 else QColor("#ffffff")
    font = _header_font(width)
    px = font.pixelSize()
    line_h = 1.5 * px
    align = int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
    painter.setPen(text_colour)
    for i, line in enumerate(notes.lines):
        font.setBold(i == 0)
        painter.setFont(font)
        painter.drawText(QRectF(px, 0.5 * px + i * line_h, width - 2 * px, line_h), align, line)
    font.setBold(False)
    painter.setFont(font)
    top = 0.5 * px + len(notes.lines) * line_h
    for x, row, label, colour in _legend_layout(width, notes):
        y = top + row * line_h
        painter.fillRect(QRectF(x, y + 0.35 * line_h, 2 * px, 0.3 * line_h), QColor(colour))
        painter.drawText(QRectF(x + 2.5 * px, y, width - x, line_h), align, label)


def _background(item: pg.PlotItem) -> QColor:
    """Return the colour behind the plot (the view's background, else the scene's)."""
    views = item.scene().views() if item.scene() is not None else []
    if views:
        colour = QColor(views[0].backgroundBrush().color())
        if colour.alpha() > 0:
            return colour
    return QColor("#ffffff")


def _export_png_with_notes(item: pg.PlotItem, path: Path, width: int, notes: ImageNotes) -> None:
    exporter = ImageExporter(item)
    exporter.parameters()["width"] = width
    plot_image = exporter.export(toBytes=True)
    if not isinstance(plot_image, QImage) or plot_image.isNull():
        raise OSError(f"could not render the plot for {path}")
    band = _header_height(plot_image.width(), notes)
    image = QImage(plot_image.width(), band + plot_image.height(), QImage.Format.Format_ARGB32)
    background = _background(item)
    image.fill(background)
    painter = QPainter(image)
    try:
        _paint_header(painter, image.width(), notes, background)
        painter.drawImage(0, band, plot_image)
    finally:
        painter.end()
    if not image.save(str(path)):  # PNG by the suffix, which export_plot checked
        raise OSError(f"could not write {path}")


def _plot_item(plot: pg.PlotItem | pg.PlotWidget) -> pg.PlotItem:
    return plot.getPlotItem() if isinstance(plot, pg.PlotWidget) else plot


def _render_svg(item: pg.PlotItem, path: Path, notes: ImageNotes | None = None) -> None:
    """Draw the plot item's area (under the notes' header) into an SVG file; text stays text."""
    source = item.sceneBoundingRect()
    width, height = max(1, round(source.width())), max(1, round(source.height()))
    band = _header_height(width, notes) if notes is not None else 0
    gen = QSvgGenerator()
    gen.setFileName(str(path))
    gen.setSize(QSize(width, band + height))
    gen.setViewBox(QRectF(0, 0, width, band + height))
    gen.setTitle(notes.lines[0] if notes is not None and notes.lines
                 else item.titleLabel.text or "plot")
    painter = QPainter(gen)
    try:
        if notes is not None:
            _paint_header(painter, width, notes, _background(item))
        item.scene().render(painter, QRectF(0, band, width, height), source)
    finally:
        painter.end()


def export_plot(
    plot: pg.PlotItem | pg.PlotWidget, path: str | Path, *, width_px: int | None = None,
    notes: ImageNotes | None = None,
) -> Path:
    """Write the plot to path as PNG or SVG chosen by suffix; ValueError for other suffixes.

    width_px: PNG width in pixels (default 1600, height keeps the on-screen aspect ratio).
    notes: a header band of text and legend above the plot. Raises OSError when the file
    cannot be written.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    item = _plot_item(plot)
    if notes is not None and suffix == ".png":
        _export_png_with_notes(item, path, int(width_px or DEFAULT_PNG_WIDTH_PX), notes)
    elif notes is not None and suffix == ".svg":
        _render_svg(item, path, notes)
    elif suffix == ".png":
        exporter = ImageExporter(item)
        width = int(width_px or DEFAULT_PNG_WIDTH_PX)
        # pyqtgraph links width and height; setting width rescales height to the aspect ratio.
        exporter.parameters()["width"] = width
        exporter.export(str(path))
    elif suffix == ".svg":
        try:
            SVGExporter(item).export(str(path))
        except ValueError as e:
            # pyqtgraph ≤ 0.14 cannot parse the 'Z' (close path) Qt ≥ 6.9 writes into SVG paths
            # (pyqtgraph issue #3485); Qt's own SVG generator draws the same scene correctly.
            log.info("pyqtgraph SVG export failed (%s); using Qt's SVG generator", e)
            _render_svg(item, path)
    else:
        raise ValueError(f"cannot export a plot as '{suffix or path.name}': use .png or .svg")
    # pyqtgraph's exporters report a failed write only through a return value or not at all.
    if not path.is_file() or path.stat().st_size == 0:
        raise OSError(f"could not write {path}")
    log.info("plot exported to %s", path)
    return path


def export_plot_dialog(
    plot: pg.PlotItem | pg.PlotWidget,
    parent: QWidget | None = None,
    *,
    directory: str | Path = "",
    name: str = "plot",
    notes: ImageNotes | None = None,
) -> Path | None:
    """Ask for a file name (PNG or SVG) and export; return the path, None if cancelled.

    Raises ValueError/OSError like export_plot so the caller can show the sentence.
    """
    start = str(Path(directory) / f"{name}.png") if directory else f"{name}.png"
    chosen, selected_filter = QFileDialog.getSaveFileName(parent, "Export plot", start, FILE_FILTER)
    if not chosen:
        return None
    path = Path(chosen)
    if path.suffix.lower() not in FORMATS:
        # The user typed a name without a known suffix: use the filter they picked.
        suffix = next((s for s, f in FORMATS.items() if f == selected_filter), ".png")
        path = path.with_name(path.name + suffix)
    return export_plot(plot, path, notes=notes)
