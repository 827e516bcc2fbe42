"""The link against instruments that misbehave on purpose: a dripping reply reconnects instead of
flipping Live/Stale, and Disconnect and shutdown return at once in every stuck state, with the
GUI event loop never stalled (gap probe: a 10 ms timer, max gap < 100 ms)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import psutil
import pytest
from hostile_instrument import HostileInstrument, hostile_fixture  # noqa: F401  ("hostile")
from link_helpers import StateRecorder

from ctp10_gui.hardware.ctp10 import CTP10
from ctp10_gui.hardware.transport import VisaTransport
from ctp10_gui.models.connection import LinkState

S = LinkState
IO_TIMEOUT_S = 1.0  # AcquisitionSettings' default, which the controllers here use
DISCONNECT_BUDGET_S = 0.5
SHUTDOWN_BUDGET_S = 0.5  # of the window's 1 s close
STUCK_STATES = ["drip", "idn_then_silent", "stall_after_header", "endless_line",
                "silent_resolver"]


def _silent_resolver_factory(release: threading.Event) -> Callable[[str], CTP10]:
    def resolve(host: str, port: int) -> str:
        release.wait()
        return "127.0.0.1"

    def factory(address: str) -> CTP10:
        return CTP10(VisaTransport(address, io_timeout_s=IO_TIMEOUT_S, open_timeout_s=30.0,
                                   resolver=resolve))

    return factory


def _stuck(state: str, qtbot, hostile, make_controller,
           release: threading.Event) -> tuple[Any, HostileInstrument | None]:
    """Return a controller whose worker sits in a hostile read (or lookup) now."""
    if state == "silent_resolver":
        ctl = make_controller(driver_factory=_silent_resolver_factory(release))
        ctl.connect_to("lab-ctp10")
        qtbot.waitUntil(lambda: ctl.status.state is S.CONNECTING, timeout=1000)
        return ctl, None
    server = hostile(state, points=10_000_000)  # a stalled trace: 40 MB, 41 s of deadline
    ctl = make_controller(open_timeout_s=30.0)
    ctl.connect_to(server.address)
    qtbot.waitUntil(lambda: len(server.commands) >= 2, timeout=3000)  # *IDN? and one more
    if state == "stall_after_header":
        qtbot.waitUntil(lambda: ctl.status.state is S.LIVE, timeout=3000)
        ctl.request(lambda c: c.fetch_trace(4, 1, 1, timeout_s=60.0), busy=True,
                    label="Fetching", timeout_s=60.0)
        qtbot.waitUntil(lambda: any("DATA?" in c for c in server.commands), timeout=3000)
    return ctl, server


def test_dripping_replies_reconnect_instead_of_flipping_live_and_stale(
        qtbot, hostile, make_controller, gui_gaps) -> None:
    server = hostile("drip", drip_s=0.2)
    ctl = make_controller(reply_deadline_s=1.0)
    rec = StateRecorder(ctl)
    ctl.connect_to(server.address)
    # Replies of 3 bytes ("0\r\n") take 0.6 s, within the 1 s deadline: the link is slow but
    # up. The first longer reply (*OPT?, read at connect) fails at its deadline and the link
    # reconnects, about 1 s in.
    qtbot.waitUntil(lambda: ctl.status.state is S.RECONNECTING, timeout=8000)
    reason = rec.statuses(S.RECONNECTING)[0].reason
    assert f"no reply from 127.0.0.1:{server.port} within 1 s to '" in reason
    assert "(incomplete: only" in reason
    qtbot.waitUntil(lambda: server.connections >= 3, timeout=8000)  # it keeps trying
    assert rec.states().count(S.RECONNECTING) >= 1


@pytest.mark.parametrize("state", STUCK_STATES)
def test_disconnect_returns_at_once_and_really_closes_the_socket(
        qtbot, hostile, make_controller, sim, gui_gaps, state: str) -> None:
    release = threading.Event()
    try:
        ctl, server = _stuck(state, qtbot, hostile, make_controller, release)
        started = time.monotonic()
        ctl.disconnect_link()
        assert time.monotonic() - started < DISCONNECT_BUDGET_S
        assert ctl.status.state is S.DISCONNECTED
        if server is not None:
            qtbot.waitUntil(lambda: server.open_connections == 0,
                            timeout=round(DISCONNECT_BUDGET_S * 1000))
        # The worker is free again: a sane instrument connects as quickly as ever.
        t = time.monotonic()
        ctl.connect_to(sim.address)
        qtbot.waitUntil(lambda: ctl.status.state is S.LIVE, timeout=3000)
        assert time.monotonic() - t < 1.5
    finally:
        release.set()


@pytest.mark.parametrize("state", STUCK_STATES)
def test_shutdown_returns_at_once_with_the_worker_ended(
        qtbot, hostile, make_controller, gui_gaps, state: str) -> None:
    release = threading.Event()
    try:
        ctl, server = _stuck(state, qtbot, hostile, make_controller, release)
        started = time.monotonic()
        ctl.shutdown()
        assert time.monotonic() - started < SHUTDOWN_BUDGET_S
        assert not ctl.worker_running
        if server is not None:
            qtbot.waitUntil(lambda: server.open_connections == 0, timeout=500)
    finally:
        release.set()


@pytest.mark.parametrize("state", STUCK_STATES)
def test_switching_to_a_sane_instrument_never_waits_for_the_stuck_one(
        qtbot, hostile, make_controller, sim, gui_gaps, state: str) -> None:
    release = threading.Event()
    try:
        ctl, server = _stuck(state, qtbot, hostile, make_controller, release)
        started = time.monotonic()
        ctl.connect_to(sim.address)
        assert time.monotonic() - started < DISCONNECT_BUDGET_S
        qtbot.waitUntil(lambda: ctl.status.state is S.LIVE and ctl.address == sim.address,
                        timeout=3000)
        assert time.monotonic() - started < 1.5
        if server is not None:
            qtbot.waitUntil(lambda: server.open_connections == 0, timeout=500)
    finally:
        release.set()


def test_a_two_megabyte_idn_is_refused_without_stalling_the_gui(
        qtbot, hostile, make_controller, gui_gaps) -> None:
    server = hostile("huge_idn")
    ctl = make_controller()
    rec = StateRecorder(ctl)
    ctl.connect_to(server.address)
    qtbot.waitUntil(lambda: ctl.status.state is S.RECONNECTING, timeout=3000)
    reason = rec.statuses(S.RECONNECTING)[0].reason
    assert "to '*IDN?': a reply longer than 65536 bytes" in reason


def test_control_characters_in_the_idn_reach_the_gui_escaped(
        qtbot, hostile, make_controller, gui_gaps) -> None:
    server = hostile("control_idn")
    ctl = make_controller()
    ctl.connect_to(server.address)
    qtbot.waitUntil(lambda: ctl.identity is not None, timeout=3000)
    assert ctl.identity is not None
    assert ctl.identity.serial == "\\x1b[2J\\rERROR forged line"
    assert not any(ch in ctl.status.reason for ch in "\x1b\r\n")


def test_an_endless_line_keeps_memory_flat_across_reconnections(
        qtbot, hostile, make_controller, gui_gaps) -> None:
    server = hostile("endless_line")
    ctl = make_controller()
    rec = StateRecorder(ctl)
    process = psutil.Process()
    rss_before = process.memory_info().rss
    ctl.connect_to(server.address)
    qtbot.waitUntil(lambda: server.connections >= 6, timeout=10000)
    grown = process.memory_info().rss - rss_before
    # Unbounded, each connection held all it was sent (1.2 GB); bounded, a line costs 64 kB.
    assert grown < 30_000_000, f"resident memory grew by {grown / 1e6:.0f} MB"
    assert "a reply longer than 65536 bytes" in rec.statuses(S.RECONNECTING)[0].reason
