"""Plot export: real PNG and SVG files come out of a drawn pyqtgraph plot."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pyqtgraph as pg
import pytest
from PySide6.QtGui import QImage

from ctp10_gui.views.plot_export import export_plot

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def plot(qtbot) -> pg.PlotWidget:
    w = pg.PlotWidget()
    qtbot.addWidget(w)
    w.resize(600, 300)
    x = np.linspace(0, 10, 500)
    w.plot(x, np.sin(x) * 10 - 20, pen="y", name="ch1")
    w.setLabel("left", "power", units="dBm")
    w.show()
    qtbot.waitExposed(w)
    return w


def test_png_is_a_real_image_of_the_requested_width(plot: pg.PlotWidget, tmp_path: Path) -> None:
    path = export_plot(plot, tmp_path / "chart.png", width_px=1200)
    assert path.read_bytes()[:8] == PNG_MAGIC
    img = QImage(str(path))
    assert img.width() == 1200
    assert img.height() == pytest.approx(1200 * 300 / 600, abs=3)


def test_svg_parses_as_xml_with_svg_root(plot: pg.PlotWidget, tmp_path: Path) -> None:
    path = export_plot(plot.getPlotItem(), tmp_path / "chart.SVG")
    root = ET.parse(path).getroot()
    assert root.tag.endswith("svg")
    assert any(el.tag.endswith("path") or el.tag.endswith("polyline") for el in root.iter())


def test_unknown_suffix_is_refused_with_a_sentence(plot: pg.PlotWidget, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"use \.png or \.svg"):
        export_plot(plot, tmp_path / "chart.jpg")
    assert list(tmp_path.iterdir()) == []
