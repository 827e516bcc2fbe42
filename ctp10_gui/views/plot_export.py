"""Export a pyqtgraph plot (strip chart, trace view) as a PNG or SVG image."""

from __future__ import annotations

import logging
from pathlib import Path

import pyqtgraph as pg
from pyqtgraph.exporters import ImageExporter, SVGExporter
from PySide6.QtCore import QRectF, QSize
from PySide6.QtGui import QPainter
from PySide6.QtSvg import QSvgGenerator
from PySide6.QtWidgets import QFileDialog, QWidget

log = logging.getLogger(__name__)

FORMATS = {".png": "PNG image (*.png)", ".svg": "SVG drawing (*.svg)"}
FILE_FILTER = ";;".join(FORMATS.values())
DEFAULT_PNG_WIDTH_PX = 1600  # wider than most screens' plot area: sharp in reports


def _plot_item(plot: pg.PlotItem | pg.PlotWidget) -> pg.PlotItem:
    return plot.getPlotItem() if isinstance(plot, pg.PlotWidget) else plot


def _render_svg(item: pg.PlotItem, path: Path) -> None:
    """Draw the plot item's area of its scene into an SVG file (vector, 1 px = 1 user unit)."""
    source = item.sceneBoundingRect()
    width, height = max(1, round(source.width())), max(1, round(source.height()))
    gen = QSvgGenerator()
    gen.setFileName(str(path))
    gen.setSize(QSize(width, height))
    gen.setViewBox(QRectF(0, 0, width, height))
    gen.setTitle(item.titleLabel.text or "plot")
    painter = QPainter(gen)
    try:
        item.scene().render(painter, QRectF(0, 0, width, height), source)
    finally:
        painter.end()


def export_plot(
    plot: pg.PlotItem | pg.PlotWidget, path: str | Path, *, width_px: int | None = None
) -> Path:
    """Write the plot to path as PNG or SVG chosen by suffix; ValueError for other suffixes.

    width_px: PNG width in pixels (default 1600, height keeps the on-screen aspect ratio).
    Raises OSError when the file cannot be written.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    item = _plot_item(plot)
    if suffix == ".png":
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
    return export_plot(plot, path)
