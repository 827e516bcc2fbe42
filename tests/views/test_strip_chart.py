"""Strip chart: decimated drawing, fixed x range, outage bands, pause, autoscale, cursor readout."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pyqtgraph as pg
import pytest
from PySide6.QtCore import QEvent, QObject, QPoint
from PySide6.QtGui import QGuiApplication, QImage, QPaintEvent
from PySide6.QtWidgets import QApplication

from ctp10_gui.hardware.power import ChannelStatus
from ctp10_gui.models.connection import LinkState
from ctp10_gui.models.live_history import LiveHistory, capacity_for
from ctp10_gui.models.samples import SnapshotBatch
from ctp10_gui.models.settings import AppSettings
from ctp10_gui.models.y_autorange import YAutoRange
from ctp10_gui.views.strip_chart import StripChart
from ctp10_gui.views.theme import DARK


class FakeClock:
    """A monotonic clock moved by hand (s)."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _batch(t: np.ndarray, values: np.ndarray, channels: Sequence[int] = (1, 2)) -> SnapshotBatch:
    values = values.reshape(len(t), len(channels))
    status = np.where(np.isfinite(values), 0, 3).astype(np.int8)
    return SnapshotBatch(4, tuple(channels), t, t + 1.7e9, values, status)


@pytest.fixture
def chart_with_clock(qtbot: Any) -> Callable[..., tuple[StripChart, FakeClock]]:
    def make(window_s: float = 60.0, interval_s: float = 0.05) -> tuple[StripChart, FakeClock]:
        clock = FakeClock(1000.0)
        live = LiveHistory(interval_s, clock=clock)
        chart = StripChart(DARK, live, window_s=window_s, clock=clock)
        qtbot.addWidget(chart)
        chart.resize(900, 500)
        chart.show()
        qtbot.waitExposed(chart)
        live.set_layout(4, (1, 2))
        return chart, clock

    return make


def test_long_history_is_drawn_min_max_decimated_in_a_fixed_x_range(
        qtbot: Any, chart_with_clock: Callable[..., tuple[StripChart, FakeClock]]) -> None:
    chart, clock = chart_with_clock(window_s=60.0, interval_s=0.001)
    n = 120_000  # two minutes at 1 kHz, one visible
    t = 880.0 + np.arange(n) * 0.001
    y = np.column_stack([-10 + 0.1 * np.sin(t), -20 + 0.1 * np.cos(t)])
    y[100_000, 0] = -3.0  # a one-sample spike 20 s ago must survive the decimation
    chart.history.append(_batch(t, y))
    clock.now = float(t[-1])
    chart.redraw()
    x, yc = chart.visible_curve_data(1)
    columns = int(chart.plot.getPlotItem().getViewBox().width())
    assert 100 < len(x) <= 3 * columns, f"{len(x)} points for {columns} columns"
    assert x.min() >= -60.0 and x.max() <= 0.0
    assert np.nanmax(yc) == pytest.approx(-3.0)
    assert chart.plot.getPlotItem().getViewBox().viewRange()[0] == pytest.approx([-60.0, 0.0])
    frames = chart.frames
    qtbot.waitUntil(lambda: chart.frames > frames, timeout=1000)  # it reached the pixels
    chart.set_window(3600.0)
    chart.redraw()
    x, _ = chart.visible_curve_data(2)
    assert x.min() >= -121.0 and len(x) <= 3 * columns
    assert chart.plot.getPlotItem().getViewBox().viewRange()[0] == pytest.approx([-3600.0, 0.0])


def test_outage_is_a_gap_and_a_shaded_band(
        chart_with_clock: Callable[..., tuple[StripChart, FakeClock]]) -> None:
    chart, clock = chart_with_clock(window_s=60.0)
    t1 = 990.0 + np.arange(200) * 0.05  # 990 … 999.95
    chart.history.append(_batch(t1, np.full((200, 2), -10.0)))
    clock.now = 1001.0
    chart.history.set_link_state(LinkState.STALE)
    chart.redraw()
    (band,) = chart.visible_bands()
    assert band == pytest.approx((999.95 - 1001.0, 0.0))  # open: reaches "now"
    t2 = 1004.0 + np.arange(40) * 0.05
    chart.history.append(_batch(t2, np.full((40, 2), -11.0)))
    chart.history.set_link_state(LinkState.LIVE)
    clock.now = 1006.0
    chart.redraw()
    (band,) = chart.visible_bands()
    assert band == pytest.approx((999.95 - 1006.0, 1004.0 - 1006.0))
    x, y = chart.visible_curve_data(1)
    inside = (x > band[0] + 1e-3) & (x < band[1] - 1e-3)
    assert not np.isfinite(y[inside]).any(), "a line is drawn across the outage"
    assert np.isnan(y).any()


def test_silence_without_a_state_change_still_cuts_the_line(
        chart_with_clock: Callable[..., tuple[StripChart, FakeClock]]) -> None:
    chart, clock = chart_with_clock(window_s=60.0)
    chart.history.append(_batch(990.0 + np.arange(20) * 0.05, np.full((20, 2), -10.0)))
    chart.history.append(_batch(995.0 + np.arange(20) * 0.05, np.full((20, 2), -10.0)))
    clock.now = 997.0
    chart.redraw()
    assert len(chart.visible_bands()) == 1


@pytest.mark.parametrize("state", [LinkState.DISCONNECTED, LinkState.CONNECTED, LinkState.BUSY])
def test_a_chosen_pause_cuts_the_line_without_an_outage_band(
        state: LinkState, chart_with_clock: Callable[..., tuple[StripChart, FakeClock]]) -> None:
    """Disconnect, live off or a sweep is not a failure of the link: a cut, no red band."""
    chart, clock = chart_with_clock(window_s=60.0)
    chart.history.append(_batch(990.0 + np.arange(20) * 0.05, np.full((20, 2), -10.0)))
    chart.history.set_link_state(state)
    chart.history.set_link_state(LinkState.LIVE)
    chart.history.append(_batch(995.0 + np.arange(20) * 0.05, np.full((20, 2), -10.0)))
    clock.now = 997.0
    chart.redraw()
    assert chart.visible_bands() == []
    _x, y = chart.visible_curve_data(1)
    assert np.isnan(y).any()


def test_pause_freezes_the_picture_while_data_keeps_coming(
        qtbot: Any, chart_with_clock: Callable[..., tuple[StripChart, FakeClock]]) -> None:
    chart, clock = chart_with_clock(window_s=10.0)
    chart.history.append(_batch(995.0 + np.arange(100) * 0.05, np.full((100, 2), -10.0)))
    clock.now = 1000.0
    chart.redraw()
    before = chart.visible_curve_data(1)
    chart.pause_button.click()
    assert chart.paused and chart.pause_button.text() == "Resume"
    chart.history.append(_batch(1000.0 + np.arange(40) * 0.05, np.full((40, 2), -12.0)))
    clock.now = 1002.0
    chart.redraw()  # a redraw while frozen keeps the frozen "now"
    after = chart.visible_curve_data(1)
    np.testing.assert_array_equal(before[0], after[0])
    chart.pause_button.click()
    chart.redraw()
    assert np.nanmin(chart.visible_curve_data(1)[1]) == pytest.approx(-12.0)
    assert len(chart.history) == 140  # nothing was dropped while frozen


def test_relative_reference_and_channel_toggle(
        chart_with_clock: Callable[..., tuple[StripChart, FakeClock]]) -> None:
    chart, clock = chart_with_clock(window_s=10.0)
    chart.history.append(_batch(995.0 + np.arange(100) * 0.05, np.full((100, 2), [-10.0, -20.0])))
    clock.now = 1000.0
    chart.set_references({1: -10.5})
    chart.redraw()
    assert np.nanmax(chart.visible_curve_data(1)[1]) == pytest.approx(0.5)
    assert np.nanmax(chart.visible_curve_data(2)[1]) == pytest.approx(-20.0)
    # One axis, two units: the axis says which curves are relative.
    assert chart.plot.getPlotItem().getAxis("left").labelText == "power: dBm · CH1 in dB rel."
    assert "dBm" in chart._toggles[2].toolTip() and "relative" in chart._toggles[1].toolTip()
    chart.set_references({1: -10.5, 2: -20.0})
    assert chart.plot.getPlotItem().getAxis("left").labelText == "relative power (dB)"
    chart.set_references({1: -10.5})
    chart._toggles[2].click()
    chart.redraw()
    assert chart.visible_curve_data(2)[0].size == 0
    assert chart.y_range()[0] > -5  # the hidden channel no longer drives the y range


def test_a_mixed_axis_names_the_fewer_curves(
        chart_with_clock: Callable[..., tuple[StripChart, FakeClock]]) -> None:
    chart, _clock = chart_with_clock(window_s=10.0)
    chart.history.set_layout(4, (1, 2, 3, 4))
    chart.set_references({1: -1.0, 2: -2.0, 4: -4.0})
    assert chart.plot.getPlotItem().getAxis("left").labelText == "power: dB rel. · CH3 in dBm"
    chart.set_references({2: -2.0, 3: -3.0})
    assert chart.plot.getPlotItem().getAxis("left").labelText == "power: dBm · CH2, 3 in dB rel."


def test_a_channel_under_or_over_range_now_is_named_on_the_plot(
        chart_with_clock: Callable[..., tuple[StripChart, FakeClock]]) -> None:
    chart, clock = chart_with_clock(window_s=10.0)
    chart.show()
    t = 995.0 + np.arange(20) * 0.05
    status = np.zeros((20, 2), np.int8)
    status[-5:, 1] = ChannelStatus.UNDER  # the fiber moved off channel 2
    values = np.where(status == 0, -10.0, np.nan)
    chart.history.append(SnapshotBatch(4, (1, 2), t, t + 1.7e9, values, status))
    clock.now = float(t[-1]) + 0.01
    chart.redraw()
    assert chart.range_text() == "CH2 \u25bc under range"
    chart._toggles[2].click()  # a hidden channel is not mentioned
    chart.redraw()
    assert chart.range_text() == ""
    chart._toggles[2].click()
    status[:, 1] = ChannelStatus.OVER
    chart.history.append(SnapshotBatch(4, (1, 2), t + 1.0, t + 1.7e9, values, status))
    clock.now = float(t[-1]) + 1.01
    chart.redraw()
    assert chart.range_text() == "CH2 \u25b2 over range"
    clock.now += 5.0  # nothing new for 5 s: the link's badges speak, not an old range state
    chart.redraw()
    assert chart.range_text() == ""
    status[:] = 0
    chart.history.append(SnapshotBatch(4, (1, 2), t + 10.0, t + 1.7e9, np.full((20, 2), -10.0),
                                  status))
    clock.now = float(t[-1]) + 10.01
    chart.redraw()
    assert chart.range_text() == ""


def test_manual_y_range_holds_until_fit(
        chart_with_clock: Callable[..., tuple[StripChart, FakeClock]]) -> None:
    chart, clock = chart_with_clock(window_s=10.0)
    chart.history.append(_batch(995.0 + np.arange(100) * 0.05, np.full((100, 2), -10.0)))
    clock.now = 1000.0
    chart.redraw()
    chart.set_y_range(-50.0, -40.0)
    chart.redraw()
    assert chart.y_range() == pytest.approx((-50.0, -40.0))
    assert not chart.auto_y
    chart.fit_button.click()
    assert chart.auto_y
    lo, hi = chart.y_range()
    assert lo < -10.0 < hi and hi - lo == pytest.approx(1.0)  # the 1 dB minimum span


def test_noise_at_the_floor_does_not_make_the_y_range_jitter(
        chart_with_clock: Callable[..., tuple[StripChart, FakeClock]]) -> None:
    chart, clock = chart_with_clock(window_s=10.0)
    rng = np.random.default_rng(1)
    ranges = set()
    for k in range(50):  # 50 frames of 0.01 dB noise around −30 dBm
        t = 990.0 + k * 0.1 + np.arange(5) * 0.02
        chart.history.append(_batch(t, -30.0 + 0.01 * rng.standard_normal((5, 2))))
        clock.now = float(t[-1])
        chart.redraw()
        ranges.add(tuple(round(v, 9) for v in chart.y_range()))
    assert len(ranges) == 1
    (lo, hi), = ranges
    assert hi - lo == pytest.approx(1.0)


def test_autoscale_expands_at_once_and_shrinks_only_after_sustained_slack() -> None:
    auto = YAutoRange(min_span=1.0, shrink_after_s=2.0)
    assert auto.update(-10.2, -9.8, 0.0) == pytest.approx((-10.5, -9.5))
    assert auto.update(-10.1, -9.9, 0.1) is None  # inside: nothing moves
    grown = auto.update(-10.0, -6.0, 0.2)  # coupling improves by 4 dB: expand at once
    assert grown is not None and grown[0] <= -10.0 and grown[1] >= -6.0
    assert auto.update(-6.1, -6.0, 0.3) is None  # back to a narrow band: wait…
    assert auto.update(-6.1, -6.0, 1.5) is None
    shrunk = auto.update(-6.1, -6.0, 2.4)  # …2 s of slack, then frame it
    assert shrunk == pytest.approx((-6.55, -5.55))
    assert auto.update(float("nan"), float("nan"), 3.0) is None


def test_capacity_holds_one_hour_at_the_poll_rate() -> None:
    assert capacity_for(0.05) >= 3600 / 0.05
    assert capacity_for(0.001) >= 3_600_000
    assert capacity_for(0.0) == capacity_for(0.001)


def test_crosshair_reads_the_values_under_the_mouse(
        qtbot: Any, chart_with_clock: Callable[..., tuple[StripChart, FakeClock]]) -> None:
    chart, clock = chart_with_clock(window_s=10.0)
    t = 990.0 + np.arange(200) * 0.05
    chart.history.append(_batch(t, np.column_stack([np.full(200, -10.0), np.full(200, -20.5)])))
    clock.now = 1000.0
    chart.redraw()
    vb = chart.plot.getPlotItem().getViewBox()
    scene_pos = vb.mapViewToScene(pg.Point(-2.0, -15.0))
    qtbot.mouseMove(chart.plot.viewport(), chart.plot.mapFromScene(scene_pos))
    qtbot.waitUntil(lambda: chart.crosshair_label.text() != "", timeout=1000)
    text = chart.crosshair_label.text()
    assert text.startswith("−2.0") and "CH1 −10.000 dBm" in text and "CH2 −20.500 dBm" in text


class PaintRegions(QObject):
    """Record the width (px) of every region the viewport paints."""

    def __init__(self) -> None:
        super().__init__()
        self.widths: list[int] = []

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if isinstance(event, QPaintEvent):
            self.widths.append(event.region().boundingRect().width())
        return False


def _on_screen(chart: StripChart) -> QImage:
    """Return the pixels painted so far (the backing store, not a fresh render like grab())."""
    return QGuiApplication.primaryScreen().grabWindow(chart.winId()).toImage()


def test_live_frames_repaint_only_the_newest_columns_yet_match_a_full_repaint(
        qtbot: Any, chart_with_clock: Callable[..., tuple[StripChart, FakeClock]]) -> None:
    chart, clock = chart_with_clock(window_s=600.0, interval_s=0.001)
    rng = np.random.default_rng(3)
    t = 700.0 + np.arange(300_000) * 0.001  # 5 min at 1 kHz
    chart.history.append(_batch(t, -10.0 + 0.1 * rng.standard_normal((len(t), 2))))
    column_s = 600.0 / chart.plot.getPlotItem().getViewBox().width()
    clock.now = (np.ceil(t[-1] / column_s) + 0.05) * column_s  # just after a column step
    for _ in range(2):  # the first frame sets the y range, then the axis takes its width
        frames = chart.frames
        chart.set_window(600.0)
        chart.redraw(snap=True)
        qtbot.waitUntil(lambda f=frames: chart.frames > f, timeout=1000)
    chart.plot.viewport().repaint()  # nothing pending from the set-up
    regions = PaintRegions()
    chart.plot.viewport().installEventFilter(regions)
    last = clock.now
    for k in range(6):  # 20 ms batches inside one column: new extremes and a gap among them
        t_new = last + 0.001 + np.arange(20) * 0.001
        y = -10.0 + 0.1 * rng.standard_normal((20, 2))
        if k == 2:
            y[5:8, 0] = np.nan  # a failing reading: the line must break there
        if k == 5:
            y[10, 1] = -9.0  # a new maximum: the y range grows, everything is redrawn
        chart.history.append(_batch(t_new, y))
        last = clock.now = float(t_new[-1])
        frames = chart.frames
        chart.redraw(snap=True)
        qtbot.waitUntil(lambda f=frames: chart.frames > f, timeout=1000)
    width = chart.plot.viewport().width()
    narrow = [w for w in regions.widths if w < width / 20]
    assert len(narrow) >= 4, f"live frames repainted {regions.widths} px of {width}"
    painted = _on_screen(chart)
    chart.plot.viewport().repaint()  # everything from scratch
    assert _on_screen(chart) == painted, "the partly repainted picture differs from a full one"
    _x, y1 = chart.visible_curve_data(1)
    assert np.isnan(y1).any()


def _hover(qtbot: Any, chart: StripChart, x_s: float, y_db: float,
           shown: Callable[[str], bool]) -> str:
    """Move the mouse to data point (x s before now, y dB) until the readout passes shown."""
    vb = chart.plot.getPlotItem().getViewBox()
    pixel = chart.plot.mapFromScene(vb.mapViewToScene(pg.Point(x_s, y_db)))

    moves = [0]

    def arrived() -> bool:
        # pyqtgraph drops mouse moves closer than its rate limit (~16 ms) and Qt drops a move
        # to where the mouse already is: move again, one pixel up or down (same time), until
        # one is taken.
        moves[0] += 1
        qtbot.mouseMove(chart.plot.viewport(), pixel + QPoint(0, moves[0] % 2))
        return shown(chart.crosshair_label.text())

    qtbot.waitUntil(arrived, timeout=2000)
    return chart.crosshair_label.text()


def test_cursor_readout_clears_when_the_mouse_leaves_the_plot(
        qtbot: Any, chart_with_clock: Callable[..., tuple[StripChart, FakeClock]]) -> None:
    chart, _clock = chart_with_clock(window_s=10.0)
    t = 990.0 + np.arange(200) * 0.05
    chart.history.append(_batch(t, np.full((200, 2), -10.0)))
    chart.redraw()
    _hover(qtbot, chart, -2.0, -10.0, lambda text: "CH1 −10.000 dBm" in text)
    QApplication.sendEvent(chart.plot.viewport(), QEvent(QEvent.Type.Leave))
    assert chart.crosshair_label.text() == ""
    assert not chart._vline.isVisible()
    chart.redraw()  # a later frame does not bring it back
    assert chart.crosshair_label.text() == ""


def test_cursor_readout_follows_the_data_under_a_still_cursor(
        qtbot: Any, chart_with_clock: Callable[..., tuple[StripChart, FakeClock]]) -> None:
    chart, clock = chart_with_clock(window_s=10.0)
    t = 990.0 + np.arange(200) * 0.05  # 990.00 … 999.95 s at −10 dBm
    chart.history.append(_batch(t, np.full((200, 2), -10.0)))
    chart.redraw()
    _hover(qtbot, chart, -1.0, -10.0, lambda text: text.startswith("−1.0"))
    assert "CH1 −10.000 dBm" in chart.crosshair_label.text()
    # Five seconds of −20 dBm scroll in; the mouse does not move: 1 s before now is new data.
    t_new = 1000.0 + np.arange(100) * 0.05
    chart.history.append(_batch(t_new, np.full((100, 2), -20.0)))
    clock.now = 1005.0
    chart.redraw()
    text = chart.crosshair_label.text()
    assert text.startswith("−1.0") and "CH1 −20.000 dBm" in text, text


def test_cursor_over_a_disconnect_says_no_data_never_dashes(
        qtbot: Any, chart_with_clock: Callable[..., tuple[StripChart, FakeClock]]) -> None:
    chart, clock = chart_with_clock(window_s=10.0)
    t = 990.0 + np.arange(100) * 0.05  # data until 994.95 s
    values = np.full((100, 2), -10.0)
    values[-10:, 1] = np.nan  # CH2 failed for its last half second: a real status, not a gap
    chart.history.append(_batch(t, values))
    chart.history.set_link_state(LinkState.DISCONNECTED)
    clock.now = 1000.0
    chart.redraw()
    # 999.5 s: no link then, and the last sample is 4.5 s away.
    text = _hover(qtbot, chart, -0.5, -10.0, lambda text: text.startswith("−0.5"))
    assert text == "−0.50 s · no data", text
    assert "— —" not in text and not chart._vline.isVisible()
    _hover(qtbot, chart, -5.2, -10.0, lambda text: "CH1 −10.000 dBm" in text)  # 994.8 s: data
    assert "CH2 error" in chart.crosshair_label.text()


def test_a_faster_poll_interval_keeps_the_drawn_history(
        chart_with_clock: Callable[..., tuple[StripChart, FakeClock]]) -> None:
    chart, clock = chart_with_clock(window_s=60.0, interval_s=0.05)
    t = 950.0 + np.arange(1000) * 0.05  # 50 s at 20 Hz
    chart.history.append(_batch(t, np.column_stack([np.full(1000, -10.0), np.full(1000, -20.0)])))
    chart.redraw()
    before = chart.visible_curve_data(1)
    chart.history.set_poll_interval(0.001)  # 50 ms -> 1 ms: a 72x longer ring
    chart.redraw()
    after = chart.visible_curve_data(1)
    np.testing.assert_array_equal(after[0], before[0])
    np.testing.assert_array_equal(after[1], before[1])
    t_fast = 1000.0 + np.arange(2000) * 0.001
    chart.history.append(_batch(t_fast, np.full((2000, 2), -11.0)))
    clock.now = 1002.0
    chart.redraw()
    x, y = chart.visible_curve_data(1)
    assert x[0] < -50.0 and np.nanmax(y) == -10.0 and np.nanmin(y) == -11.0


@pytest.mark.slow
def test_poll_interval_change_in_the_window_keeps_the_chart_history(
        qtbot: Any, make_rig: Callable[..., Any]) -> None:
    rig = make_rig()
    rig.window.connect_initial()
    qtbot.waitUntil(lambda: rig.state is LinkState.LIVE, timeout=5000)
    live = rig.window.live_history
    qtbot.waitUntil(lambda: len(live) >= 20, timeout=3000)
    oldest = live.ring.oldest_t
    combo = rig.window.live_controls.interval_combo
    combo.setCurrentIndex(next(i for i in range(combo.count()) if combo.itemData(i) == 0.001))
    assert live.ring.capacity == capacity_for(0.001)
    count = len(live)
    qtbot.waitUntil(lambda: len(live) >= count + 200, timeout=5000)  # the faster segment
    assert live.ring.oldest_t == oldest, "the samples before the change were erased"
    rig.window.chart.redraw()
    x, _y = rig.window.chart.visible_curve_data(1)
    assert x[0] <= oldest - time.monotonic() + 0.5


@pytest.mark.slow
def test_with_a_stale_override_the_chart_cuts_when_the_readouts_grey(
        qtbot: Any, make_rig: Callable[..., Any]) -> None:
    # The user's 3 s threshold; the rule alone would say 1 s. Replies wait, the link holds.
    rig = make_rig(settings=AppSettings(window_s=10.0, stale_after_s=3.0), stale_after_s=3.0,
                   reply_deadline_s=6.0)
    rig.window.connect_initial()
    qtbot.waitUntil(lambda: rig.state is LinkState.LIVE, timeout=5000)
    card = rig.window.readouts.grid.cards[1]
    qtbot.waitUntil(lambda: card.value_label.property("reading") == "live", timeout=3000)
    live, chart = rig.window.live_history, rig.window.chart
    assert live.stale_after_s == rig.window.hub.stale_s == 3.0

    def silent_for() -> float:
        return time.monotonic() - (live.latest_t or 0.0)

    # 1.8 s of silence: under the threshold, so neither greyed nor cut.
    rig.sim.faults.pause(1.8)
    qtbot.waitUntil(lambda: silent_for() > 1.5, timeout=3000)
    assert card.value_label.property("reading") == "live"
    resumed_from = time.monotonic()
    qtbot.waitUntil(lambda: (live.latest_t or 0.0) > resumed_from, timeout=3000)
    chart.redraw()
    assert chart.outages == [], "the chart cut a silence the readouts did not call stale"
    assert not np.isnan(chart.visible_curve_data(1)[1]).any()

    # 4 s of silence: the readout greys at 3 s, and the chart's outage opens then too.
    rig.sim.faults.pause(4.0)
    qtbot.waitUntil(lambda: card.value_label.property("reading") == "stale", timeout=5000)
    greyed_after = silent_for()
    # The link's watchdog (same rule, its own timer) opens the chart's outage.
    qtbot.waitUntil(lambda: bool(chart.outages) and chart.outages[-1][1] is None, timeout=1000)
    cut_after = silent_for()
    assert 3.0 <= greyed_after < 3.6, greyed_after
    assert 3.0 <= cut_after < 3.6, cut_after
    resumed_from = time.monotonic()
    qtbot.waitUntil(lambda: (live.latest_t or 0.0) > resumed_from, timeout=4000)
    assert len(chart.outages) == 1 and chart.outages[-1][1] is not None
