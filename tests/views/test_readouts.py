"""What a readout card says: live, stale with age, no link, range, error, units, relative."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from ctp10_gui.hardware.power import ChannelStatus
from ctp10_gui.models.connection import LinkState, LinkStatus
from ctp10_gui.models.readout import NO_DATA, ChannelReading, ReadoutModel
from ctp10_gui.models.samples import SnapshotBatch
from ctp10_gui.views.readouts import MIN_VALUE_PX, ReadoutGrid, ReadoutHub, present
from ctp10_gui.views.theme import DARK

STALE_S = 1.0


def _reading(**kw: Any) -> ChannelReading:
    base: dict[str, Any] = {"channel": 1, "value_dbm": -12.345, "status": ChannelStatus.OK,
                            "last_good_t": 100.0, "peak_dbm": -10.0, "peak_t_wall": 0.0}
    base.update(kw)
    return ChannelReading(**base)


def test_live_value_is_plain_with_peak_and_delta() -> None:
    p = present(_reading(), LinkState.LIVE, 100.2, "dBm", STALE_S, relative=True)
    assert (p.value, p.style, p.age) == ("−12.35 dBm", "live", "")
    assert p.delta == "Δ to peak −2.35 dB"
    assert p.peak.startswith("peak −10.00 dBm at ")


def test_old_value_is_greyed_with_its_age_even_if_the_link_says_live() -> None:
    p = present(_reading(), LinkState.LIVE, 101.8, "dBm", STALE_S, relative=True)
    assert (p.value, p.style, p.age) == ("−12.35 dBm", "stale", "1.8 s old")
    p = present(_reading(), LinkState.RECONNECTING, 142.0, "dBm", STALE_S, relative=True)
    assert (p.style, p.age) == ("stale", "42 s old")


@pytest.mark.parametrize(("state", "why"), [
    (LinkState.DISCONNECTED, "disconnected"), (LinkState.OFFLINE, "offline"),
    (LinkState.CONNECTING, "connecting…"), (None, "no data yet"),
])
def test_no_link_shows_dashes(state: LinkState | None, why: str) -> None:
    p = present(_reading(), state, 103.0, "dBm", STALE_S, relative=True)
    assert (p.value, p.style, p.age) == (NO_DATA, "none", why)
    assert p.note == "last value 3.0 s old"


def test_values_of_the_previous_instrument_are_not_shown_when_another_answers() -> None:
    p = present(_reading(), LinkState.CONNECTED, 100.5, "dBm", STALE_S, relative=True,
                other_instrument=True)
    assert p.value == NO_DATA
    assert p.age == "a different instrument answers"


def test_range_and_error_are_marked() -> None:
    under = present(_reading(status=ChannelStatus.UNDER, value_dbm=math.nan), LinkState.LIVE,
                    100.1, "dBm", STALE_S, relative=True)
    assert (under.value, under.style) == ("< −80.00 dBm", "range")
    over = present(_reading(status=ChannelStatus.OVER, value_dbm=math.nan), LinkState.LIVE,
                   100.1, "dBm", STALE_S, relative=True)
    assert over.value == "≥ 10.00 dBm"
    err = present(_reading(status=ChannelStatus.ERROR, value_dbm=math.nan), LinkState.LIVE,
                  100.1, "dBm", STALE_S, relative=True)
    assert (err.value, err.style, err.error) == ("⚠ error", "error", True)


def test_milliwatts_and_relative_db() -> None:
    mw = present(_reading(value_dbm=-20.0), LinkState.LIVE, 100.1, "mW", STALE_S, relative=True)
    assert mw.value == "10.00 µW"
    rel = present(_reading(reference_dbm=-12.0), LinkState.LIVE, 100.1, "dBm", STALE_S,
                  relative=True)
    assert (rel.value, rel.note) == ("−0.35 dB", "relative to −12.00 dBm")


def _batch(values: list[float], t: float = 100.0) -> SnapshotBatch:
    arr = np.array([values])
    return SnapshotBatch(4, (1, 2), np.array([t]), np.array([1.7e9]), arr,
                         np.zeros(arr.shape, np.int8))


def test_hub_keeps_references_per_serial_module_channel_and_wavelength() -> None:
    stored: dict[str, float] = {}
    saves: list[int] = []
    hub = ReadoutHub(ReadoutModel([1, 2], module=4), stored, persist=lambda: saves.append(1),
                     clock=lambda: 100.0)
    hub.apply(_batch([-7.0, -9.0]))
    assert hub.set_reference(1)  # serial not known yet: session only
    assert stored == {} and hub.model.references == {1: -7.0}
    hub.set_context("SN1", 4, {1: 1550.0, 2: 1550.0})  # known now: stored
    assert hub.model.references == {1: -7.0}
    assert stored == {"SN1/M4/C1/1550.000nm": -7.0} and saves == [1]
    assert hub.set_reference(2)
    assert stored == {"SN1/M4/C1/1550.000nm": -7.0, "SN1/M4/C2/1550.000nm": -9.0}
    other = ReadoutHub(ReadoutModel([1, 2], module=4), stored, clock=lambda: 100.0)
    other.set_context("SN1", 4, {1: 1550.0, 2: 1550.0})
    assert other.model.references == {1: -7.0, 2: -9.0}
    other.set_context("SN1", 4, {2: 1310.0})  # another wavelength: another reference
    assert other.model.references == {}
    other.set_context("SN2", 4, {1: 1550.0, 2: 1550.0})  # another instrument: none
    assert other.model.references == {}
    hub.clear_reference(2)
    assert stored == {"SN1/M4/C1/1550.000nm": -7.0}


def test_grid_flows_cards_for_the_largest_numbers(qtbot: Any) -> None:
    hub = ReadoutHub(ReadoutModel([1, 2, 3, 4], module=4), {})
    grid = ReadoutGrid(hub, DARK)
    qtbot.addWidget(grid)
    assert grid.best_columns(1600, 250) == 4  # a wide strip: one row
    assert grid.best_columns(900, 500) == 2
    assert grid.best_columns(500, 900) == 1


def test_a_small_card_drops_its_details_but_keeps_the_number_readable(qtbot: Any) -> None:
    hub = ReadoutHub(ReadoutModel([1], module=4), {})
    grid = ReadoutGrid(hub, DARK, columns=1)
    qtbot.addWidget(grid)
    card = grid.cards[1]
    grid.resize(480, 95)  # a card in a 1024 × 700 window with the chart below
    grid.show()
    # The number stays on screen at a readable size, not squeezed out by the rows below it.
    qtbot.waitUntil(lambda: card.value_label.font().pixelSize() >= MIN_VALUE_PX
                    and card.value_label.height() >= MIN_VALUE_PX, timeout=1000)
    assert not card.detail_row.isVisible()
    grid.resize(480, 400)  # room again: the peak, Δ and buttons come back
    qtbot.waitUntil(lambda: card.foot_row.isVisible() and card.detail_row.isVisible(),
                    timeout=1000)
    assert card.value_label.font().pixelSize() >= 50  # as wide as 12 digits allow


def test_a_narrow_card_drops_the_peak_time_rather_than_cut_the_text(qtbot: Any) -> None:
    hub = ReadoutHub(ReadoutModel([1], module=4), {})
    grid = ReadoutGrid(hub, DARK, columns=1)
    qtbot.addWidget(grid)
    t = np.array([100.0, 100.1])  # two polls: a peak average needs its window covered
    hub.apply(SnapshotBatch(4, (1,), t, t + 1.7e9, np.array([[-3.1], [-3.1]]),
                            np.zeros((2, 1), np.int8)))
    label = grid.cards[1].peak_label
    grid.resize(900, 400)
    grid.show()
    qtbot.waitUntil(lambda: label.text().startswith("peak −3.10 dBm at "), timeout=1000)
    full = label.text()
    grid.resize(330, 400)  # one card in the narrowest column of a 1024 px window
    qtbot.waitUntil(lambda: label.text() == "peak −3.10 dBm", timeout=1000)
    assert label.toolTip().startswith(full + "\n")  # the time is still one hover away
    assert "highest single reading −3.10 dBm" in label.toolTip()  # and the raw maximum
    assert label.fontMetrics().horizontalAdvance(label.text()) <= label.contentsRect().width()


def test_a_narrow_card_shortens_the_delta_rather_than_cut_it_into_a_second_peak(
        qtbot: Any) -> None:
    hub = ReadoutHub(ReadoutModel([1], module=4, peak_average_s=0.0), {})
    grid = ReadoutGrid(hub, DARK, columns=1)
    qtbot.addWidget(grid)
    t = np.array([100.0, 100.1])
    hub.apply(SnapshotBatch(4, (1,), t, t + 1.7e9, np.array([[-3.1], [-3.8]]),
                            np.zeros((2, 1), np.int8)))
    hub.set_link_status(LinkStatus(LinkState.LIVE, 0, 0, "", None, 100.0))
    label = grid.cards[1].delta_label
    grid.resize(1900, 200)  # a wide, low card: room for the whole text at a small font
    grid.show()
    qtbot.waitUntil(lambda: label.text() == "Δ to peak −0.70 dB", timeout=1000)
    grid.resize(300, 400)  # narrow and tall: a large font, half the width for the delta
    qtbot.waitUntil(lambda: label.text() == "Δ −0.70 dB", timeout=1000)
    assert label.fontMetrics().horizontalAdvance(label.text()) <= label.contentsRect().width()
    assert label.toolTip().startswith("Δ to peak −0.70 dB\nHow far below its session peak")
