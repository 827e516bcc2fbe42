"""Trace view: fetch, decimated drawing, cursor, resonances, live marker, export and re-open."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest

from ctp10_gui.hardware.ctp10 import Trace, TraceType
from ctp10_gui.link.controller import LinkController
from ctp10_gui.models.connection import AcquisitionSettings, LinkState
from ctp10_gui.models.traces import TraceStore
from ctp10_gui.simulator import SimulatorServer
from ctp10_gui.views.sweep_panel import SweepPanel
from ctp10_gui.views.trace_view import TraceView


@pytest.fixture
def controller() -> Iterator[LinkController]:
    """Return a real LinkController (not connected until a test connects it)."""
    ctl = LinkController(AcquisitionSettings(interval_s=0.05))
    yield ctl
    ctl.shutdown()


@pytest.fixture
def view(qtbot: Any, controller: LinkController) -> TraceView:
    """Return a shown 1000×600 TraceView over an empty store."""
    widget = TraceView(TraceStore(), controller)
    qtbot.addWidget(widget)
    widget.resize(1000, 600)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def connect(qtbot: Any, controller: LinkController, sim: SimulatorServer) -> None:
    controller.connect_to(sim.address)
    qtbot.waitUntil(lambda: controller.status.state is LinkState.LIVE, timeout=5000)


def ring_trace(points: int = 20_001, channel: int = 1) -> Trace:
    """Return a TF trace 1540–1560 nm with dips of 20 dB at 1545 and 8 dB at 1555 nm."""
    x = 1540.0 + np.arange(points) * (20.0 / (points - 1))
    y = -2.0 - 20.0 / (1 + ((x - 1545.0) / 0.02) ** 2) - 8.0 / (1 + ((x - 1555.0) / 0.05) ** 2)
    return Trace(4, channel, TraceType.TF_LIVE, x, y, 1540.0, 1000.0 * (x[1] - x[0]), "dB")


@pytest.mark.slow  # ~5 s: 940 001 rows of exact CSV text are written and parsed back
def test_full_size_trace_fetched_drawn_exported_and_reopened_identical(
    qtbot: Any, sim_factory: Callable, controller: LinkController, view: TraceView, tmp_path
) -> None:
    sim = sim_factory(speedup=20.0)
    # 1520–1614 nm at 0.1 pm: 940 001 points, the CTP10's largest trace.
    for command in (":INIT:WAV:STAR 1520NM", ":INIT:WAV:STOP 1614NM", ":INIT:WAV:SAMP 0.1PM"):
        sim.instrument.handle(command)
    connect(qtbot, controller, sim)
    store = view.store
    panel = SweepPanel(controller, store)
    qtbot.addWidget(panel)
    panel.set_channels(4, [1])
    with qtbot.waitSignal(panel.traces_fetched, timeout=15_000) as fetched:
        panel.start_sweep()
    stored = fetched.args[0]
    assert fetched.args[1] == ""
    assert [t.points for t in stored] == [940_001]
    trace = stored[0]
    assert trace.wavelength_nm[0] == 1520.0 and trace.wavelength_nm[-1] == pytest.approx(1614.0)

    # Drawn decimated: the whole trace is in view, yet Qt gets ~2 points per pixel column.
    curve = view.plot.curves[trace.key]
    xd, yd = curve.getData()
    assert 100 < xd.size <= 2 * view.plot.viewbox.width() + 4
    assert yd.min() == trace.values.min() and yd.max() == trace.values.max()
    assert curve.opts["pen"].width() <= 1
    assert view.trace_list.item(0).text() == "trace 1 · M4 C1 TF live"

    paths = {}
    for suffix in (".npy", ".csv"):
        with qtbot.waitSignal(view.files.export_finished, timeout=20_000) as done:
            view.files.export([trace.key], tmp_path / f"spectrum{suffix}")
        written, error = done.args
        assert error == ""
        assert [p.name for p in written] == [f"spectrum{suffix}", f"spectrum{suffix}.json"]
        paths[suffix] = written[0]
    assert "Exported spectrum.csv" in view.message.text()

    with qtbot.waitSignal(view.files.open_finished, timeout=20_000) as opened:
        view.files.open([paths[".npy"], paths[".csv"]])
    reopened, error = opened.args
    assert error == ""
    for again in reopened:
        assert np.array_equal(again.wavelength_nm, trace.wavelength_nm)
        assert np.array_equal(again.values, trace.values)
        assert again.metadata["instrument"]["serial"] == "CTP10-SIM-0001"
        assert again.metadata["trace_type_name"] == "TF live"
        assert again.metadata["settings"]["sampling_pm"] == pytest.approx(0.1)
    assert [view.trace_list.item(i).text() for i in range(3)] == [
        "trace 1 · M4 C1 TF live",
        "trace 2 · M4 C1 TF live (spectrum.npy)",
        "trace 3 · M4 C1 TF live (spectrum.csv)",
    ]
    assert len(view.plot.curves) == 3


def test_zoom_redraws_only_the_visible_slice(qtbot: Any, view: TraceView) -> None:
    store = view.store
    stored = store.add_trace(ring_trace(points=200_001))
    curve = view.plot.curves[stored.key]
    assert curve.getData()[0].size <= 2 * view.plot.viewbox.width() + 4
    with qtbot.waitSignal(view.plot.redrawn, timeout=1000):
        view.plot.viewbox.setXRange(1544.99, 1545.01, padding=0)
    x, y = curve.getData()
    # 0.02 nm of a 0.1 pm grid: 201 raw points plus one beyond each edge, not decimated.
    assert x.size == 203
    assert x[0] < 1544.99 <= x[1] and x[-2] <= 1545.01 < x[-1]
    assert y.min() == pytest.approx(-22.0, abs=1e-3)
    view.plot.fit_all()
    (x0, x1), _ = view.plot.viewbox.viewRange()
    assert (x0, x1) == pytest.approx((1540.0, 1560.0))


def test_overlay_legend_and_okabe_ito_colours(view: TraceView) -> None:
    store = view.store
    a = store.add_trace(ring_trace(channel=1))
    b = store.add_trace(ring_trace(channel=2))
    pens = {view.plot.curves[k].opts["pen"].color().name().upper() for k in (a.key, b.key)}
    palette = {"#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7"}
    assert len(pens) == 2 and pens <= palette
    assert [label.text for _, label in view.plot.legend.items] == ["M4 C1 TF live", "M4 C2 TF live"]
    view.trace_list.item(0).setCheckState(view.trace_list.item(0).checkState().Unchecked)
    assert not view.plot.curves[a.key].isVisible()


def test_cursor_readout_shows_wavelength_frequency_and_trace_value(view: TraceView) -> None:
    view.store.add_trace(ring_trace())
    view.show_cursor(1545.0, -10.0)
    text = view.cursor_label.text()
    assert text.startswith("λ 1545.0000 nm · 194.04043 THz · cursor -10.00")  # c / λ
    assert text.endswith("M4 C1 TF live: -22.000 dB")
    assert view.plot.crosshair_wavelength_nm == 1545.0


def test_resonance_table_lists_deepest_dips_with_wavelength_and_depth(
    qtbot: Any, view: TraceView
) -> None:
    with qtbot.waitSignal(view.resonance_table.resonances_changed, timeout=2000):
        view.store.add_trace(ring_trace())  # listed just after the first paint
    table = view.resonance_table.table
    rows = [tuple(table.item(r, c).text() for c in range(3)) for r in range(table.rowCount())]
    assert rows == [("1", "1545.0000", "20.00"), ("2", "1555.0000", "8.00")]
    assert table.item(0, 1).toolTip().startswith("minimum -22.00 dB at 1545.0000 nm")
    assert view.plot.resonance_marks[:2] == [1545.0, 1555.0]  # marked on the plot too
    with qtbot.waitSignal(view.resonance_table.resonances_changed, timeout=2000):
        view.resonance_table.kind_combo.setCurrentIndex(1)
    assert all(r.kind == "peak" for r in view.resonance_table.resonances)
    with qtbot.waitSignal(view.resonance_table.resonances_changed, timeout=2000):
        view.resonance_table.kind_combo.setCurrentIndex(0)
        view.resonance_table.count_spin.setValue(1)  # one update for both changes
    assert [r.wavelength_nm for r in view.resonance_table.resonances] == [1545.0]
    assert view.resonance_table.table.rowCount() == 1


def test_live_marker_sits_at_detector_wavelength_with_live_power(
    qtbot: Any, sim: SimulatorServer, controller: LinkController, view: TraceView
) -> None:
    sim.instrument.handle(":CTP:SENS4:CHAN1:WAV 1555NM")
    connect(qtbot, controller, sim)
    view.store.add_trace(ring_trace())
    qtbot.waitUntil(lambda: view.plot.marker_text.startswith(" live -"), timeout=3000)
    assert view.plot.marker_text.endswith("dBm @ 1555.000 nm")
    # On a TF (dB) trace the dot sits on the trace; the label carries the live dBm value.
    assert view.plot.marker_point == pytest.approx((1555.0, -10.0), abs=1e-3)
    view.marker_check.setChecked(False)
    assert view.plot.marker_text == "" and view.plot.marker_point is None


def test_open_reports_unreadable_files(qtbot: Any, view: TraceView, tmp_path) -> None:
    bad = tmp_path / "notes.txt"
    bad.write_text("hello")
    with qtbot.waitSignal(view.files.open_finished, timeout=5000) as opened:
        view.files.open([bad])
    assert opened.args == [[], "cannot open 'notes.txt': only .csv and .npy trace exports are read"]
    assert view.message.text().startswith("Open failed: cannot open 'notes.txt'")
    assert view.message.property("role") == "error"


def test_set_theme_recolours_plot_curves_and_list(view: TraceView) -> None:
    from ctp10_gui.views.theme import DARK, LIGHT

    for channel in (1, 2, 3):
        view.store.add_trace(ring_trace(points=2001, channel=channel))
    stored = view.store.add_trace(ring_trace(points=2001, channel=4))
    assert stored.key == 4  # yellow on dark, blue on white: the one colour the themes differ in
    assert view.plot.backgroundBrush().color().name() == DARK.background
    view.set_theme(LIGHT)
    assert view.plot.backgroundBrush().color().name() == LIGHT.background
    expected = LIGHT.channel_colours[3].lower()
    assert expected != DARK.channel_colours[3].lower()
    assert view.plot.curves[stored.key].opts["pen"].color().name() == expected
    assert view.trace_list.item(3).foreground().color().name() == expected
    for _sample, label in view.plot.legend.items:  # the legend text is redrawn, not only noted
        assert LIGHT.foreground.lower() in label.item.toHtml().lower()


def test_a_second_file_job_is_refused_with_a_sentence_while_one_runs(
    qtbot: Any, view: TraceView, tmp_path
) -> None:
    stored = view.store.add_trace(ring_trace(points=200_001))
    with qtbot.waitSignal(view.files.export_finished, timeout=20_000) as done:
        assert view.files.export([stored.key], tmp_path / "a.csv")
        assert not view.export_button.isEnabled()
        assert not view.files.export([stored.key], tmp_path / "b.csv")
        assert view.message.text() == "Still writing or reading files; try again when it is done."
    assert done.args[1] == ""
    assert view.export_button.isEnabled() and not (tmp_path / "b.csv").exists()
