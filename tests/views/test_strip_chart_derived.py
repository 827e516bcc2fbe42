"""Derived channels on the strip chart: a curve, a toggle, the cursor readout and range notes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pyqtgraph as pg
import pytest

from ctp10_gui.hardware.power import ChannelStatus
from ctp10_gui.models.derived import DerivedChannel
from ctp10_gui.models.live_history import LiveHistory
from ctp10_gui.models.samples import SnapshotBatch
from ctp10_gui.views.strip_chart import StripChart
from ctp10_gui.views.theme import DARK

OK, UNDER = int(ChannelStatus.OK), int(ChannelStatus.UNDER)


class FakeClock:
    """A monotonic clock moved by hand (s)."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _batch(t: np.ndarray, values: np.ndarray, status: np.ndarray | None = None,
           channels: Sequence[int] = (3, 4)) -> SnapshotBatch:
    s = np.zeros(values.shape, np.int8) if status is None else status
    return SnapshotBatch(4, tuple(channels), t, t + 1.7e9, np.where(s == OK, values, np.nan), s)


@pytest.fixture
def chart(qtbot: Any) -> tuple[StripChart, FakeClock]:
    clock = FakeClock(1000.0)
    live = LiveHistory(0.05, clock=clock)
    live.set_derived([DerivedChannel.parse("IL", "CH4 - CH3"),
                      DerivedChannel.parse("ratio", "CH3 / CH4")])
    chart = StripChart(DARK, live, window_s=10.0, clock=clock)
    qtbot.addWidget(chart)
    chart.resize(900, 500)
    chart.show()
    qtbot.waitExposed(chart)
    return chart, clock


def test_a_derived_channel_is_drawn_as_its_own_curve_with_a_toggle(
        qtbot: Any, chart: tuple[StripChart, FakeClock]) -> None:
    c, clock = chart
    t = 990.0 + np.arange(200) * 0.05
    ch3 = np.full(200, -10.0)
    ch4 = -12.0 + 0.5 * np.sin(t)
    c.history.append(_batch(t, np.column_stack([ch3, ch4])))
    clock.now = 1000.0
    c.redraw()
    x, y = c.visible_curve_data("IL")
    assert len(x) > 50 and x.min() >= -10.0 and x.max() <= 0.0
    assert np.nanmin(y) == pytest.approx(float((ch4 - ch3).min()), abs=1e-3)
    assert np.nanmax(y) == pytest.approx(float((ch4 - ch3).max()), abs=1e-3)
    _x, ratio_db = c.visible_curve_data("ratio")  # CH3/CH4 as a level: CH3 − CH4 in dB
    assert np.nanmax(ratio_db) == pytest.approx(float((ch3 - ch4).max()), abs=1e-3)
    assert set(c._toggles) == {3, 4, "IL", "ratio"}
    assert c._toggles["IL"].text() == "IL"
    assert "IL = CH4 − CH3" in c._toggles["IL"].toolTip()
    assert c.plot.getPlotItem().getAxis("left").labelText == "dBm; derived in dB"
    lo, hi = c.y_range()
    assert lo <= -2.5 and hi >= 2.0  # the autoscale frames the derived curves too
    c._toggles["IL"].setChecked(False)
    c.redraw()
    assert len(c.visible_curve_data("IL")[0]) == 0
    frames = c.frames
    qtbot.waitUntil(lambda: c.frames > frames, timeout=1000)  # it reached the pixels


def test_the_cursor_reads_a_derived_channel_in_its_own_unit(
        qtbot: Any, chart: tuple[StripChart, FakeClock]) -> None:
    c, clock = chart
    t = 990.0 + np.arange(200) * 0.05
    c.history.append(_batch(t, np.column_stack([np.full(200, -10.0), np.full(200, -13.0)])))
    clock.now = 1000.0
    c.redraw()
    vb = c.plot.getPlotItem().getViewBox()
    scene_pos = vb.mapViewToScene(pg.Point(-2.0, -5.0))
    qtbot.mouseMove(c.plot.viewport(), c.plot.mapFromScene(scene_pos))
    qtbot.waitUntil(lambda: c.crosshair_label.text() != "", timeout=1000)
    text = c.crosshair_label.text()
    assert "IL −3.000 dB" in text  # a difference in dB
    assert "ratio 1.995" in text  # a ratio as a plain number: 10^(3/10)


def test_an_under_range_input_makes_the_derived_curve_say_so(
        qtbot: Any, chart: tuple[StripChart, FakeClock]) -> None:
    c, clock = chart
    t = 995.0 + np.arange(100) * 0.05
    status = np.zeros((100, 2), np.int8)
    status[:, 1] = UNDER  # CH4 under range: IL lies below the floor, the ratio above
    c.history.append(_batch(t, np.column_stack([np.full(100, -10.0), np.full(100, -80.0)]),
                            status))
    clock.now = float(t[-1])
    c.redraw()
    assert len(c.visible_curve_data("IL")[0]) == 0 or np.isnan(c.visible_curve_data("IL")[1]).all()
    note = c.range_text()
    assert "IL ▼ under range" in note and "ratio ▲ over range" in note
