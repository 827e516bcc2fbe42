"""Chart images that say what they show: header band with instrument, span, λ, unit, legend."""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pyqtgraph as pg
import pytest
from PySide6.QtGui import QColor, QImage
from PySide6.QtWidgets import QFileDialog

from ctp10_gui.models.traces import TraceStore
from ctp10_gui.views.plot_export import (
    ImageNotes,
    _header_height,
    chart_notes,
    export_plot,
    export_plot_dialog,
    trace_notes,
)

END = 1_764_000_060.0
NOTES = chart_notes(serial="CTP10-SIM-0001", module=4, channels=(1, 2),
                    colours={1: "#e69f00", 2: "#56b4e9"},
                    wavelengths_nm={1: 1550.0, 2: 1310.125}, unit="dBm", window_s=60.0,
                    end_wall=END, relative=(2,))


@pytest.fixture
def plot(qtbot) -> pg.PlotWidget:
    w = pg.PlotWidget(background="#101010")
    qtbot.addWidget(w)
    w.resize(600, 300)
    x = np.linspace(0, 10, 500)
    w.plot(x, np.sin(x) * 10 - 20, pen="y")
    w.setLabel("left", "power", units="dBm")
    w.show()
    qtbot.waitExposed(w)
    return w


def test_chart_notes_name_instrument_span_wavelengths_and_unit() -> None:
    start = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(END - 60))
    end = time.strftime("%H:%M:%S", time.localtime(END))
    assert NOTES.lines == ("CTP10 SN CTP10-SIM-0001 · module 4",
                           f"{start} – {end} (last 60 s)",
                           "power in dBm; CH2 in dB relative to its reference")
    assert NOTES.legend == (("CH1 1550.000 nm", "#e69f00"), ("CH2 1310.125 nm", "#56b4e9"))


def test_png_gets_a_header_band_with_drawn_text_above_the_plot(
        plot: pg.PlotWidget, tmp_path: Path) -> None:
    plain = QImage(str(export_plot(plot, tmp_path / "plain.png", width_px=1200)))
    img = QImage(str(export_plot(plot, tmp_path / "noted.png", width_px=1200, notes=NOTES)))
    band = _header_height(1200, NOTES)
    assert img.width() == 1200
    assert img.height() == plain.height() + band
    background = QColor("#101010").rgb()
    text_pixels = sum(1 for y in range(band) for x in range(0, 1200, 2)
                      if img.pixel(x, y) != background)
    assert text_pixels > 2000  # three lines of text and a legend, not an empty band
    # The swatch of CH1 is drawn in its colour on the legend row.
    colours = {QColor(img.pixel(x, y)).name() for y in range(band) for x in range(0, 300)}
    assert "#e69f00" in colours


def test_svg_holds_the_serial_and_legend_as_text(plot: pg.PlotWidget, tmp_path: Path) -> None:
    path = export_plot(plot, tmp_path / "noted.svg", notes=NOTES)
    root = ET.parse(path).getroot()
    text = " ".join("".join(el.itertext()) for el in root.iter() if el.tag.endswith("text"))
    assert "CTP10-SIM-0001" in text and "CH2 1310.125 nm" in text and "dBm" in text
    assert any(el.tag.endswith("path") or el.tag.endswith("polyline") for el in root.iter())


def test_trace_notes_name_serial_acquisition_span_and_units() -> None:
    store = TraceStore()
    x = np.linspace(1530.0, 1570.0, 11)
    meta = {"instrument": {"serial": "SN-7"}, "acquired": "2026-12-04T15:30:00+00:00"}
    trace = store.add_arrays(x, -x / 1000, unit="dB", module=4, channel=1, trace_type=1,
                             metadata=meta)
    notes = trace_notes([(trace, "#ff0000")])
    assert notes.lines == ("CTP10 SN SN-7", "acquired 2026-12-04T15:30:00+00:00",
                           "1530.000–1570.000 nm · values in dB")
    assert notes.legend == (("M4 C1 TF live", "#ff0000"),)


def test_the_dialog_starts_in_the_folder_given_and_writes_the_notes(
        plot: pg.PlotWidget, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    starts: list[str] = []

    def ask(parent, caption, start, filters, *args):
        starts.append(start)
        return str(tmp_path / "chart"), "SVG drawing (*.svg)"

    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(ask))
    path = export_plot_dialog(plot, directory=tmp_path, name="strip-chart",
                              notes=ImageNotes(("serial XYZ-1",)))
    assert starts == [str(tmp_path / "strip-chart.png")]
    assert path == tmp_path / "chart.svg"
    assert "XYZ-1" in path.read_text()


def test_a_long_legend_wraps_onto_more_rows_inside_the_image(
        plot: pg.PlotWidget, tmp_path: Path) -> None:
    many = ImageNotes(("serial",), tuple((f"M4 C{i} TF live (ring_{i}.csv)", "#ff0000")
                                         for i in range(12)))
    one_row = ImageNotes(("serial",), many.legend[:1])
    assert _header_height(800, many) > _header_height(800, one_row)
    img = QImage(str(export_plot(plot, tmp_path / "many.png", width_px=800, notes=many)))
    band = _header_height(800, many)
    red = QColor("#ff0000").rgb()
    rows_with_red = {y for y in range(band) for x in range(0, 60) if img.pixel(x, y) == red}
    assert max(rows_with_red) - min(rows_with_red) > 20  # swatches on more than one row


def test_chart_notes_legend_names_channels_and_derived_curves() -> None:
    notes = chart_notes(serial=None, module=4, channels=(3, 4),
                        colours={3: "#111111", 4: "#222222"}, wavelengths_nm={3: 1550.0},
                        unit="dBm", window_s=10.0, end_wall=END,
                        names={3: "CH3 · input GC", 4: "CH4 · OUT TO DUT"},
                        derived=[("IL = CH4 − CH3 (dB)", "#333333")])
    assert notes.legend == (("CH3 · input GC 1550.000 nm", "#111111"),
                            ("CH4 · OUT TO DUT", "#222222"),
                            ("IL = CH4 − CH3 (dB)", "#333333"))
