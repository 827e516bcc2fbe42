"""The link controller: the GUI-thread side of the connection to the CTP10.

It owns the acquisition worker and its thread, runs the connection state machine's actions, and
keeps the watchdog. The watchdog lives here, in the GUI thread, because the worker may sit for
a whole I/O timeout inside a blocked read where no timer of its own could fire: it is a
single-shot precise timer armed for the moment the last good reply becomes too old, so Stale is
shown exactly one watchdog period after the last good reply (1 s at the default 50 ms poll).
Stale keeps the session and the reply in flight: a late reply brings Live back without a
reconnect; only once the reply deadline (``reply_deadline_s``, 5 s by default, also the
transport's per-reply deadline) has passed is the session torn down.

After a reconnect the *IDN? serial is compared with the one seen before: the same instrument
gets the user's settings again (module, channels, rate and live on/off are kept by the worker;
instrument settings made through ``apply_setting`` and the ``set_detector_*`` helpers are sent
again); a different instrument is reported (state CONNECTED with live acquisition off and the
reason saying so, ``link_event("different_instrument")``, ``identity_changed``) and nothing is
sent to it.
"""

from __future__ import annotations

import dataclasses
import logging
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
from PySide6.QtCore import QObject, Qt, QTimer, Signal, Slot

from ctp10_gui.hardware.ctp10 import CTP10, STATUS_REFERENCING, Identity
from ctp10_gui.hardware.errors import InstrumentError, LinkError, LinkFailure
from ctp10_gui.hardware.inventory import Inventory
from ctp10_gui.hardware.scpi import DETECTOR_CHANNELS, DETECTOR_MODULES, PowerUnit
from ctp10_gui.hardware.transport import Transport, host_port, parse_address
from ctp10_gui.link.worker import (
    AcquisitionWorker,
    DriverFactory,
    WorkerBatch,
    visa_driver_factory,
)
from ctp10_gui.link.worker_thread import WorkerThread
from ctp10_gui.models.connection import (
    OPEN_STATES,
    AcquisitionSettings,
    Action,
    CancelBackoffTimer,
    CloseSession,
    ConnectionMachine,
    LinkEvent,
    LinkHealth,
    LinkState,
    LinkStatus,
    Notify,
    OpenSession,
    ReapplySettings,
    StartBackoffTimer,
    StartLive,
    StopLive,
)

__all__ = ["AcquisitionSettings", "LinkController", "LinkHealth", "LinkState", "LinkStatus"]

log = logging.getLogger("ctp10_gui.link")

T = TypeVar("T")
HEALTH_INTERVAL_MS = 500  # health panel refresh, about 2 Hz
RATE_WINDOW_S = 2.0  # achieved rate: samples over the last 2 s
LATENCY_WINDOW = 1000  # latency percentiles over the last 1000 snapshots
# Added (s) to the GUI-side backstop of the reply deadline: timer and signal latency.
REPLY_DEADLINE_MARGIN_S = 0.5
# How long shutdown() waits for the worker after breaking its I/O (s): the window closes in 1 s.
SHUTDOWN_WAIT_S = 0.3
# Link failures that no retry can mend: a typo in the address or another kind of instrument.
_HOPELESS = frozenset({LinkFailure.BAD_ADDRESS, LinkFailure.WRONG_INSTRUMENT})
# On a first connect these mostly mean a wrong address or an instrument that is off: saying so
# at once beats minutes of "Reconnecting". A link that worked before retries them quickly.
_FIRST_CONNECT_REFUSED = frozenset({LinkFailure.REFUSED, LinkFailure.UNREACHABLE})


def first_connect_sentence(error: LinkError) -> str:
    """Return the plain sentence shown when a first connection is refused or unreachable."""
    where = error.where
    match error.kind:
        case LinkFailure.REFUSED:
            port = where.rsplit(":", 1)[-1] if ":" in where else "5025"
            return (f"Connection refused at {where} — is the CTP10 on, and SCPI enabled on "
                    f"port {port}?")
        case LinkFailure.UNREACHABLE:
            return f"Cannot reach {where} {error.detail} — check the address and the network."
    return str(error)


@dataclass
class _Pending:
    on_done: Callable[[Any], None] | None
    on_error: Callable[[Exception], None] | None
    busy: bool
    label: str
    timeout_s: float


class LinkController(QObject):
    """Drive the worker through the connection state machine; the GUI's one door to the CTP10."""

    state_changed = Signal(object)  # LinkStatus
    batch_received = Signal(object)  # SnapshotBatch, at most every 20 ms
    health_changed = Signal(object)  # LinkHealth, about twice a second
    identity_changed = Signal(object)  # Identity | None
    inventory_changed = Signal(object)  # Inventory | None: what is installed, read at connect
    link_event = Signal(str, str)  # (kind, text) for recordings, see NOTIFY_KINDS
    instrument_error = Signal(str)

    def __init__(self, settings: AcquisitionSettings | None = None, *,
                 clock: Callable[[], float] = time.monotonic,
                 wall_clock: Callable[[], float] = time.time,
                 rng: random.Random | None = None,
                 driver_factory: DriverFactory | None = None,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._settings = settings or AcquisitionSettings()
        s = self._settings
        self._clock = clock
        self._machine = ConnectionMachine(s.backoff, clock=clock, wall_clock=wall_clock,
                                          rng=rng if rng is not None else random.Random(),
                                          live=s.live)
        base_factory = driver_factory or visa_driver_factory(s.reply_deadline_s,
                                                             s.open_timeout_s)
        # The transport the worker made last: the GUI thread aborts its I/O on close,
        # disconnect and shutdown instead of waiting for the worker (assigned atomically).
        self._transport: Transport | None = None
        # One flag per queued open, in queue order (the worker makes one driver per open):
        # an open given up on before the worker reached it is aborted as soon as it starts.
        self._open_tickets: deque[threading.Event] = deque()

        def factory(address: str) -> CTP10:
            # The ticket leaves the queue only once the transport can be aborted directly, so
            # an abort in between reaches one or the other.
            ticket = self._open_tickets[0] if self._open_tickets else None
            try:
                ctp = base_factory(address)
                self._transport = ctp.transport
            finally:
                if ticket is not None:
                    self._open_tickets.popleft()
            if ticket is not None and ticket.is_set():
                ctp.transport.abort()
            return ctp

        self._worker = AcquisitionWorker(factory, module=s.module, channels=s.channels,
                                         interval_s=s.interval_s, live=s.live,
                                         probe_interval_s=s.probe_interval_s, clock=clock)
        queued = Qt.ConnectionType.QueuedConnection
        self._worker.batch_ready.connect(self._on_batch, queued)
        self._worker.opened.connect(self._on_opened, queued)
        self._worker.inventory_read.connect(self._on_inventory_read, queued)
        self._worker.open_failed.connect(self._on_open_failed, queued)
        self._worker.link_lost.connect(self._on_link_lost, queued)
        self._worker.probe_ok.connect(self._on_probe_ok, queued)
        self._worker.channel_errors.connect(self._on_channel_errors, queued)
        self._worker.live_refused.connect(self._on_live_refused, queued)
        self._worker.link_notice.connect(self._on_link_notice, queued)
        self._worker.request_started.connect(self._on_request_started, queued)
        self._worker.request_done.connect(self._on_request_done, queued)
        self._worker.request_failed.connect(self._on_request_failed, queued)
        self._worker.scan_elsewhere.connect(self._on_scan_elsewhere, queued)
        self._thread = WorkerThread(self._worker)

        self._session = 0  # number of the session the controller listens to
        self._identity: Identity | None = None
        self._inventory: Inventory | None = None
        self._expected_serial: str | None = None
        self._reapply: dict[Hashable, Callable[[CTP10], Any]] = {}
        self._pending: dict[int, _Pending] = {}
        self._next_request_id = 1
        self._busy_id: int | None = None
        self._last_good: float | None = None
        self._watch_since = clock()
        self._opened_at: float | None = None
        self._errors = 0
        self._latencies: deque[float] = deque(maxlen=LATENCY_WINDOW)
        self._sample_times: deque[tuple[float, int]] = deque()  # (newest t_mono, samples)
        self._instrument_errors: deque[str] = deque(maxlen=10)
        self._channel_errors: tuple[str, ...] = ()
        self._status = self._machine.status()
        self._shut_down = False

        self._watchdog = QTimer(self)
        self._watchdog.setSingleShot(True)
        self._watchdog.setTimerType(Qt.TimerType.PreciseTimer)
        self._watchdog.timeout.connect(self._on_watchdog)
        self._backoff = QTimer(self)
        self._backoff.setSingleShot(True)
        self._backoff.setTimerType(Qt.TimerType.PreciseTimer)
        self._backoff.timeout.connect(self._on_backoff)
        self._health = QTimer(self)
        self._health.setInterval(HEALTH_INTERVAL_MS)
        self._health.timeout.connect(self._emit_health)
        self._thread.start()
        self._health.start()

    # ---- read-only view ----------------------------------------------------------------------

    @property
    def status(self) -> LinkStatus:
        """Return the current link status."""
        return self._status

    @property
    def identity(self) -> Identity | None:
        """Return the identity of the instrument of the current or last session at this address."""
        return self._identity

    @property
    def inventory(self) -> Inventory | None:
        """Return what the instrument of the current session has installed, None before."""
        return self._inventory

    @property
    def address(self) -> str | None:
        """Return the canonical VISA address the user connected to, None before any."""
        return self._machine.address

    @property
    def settings(self) -> AcquisitionSettings:
        """Return the acquisition settings in force (module, channels, interval, live...)."""
        return dataclasses.replace(self._settings, live=self._machine.live_wanted)

    @property
    def last_good_reply(self) -> float | None:
        """Return the monotonic time (s) of the newest good reply, None before any."""
        return self._last_good

    @property
    def worker_thread_id(self) -> int | None:
        """Return the ident of the worker thread (the only one touching the driver)."""
        return self._worker.thread_id

    @property
    def worker_native_id(self) -> int | None:
        """Return the OS thread id of the worker (for per-thread CPU figures)."""
        return self._worker.native_thread_id

    @property
    def worker_running(self) -> bool:
        """Return True while the worker thread runs (shutdown() ends it unless in a connect)."""
        return self._thread.is_running()

    def cancelled(self) -> bool:
        """Return True once shutdown began: long requests pass this to wait_until_idle()."""
        return self._worker.stopping()

    def health(self) -> LinkHealth:
        """Return the link statistics now (also emitted by health_changed at about 2 Hz)."""
        now = self._clock()
        # Nearest-rank percentiles of a sorted copy: np.percentile's first call costs ~20 ms of
        # lazy imports, a stall the GUI thread does not need.
        lat = np.sort(np.fromiter(self._latencies, dtype=np.float64, count=len(self._latencies)))
        p50 = p95 = None
        if lat.size:
            p50 = float(lat[round(0.50 * (lat.size - 1))])
            p95 = float(lat[round(0.95 * (lat.size - 1))])
        while self._sample_times and self._sample_times[0][0] < now - RATE_WINDOW_S:
            self._sample_times.popleft()
        live = self._status.state is LinkState.LIVE
        window = min(RATE_WINDOW_S, max(now - self._watch_since, 1e-3))
        achieved = sum(n for _, n in self._sample_times) / window if live else 0.0
        interval = self._settings.interval_s
        requested = (1.0 / interval if interval > 0 else float("inf")) if live else 0.0
        uptime = (now - self._opened_at
                  if self._opened_at is not None and self._status.state in OPEN_STATES else 0.0)
        return LinkHealth(p50, p95, achieved, requested, self._errors, uptime,
                          self._machine.reconnects, self._machine.history,
                          list(self._instrument_errors))

    # ---- user actions ------------------------------------------------------------------------

    def connect_to(self, address: str) -> None:
        """Connect to address (host, host:port or VISA); ValueError names a bad address."""
        canonical = parse_address(address)
        if canonical != self._machine.address and self._identity is not None:
            # What answered at the old address says nothing about the new one.
            self._identity = None
            self.identity_changed.emit(None)
        if canonical != self._machine.address:
            self._forget_inventory()
        self._handle(LinkEvent.CONNECT, f"connecting to {canonical}", address=canonical)

    def disconnect_link(self) -> None:
        """Close the session and stop reconnecting."""
        self._handle(LinkEvent.DISCONNECT)

    def retry_now(self) -> None:
        """Open again at once (interrupts a backoff wait; restarts after giving up)."""
        self._handle(LinkEvent.RETRY_NOW, "retry now")

    def set_live(self, on: bool) -> None:
        """Switch live acquisition on or off (the link is probed every 2 s while off)."""
        self._handle(LinkEvent.LIVE_ON if on else LinkEvent.LIVE_OFF)

    def set_module(self, module: int) -> None:
        """Poll the detectors of module (1–20)."""
        low, high = DETECTOR_MODULES
        if not low <= module <= high:
            raise ValueError(f"module must be within {low}–{high}, got {module}")
        self._configure(module=module)

    def set_channels(self, channels: Sequence[int]) -> None:
        """Poll these channels (each 1–6) of the selected module."""
        chans = tuple(int(c) for c in channels)
        low, high = DETECTOR_CHANNELS
        if not chans or not all(low <= c <= high for c in chans):
            raise ValueError(f"channels must be one or more of {low}–{high}, got {chans}")
        self._configure(channels=chans)

    def set_interval(self, seconds: float) -> None:
        """Poll every `seconds` s (0–10; 0 = as fast as the link allows)."""
        self._configure(interval_s=float(seconds))

    def _configure(self, **changes: Any) -> None:
        self._settings = dataclasses.replace(self._settings, **changes)  # validates
        s = self._settings
        self._worker.configure(s.module, s.channels, s.interval_s)
        self._watch_since = self._clock()  # the watchdog period may have changed
        self._arm_watchdog()

    def request(self, fn: Callable[[CTP10], T], on_done: Callable[[T], None] | None = None,
                on_error: Callable[[Exception], None] | None = None, *, busy: bool = False,
                label: str = "", timeout_s: float | None = None) -> int:
        """Queue fn(ctp10) for the worker; callbacks run in the GUI thread; return its id.

        Requests run in order between snapshots. busy=True marks a long operation (sweep,
        trace transfer): the state is BUSY while it runs, live polling pauses, and the
        watchdog allows timeout_s s (default settings.busy_timeout_s) instead of the live
        period; afterwards live polling resumes by itself. label is shown as the reason.
        """
        request_id = self._next_request_id
        self._next_request_id += 1
        timeout = self._settings.busy_timeout_s if timeout_s is None else timeout_s
        self._pending[request_id] = _Pending(on_done, on_error, busy, label, timeout)
        self._worker.submit(request_id, fn, busy)
        return request_id

    def apply_setting(self, key: Hashable, fn: Callable[[CTP10], Any],
                      on_done: Callable[[Any], None] | None = None,
                      on_error: Callable[[Exception], None] | None = None) -> int:
        """Send an instrument setting now and again after a reconnect to the same instrument.

        key names the setting (the newest fn per key is kept), e.g. ("wavelength", 4, 1).
        """
        self._reapply[key] = fn
        return self.request(fn, on_done, on_error)

    def set_detector_wavelength(self, module: int, channel: int, nm: float,
                                on_done: Callable[[Any], None] | None = None,
                                on_error: Callable[[Exception], None] | None = None) -> int:
        """Set a detector's calibration wavelength (1240–1680 nm); re-applied after reconnect."""
        return self.apply_setting(
            ("detector_wavelength_nm", module, channel),
            lambda ctp: ctp.detector(module, channel).set("wavelength_nm", nm), on_done, on_error)

    def set_detector_unit(self, module: int, channel: int, unit: PowerUnit,
                          on_done: Callable[[Any], None] | None = None,
                          on_error: Callable[[Exception], None] | None = None) -> int:
        """Set a detector's power unit (dBm or mW); re-applied after a reconnect."""
        return self.apply_setting(
            ("detector_power_unit", module, channel),
            lambda ctp: ctp.detector(module, channel).set("power_unit", unit), on_done, on_error)

    def shutdown(self) -> None:
        """Stop the worker, break its I/O and wait at most SHUTDOWN_WAIT_S s for it to end."""
        if self._shut_down:
            return
        self._shut_down = True
        for timer in (self._watchdog, self._backoff, self._health):
            timer.stop()
        self._session += 1  # nothing the worker still sends is acted upon
        self._worker.stop()
        self._abort_io()
        if not self._thread.wait(SHUTDOWN_WAIT_S):
            # Only pyvisa-py's connect (bounded by the open timeout) cannot be broken from
            # outside; the thread is a daemon and ends by itself or with the process.
            log.warning("acquisition worker still busy %.1f s after shutdown; not waiting",
                        SHUTDOWN_WAIT_S)

    def _abort_io(self) -> None:
        """Break the worker's I/O and the opens still queued (GUI thread; the worker closes)."""
        for ticket in list(self._open_tickets):
            ticket.set()
        transport = self._transport
        if transport is not None:
            transport.abort()

    # ---- the state machine -----------------------------------------------------------------

    def _handle(self, event: LinkEvent, reason: str = "", *, address: str | None = None) -> None:
        actions = self._machine.handle(event, reason, address=address)
        for action in actions:
            self._execute(action)
        self._after_event()

    def _execute(self, action: Action) -> None:
        match action:
            case OpenSession(address):
                self._session += 1
                self._abort_io()  # the worker opens only after leaving the session it is in
                self._open_tickets.append(threading.Event())
                self._worker.open(self._session, address)
            case CloseSession():
                self._session += 1
                self._opened_at = None
                self._abort_io()
                self._worker.close()
            case StartBackoffTimer(delay_s, _):
                self._backoff.start(max(0, round(delay_s * 1000)))
            case CancelBackoffTimer():
                self._backoff.stop()
            case StartLive():
                self._worker.set_live(True)
            case StopLive():
                self._worker.set_live(False)
            case ReapplySettings():
                for key, fn in self._reapply.items():
                    log.info("re-applying %s after the reconnect", key)
                    self.request(fn)
            case Notify(kind, text):
                self.link_event.emit(kind, text)

    def _after_event(self) -> None:
        status = self._machine.status()
        old = self._status
        if status == old:
            return
        self._status = status
        # Stale counts on from the silence that made it stale: the reply deadline is measured
        # from the last good reply, like the stale threshold.
        if ((status.state is not old.state or status.live != old.live)
                and status.state is not LinkState.STALE):
            self._watch_since = self._clock()
        if status.state is LinkState.DISCONNECTED and self._identity is not None:
            self._identity = None
            self.identity_changed.emit(None)
        if status.state is LinkState.DISCONNECTED:
            self._forget_inventory()
        self._arm_watchdog()
        self.state_changed.emit(status)

    # ---- watchdog ---------------------------------------------------------------------------

    def _watch_period(self) -> float | None:
        """Return the watchdog period (s) of the current state, None when not watched."""
        s = self._settings
        match self._status.state:
            case LinkState.LIVE:
                return s.watchdog_s()
            case LinkState.CONNECTED:
                # Probes every 2 s; a dead link shows as a failed probe (after the I/O timeout)
                # before this period ends, so the watchdog only catches a stuck worker.
                return s.probe_interval_s + s.reply_deadline_s + s.watchdog_s()
            case LinkState.BUSY:
                pending = self._pending.get(self._busy_id or 0)
                return pending.timeout_s if pending is not None else s.busy_timeout_s
            case LinkState.STALE if not self._pending:
                # The worker's transport gives the reply in flight up at its deadline and says
                # which query went unanswered; a few slow exchanges in a row (a resync, the
                # compound detection) fit in twice that. Only a worker stuck elsewhere gets
                # here. A request running ends or fails by itself.
                return 2 * s.give_up_s() + s.interval_s + REPLY_DEADLINE_MARGIN_S
        return None

    def _watch_base(self) -> float:
        if self._last_good is None:
            return self._watch_since
        return max(self._last_good, self._watch_since)

    def _arm_watchdog(self) -> None:
        period = self._watch_period()
        if period is None or self._shut_down:
            self._watchdog.stop()
            return
        remaining = self._watch_base() + period - self._clock()
        self._watchdog.start(max(0, int(remaining * 1000) + 1))

    @Slot()
    def _on_watchdog(self) -> None:
        period = self._watch_period()
        if period is None:
            return
        silent = self._clock() - self._watch_base()
        if silent < period:
            self._arm_watchdog()
        elif self._status.state is LinkState.STALE:
            self._handle(LinkEvent.REPLY_DEADLINE, f"no reply for {silent:.1f} s, past the "
                         f"reply deadline of {self._settings.give_up_s():g} s")
        else:
            self._handle(LinkEvent.WATCHDOG_EXPIRED, f"no reply for {silent:.1f} s")

    def _good_reply(self, t: float) -> None:
        if self._last_good is None or t > self._last_good:
            self._last_good = t
        # A batch may carry replies from before the watchdog fired (the worker was blocked in
        # a read since, then flushed them): only a reply fresher than the watchdog period is
        # news that the instrument answers again.
        if (self._status.state is LinkState.STALE
                and self._clock() - t < self._settings.watchdog_s()):
            self._handle(LinkEvent.GOOD_REPLY, "replies again")
        elif self._status.awaiting_reply:
            # The first answer on a new session: it proves the session (attempts start over)
            # and only now does "Live Data" show.
            self._handle(LinkEvent.GOOD_REPLY, "first reply")

    # ---- worker reports ------------------------------------------------------------------------

    @Slot()
    def _on_backoff(self) -> None:
        self._handle(LinkEvent.BACKOFF_ELAPSED)

    @Slot(object)
    def _on_batch(self, packet: WorkerBatch) -> None:
        if packet.session != self._session:
            return  # from a session given up on: its data arrived after the verdict
        batch = packet.batch
        self._latencies.extend(packet.latency_s.tolist())
        self._sample_times.append((packet.t_good, len(batch)))
        self.batch_received.emit(batch)
        self._good_reply(packet.t_good)

    @Slot(int, float)
    def _on_probe_ok(self, session: int, t: float) -> None:
        if session == self._session:
            self._good_reply(t)

    @Slot(int, object, float)
    def _on_opened(self, session: int, identity: Identity, t: float) -> None:
        if session != self._session:
            return
        self._last_good = t
        self._opened_at = t
        self._watch_since = t
        self._channel_errors = ()  # a channel still failing is reported again on this session
        # OFFLINE here means a slow retry succeeded: it is a reconnect too.
        reconnecting = self._status.state in (LinkState.RECONNECTING, LinkState.OFFLINE)
        expected = self._expected_serial
        self._expected_serial = identity.serial
        changed = identity != self._identity
        self._identity = identity
        if changed:
            self.identity_changed.emit(identity)
        if reconnecting and expected is not None and identity.serial != expected:
            self._reapply.clear()  # those settings were meant for the other instrument
            host, port = host_port(self._machine.address or "")
            where = f"{host}:{port}"
            self._handle(LinkEvent.WRONG_INSTRUMENT,
                         f"a different instrument answers at {where}: serial {identity.serial} "
                         f"instead of {expected}; nothing was re-applied and live is off")
            return
        if expected is not None and identity.serial != expected:
            self._reapply.clear()  # the user chose another instrument
        event_reason = f"{identity.manufacturer} {identity.model} serial {identity.serial}"
        self._handle(LinkEvent.OPENED, event_reason)

    @Slot(int, object)
    def _on_inventory_read(self, session: int, inventory: Inventory) -> None:
        if session == self._session and inventory != self._inventory:
            self._inventory = inventory
            self.inventory_changed.emit(inventory)

    def _forget_inventory(self) -> None:
        if self._inventory is not None:
            self._inventory = None
            self.inventory_changed.emit(None)

    @Slot(int, object)
    def _on_open_failed(self, session: int, error: Exception) -> None:
        if session != self._session:
            return
        self._errors += 1
        first = self._status.state is LinkState.CONNECTING
        if first and isinstance(error, LinkError) and error.kind in _FIRST_CONNECT_REFUSED:
            self._handle(LinkEvent.FIRST_OPEN_REFUSED, first_connect_sentence(error))
            return
        hopeless = not isinstance(error, LinkError) or error.kind in _HOPELESS
        self._handle(LinkEvent.OPEN_REJECTED if hopeless else LinkEvent.OPEN_FAILED, str(error))

    @Slot(int, object, float)
    def _on_link_lost(self, session: int, error: LinkError, t: float) -> None:
        if session != self._session:
            return
        self._errors += 1
        period = self._watch_period()
        if period is not None and self._status.state is not LinkState.STALE:
            silent = t - self._watch_base()
            if silent >= period:
                # The data was already stale when the error came: say so first, as the
                # watchdog would have, so the states do not depend on which event came first.
                self._handle(LinkEvent.WATCHDOG_EXPIRED, f"no reply for {silent:.1f} s")
        self._handle(LinkEvent.LINK_LOST, str(error))

    @Slot(int, object)
    def _on_channel_errors(self, session: int, errors: tuple[str, ...]) -> None:
        if session != self._session:
            return
        s = self._settings
        for channel, (old, new) in zip(s.channels, _pairs(self._channel_errors, errors),
                                       strict=False):
            if new and new != old:
                self._errors += 1
                text = f"module {s.module} channel {channel}: {new}"
                self._instrument_errors.append(text)
                self.instrument_error.emit(text)
        self._channel_errors = errors

    @Slot(int, str)
    def _on_live_refused(self, session: int, why: str) -> None:
        if session != self._session:
            return
        self._errors += 1
        self._instrument_errors.append(why)
        self.instrument_error.emit(why)
        self._handle(LinkEvent.LIVE_OFF, why)

    @Slot(int, str, str)
    def _on_link_notice(self, session: int, kind: str, text: str) -> None:
        if session == self._session:
            self.link_event.emit(kind, text)

    @Slot(int, int, bool, float)
    def _on_scan_elsewhere(self, session: int, register: int, ours: bool, t: float) -> None:
        if session != self._session:
            return
        if self._last_good is None or t > self._last_good:
            self._last_good = t  # the register answered: the link is alive
        if not register:
            self._handle(LinkEvent.BUSY_ELSEWHERE_ENDED)
            return
        what = "reference" if register & STATUS_REFERENCING else "sweep"
        reason = (f"a {what} started from this app is still running" if ours
                  else f"{what} started elsewhere")
        self._handle(LinkEvent.BUSY_ELSEWHERE, reason)

    @Slot(int, int, float)
    def _on_request_started(self, session: int, request_id: int, t: float) -> None:
        pending = self._pending.get(request_id)
        if session != self._session or pending is None or not pending.busy:
            return
        self._busy_id = request_id
        self._last_good = max(self._last_good or t, t)
        self._handle(LinkEvent.BUSY_STARTED, pending.label or "long operation")
        self._watch_since = t
        self._arm_watchdog()

    @Slot(int, int, object, float)
    def _on_request_done(self, session: int, request_id: int, result: object, t: float) -> None:
        pending = self._finish_request(session, request_id, t)
        if pending is not None and pending.on_done is not None:
            try:
                pending.on_done(result)
            except Exception:  # a faulty callback must not stop the link from being served
                log.exception("on_done of request %d failed", request_id)

    @Slot(int, int, object, float)
    def _on_request_failed(self, session: int, request_id: int, error: Exception,
                           t: float) -> None:
        pending = self._finish_request(session, request_id, t)
        self._errors += 1
        if isinstance(error, InstrumentError):
            self._instrument_errors.append(str(error))
            self.instrument_error.emit(str(error))
        if pending is not None and pending.on_error is not None:
            try:
                pending.on_error(error)
            except Exception:
                log.exception("on_error of request %d failed", request_id)
        elif not isinstance(error, InstrumentError):
            # Nobody listens for this request's failure: the user must still see it.
            log.warning("request %d failed: %s", request_id, error)
            self.instrument_error.emit(f"request failed: {error}")

    def _finish_request(self, session: int, request_id: int, t: float) -> _Pending | None:
        pending = self._pending.pop(request_id, None)
        was_busy = self._busy_id == request_id
        if was_busy:
            self._busy_id = None
        if session != self._session:
            return pending  # the link was lost meanwhile: only the callbacks remain to run
        if was_busy:
            self._handle(LinkEvent.BUSY_ENDED, "operation finished")
        self._good_reply(t)
        return pending

    @Slot()
    def _emit_health(self) -> None:
        self.health_changed.emit(self.health())


def _pairs(old: tuple[str, ...], new: tuple[str, ...]) -> list[tuple[str, str]]:
    """Pair old and new per-channel error texts ("" where old has no entry)."""
    return [(old[i] if i < len(old) else "", text) for i, text in enumerate(new)]
