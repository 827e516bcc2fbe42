"""Closing the window in any link state: shutdown() returns within 0.5 s (the window's close has
1 s), the worker thread has ended (its I/O broken, never terminate()d) and Qt reports no thread
warnings. Instruments stuck in worse ways are in test_hostile_link.py."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from link_helpers import connect_live, off_gui_thread

from ctp10_gui.hardware.ctp10 import CTP10
from ctp10_gui.hardware.transport import VisaTransport
from ctp10_gui.models.connection import LinkState

S = LinkState
IO_TIMEOUT_S = 1.0
SHUTDOWN_BUDGET_S = 0.5


def _bring_into(state: str, qtbot, sim: Any, make_controller) -> Any:
    """Return a controller whose link is in `state` (its worker possibly blocked in I/O)."""
    if state == "connecting":
        opening = threading.Event()

        def factory(address: str) -> CTP10:
            opening.set()
            return CTP10(VisaTransport(address, io_timeout_s=IO_TIMEOUT_S))

        ctl = make_controller(driver_factory=factory)
        sim.faults.pause()  # the kernel still accepts the socket; *IDN? gets no answer
        ctl.connect_to(sim.address)
        qtbot.waitUntil(opening.is_set, timeout=2000)
        assert ctl.status.state is S.CONNECTING
        return ctl
    if state == "reconnecting":
        ctl = make_controller(backoff=None)  # the default 1 s first wait
        connect_live(qtbot, ctl, sim.address)
        off_gui_thread(qtbot, sim.faults.reset_connections)
        qtbot.waitUntil(lambda: ctl.status.next_attempt_at is not None, timeout=2000)
        return ctl
    ctl = make_controller()
    connect_live(qtbot, ctl, sim.address)
    if state == "stale":
        sim.faults.pause()  # the worker now sits in a read until the I/O timeout
        qtbot.waitUntil(lambda: ctl.status.state is S.STALE, timeout=2000)
    elif state == "busy":
        def sweep(c: CTP10) -> bool:
            c.start_sweep()
            return c.wait_until_idle(timeout_s=60.0, cancelled=ctl.cancelled)

        ctl.request(sweep, busy=True, label="Sweeping")
        qtbot.waitUntil(lambda: ctl.status.state is S.BUSY, timeout=2000)
    return ctl


@pytest.mark.parametrize("state", ["connecting", "live", "stale", "reconnecting", "busy"])
def test_shutdown_returns_in_time_in_every_state(qtbot, qtlog, sim_factory, make_controller,
                                                 state: str) -> None:
    sim = sim_factory(speedup=0.2)  # a sweep lasts 10 s: still running when we close
    ctl = _bring_into(state, qtbot, sim, make_controller)
    started = time.monotonic()
    ctl.shutdown()
    elapsed = time.monotonic() - started
    assert elapsed < SHUTDOWN_BUDGET_S, f"shutdown took {elapsed:.2f} s"
    assert not ctl.worker_running
    ctl.shutdown()  # a second call (e.g. closeEvent then aboutToQuit) is harmless
    assert not [r.message for r in qtlog.records if "QThread" in r.message]
