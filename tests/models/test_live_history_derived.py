"""Derived channels in the live history: computed per batch and over the history already held."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ctp10_gui.hardware.power import ChannelStatus
from ctp10_gui.models.connection import LinkState
from ctp10_gui.models.derived import DerivedChannel
from ctp10_gui.models.live_history import LiveHistory
from ctp10_gui.models.ring_history import GAP_STATUS
from ctp10_gui.models.samples import SnapshotBatch

OK, UNDER, OVER, ERROR = (int(s) for s in ChannelStatus)
IL = DerivedChannel.parse("IL", "CH4 - CH3")
RATIO = DerivedChannel.parse("ratio", "CH1 / CH2")
SUM = DerivedChannel.parse("sum", "CH1 + CH2")


def _batch(t0: float, values: list[list[float]], status: list[list[int]] | None = None,
           channels: tuple[int, ...] = (1, 2, 3, 4)) -> SnapshotBatch:
    v = np.array(values, dtype=np.float64)
    s = np.zeros(v.shape, np.int8) if status is None else np.array(status, np.int8)
    v = np.where(s == OK, v, np.nan)
    t = t0 + 0.01 * np.arange(len(v))
    return SnapshotBatch(4, channels, t, t + 1.7e9, v, s)


def test_derived_columns_follow_the_measured_ones_as_levels_in_db() -> None:
    live = LiveHistory(0.01)
    live.set_derived([IL, RATIO, SUM])
    live.append(_batch(10.0, [[-3.0, -6.0, -10.0, -11.5], [-3.0, -3.0, -10.0, -10.25]]))
    assert live.derived == (IL, RATIO, SUM)
    assert [live.derived_column(n) for n in ("IL", "ratio", "sum")] == [4, 5, 6]
    _t, y, status = live.ring.view()
    assert y.shape == (2, 7)
    assert y[:, 4] == pytest.approx([-1.5, -0.25], abs=1e-5)  # CH4 − CH3 in dB
    assert y[0, 5] == pytest.approx(3.0, abs=1e-5)  # 10·log10(CH1/CH2 in mW): 3 dB
    total_dbm = 10 * math.log10(10 ** -0.3 + 10 ** -0.6)
    assert y[0, 6] == pytest.approx(total_dbm, abs=1e-5)  # the sum as dBm
    assert (status[:, 4:] == OK).all()


def test_under_range_and_errors_stay_honest_in_the_derived_columns() -> None:
    live = LiveHistory(0.01)
    live.set_derived([IL, SUM])
    # Row 0: CH4 under range → IL is under (its true value lies below); the sum has CH1 alone.
    # Row 1: CH3 error → IL error. Row 2: both sum inputs under → sum under.
    live.append(_batch(10.0, [[-3.0, -6.0, -10.0, -80.0], [-3.0, -6.0, -10.0, -12.0],
                              [-80.0, -80.0, -10.0, -12.0]],
                       [[OK, UNDER, OK, UNDER], [OK, OK, ERROR, OK], [UNDER, UNDER, OK, OK]]))
    _t, y, status = live.ring.view()
    il, total = live.derived_column("IL"), live.derived_column("sum")
    assert il is not None and total is not None
    assert status[:, il].tolist() == [UNDER, ERROR, OK]
    assert np.isnan(y[0, il]) and np.isnan(y[1, il]) and y[2, il] == pytest.approx(-2.0)
    assert status[:, total].tolist() == [OK, OK, UNDER]
    assert y[0, total] == pytest.approx(-3.0, abs=1e-5)  # CH2 under range adds nothing
    assert np.isnan(y[2, total])


def test_a_definition_added_later_is_computed_over_the_history_and_keeps_gaps() -> None:
    live = LiveHistory(0.01, clock=lambda: 11.0)
    live.append(_batch(10.0, [[-3.0, -6.0, -10.0, -11.0]]))
    live.set_link_state(LinkState.OFFLINE)  # an outage: a gap marker and a band
    live.append(_batch(12.0, [[-3.0, -6.0, -10.0, -12.0]]))
    layouts: list[bool] = []
    live.subscribe(lambda change: layouts.append(change.layout))
    live.set_derived([IL])
    assert layouts == [True]  # the chart rebuilds its curves
    _t, y, status = live.ring.view()
    assert y.shape[1] == 5
    assert y[:, 4].tolist()[0] == pytest.approx(-1.0)
    assert status[1, 4] == GAP_STATUS and np.isnan(y[1, 4])
    assert y[2, 4] == pytest.approx(-2.0)
    assert len(live.outages()) == 1  # the outage survived the rebuild
    assert y[:, :4][~np.isnan(y[:, :4])].tolist() == pytest.approx(
        [-3, -6, -10, -11, -3, -6, -10, -12])


def test_a_derived_channel_whose_input_is_not_polled_is_not_charted() -> None:
    live = LiveHistory(0.01)
    live.set_derived([IL, RATIO])
    live.append(_batch(10.0, [[-3.0, -6.0]], channels=(1, 2)))
    assert live.derived == (RATIO,)
    assert live.derived_column("IL") is None
    live.append(_batch(11.0, [[-3.0, -6.0, -10.0, -11.0]]))  # CH3 and CH4 polled again
    assert live.derived == (IL, RATIO)
    live.set_derived([])
    assert live.derived == () and live.ring.view()[1].shape[1] == 4
