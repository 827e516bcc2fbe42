"""Stale is not lost: a paused instrument keeps its session until the reply deadline.

The simulator runs as a subprocess and is frozen with SIGSTOP: its socket stays open and the
reply in flight comes when it continues. At the default settings (50 ms poll, Stale after
1 s, reply deadline 5 s) a 3 s pause is Live → Stale → Live on the same session with every
sample in order; a 6 s pause is given up about 5 s after the last reply; a killed simulator
(FIN from the kernel) is Reconnecting at once, the long deadline notwithstanding.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import numpy as np
import pytest
from link_helpers import STALE_TOLERANCE_S, StateRecorder, connect_live, off_gui_thread

from ctp10_gui.hardware.ctp10 import CTP10
from ctp10_gui.hardware.errors import LinkError, LinkFailure
from ctp10_gui.hardware.transport import VisaTransport
from ctp10_gui.link.controller import REPLY_DEADLINE_MARGIN_S, LinkController
from ctp10_gui.models.connection import LinkState
from ctp10_gui.models.samples import SnapshotBatch

S = LinkState
DEADLINE_S = 5.0  # AcquisitionSettings' default reply deadline
# The worker's deadline runs from the query in flight, sent up to one poll interval (50 ms)
# after the last good reply; then the verdict is a queued signal away.
DEADLINE_LATE_S = 0.05 + 0.3


def _last_good_when_stale(ctl: LinkController) -> list[float | None]:
    """Return a list that gets the time of the last good reply each time Stale is entered."""
    seen: list[float | None] = []
    ctl.state_changed.connect(lambda status: seen.append(ctl.last_good_reply)
                              if status.state is S.STALE else None)
    return seen


def _pause_for(qtbot, sim_process, seconds: float) -> float:
    """Freeze the simulator for `seconds` s (the GUI loop keeps running); return when frozen."""
    t_frozen = off_gui_thread(qtbot, sim_process.pause)
    qtbot.waitUntil(lambda: time.monotonic() >= t_frozen + seconds,
                    timeout=round(seconds * 1000) + 2000)
    off_gui_thread(qtbot, sim_process.resume)
    return t_frozen


@pytest.mark.slow
def test_a_3_s_pause_is_stale_then_live_on_the_same_session(qtbot, sim_process, make_controller,
                                                            gui_gaps) -> None:
    ctl = make_controller()
    assert ctl.settings.reply_deadline_s == DEADLINE_S
    rec = StateRecorder(ctl)
    events: list[str] = []
    ctl.link_event.connect(lambda kind, _text: events.append(kind))
    batches: list[SnapshotBatch] = []
    ctl.batch_received.connect(batches.append)
    last_good_when_stale = _last_good_when_stale(ctl)
    connect_live(qtbot, ctl, sim_process.address)
    t_frozen = _pause_for(qtbot, sim_process, 3.0)
    qtbot.waitUntil(lambda: rec.states(t_frozen)[-1:] == [S.LIVE], timeout=3000)
    n = len(batches)
    qtbot.waitUntil(lambda: len(batches) > n + 5, timeout=2000)

    assert rec.states() == [S.CONNECTING, S.LIVE, S.STALE, S.LIVE]
    assert events == ["connect", "stale", "recovered"]
    assert ctl.health().reconnects == 0
    (last_good,) = last_good_when_stale
    assert last_good is not None
    assert 1.0 <= rec.time_of(S.STALE) - last_good <= 1.0 + STALE_TOLERANCE_S
    # The reply in flight came after the pause, on the same session, first in line.
    data = SnapshotBatch.concat(batches)
    assert (np.diff(data.t_mono) > 0).all()
    gaps = np.diff(data.t_mono)
    assert gaps.max() >= 2.9 and (gaps > 1.0).sum() == 1  # one hole: the pause, nothing lost


@pytest.mark.slow
def test_a_6_s_pause_is_given_up_at_the_reply_deadline(qtbot, sim_process, make_controller,
                                                       gui_gaps) -> None:
    ctl = make_controller()
    rec = StateRecorder(ctl)
    last_good_when_stale = _last_good_when_stale(ctl)
    connect_live(qtbot, ctl, sim_process.address)
    t_start = time.monotonic()
    t_frozen = _pause_for(qtbot, sim_process, 6.0)
    qtbot.waitUntil(lambda: rec.states(t_frozen)[-1:] == [S.LIVE], timeout=8000)

    assert rec.states(t_start) == [S.STALE, S.RECONNECTING, S.LIVE]
    last_good = last_good_when_stale[0]
    assert last_good is not None
    silent = rec.time_of(S.RECONNECTING) - last_good
    assert DEADLINE_S <= silent <= DEADLINE_S + DEADLINE_LATE_S + STALE_TOLERANCE_S
    reason = rec.statuses(S.RECONNECTING)[0].reason
    assert f"within {DEADLINE_S:g} s to ':CTP:SENS4:CHAN1:POW?" in reason  # the query named
    assert ctl.health().reconnects == 1


@pytest.mark.slow
def test_a_killed_instrument_is_lost_at_once_despite_the_long_deadline(
        qtbot, sim_process, make_controller, gui_gaps) -> None:
    ctl = make_controller()
    rec = StateRecorder(ctl)
    connect_live(qtbot, ctl, sim_process.address)
    t_fault = time.monotonic()
    off_gui_thread(qtbot, sim_process.kill)  # SIGKILL: the kernel closes the socket (FIN)
    qtbot.waitUntil(lambda: ctl.status.state is S.RECONNECTING, timeout=3000)
    assert rec.states(t_fault) == [S.RECONNECTING]
    assert rec.time_of(S.RECONNECTING, t_fault) - t_fault <= 1.5
    assert "connection closed by" in rec.statuses(S.RECONNECTING)[0].reason
    off_gui_thread(qtbot, sim_process.restart)
    qtbot.waitUntil(lambda: ctl.status.state is S.LIVE, timeout=5000)
    assert rec.states(t_fault) == [S.RECONNECTING, S.LIVE]


class _StuckTransport:
    """Wrap a transport; once `stuck` is set, a read waits until abort() ignoring deadlines."""

    def __init__(self, inner: VisaTransport) -> None:
        self._inner = inner
        self.address = inner.address
        self.io_timeout_s = inner.io_timeout_s
        self.stuck = threading.Event()
        self._released = threading.Event()

    @property
    def is_open(self) -> bool:
        return self._inner.is_open

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def query(self, command: str) -> str:
        self.write(command)
        return self.receive(command)

    def receive(self, command: str) -> str:
        if self.stuck.is_set():
            self._released.wait()
            raise LinkError(self.address, LinkFailure.NOT_OPEN, "(aborted while stuck)")
        return self._inner.receive(command)

    def abort(self) -> None:
        self._released.set()
        self._inner.abort()


def test_a_worker_stuck_past_the_reply_deadline_is_given_up_by_the_gui_watchdog(
        qtbot, sim, make_controller, gui_gaps) -> None:
    made: list[_StuckTransport] = []

    def factory(address: str) -> CTP10:
        transport = _StuckTransport(VisaTransport(address, io_timeout_s=1.0))
        made.append(transport)
        return CTP10(transport)

    ctl = make_controller(driver_factory=factory, reply_deadline_s=1.0)
    rec = StateRecorder(ctl)
    connect_live(qtbot, ctl, sim.address)
    t_fault = time.monotonic()
    made[0].stuck.set()
    qtbot.waitUntil(lambda: ctl.status.state is S.RECONNECTING, timeout=4000)
    last_good = ctl.last_good_reply
    assert last_good is not None
    assert rec.states(t_fault) == [S.STALE, S.RECONNECTING]
    backstop = 2 * 1.0 + 0.05 + REPLY_DEADLINE_MARGIN_S  # 2 deadlines + 1 interval + margin
    silent = rec.time_of(S.RECONNECTING) - last_good
    assert backstop <= silent <= backstop + 0.3
    assert "past the reply deadline of 1 s" in rec.statuses(S.RECONNECTING)[0].reason
    qtbot.waitUntil(lambda: ctl.status.state is S.LIVE, timeout=3000)  # a fresh session
    assert len(made) == 2
