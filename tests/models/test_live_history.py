"""The live history: outages from link states and silences, the stale rule, resizing (no Qt)."""

from __future__ import annotations

import numpy as np
import pytest

from ctp10_gui.models.connection import AcquisitionSettings, LinkState, stale_after_s
from ctp10_gui.models.live_history import HistoryChange, LiveHistory, capacity_for
from ctp10_gui.models.ring_history import GAP_STATUS
from ctp10_gui.models.samples import SnapshotBatch


class FakeClock:
    """A monotonic clock moved by hand (s)."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _batch(t0: float, n: int, dt: float = 0.05, value: float = -10.0,
           channels: tuple[int, ...] = (1, 2)) -> SnapshotBatch:
    t = t0 + np.arange(n) * dt
    values = np.full((n, len(channels)), value)
    return SnapshotBatch(4, channels, t, t + 1.7e9, values,
                         np.zeros((n, len(channels)), dtype=np.int8))


def test_the_stale_rule_is_three_intervals_at_least_one_second_unless_overridden() -> None:
    assert stale_after_s(0.05) == 1.0
    assert stale_after_s(0.5) == 1.5
    assert stale_after_s(0.05, 3.0) == 3.0
    assert stale_after_s(2.0, 0.4) == 0.4
    # The link's watchdog is the same rule.
    assert AcquisitionSettings(interval_s=0.5).watchdog_s() == 1.5
    assert AcquisitionSettings(interval_s=0.05, stale_after_s=3.0).watchdog_s() == 3.0
    assert LiveHistory(0.5).stale_after_s == 1.5
    assert LiveHistory(0.05, stale_override_s=3.0).stale_after_s == 3.0


@pytest.mark.parametrize(("override", "silence", "cut"), [
    (None, 0.9, False), (None, 1.2, True),  # the rule: max(3 × 50 ms, 1 s) = 1 s
    (3.0, 2.5, False), (3.0, 3.2, True),  # the user's 3 s threshold, not the rule's 1 s
])
def test_a_silence_longer_than_the_stale_threshold_cuts_the_record(
        override: float | None, silence: float, cut: bool) -> None:
    live = LiveHistory(0.05, stale_override_s=override)
    live.append(_batch(100.0, 20))
    last = 100.0 + 19 * 0.05
    live.append(_batch(last + silence, 20))
    assert (live.outages() == [(last, last + silence)]) is cut
    _t, _y, status = live.ring.view()
    assert bool((status == GAP_STATUS).any()) is cut


def test_link_states_open_and_close_outages_and_a_chosen_pause_only_cuts() -> None:
    clock = FakeClock(200.0)
    live = LiveHistory(0.05, clock=clock)
    live.set_link_state(LinkState.STALE)  # nothing recorded yet: nothing to cut
    assert live.outages() == []
    live.append(_batch(100.0, 20))
    live.set_link_state(LinkState.STALE)
    live.set_link_state(LinkState.RECONNECTING)  # the same outage goes on
    assert live.outages() == [(100.95, None)] and live.outage_open()
    live.append(_batch(110.0, 20))
    assert live.outages() == [(100.95, 110.0)] and not live.outage_open()
    live.set_link_state(LinkState.DISCONNECTED)
    live.append(_batch(150.0, 20))  # a long silence after the user's disconnect: no band
    assert len(live.outages()) == 1
    assert int((live.ring.view()[2] == GAP_STATUS).sum()) == 2 * 2  # two markers × 2 channels


def test_listeners_hear_appends_and_full_changes() -> None:
    live = LiveHistory(0.05)
    heard: list[HistoryChange] = []
    live.subscribe(heard.append)
    live.append(_batch(100.0, 5))
    assert heard == [HistoryChange(None, True, layout=True), HistoryChange(100.0, False)]
    heard.clear()
    live.set_link_state(LinkState.OFFLINE)
    live.append(_batch(120.0, 5))
    assert heard == [HistoryChange(None, True), HistoryChange(120.0, True)]
    heard.clear()
    live.append(_batch(121.0, 5, channels=(1, 2, 3)))  # another channel set: a new history
    assert heard[0].layout and len(live) == 5 and live.channels == (1, 2, 3)


def test_a_faster_poll_interval_keeps_the_history_and_continues_it() -> None:
    live = LiveHistory(0.05)
    live.append(_batch(100.0, 2000, value=-12.0))  # 100 s at 50 ms
    live.set_link_state(LinkState.STALE)
    live.append(_batch(200.0, 100, value=-11.0))
    before_t, before_y, before_status = (a.copy() for a in live.ring.view())
    outages = live.outages()
    assert live.ring.capacity == capacity_for(0.05)
    live.set_poll_interval(0.001)
    assert live.ring.capacity == capacity_for(0.001)  # an hour at 1 kHz now fits
    t, y, status = live.ring.view()
    np.testing.assert_array_equal(t, before_t)
    np.testing.assert_array_equal(y, before_y)  # NaN == NaN here
    np.testing.assert_array_equal(status, before_status)
    assert live.outages() == outages
    live.append(_batch(205.0, 1000, dt=0.001, value=-9.0))  # the new segment follows
    assert len(live) == len(before_t) + 1000
    _tt, yy = live.ring.decimated(0, 90.0, 210.0, 600)
    assert np.nanmin(yy) == -12.0 and np.nanmax(yy) == -9.0
    live.set_poll_interval(0.05)  # slower: the larger ring stays, nothing is dropped
    assert live.ring.capacity == capacity_for(0.001) and len(live) == len(before_t) + 1000
