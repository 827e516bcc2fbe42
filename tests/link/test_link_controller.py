"""The link controller against the simulator: pacing, batching, probing, requests, re-applying."""

from __future__ import annotations

import threading
import time
from typing import Any

import numpy as np
import pytest
from link_helpers import StateRecorder, connect_live

from ctp10_gui.hardware.ctp10 import CTP10
from ctp10_gui.hardware.errors import InstrumentError, OutOfRangeError
from ctp10_gui.hardware.power import ChannelStatus
from ctp10_gui.hardware.replay import ReplayTransport
from ctp10_gui.hardware.scpi import PowerUnit
from ctp10_gui.hardware.transport import VisaTransport
from ctp10_gui.models.connection import BackoffPolicy, LinkHealth, LinkState
from ctp10_gui.models.samples import SnapshotBatch

S = LinkState


class Batches:
    """Collect batches with their arrival time."""

    def __init__(self, controller: Any) -> None:
        self.items: list[tuple[float, SnapshotBatch]] = []
        controller.batch_received.connect(self._on)

    def _on(self, batch: SnapshotBatch) -> None:
        self.items.append((time.monotonic(), batch))

    def samples(self) -> int:
        return sum(len(b) for _, b in self.items)

    def joined(self) -> SnapshotBatch:
        return SnapshotBatch.concat([b for _, b in self.items])


def test_live_snapshots_are_paced_by_deadlines_and_batched(qtbot, sim, make_controller) -> None:
    ctl = make_controller()
    batches = Batches(ctl)
    connect_live(qtbot, ctl, sim.address)
    qtbot.waitUntil(lambda: batches.samples() >= 30, timeout=5000)
    data = batches.joined()
    assert data.channels == (1, 2, 3, 4) and data.module == 4
    assert (data.status == ChannelStatus.OK).all()
    assert np.isfinite(data.values_dbm).all()
    t = data.t_mono[2:]  # after the first snapshot, which also detects compound queries
    # Deadline pacing: sample k is due at t0 + k × 50 ms. A late reply is followed by a
    # shorter step, so lateness never accumulates into drift.
    residual = t - t[0] - 0.05 * np.arange(len(t))
    assert np.abs(residual - np.median(residual)).max() < 0.04
    assert np.mean(np.diff(t)) == pytest.approx(0.05, abs=0.002)
    # Below the 20 ms batching age every snapshot leaves alone, at once.
    assert max(len(b) for _, b in batches.items) <= 2


def test_at_max_rate_batches_leave_every_20_ms(qtbot, sim, make_controller) -> None:
    ctl = make_controller(interval_s=0.0)
    batches = Batches(ctl)
    connect_live(qtbot, ctl, sim.address)
    start = len(batches.items)
    qtbot.waitUntil(lambda: len(batches.items) >= start + 30, timeout=5000)
    recent = batches.items[start:]
    spans = [b.t_mono[-1] - b.t_mono[0] for _, b in recent]
    # A batch leaves once its oldest snapshot is 20 ms old, or would be by the next reply;
    # a reply delayed by the loaded machine may stretch one a little.
    assert np.median(spans) <= 0.021
    assert np.percentile(spans, 90) <= 0.03
    samples = sum(len(b) for _, b in recent)
    elapsed = recent[-1][1].t_mono[-1] - recent[0][1].t_mono[0]
    assert samples / elapsed > 200  # loopback: hundreds of 4-channel snapshots per second
    assert samples / len(recent) > 3  # many samples per signal, not one signal per sample


def test_a_slow_reply_does_not_pile_up_snapshots(qtbot, sim, make_controller) -> None:
    ctl = make_controller(interval_s=0.05)
    batches = Batches(ctl)
    connect_live(qtbot, ctl, sim.address)
    sim.faults.late_reply_s = 0.3  # slower than the interval, faster than the watchdog
    t_slow = time.monotonic()
    qtbot.waitUntil(lambda: batches.samples() >= 1 and batches.items[-1][0] > t_slow + 0.7,
                    timeout=3000)
    sim.faults.late_reply_s = 0.0
    t_fast = time.monotonic()
    qtbot.waitUntil(lambda: batches.items[-1][1].t_mono[-1] > t_fast + 0.5, timeout=3000)
    t = batches.joined().t_mono
    after = np.diff(t[t > t_fast - 0.3])
    # After a late reply the next snapshot is due at once (its deadline has passed), but the
    # missed ones are skipped, not caught up: one short step at most, then 50 ms again.
    assert np.count_nonzero(after < 0.035) <= 1
    assert np.median(after) == pytest.approx(0.05, abs=0.005)
    assert ctl.status.state is S.LIVE


def test_paused_live_view_probes_the_same_session(qtbot, sim, make_controller) -> None:
    ctl = make_controller(probe_interval_s=0.2)
    rec = StateRecorder(ctl)
    batches = Batches(ctl)
    connect_live(qtbot, ctl, sim.address)
    ctl.set_live(False)
    qtbot.waitUntil(lambda: ctl.status.state is S.CONNECTED, timeout=1000)
    qtbot.waitUntil(lambda: len(batches.items) == len(batches.items), timeout=100)
    t_off = time.monotonic()
    n_batches = len(batches.items)
    qtbot.waitUntil(lambda: (ctl.last_good_reply or 0) > t_off + 0.3, timeout=2000)
    assert len(batches.items) <= n_batches + 1  # at most one batch already under way
    assert sim.client_count == 1  # the probe uses the one session, never a second socket
    assert not ctl.status.live
    ctl.set_live(True)
    qtbot.waitUntil(lambda: len(batches.items) > n_batches + 3, timeout=2000)
    assert rec.states() == [S.CONNECTING, S.LIVE, S.CONNECTED, S.LIVE]


def test_requests_run_in_order_and_results_come_back(qtbot, sim, make_controller) -> None:
    ctl = make_controller()
    batches = Batches(ctl)
    connect_live(qtbot, ctl, sim.address)
    done: list[tuple[int, str]] = []
    ids = [ctl.request(lambda c, i=i: (i, c.query("*IDN?")), done.append) for i in range(6)]
    assert ids == sorted(ids) and len(set(ids)) == 6
    qtbot.waitUntil(lambda: len(done) == 6, timeout=3000)
    assert [i for i, _ in done] == list(range(6))
    assert all(idn.startswith("EXFO,CTP10,CTP10-SIM-0001") for _, idn in done)
    n = len(batches.items)
    qtbot.waitUntil(lambda: len(batches.items) > n + 2, timeout=2000)  # live data goes on
    assert ctl.status.state is S.LIVE


def test_request_errors_come_back_with_a_message(qtbot, sim, make_controller) -> None:
    ctl = make_controller()
    connect_live(qtbot, ctl, sim.address)
    errors: list[Exception] = []
    shown: list[str] = []
    ctl.instrument_error.connect(shown.append)
    ctl.request(lambda c: c.detector(4, 1).set("wavelength_nm", 2000.0), None, errors.append)

    def rejected(c: CTP10) -> None:
        c.write(":CTP:NONSENSE 1")
        c.check_errors(":CTP:NONSENSE 1")

    ctl.request(rejected, None, errors.append)
    ctl.request(lambda c: 1 / 0)  # nobody listens: the user is still told
    qtbot.waitUntil(lambda: len(errors) == 2 and len(shown) == 2, timeout=3000)
    assert isinstance(errors[0], OutOfRangeError)
    assert "1240–1680 nm" in str(errors[0])
    assert isinstance(errors[1], InstrumentError)
    assert ":CTP:NONSENSE 1" in str(errors[1])
    assert shown[0] == str(errors[1])
    assert shown[1].startswith("request failed: division by zero")
    assert ctl.status.state is S.LIVE
    assert ctl.health().last_instrument_errors == [str(errors[1])]


def test_busy_request_pauses_live_and_returns_to_live(qtbot, sim_factory,
                                                      make_controller) -> None:
    sim = sim_factory(speedup=1.4)  # the default 40 nm scan at 20 nm/s lasts about 1.4 s
    ctl = make_controller()
    rec = StateRecorder(ctl)
    batches = Batches(ctl)
    connect_live(qtbot, ctl, sim.address)
    result: list[bool] = []

    def sweep(c: CTP10) -> bool:
        c.start_sweep()
        return c.wait_until_idle(timeout_s=30.0, cancelled=ctl.cancelled)

    ctl.request(sweep, result.append, busy=True, label="Sweeping")
    qtbot.waitUntil(lambda: ctl.status.state is S.BUSY, timeout=2000)
    assert ctl.status.reason == "Sweeping"
    t_busy = time.monotonic()
    qtbot.waitUntil(lambda: result == [True], timeout=5000)
    t_done = time.monotonic()
    assert t_done - t_busy > 1.0  # longer than the live watchdog period: still not Stale
    qtbot.waitUntil(lambda: ctl.status.state is S.LIVE, timeout=1000)
    n = len(batches.items)
    qtbot.waitUntil(lambda: len(batches.items) > n + 2, timeout=2000)
    assert rec.states() == [S.CONNECTING, S.LIVE, S.BUSY, S.LIVE]
    t = batches.joined().t_mono
    gap = np.diff(t).max()
    assert gap > 1.0  # no snapshot was taken while the sweep ran


class _ThreadRecordingTransport:
    """Wrap a transport and note which thread calls each of its methods."""

    def __init__(self, inner: VisaTransport, seen: set[int]) -> None:
        self._inner = inner
        self._seen = seen
        self.address = inner.address
        self.io_timeout_s = inner.io_timeout_s

    @property
    def is_open(self) -> bool:
        self._seen.add(threading.get_ident())
        return self._inner.is_open

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._inner, name)
        if name == "abort":
            return attr  # made for other threads: it only shuts the socket down

        def call(*args: Any, **kwargs: Any) -> Any:
            self._seen.add(threading.get_ident())
            return attr(*args, **kwargs)

        return call


def test_only_the_worker_thread_touches_the_driver(qtbot, sim, make_controller) -> None:
    seen: set[int] = set()

    def factory(address: str) -> CTP10:
        seen.add(threading.get_ident())
        return CTP10(_ThreadRecordingTransport(VisaTransport(address), seen))

    ctl = make_controller(driver_factory=factory, probe_interval_s=0.1)
    connect_live(qtbot, ctl, sim.address)
    done: list[object] = []
    ctl.request(lambda c: c.condition(), done.append)
    ctl.set_live(False)
    qtbot.waitUntil(lambda: bool(done) and ctl.status.state is S.CONNECTED, timeout=2000)
    t = time.monotonic()
    qtbot.waitUntil(lambda: (ctl.last_good_reply or 0) > t, timeout=2000)  # a probe
    sim.faults.reset_connections()
    qtbot.waitUntil(lambda: ctl.status.state is S.CONNECTED and ctl.health().reconnects == 1,
                    timeout=3000)
    ctl.disconnect_link()
    ctl.shutdown()
    assert seen == {ctl.worker_thread_id}
    assert threading.get_ident() not in seen


def _sim_query(sim: Any, command: str) -> str:
    reply = sim.instrument.handle(command)
    assert isinstance(reply, str)
    return reply


def test_settings_come_back_after_a_reconnect_to_the_same_instrument(
        qtbot, sim, make_controller) -> None:
    ctl = make_controller()
    events: list[tuple[str, str]] = []
    ctl.link_event.connect(lambda kind, text: events.append((kind, text)))
    batches = Batches(ctl)
    connect_live(qtbot, ctl, sim.address)
    done: list[object] = []
    ctl.set_detector_wavelength(4, 1, 1310.0, done.append)
    ctl.set_detector_unit(4, 2, PowerUnit.MW, done.append)
    ctl.set_channels((1, 2, 3))
    ctl.set_interval(0.1)
    qtbot.waitUntil(lambda: len(done) == 2, timeout=2000)
    # The instrument reboots: its settings are back to defaults.
    sim.instrument.handle("*RST")
    assert float(_sim_query(sim, ":CTP:SENS4:CHAN1:WAV?")) == pytest.approx(1550e-9)
    sim.faults.reset_connections()
    qtbot.waitUntil(lambda: ctl.health().reconnects == 1 and ctl.status.state is S.LIVE,
                    timeout=3000)
    t_live = ctl.status.since
    qtbot.waitUntil(lambda: _sim_query(sim, ":CTP:SENS4:CHAN2:UNIT:Y?") == "1", timeout=2000)
    assert float(_sim_query(sim, ":CTP:SENS4:CHAN1:WAV?")) == pytest.approx(1310e-9)
    n = len(batches.items)
    qtbot.waitUntil(lambda: len(batches.items) > n + 3, timeout=2000)
    after = SnapshotBatch.concat([b for _, b in batches.items if b.t_mono[0] > t_live])
    assert after.channels == (1, 2, 3)
    assert np.median(np.diff(after.t_mono)) == pytest.approx(0.1, abs=0.01)
    assert ("reconnect" in [k for k, _ in events]) and ctl.status.live


def test_a_different_instrument_is_reported_and_gets_nothing(qtbot, sim, make_controller) -> None:
    ctl = make_controller(probe_interval_s=0.2)
    rec = StateRecorder(ctl)
    events: list[tuple[str, str]] = []
    ctl.link_event.connect(lambda kind, text: events.append((kind, text)))
    identities: list[Any] = []
    ctl.identity_changed.connect(identities.append)
    batches = Batches(ctl)
    connect_live(qtbot, ctl, sim.address)
    done: list[object] = []
    ctl.set_detector_wavelength(4, 1, 1310.0, done.append)
    qtbot.waitUntil(lambda: bool(done), timeout=2000)
    sim.instrument.handle("*RST")
    t_fault = time.monotonic()
    sim.faults.set_serial("CTP10-SIM-0002", restart=True)  # FIN to every client
    qtbot.waitUntil(lambda: ctl.status.state is S.CONNECTED, timeout=5000)
    t_connected = time.monotonic()
    # FIN: seen before the next query (or, rarely, after the I/O timeout with Stale first).
    assert rec.states(t_fault) in ([S.RECONNECTING, S.CONNECTED],
                                   [S.STALE, S.RECONNECTING, S.CONNECTED])
    status = ctl.status
    assert "CTP10-SIM-0002" in status.reason and "CTP10-SIM-0001" in status.reason
    assert "nothing was re-applied" in status.reason
    assert status.live is False
    assert events[-1][0] == "different_instrument"
    assert [i.serial for i in identities] == ["CTP10-SIM-0001", "CTP10-SIM-0002"]
    qtbot.waitUntil(lambda: (ctl.last_good_reply or 0) > t_connected + 0.25, timeout=2000)
    assert float(_sim_query(sim, ":CTP:SENS4:CHAN1:WAV?")) == pytest.approx(1550e-9)
    assert not [b for t, b in batches.items if t > t_connected]  # nothing polled either
    assert "different_instrument" in ctl.health().history[-1][1]
    ctl.set_live(True)  # the user accepts the new instrument
    qtbot.waitUntil(lambda: ctl.status.state is S.LIVE, timeout=1000)


def test_a_first_connection_refused_says_so_at_once_and_retry_works(qtbot, sim,
                                                                     make_controller) -> None:
    ctl = make_controller(backoff=BackoffPolicy(initial_s=0.05, cap_s=0.1, max_attempts=3))
    rec = StateRecorder(ctl)
    sim.faults.stop_listening()
    ctl.connect_to(sim.address)
    qtbot.waitUntil(lambda: ctl.status.state is S.OFFLINE, timeout=3000)
    host, port = sim.address.split("::")[1:3]
    assert ctl.status.reason == (f"Connection refused at {host}:{port} — is the CTP10 on, and "
                                 f"SCPI enabled on port {port}?")
    assert ctl.status.next_attempt_at is not None  # the slow retry still runs
    sim.faults.start_listening()
    ctl.retry_now()
    qtbot.waitUntil(lambda: ctl.status.state is S.LIVE, timeout=3000)
    assert rec.states() == [S.CONNECTING, S.OFFLINE, S.RECONNECTING, S.LIVE]


def test_after_n_attempts_a_slow_retry_brings_the_link_back_by_itself(qtbot, sim,
                                                                      make_controller) -> None:
    ctl = make_controller(backoff=BackoffPolicy(initial_s=0.05, cap_s=0.1, max_attempts=3,
                                                slow_retry_s=0.3))
    ctl.connect_to(sim.address)
    qtbot.waitUntil(lambda: ctl.status.state is S.LIVE, timeout=3000)
    rec = StateRecorder(ctl)
    sim.faults.stop_listening()
    sim.faults.drop_connections()
    qtbot.waitUntil(lambda: ctl.status.state is S.OFFLINE, timeout=3000)
    assert [s.attempt for s in rec.statuses(S.RECONNECTING)][-1] == 3
    assert ctl.status.reason.startswith("3 attempts failed (connection refused by")
    assert ctl.status.reason.endswith("trying again every 0.3 s")
    assert ctl.status.next_attempt_at is not None  # the badge counts down to the slow retry
    sim.faults.start_listening()
    qtbot.waitUntil(lambda: ctl.status.state is S.LIVE, timeout=3000)
    assert rec.states() == [S.RECONNECTING, S.OFFLINE, S.LIVE]
    identities: list[Any] = []
    ctl.identity_changed.connect(identities.append)
    ctl.disconnect_link()
    assert ctl.status.state is S.DISCONNECTED and identities == [None]


def test_connecting_to_another_address_forgets_the_identity_at_once(
        qtbot, sim, make_controller) -> None:
    ctl = make_controller()
    connect_live(qtbot, ctl, sim.address)
    assert ctl.identity is not None and ctl.identity.serial == "CTP10-SIM-0001"
    identities: list[Any] = []
    ctl.identity_changed.connect(identities.append)
    ctl.connect_to(sim.address)  # the same address again: what answered there still stands
    assert ctl.identity is not None and identities == []
    ctl.connect_to("127.0.0.1:1")
    assert identities == [None] and ctl.identity is None
    assert ctl.address == "TCPIP::127.0.0.1::1::SOCKET"


def test_something_that_is_not_a_ctp10_is_not_retried(qtbot, make_controller) -> None:
    def factory(address: str) -> CTP10:
        return CTP10(ReplayTransport([("*IDN?", "KEYSIGHT,N7744A,MY123,1.0")], address))

    ctl = make_controller(driver_factory=factory)
    rec = StateRecorder(ctl)
    ctl.connect_to("10.0.0.5")
    qtbot.waitUntil(lambda: ctl.status.state is S.OFFLINE, timeout=2000)
    assert rec.states() == [S.CONNECTING, S.OFFLINE]
    assert ctl.status.reason == ("10.0.0.5:5025 is not an EXFO CTP10 (it is a KEYSIGHT N7744A: "
                                 "'KEYSIGHT,N7744A,MY123,1.0')")
    with pytest.raises(ValueError, match="not an instrument address"):
        ctl.connect_to("http://10.0.0.5/")


def test_health_reports_latency_rate_and_reconnect_history(qtbot, sim, make_controller) -> None:
    ctl = make_controller()
    reports: list[LinkHealth] = []
    ctl.health_changed.connect(reports.append)
    connect_live(qtbot, ctl, sim.address)
    sim.faults.reset_connections()
    qtbot.waitUntil(lambda: ctl.health().reconnects == 1 and ctl.status.state is S.LIVE,
                    timeout=3000)
    n = len(reports)
    with qtbot.waitSignal(ctl.health_changed, timeout=1000):
        pass
    qtbot.waitUntil(lambda: len(reports) >= n + 3, timeout=3000)  # about 2 Hz
    health = reports[-1]
    assert health.requested_hz == 20.0
    assert health.achieved_hz == pytest.approx(20.0, rel=0.15)
    assert 0 < health.latency_p50_s <= health.latency_p95_s < 0.05
    assert health.errors == 1 and health.reconnects == 1
    assert [text.split(":")[0] for _, text in health.history] == ["disconnect", "reconnect"]
    assert "connection reset by" in health.history[0][1]
    assert 0 < health.uptime_s < 2.0


def test_an_empty_module_slot_stops_live_with_a_sentence_not_a_reconnect_loop(
        qtbot, sim, make_controller) -> None:
    """Module 2 has no detector: the instrument stays silent; the link itself is fine."""
    ctl = make_controller()  # a first reply is awaited 1 s (PROBE_REPLY_S), not 5
    errors: list[str] = []
    ctl.instrument_error.connect(errors.append)
    connect_live(qtbot, ctl, sim.address)
    ctl.set_module(2)
    qtbot.waitUntil(lambda: ctl.status.state is S.CONNECTED, timeout=5000)
    assert not ctl.status.live
    assert any("detector module 2 does not answer" in e and "-241" in e for e in errors)
    assert ctl.health().reconnects == 0
    ctl.set_module(4)
    ctl.set_live(True)
    qtbot.waitUntil(lambda: ctl.status.state is S.LIVE, timeout=5000)


def test_a_unit_changed_by_a_second_client_is_a_link_event_and_no_wrong_value_is_ok(
        qtbot, sim_factory, make_controller) -> None:
    """Another pyvisa session switches channel 1 to mW while live polling runs at 20 Hz."""
    sim = sim_factory(max_clients=2, noise_db=0.0, drift=False, unique_power=False)
    ctl = make_controller()
    events: list[tuple[str, str]] = []
    ctl.link_event.connect(lambda kind, text: events.append((kind, text)))
    batches: list[SnapshotBatch] = []
    ctl.batch_received.connect(batches.append)
    connect_live(qtbot, ctl, sim.address)
    other = CTP10(VisaTransport(sim.address))
    other.connect()
    try:
        other.detector(4, 1).power_unit = PowerUnit.MW
    finally:
        other.close()
    qtbot.waitUntil(lambda: any(kind == "unit_changed" for kind, _ in events), timeout=3000)
    n = len(batches)
    qtbot.waitUntil(lambda: len(batches) >= n + 3, timeout=3000)
    truth = [sim.instrument.live_power_dbm(4, c) for c in (1, 2, 3, 4)]
    every = SnapshotBatch.concat(batches)
    assert not every.status.any()
    np.testing.assert_allclose(every.values_dbm, np.tile(truth, (len(every), 1)), atol=1e-6)
    said = [text for kind, text in events if kind == "unit_changed"]
    assert len(said) == 1 and said[0].startswith("module 4 channel 1 replies in mW")
