"""Fault matrix: how the link reacts to each way the socket really fails, and how fast.

Each test records the strict sequence of states after the fault, checks that Stale comes within
1 s of the fault (the watchdog period at the default 50 ms poll interval) and that Live is back
within 0.5 s of the simulator answering again plus what remained of the backoff wait then, and
(gui_gaps) that the GUI event loop never stalled for more than 100 ms meanwhile.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from link_helpers import STALE_TOLERANCE_S, StateRecorder, connect_live, off_gui_thread

from ctp10_gui.hardware.power import ChannelStatus
from ctp10_gui.models.connection import LinkState
from ctp10_gui.models.samples import SnapshotBatch

S = LinkState
RECOVERY_S = 0.5
LEVELS_DBM = {1: -11.0, 2: -22.0, 3: -33.0, 4: -44.0}


def recovery_deadline(rec: StateRecorder, t_answering: float) -> float:
    """Return by when Live must be back: 0.5 s after the simulator answers again, plus what
    remained then of the backoff wait (or the next wait, if the link was not yet known lost)."""
    for _, status in rec.events:
        if (status.state is S.RECONNECTING and status.next_attempt_at is not None
                and status.next_attempt_at >= t_answering):
            return status.next_attempt_at + RECOVERY_S
    return t_answering + RECOVERY_S


# A closed connection (FIN, or the kernel's after SIGKILL) is seen before the next query is
# sent, at once. Only if it lands during the ~0.1 ms a reply is awaited does pyvisa-py wait
# for the I/O timeout, and then the watchdog says Stale first. Both are right; each is strict.
CLOSED_SEQUENCES = ([S.RECONNECTING, S.LIVE], [S.STALE, S.RECONNECTING, S.LIVE])


def assert_closed_sequence(rec: StateRecorder, t_fault: float) -> None:
    states = rec.states(t_fault)
    assert states in CLOSED_SEQUENCES
    if S.STALE in states:
        assert_stale_in_time(rec, t_fault)
    else:
        assert rec.time_of(S.RECONNECTING, t_fault) - t_fault < 0.2


def assert_stale_in_time(rec: StateRecorder, t_fault: float) -> float:
    t_stale = rec.time_of(S.STALE, t_fault)
    assert t_stale - t_fault <= 1.0 + STALE_TOLERANCE_S, f"Stale after {t_stale - t_fault:.3f} s"
    return t_stale


def assert_live_in_time(qtbot, ctl: Any, rec: StateRecorder, t_fault: float,
                        t_answering: float, timeout_ms: int = 5000) -> float:
    """Wait until Live comes back after the fault; check it came in time."""
    qtbot.waitUntil(lambda: S.LIVE in rec.states(t_fault), timeout=timeout_ms)
    t_live = rec.time_of(S.LIVE, t_fault)
    deadline = recovery_deadline(rec, t_answering)
    assert t_live <= deadline, f"Live {t_live - deadline:.3f} s late"
    return t_live


# ---- in-process simulator -----------------------------------------------------------------


def test_reset_connection_rst(qtbot, sim, make_controller, gui_gaps) -> None:
    ctl = make_controller()
    rec = StateRecorder(ctl)
    connect_live(qtbot, ctl, sim.address)
    t_fault = time.monotonic()
    off_gui_thread(qtbot, sim.faults.reset_connections)
    assert_live_in_time(qtbot, ctl, rec, t_fault, t_fault)
    # A reset is known at once: no need to wait for the watchdog.
    assert rec.states(t_fault) == [S.RECONNECTING, S.LIVE]
    assert "connection reset by 127.0.0.1" in rec.statuses(S.RECONNECTING)[0].reason


def test_peer_closes_fin(qtbot, sim, make_controller, gui_gaps) -> None:
    ctl = make_controller()
    rec = StateRecorder(ctl)
    connect_live(qtbot, ctl, sim.address)
    t_fault = time.monotonic()
    off_gui_thread(qtbot, sim.faults.drop_connections)
    assert_live_in_time(qtbot, ctl, rec, t_fault, t_fault)
    assert_closed_sequence(rec, t_fault)
    assert "connection closed by" in rec.statuses(S.RECONNECTING)[0].reason


def test_refused_at_start(qtbot, sim, make_controller, gui_gaps) -> None:
    ctl = make_controller()
    rec = StateRecorder(ctl)
    sim.faults.stop_listening()
    ctl.connect_to(sim.address)
    qtbot.waitUntil(lambda: ctl.status.state is S.OFFLINE, timeout=1500)
    assert ctl.status.reason.startswith("Connection refused at 127.0.0.1:")
    assert ctl.status.next_attempt_at is not None  # a slow retry catches a booting instrument
    sim.faults.start_listening()
    t_answering = time.monotonic()
    ctl.retry_now()
    qtbot.waitUntil(lambda: ctl.status.state is S.LIVE, timeout=1500)
    assert rec.states() == [S.CONNECTING, S.OFFLINE, S.RECONNECTING, S.LIVE]
    assert rec.time_of(S.LIVE, t_answering) - t_answering < 0.5


@pytest.mark.parametrize("close", [False, True], ids=["truncated", "truncated-then-FIN"])
def test_truncated_reply(qtbot, sim, make_controller, gui_gaps, close: bool) -> None:
    ctl = make_controller(reply_deadline_s=1.0)
    rec = StateRecorder(ctl)
    connect_live(qtbot, ctl, sim.address)
    t_fault = time.monotonic()
    sim.faults.truncate_next(1, close=close)  # half a reply, no terminator
    assert_live_in_time(qtbot, ctl, rec, t_fault, t_fault)
    if close:
        # The FIN ends the half reply at once: no I/O timeout to wait out, so never Stale.
        assert rec.states(t_fault) == [S.RECONNECTING, S.LIVE]
        assert "connection closed by" in rec.statuses(S.RECONNECTING)[0].reason
    else:
        assert rec.states(t_fault) == [S.STALE, S.RECONNECTING, S.LIVE]
        assert_stale_in_time(rec, t_fault)


def test_garbage_reply(qtbot, sim, make_controller, gui_gaps) -> None:
    ctl = make_controller()
    rec = StateRecorder(ctl)
    connect_live(qtbot, ctl, sim.address)
    t_fault = time.monotonic()
    sim.faults.garbage_next(1)
    assert_live_in_time(qtbot, ctl, rec, t_fault, t_fault)
    # Garbage is a fault of the stream: reopen at once rather than trust what follows.
    assert rec.states(t_fault) == [S.RECONNECTING, S.LIVE]
    assert "garbled reply from 127.0.0.1" in rec.statuses(S.RECONNECTING)[0].reason


def _distinct_levels(sim: Any) -> dict[int, float]:
    for channel, level in LEVELS_DBM.items():
        sim.instrument.set_level_dbm(4, channel, level)
    return {c: sim.instrument.live_power_dbm(4, c) for c in LEVELS_DBM}


def _collect(ctl: Any) -> list[SnapshotBatch]:
    batches: list[SnapshotBatch] = []
    ctl.batch_received.connect(batches.append)
    return batches


@pytest.mark.slow
def test_late_replies_are_never_attributed_to_the_wrong_query(
        qtbot, sim_factory, make_controller, gui_gaps) -> None:
    sim = sim_factory(drift=False, noise_db=0.0)  # every channel its own, steady value
    expected = _distinct_levels(sim)
    ctl = make_controller(reply_deadline_s=1.0)
    rec = StateRecorder(ctl)
    batches = _collect(ctl)
    connect_live(qtbot, ctl, sim.address)
    t_fault = time.monotonic()
    sim.faults.late_reply_s = 1.3  # later than the 1 s reply deadline: the reply comes after
    qtbot.waitUntil(lambda: ctl.status.state is S.RECONNECTING and ctl.status.attempt >= 2,
                    timeout=4000)
    sim.faults.late_reply_s = 0.0
    # A reply already delayed (e.g. to the *IDN? of an attempt under way) still comes 1.3 s
    # late, and until then the one client slot is taken: the simulator answers normally again
    # only 1.3 s from now.
    t_answering = time.monotonic() + 1.3
    assert_live_in_time(qtbot, ctl, rec, t_fault, t_answering, timeout_ms=6000)
    n = len(batches)
    qtbot.waitUntil(lambda: len(batches) > n + 5, timeout=2000)
    assert rec.states(t_fault) == [S.STALE, S.RECONNECTING, S.LIVE]
    assert_stale_in_time(rec, t_fault)
    data = SnapshotBatch.concat(batches)
    assert (data.status == ChannelStatus.OK).all()
    for i, channel in enumerate(data.channels):
        # 11 dB between channels: a reply read as the answer to another query would show.
        assert np.abs(data.values_dbm[:, i] - expected[channel]).max() < 0.01


def test_a_reply_late_but_within_the_timeout_keeps_the_link(qtbot, sim_factory,
                                                            make_controller, gui_gaps) -> None:
    sim = sim_factory(drift=False, noise_db=0.0)
    expected = _distinct_levels(sim)
    ctl = make_controller()
    rec = StateRecorder(ctl)
    batches = _collect(ctl)
    connect_live(qtbot, ctl, sim.address)
    t_fault = time.monotonic()
    sim.faults.late_reply_s = 0.4
    qtbot.waitUntil(lambda: bool(batches) and batches[-1].t_mono[-1] > t_fault + 1.3,
                    timeout=3000)
    sim.faults.late_reply_s = 0.0
    assert rec.states(t_fault) == []  # slower, but never Stale: 0.4 s < the 1 s watchdog
    late = SnapshotBatch.concat(batches)
    late_t = late.t_mono[late.t_mono > t_fault + 0.5]
    assert np.diff(late_t).min() > 0.35  # the rate followed the link, nothing piled up
    for i, channel in enumerate(late.channels):
        assert np.abs(late.values_dbm[:, i] - expected[channel]).max() < 0.01


def test_one_failing_channel_keeps_the_others_flowing(qtbot, sim, make_controller,
                                                      gui_gaps) -> None:
    ctl = make_controller()
    rec = StateRecorder(ctl)
    errors: list[str] = []
    ctl.instrument_error.connect(errors.append)
    batches = _collect(ctl)
    connect_live(qtbot, ctl, sim.address)
    t_fault = time.monotonic()
    sim.faults.fail_channel(4, 2)
    qtbot.waitUntil(lambda: bool(batches) and batches[-1].t_mono[0] > t_fault + 0.45,
                    timeout=2000)
    sim.faults.fail_channel(4, 2, failed=False)
    t_fixed = time.monotonic()
    qtbot.waitUntil(lambda: batches[-1].t_mono[0] > t_fixed + 0.2, timeout=2000)
    assert rec.states(t_fault) == []  # still Live throughout
    data = SnapshotBatch.concat(batches)
    during = (data.t_mono > t_fault + 0.1) & (data.t_mono < t_fixed)
    assert during.sum() >= 5
    assert (data.status[during, 1] == ChannelStatus.ERROR).all()
    assert np.isnan(data.values_dbm[during, 1]).all()
    assert (data.status[during][:, [0, 2, 3]] == ChannelStatus.OK).all()
    assert np.isfinite(data.values_dbm[during][:, [0, 2, 3]]).all()
    assert (data.status[data.t_mono > t_fixed + 0.1] == ChannelStatus.OK).all()
    assert len(errors) == 1 and errors[0].startswith("module 4 channel 2: ")


# ---- the same faults at the maximum rate: a snapshot query is nearly always in flight -----


ONE_GO = [[S.RECONNECTING, S.LIVE]]
MAX_RATE_FAULTS: dict[str, tuple[Callable[[Any], object], Any]] = {
    "RST": (lambda sim: sim.faults.reset_connections(), ONE_GO),
    "FIN": (lambda sim: sim.faults.drop_connections(), CLOSED_SEQUENCES),
    "garbage": (lambda sim: sim.faults.garbage_next(1), ONE_GO),
    "truncated": (lambda sim: sim.faults.truncate_next(1), [[S.STALE, S.RECONNECTING, S.LIVE]]),
}


@pytest.mark.parametrize("fault", MAX_RATE_FAULTS)
def test_faults_at_the_maximum_rate_lose_no_step_of_the_reply_stream(
        qtbot, sim_factory, make_controller, gui_gaps, fault: str) -> None:
    # At the maximum rate the worker sends each query before parsing the previous reply: a
    # fault may hit a query sent ahead. Values must still match their own channel throughout.
    sim = sim_factory(drift=False, noise_db=0.0)
    expected = _distinct_levels(sim)
    ctl = make_controller(interval_s=0.0, reply_deadline_s=1.0)
    rec = StateRecorder(ctl)
    batches = _collect(ctl)
    connect_live(qtbot, ctl, sim.address)
    inject, sequences = MAX_RATE_FAULTS[fault]
    t_fault = time.monotonic()
    off_gui_thread(qtbot, lambda: inject(sim))
    assert_live_in_time(qtbot, ctl, rec, t_fault, t_fault)
    n = len(batches)
    qtbot.waitUntil(lambda: len(batches) > n + 5, timeout=2000)
    assert rec.states(t_fault) in sequences
    if S.STALE in rec.states(t_fault):
        assert_stale_in_time(rec, t_fault)
    data = SnapshotBatch.concat(batches)
    before = data.t_mono < t_fault
    assert np.diff(data.t_mono[before]).mean() < 0.005  # really the maximum rate, not 20 Hz
    assert (data.status == ChannelStatus.OK).all()
    for i, channel in enumerate(data.channels):
        assert np.abs(data.values_dbm[:, i] - expected[channel]).max() < 0.01


# ---- the simulator as a process: killed, frozen, restarted --------------------------------


@pytest.mark.slow
def test_simulator_killed_then_restarted(qtbot, sim_process, make_controller, gui_gaps) -> None:
    ctl = make_controller()
    rec = StateRecorder(ctl)
    connect_live(qtbot, ctl, sim_process.address)
    t_fault = time.monotonic()
    off_gui_thread(qtbot, sim_process.kill)  # SIGKILL: the kernel closes the socket
    qtbot.waitUntil(lambda: ctl.status.state is S.RECONNECTING and ctl.status.attempt >= 2,
                    timeout=3000)
    t_answering = off_gui_thread(qtbot, sim_process.restart)
    assert_live_in_time(qtbot, ctl, rec, t_fault, t_answering)
    assert_closed_sequence(rec, t_fault)
    assert ctl.health().reconnects == 1


@pytest.mark.slow
def test_simulator_killed_with_default_timings(qtbot, sim_process, make_controller,
                                               gui_gaps) -> None:
    ctl = make_controller(backoff=None)  # 1 s, ×2, cap 30 s, ±20 %, 10 attempts
    rec = StateRecorder(ctl)
    connect_live(qtbot, ctl, sim_process.address)
    t_fault = time.monotonic()
    off_gui_thread(qtbot, sim_process.kill)
    qtbot.waitUntil(lambda: ctl.status.state is S.RECONNECTING, timeout=3000)
    first_wait = rec.statuses(S.RECONNECTING)[0]
    assert first_wait.attempt == 1 and first_wait.max_attempts == 10
    assert 0.8 <= first_wait.next_attempt_at - rec.time_of(S.RECONNECTING) <= 1.2
    t_answering = off_gui_thread(qtbot, sim_process.restart)
    assert_live_in_time(qtbot, ctl, rec, t_fault, t_answering, timeout_ms=8000)
    assert_closed_sequence(rec, t_fault)


@pytest.mark.slow
def test_simulator_frozen_sigstop_then_sigcont(qtbot, sim_process, make_controller,
                                               gui_gaps) -> None:
    # A freeze past a 1 s reply deadline: reconnect attempts while frozen, Live after SIGCONT.
    ctl = make_controller(reply_deadline_s=1.0)
    rec = StateRecorder(ctl)
    connect_live(qtbot, ctl, sim_process.address)
    t_fault = time.monotonic()
    off_gui_thread(qtbot, sim_process.pause)  # SIGSTOP: the socket stays open, nothing answers
    qtbot.waitUntil(lambda: ctl.status.state is S.RECONNECTING and ctl.status.attempt >= 2,
                    timeout=5000)
    t_answering = off_gui_thread(qtbot, sim_process.resume)
    assert_live_in_time(qtbot, ctl, rec, t_fault, t_answering)
    assert rec.states(t_fault) == [S.STALE, S.RECONNECTING, S.LIVE]
    assert_stale_in_time(rec, t_fault)
    assert "no reply from 127.0.0.1" in rec.statuses(S.RECONNECTING)[0].reason


@pytest.mark.slow
def test_a_different_instrument_after_a_restart(qtbot, sim_process, make_controller,
                                                gui_gaps) -> None:
    ctl = make_controller()
    rec = StateRecorder(ctl)
    events: list[tuple[str, str]] = []
    ctl.link_event.connect(lambda kind, text: events.append((kind, text)))
    connect_live(qtbot, ctl, sim_process.address)
    done: list[object] = []
    ctl.set_detector_wavelength(4, 1, 1310.0, done.append)
    qtbot.waitUntil(lambda: bool(done), timeout=2000)
    t_fault = time.monotonic()
    t_answering = off_gui_thread(qtbot, lambda: sim_process.restart(serial="CTP10-SIM-0002"))
    qtbot.waitUntil(lambda: ctl.status.state is S.CONNECTED, timeout=5000)
    assert rec.time_of(S.CONNECTED, t_fault) <= recovery_deadline(rec, t_answering)
    assert rec.states(t_fault)[-2:] == [S.RECONNECTING, S.CONNECTED]
    assert "serial CTP10-SIM-0002 instead of CTP10-SIM-0001" in ctl.status.reason
    assert [k for k, _ in events][-1] == "different_instrument"
    assert ctl.identity is not None and ctl.identity.serial == "CTP10-SIM-0002"
    wavelength: list[float] = []
    ctl.request(lambda c: c.detector(4, 1).get("wavelength_nm"), wavelength.append)
    qtbot.waitUntil(lambda: bool(wavelength), timeout=2000)
    assert wavelength == [pytest.approx(1550.0)]  # the new instrument's own value, untouched
