"""Trace analysis in the trace view: metrics columns, trace chooser, click zoom, CSV, IL."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog, QInputDialog

from ctp10_gui.link.controller import LinkController
from ctp10_gui.models.resonance import RESONANCE_COLUMNS
from ctp10_gui.models.settings import AppSettings
from ctp10_gui.models.traces import StoredTrace, TraceStore
from ctp10_gui.views.trace_view import TraceView

CENTRES = [1542.1, 1544.3, 1546.5, 1548.7]  # FSR 2.2 nm
QS = [5_000.0, 10_000.0, 20_000.0, 8_000.0]
DEPTHS = [0.9, 0.99, 0.5, 0.95]


@pytest.fixture
def controller() -> Iterator[LinkController]:
    ctl = LinkController()
    yield ctl
    ctl.shutdown()


@pytest.fixture
def view(qtbot: Any, controller: LinkController) -> TraceView:
    """Return a shown 1100×650 TraceView over an empty store."""
    widget = TraceView(TraceStore(), controller)
    qtbot.addWidget(widget)
    widget.resize(1100, 650)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def comb_db(x: np.ndarray, baseline_db: float = -3.0) -> np.ndarray:
    """Return a baseline (dB) times 1 − Σ depth·L(λ): Lorentzian dips of Q QS at CENTRES."""
    linear = np.ones_like(x)
    for c, q, a in zip(CENTRES, QS, DEPTHS, strict=True):
        half = c / q / 2
        linear -= a * half**2 / ((x - c) ** 2 + half**2)
    return baseline_db + 10 * np.log10(linear)


def add_comb(qtbot: Any, view: TraceView, *, start: float = 1540.0, stop: float = 1550.0,
             step: float = 0.001, unit: str = "dB", channel: int = 1) -> StoredTrace:
    """Add a Lorentzian comb trace and wait until the table has analysed whatever it chose."""
    x = np.arange(start, stop, step)
    with qtbot.waitSignal(view.resonance_table.resonances_changed, timeout=5000):
        return view.store.add_arrays(x, comb_db(x), unit=unit, module=4, channel=channel,
                                     trace_type=1 if unit == "dB" else 11)


def table_text(view: TraceView) -> list[dict[str, str]]:
    table = view.resonance_table.table
    headers = [table.horizontalHeaderItem(c).text().replace("\n", " ")
               for c in range(table.columnCount())]
    return [{h: table.item(r, c).text() for c, h in enumerate(headers)}
            for r in range(table.rowCount())]


def test_columns_show_extinction_fwhm_q_and_fsr_of_lorentzian_dips_within_2_percent(
        qtbot: Any, view: TraceView) -> None:
    add_comb(qtbot, view)
    rows = table_text(view)
    assert list(rows[0]) == ["#", "λ (nm)", "Depth (dB)", "ER (dB)", "FWHM (pm)",
                             "Loaded Q", "FSR (nm)"]
    assert [float(r["λ (nm)"]) for r in rows] == pytest.approx(CENTRES, abs=0.0015)
    for row, centre, q in zip(rows, CENTRES, QS, strict=True):
        assert float(row["FWHM (pm)"]) == pytest.approx(1e3 * centre / q, rel=0.02)
        assert float(row["Loaded Q"].replace(" ", "")) == pytest.approx(q, rel=0.02)
        # Extinction: the comb's level at the centre (neighbours' tails included) below 1.
        at_centre = float(comb_db(np.array([centre]), baseline_db=0.0)[0])
        assert float(row["ER (dB)"]) == pytest.approx(-at_centre, rel=0.02)
        assert float(row["FSR (nm)"]) == pytest.approx(2.2, abs=0.002)
    assert view.resonance_table.trace_combo.currentText().startswith("trace 1 · M4 C1 TF live")


def test_the_chosen_trace_is_kept_when_another_arrives_and_replaced_visibly_when_removed(
        qtbot: Any, view: TraceView) -> None:
    first = add_comb(qtbot, view)
    combo = view.resonance_table.trace_combo
    # A second trace (another grid, so other rows) arrives: the table stays on trace 1.
    x = np.arange(1543.0, 1547.0, 0.001)
    second = view.store.add_arrays(x, comb_db(x), unit="dB", module=4, channel=2, trace_type=1)
    assert [combo.itemText(i) for i in range(combo.count())] == [
        "trace 1 · M4 C1 TF live", "trace 2 · M4 C2 TF live"]
    assert combo.currentData() == first.key and view.current_trace() is first
    assert view.trace_list.currentItem().data(Qt.ItemDataRole.UserRole) == first.key
    assert len(view.resonance_table.resonances) == 4
    # The user picks trace 2 in the chooser: its two whole dips are listed.
    with qtbot.waitSignal(view.resonance_table.resonances_changed, timeout=5000):
        combo.setCurrentIndex(1)
    assert [r.wavelength_nm for r in view.resonance_table.resonances] == pytest.approx(
        [1544.3, 1546.5], abs=0.0015)
    assert view.trace_list.currentItem().data(Qt.ItemDataRole.UserRole) == second.key
    # Clicking a row of the trace list chooses that trace too.
    with qtbot.waitSignal(view.resonance_table.resonances_changed, timeout=5000):
        view.trace_list.setCurrentRow(0)
    assert combo.currentData() == first.key
    # The chosen trace goes: the view says so and names the trace it analyses instead.
    with qtbot.waitSignal(view.resonance_table.resonances_changed, timeout=5000):
        view.store.remove(first.key)
    assert view.message.text() == ("Trace 1 · M4 C1 TF live was removed: the table now "
                                   "analyses trace 2 · M4 C2 TF live.")
    assert combo.currentData() == second.key and combo.count() == 1
    assert len(view.resonance_table.resonances) == 2
    with qtbot.waitSignal(view.resonance_table.resonances_changed, timeout=5000):
        view.store.remove(second.key)
    assert view.message.text().endswith("was removed: no trace is left to analyse.")
    assert view.resonance_table.table.rowCount() == 0


def test_a_click_on_a_row_zooms_to_the_dip_with_y_fitted(qtbot: Any, view: TraceView) -> None:
    trace = add_comb(qtbot, view)
    # A zoom far from the dip first: its y range must not survive the click.
    view.plot.viewbox.setRange(xRange=(1541.0, 1541.5), yRange=(-60.0, -50.0), padding=0)
    table = view.resonance_table.table
    rect = table.visualItemRect(table.item(2, 1))  # the Q 20 000 dip at 1546.5 nm
    with qtbot.waitSignal(view.plot.redrawn, timeout=2000):
        qtbot.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    (x0, x1), (y0, y1) = view.plot.viewbox.viewRange()
    fwhm = 1546.5 / 20_000.0
    assert (x0 + x1) / 2 == pytest.approx(1546.5, abs=0.002)
    assert x1 - x0 == pytest.approx(6 * fwhm, rel=0.03)  # 3 FWHM on each side
    shown = trace.values[(trace.wavelength_nm >= x0) & (trace.wavelength_nm <= x1)]
    minimum = trace.value_at(1546.5)
    shoulders = (trace.value_at(x0 + 1e-6), trace.value_at(x1 - 1e-6))
    assert y0 < minimum and y0 < shown.min() and y1 > max(shoulders) and y1 > shown.max()
    # Fitted: the data fill the height but for a 5 % margin top and bottom.
    assert (shown.max() - shown.min()) / (y1 - y0) == pytest.approx(1 / 1.1, rel=0.01)
    # A double-click (press, release, double-click) on another row lands on that dip.
    view.plot.fit_all()
    rect = table.visualItemRect(table.item(0, 1))
    qtbot.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.mouseDClick(table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    (x0, x1), _ = view.plot.viewbox.viewRange()
    assert (x0 + x1) / 2 == pytest.approx(1542.1, abs=0.002)


def test_table_exported_as_csv_in_the_remembered_folder_and_read_back(
        qtbot: Any, view: TraceView, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = AppSettings()
    view.files.remember_folders_in(settings)
    add_comb(qtbot, view)
    folder = tmp_path / "ring results"
    folder.mkdir()
    starts: list[str] = []

    def save_name(parent: Any, caption: str, start: str, filters: str, *args: Any):
        starts.append(start)
        return str(folder / "ring8"), filters  # no suffix typed: .csv is added

    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(save_name))
    view.export_table_dialog()
    view.export_table_dialog()
    assert starts == ["resonances_trace1.csv", str(folder / "resonances_trace1.csv")]
    assert settings.trace_export_dir == str(folder)
    lines = (folder / "ring8.csv").read_text(encoding="utf-8").splitlines()
    assert lines[0] == "# source: trace 1 · M4 C1 TF live"
    records = list(csv.DictReader(lines[1:]))
    assert list(records[0]) == [header for header, _ in RESONANCE_COLUMNS]
    rows = view.resonance_table.resonances
    assert [float(r["loaded_q"]) for r in records] == [row.loaded_q for row in rows]
    assert [float(r["wavelength_nm"]) for r in records] == pytest.approx(CENTRES, abs=0.0015)
    assert view.message.text() == "Exported 4 resonances of trace 1 · M4 C1 TF live to ring8.csv"


def test_table_export_failure_and_empty_table_give_a_sentence(
        qtbot: Any, view: TraceView, tmp_path: Path) -> None:
    view.export_table_dialog()
    assert view.message.text() == "Nothing to export: the resonance table is empty."
    settings = AppSettings(trace_export_dir=str(tmp_path))
    view.files.remember_folders_in(settings)
    add_comb(qtbot, view)
    assert view.export_table(tmp_path / "no such folder" / "ring.csv") is None
    assert settings.trace_export_dir == str(tmp_path)  # a folder that failed is not remembered
    assert view.message.text() == (f"Cannot write the resonance table to "
                                   f"{tmp_path / 'no such folder' / 'ring.csv'}: "
                                   "No such file or directory.")
    assert view.message.property("role") == "error"


def test_il_normalise_adds_the_trace_minus_the_interpolated_reference(
        qtbot: Any, view: TraceView, monkeypatch: pytest.MonkeyPatch) -> None:
    x = np.arange(1540.0, 1550.0, 0.001)
    with qtbot.waitSignal(view.resonance_table.resonances_changed, timeout=5000):
        measured = view.store.add_arrays(x, comb_db(x, baseline_db=-7.0), unit="dBm", module=4,
                                         channel=1, trace_type=11)
    ref_x = np.linspace(1535.0, 1555.0, 2001)  # coarser grid, wider span
    reference = view.store.add_arrays(ref_x, -4.0 + 0.1 * np.sin(ref_x), unit="dBm", module=4,
                                      channel=2, trace_type=12)
    asked: list[tuple[str, list[str]]] = []

    def get_item(parent: Any, title: str, label: str, items: list[str], *args: Any):
        asked.append((label, items))
        return items[0], True

    monkeypatch.setattr(QInputDialog, "getItem", staticmethod(get_item))
    assert view.current_trace() is measured
    with qtbot.waitSignal(view.resonance_table.resonances_changed, timeout=5000):
        view.normalise_dialog()
    assert asked == [("Subtract which reference from trace 1 · M4 C1 raw live?",
                      ["trace 2 · M4 C2 raw reference"])]
    result = view.store.last
    assert result is not None and result.key == 3
    assert result.label == "trace 1 − trace 2 (IL)" and result.unit == "dB"
    assert view.trace_list.item(2).text() == "trace 3 · trace 1 − trace 2 (IL)"
    assert view.current_trace() is result  # the user asked for it: the table analyses it
    assert view.message.text() == ("Added trace 3 · trace 1 − trace 2 (IL); "
                                   "the table now analyses it.")
    for wl in (1540.0, 1542.1, 1544.3005, 1549.998):
        expected = measured.value_at(wl) - float(np.interp(wl, ref_x, reference.values))
        assert result.value_at(wl) == pytest.approx(expected, abs=1e-9)
    assert result.metadata["insertion_loss"]["reference"] == "trace 2 · M4 C2 raw reference"


def test_il_normalise_refuses_another_unit_a_reference_beside_the_trace_or_no_reference(
        qtbot: Any, view: TraceView) -> None:
    view.normalise_dialog()
    assert view.message.text().startswith("IL normalisation needs two traces")
    tf = add_comb(qtbot, view)
    raw = view.store.add_arrays(np.array([1540.0, 1550.0]), np.array([-3.0, -3.0]),
                                unit="dBm", module=4, channel=2, trace_type=12)
    beside = view.store.add_arrays(np.array([1502.0, 1510.0]), np.array([0.5, 0.5]),
                                   unit="dB", module=4, channel=3, trace_type=1)
    assert view.normalise(tf.key, raw.key) is None
    assert view.message.text() == (
        "Cannot normalise trace 1 · M4 C1 TF live by trace 2 · M4 C2 raw reference: the trace "
        "is in dB and the reference in dBm; choose a reference in the same unit.")
    assert view.normalise(tf.key, beside.key) is None
    assert view.message.text() == (
        "Cannot normalise trace 1 · M4 C1 TF live by trace 3 · M4 C3 TF live: the reference "
        "(1502.000–1510.000 nm) does not overlap the trace (1540.000–1549.999 nm).")
    assert view.message.property("role") == "error"
    assert len(view.store) == 3


def test_a_full_size_trace_is_analysed_off_the_gui_thread(qtbot: Any, view: TraceView) -> None:
    # 1520–1614 nm at 0.1 pm: the CTP10's largest trace, 940 001 points.
    x = 1520.0 + np.arange(940_001) * 1e-4
    y = np.interp(x, np.arange(1520.0, 1614.0, 0.0005), comb_db(np.arange(1520.0, 1614.0,
                                                                          0.0005)))
    view.store.add_arrays(x, y, unit="dB", module=4, channel=1, trace_type=1)
    table = view.resonance_table
    with qtbot.waitSignal(table.resonances_changed, timeout=10_000):
        table.update_now()  # returns with the analysis still running in its thread
        assert table.busy
    assert [r.wavelength_nm for r in table.resonances] == pytest.approx(CENTRES, abs=0.002)
