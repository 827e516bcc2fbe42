"""Changes made by a second client on a shared instrument: scans, wavelengths, *RST.

The simulator accepts two clients (``max_clients=2``) and runs at real speed (a default scan
takes seconds). A second pyvisa session makes the changes while the link polls at 20 Hz; the
link must say what changed, keep the session, and (for a scan) pause live data without Stale.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest
from link_helpers import StateRecorder, connect_live, off_gui_thread

from ctp10_gui.hardware.ctp10 import CTP10
from ctp10_gui.hardware.transport import VisaTransport
from ctp10_gui.link.controller import LinkController
from ctp10_gui.models.connection import LinkState
from ctp10_gui.models.samples import SnapshotBatch
from ctp10_gui.simulator import SimulatorServer

S = LinkState
WATCH_LATENCY_S = 1.0  # the watch rides every 0.25 s; a change is named well within 1 s


@pytest.fixture
def shared(sim_factory: Callable[..., SimulatorServer]) -> SimulatorServer:
    """Return a real-speed simulator that two clients may use at once."""
    return sim_factory(max_clients=2, speedup=1.0, drift=False, noise_db=0.0)


@pytest.fixture
def shared_plain(sim_factory: Callable[..., SimulatorServer]) -> SimulatorServer:
    """Return the same, answering no compound messages: one query each, watch included."""
    return sim_factory(max_clients=2, speedup=1.0, drift=False, noise_db=0.0, compound=False)


@pytest.fixture
def other(shared: SimulatorServer) -> Iterator[CTP10]:
    """Return the second client: its own pyvisa session on the shared simulator."""
    ctp = CTP10(VisaTransport(shared.address, io_timeout_s=2.0))
    ctp.connect()
    yield ctp
    ctp.close()


class Watched:
    """A live controller with its states, link events and batches recorded."""

    def __init__(self, qtbot: Any, ctl: LinkController, address: str) -> None:
        self.ctl = ctl
        self.rec = StateRecorder(ctl)
        self.events: list[tuple[float, str, str]] = []
        ctl.link_event.connect(lambda kind, text: self.events.append(
            (time.monotonic(), kind, text)))
        self.batches: list[SnapshotBatch] = []
        ctl.batch_received.connect(self.batches.append)
        connect_live(qtbot, ctl, address)

    def kinds(self, since: float) -> list[str]:
        return [kind for t, kind, _ in self.events if t >= since]

    def texts(self, kind: str) -> list[str]:
        return [text for _, k, text in self.events if k == kind]


def _scan_elsewhere_pauses_live(qtbot: Any, make_controller: Callable[..., LinkController],
                                shared: SimulatorServer, start: Callable[[], object],
                                reason: str) -> Watched:
    w = Watched(qtbot, make_controller(), shared.address)
    t0 = time.monotonic()
    off_gui_thread(qtbot, start)
    qtbot.waitUntil(lambda: w.ctl.status.state is S.BUSY, timeout=2000)
    assert w.ctl.status.busy_elsewhere and w.ctl.status.reason == reason
    assert w.rec.time_of(S.BUSY, t0) - t0 < WATCH_LATENCY_S
    qtbot.waitUntil(lambda: w.rec.states(t0) == [S.BUSY, S.LIVE], timeout=15000)
    n = len(w.batches)
    qtbot.waitUntil(lambda: len(w.batches) > n + 3, timeout=2000)  # live resumed by itself
    assert w.rec.states(t0) == [S.BUSY, S.LIVE]  # never Stale, never Reconnecting
    assert w.kinds(t0) == ["busy_elsewhere", "busy_elsewhere_ended"]
    assert w.ctl.health().reconnects == 0
    # No powers were polled while the scan ran: one hole, as long as the Busy state.
    t = SnapshotBatch.concat(w.batches).t_mono
    gaps = np.diff(t)
    busy_s = w.rec.time_of(S.LIVE, t0) - w.rec.time_of(S.BUSY, t0)
    assert (gaps > 0.5).sum() == 1 and gaps.max() == pytest.approx(busy_s, abs=0.3)
    return w


@pytest.mark.slow
def test_a_sweep_started_elsewhere_is_busy_not_stale_and_live_resumes(
        qtbot, make_controller, shared, other) -> None:
    _scan_elsewhere_pauses_live(qtbot, make_controller, shared, other.start_sweep,
                                "sweep started elsewhere")


@pytest.mark.slow
def test_a_sweep_started_elsewhere_is_seen_without_compound_messages_too(
        qtbot, make_controller, shared_plain) -> None:
    other = CTP10(VisaTransport(shared_plain.address, io_timeout_s=2.0))
    other.connect()
    try:
        _scan_elsewhere_pauses_live(qtbot, make_controller, shared_plain, other.start_sweep,
                                    "sweep started elsewhere")
    finally:
        other.close()


@pytest.mark.slow
def test_a_reference_started_elsewhere_is_busy_not_stale_and_live_resumes(
        qtbot, make_controller, shared, other) -> None:
    _scan_elsewhere_pauses_live(qtbot, make_controller, shared,
                                lambda: other.start_reference(4, 2),
                                "reference started elsewhere")


def test_a_scan_this_app_left_running_is_not_blamed_on_another_client(
        qtbot, make_controller, shared) -> None:
    w = Watched(qtbot, make_controller(), shared.address)
    t0 = time.monotonic()
    w.ctl.request(lambda ctp: ctp.start_sweep())  # started, not waited for
    qtbot.waitUntil(lambda: w.ctl.status.state is S.BUSY, timeout=2000)
    assert w.ctl.status.reason == "a sweep started from this app is still running"
    assert w.rec.states(t0) == [S.BUSY]


def test_a_detector_wavelength_changed_elsewhere_is_said_once_and_kept_live(
        qtbot, make_controller, shared, other) -> None:
    w = Watched(qtbot, make_controller(), shared.address)
    qtbot.waitUntil(lambda: len(w.batches) > 10, timeout=2000)  # the first watch is read
    t0 = time.monotonic()
    off_gui_thread(qtbot, lambda: other.detector(4, 1).set("wavelength_nm", 1310.0))
    qtbot.waitUntil(lambda: "changed_elsewhere" in w.kinds(t0), timeout=2000)
    (t_event, _, text) = next(e for e in w.events if e[1] == "changed_elsewhere")
    assert t_event - t0 < WATCH_LATENCY_S
    assert text.endswith("changed on the instrument by another client: module 4 channel 1 "
                         "calibration wavelength 1310 nm (was 1550 nm)")
    n = len(w.batches)
    qtbot.waitUntil(lambda: len(w.batches) > n + 10, timeout=3000)
    assert w.kinds(t0) == ["changed_elsewhere"]  # said once
    assert w.rec.states(t0) == []  # Live throughout


def test_a_change_made_through_this_app_is_no_news(qtbot, make_controller, shared) -> None:
    w = Watched(qtbot, make_controller(), shared.address)
    qtbot.waitUntil(lambda: len(w.batches) > 10, timeout=2000)
    t0 = time.monotonic()
    done: list[object] = []
    w.ctl.set_detector_wavelength(4, 1, 1310.0, on_done=done.append)
    qtbot.waitUntil(lambda: bool(done), timeout=2000)
    n = len(w.batches)
    qtbot.waitUntil(lambda: len(w.batches) > n + 20, timeout=3000)  # several watch readings
    assert w.kinds(t0) == []


def test_a_reset_from_another_client_is_named_with_what_it_changed(
        qtbot, make_controller, shared, other) -> None:
    w = Watched(qtbot, make_controller(), shared.address)
    qtbot.waitUntil(lambda: len(w.batches) > 10, timeout=2000)  # the first watch is read
    off_gui_thread(qtbot, lambda: other.detector(4, 2).set("wavelength_nm", 1300.0))
    off_gui_thread(qtbot, lambda: other.sweep.set("start_nm", 1540.0))
    qtbot.waitUntil(lambda: len(w.texts("changed_elsewhere")) >= 1
                    and "1540 nm" in " ".join(w.texts("changed_elsewhere")), timeout=2000)
    t0 = time.monotonic()
    off_gui_thread(qtbot, lambda: other.write("*RST"))
    qtbot.waitUntil(lambda: "changed_elsewhere" in w.kinds(t0), timeout=2000)
    text = w.texts("changed_elsewhere")[-1]
    assert "module 4 channel 2 calibration wavelength 1550 nm (was 1300 nm)" in text
    assert "scan start 1530 nm (was 1540 nm)" in text
    assert text.endswith("(several at once: a reset, *RST?)")
    assert w.rec.states(t0) == [] and w.ctl.health().reconnects == 0
