"""The acquisition worker: the only code that touches the CTP10 driver and its VISA session.

``AcquisitionLoop`` is a plain Python loop run in its own thread (pyvisa-py sessions belong to
the thread that opened them: closing one from another thread breaks the reader). Commands
arrive on a thread-safe queue and run in order; the loop waits on that queue with a timeout
until the next snapshot, probe or batch deadline, so it never spins. ``AcquisitionWorker`` is
its Qt face: the commands, and the signals by which results leave. It lives in the GUI thread:
emitted from the worker thread, its signals are queued to the GUI-thread receivers (the
controller also connects them with Qt.QueuedConnection).

The loop is not a QObject on purpose: PySide6 routes every attribute lookup on a QObject
through its own hook, which makes ``self.x`` 3× and ``self.method()`` 5× slower (61 vs 19 ns,
301 vs 63 ns, measured), and the loop does dozens of them per snapshot at up to 10 kHz.

Every signal carries the session number the controller gave the open command, so a reply from a
session the controller already gave up on is recognised and dropped.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, Signal

from ctp10_gui.hardware.ctp10 import CTP10, STATUS_REFERENCING, STATUS_SCANNING
from ctp10_gui.hardware.errors import LinkError, LinkFailure, MissingHardwareError
from ctp10_gui.hardware.inventory import read_inventory
from ctp10_gui.hardware.power_poller import PowerPoller
from ctp10_gui.hardware.transport import VisaTransport
from ctp10_gui.models.samples import SnapshotBatch, SnapshotBatcher

log = logging.getLogger(__name__)

BATCH_MAX_AGE_S = 0.02  # the GUI gets a batch at most every 20 ms: 50 signals/s, not 1 per sample
BATCH_MAX_SAMPLES = 512
# Condition register bits of a scan: while one runs that this app did not start, live polling
# pauses and the register is read every SCAN_POLL_S s until the scan is over.
SCAN_BITS = STATUS_SCANNING | STATUS_REFERENCING
SCAN_POLL_S = 0.2

DriverFactory = Callable[[str], CTP10]


def visa_driver_factory(reply_deadline_s: float = 5.0,
                        open_timeout_s: float = 2.0) -> DriverFactory:
    """Return a factory building an unconnected CTP10 on a pyvisa-py socket (timeouts in s).

    reply_deadline_s bounds each reply from its query to its last byte (the transport's I/O
    timeout): a reply in flight during a pause is awaited that long before the link is lost.
    """

    def make(address: str) -> CTP10:
        return CTP10(VisaTransport(address, io_timeout_s=reply_deadline_s,
                                   open_timeout_s=open_timeout_s))

    return make


@dataclass(frozen=True)
class WorkerBatch:
    """Snapshots for the GUI thread plus what the link health needs about them."""

    session: int
    batch: SnapshotBatch
    latency_s: np.ndarray  # (N,) s, from sending each snapshot query to reading its reply
    t_good: float  # monotonic s of the newest good reply in the batch


@dataclass(frozen=True)
class _Open:
    session: int
    address: str


@dataclass(frozen=True)
class _Close:
    pass


@dataclass(frozen=True)
class _Live:
    on: bool


@dataclass(frozen=True)
class _Configure:
    module: int
    channels: tuple[int, ...]
    interval_s: float


@dataclass(frozen=True)
class _Request:
    request_id: int
    fn: Callable[[CTP10], Any]
    busy: bool


@dataclass(frozen=True)
class _Stop:
    pass


_Command = _Open | _Close | _Live | _Configure | _Request | _Stop


class AcquisitionWorker(QObject):
    """Command an AcquisitionLoop from any thread; carry its results as Qt signals."""

    batch_ready = Signal(object)  # WorkerBatch
    opened = Signal(int, object, float)  # session, Identity, monotonic s of the *IDN? reply
    inventory_read = Signal(int, object)  # session, Inventory; just before opened
    open_failed = Signal(int, object)  # session, exception (LinkError or ValueError)
    link_lost = Signal(int, object, float)  # session, LinkError, monotonic s of the failure
    probe_ok = Signal(int, float)  # session, monotonic s of the *OPC? reply
    channel_errors = Signal(int, object)  # session, tuple[str, ...] per channel, on change
    live_refused = Signal(int, str)  # session, why live acquisition stopped (link still fine)
    link_notice = Signal(int, str, str)  # session, kind ("unit_changed", "resync"), sentence
    request_started = Signal(int, int, float)  # session, request id, monotonic s (busy only)
    request_done = Signal(int, int, object, float)  # session, request id, result, monotonic s
    request_failed = Signal(int, int, object, float)  # session, request id, exception, s
    # session, condition register (0: the scan is over), True if this app may have started it
    # (a request that sent a command ran since the register was last idle), monotonic s
    scan_elsewhere = Signal(int, int, bool, float)

    def __init__(self, driver_factory: DriverFactory, *, module: int = 4,
                 channels: Sequence[int] = (1, 2, 3, 4), interval_s: float = 0.05,
                 live: bool = True, probe_interval_s: float = 2.0,
                 clock: Callable[[], float] = time.monotonic,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        # A proxy, not self: a worker <-> loop cycle would leave the worker to the cyclic
        # GC, which may free it in any thread, and a QObject freed outside the GUI thread
        # can deadlock PySide (Qt's connection lock against the GIL).
        self._loop = AcquisitionLoop(weakref.proxy(self), driver_factory, module=module,
                                     channels=channels, interval_s=interval_s, live=live,
                                     probe_interval_s=probe_interval_s, clock=clock)

    @property
    def thread_id(self) -> int | None:
        """Return the ident of the thread running the loop, None before it started."""
        return self._loop.thread_id

    @property
    def native_thread_id(self) -> int | None:
        """Return the OS id of the thread running the loop (for per-thread CPU figures)."""
        return self._loop.native_thread_id

    # ---- commands: called from any thread --------------------------------------------------

    def open(self, session: int, address: str) -> None:
        """Close any session, then open address as session number `session`."""
        self._loop.put(_Open(session, address))

    def close(self) -> None:
        """Close the session (queued: runs after the commands already queued)."""
        self._loop.put(_Close())

    def set_live(self, on: bool) -> None:
        """Poll snapshots (True) or probe the link every probe interval (False)."""
        self._loop.put(_Live(on))

    def configure(self, module: int, channels: Sequence[int], interval_s: float) -> None:
        """Poll these channels (1–6) of module (1–20) every interval_s s (0–10, 0 = max)."""
        self._loop.put(_Configure(module, tuple(channels), interval_s))

    def submit(self, request_id: int, fn: Callable[[CTP10], Any], busy: bool = False) -> None:
        """Run fn(ctp10) between snapshots, after the commands already queued."""
        self._loop.put(_Request(request_id, fn, busy))

    def stop(self) -> None:
        """Ask the loop to end after the current I/O (bounded by its timeout)."""
        self._loop.stop()

    def stopping(self) -> bool:
        """Return True once stop() was called; long requests poll it to end early."""
        return self._loop.stopping()

    def run(self) -> None:
        """Serve commands, snapshots and probes until stop(); close the session at the end."""
        self._loop.run()


class AcquisitionLoop:
    """Poll snapshots, probe the idle link and run requests on one session, in one thread."""

    def __init__(self, events: AcquisitionWorker, driver_factory: DriverFactory, *,
                 module: int = 4, channels: Sequence[int] = (1, 2, 3, 4),
                 interval_s: float = 0.05, live: bool = True, probe_interval_s: float = 2.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._events = events
        self._factory = driver_factory
        self._clock = clock
        self._queue: queue.SimpleQueue[_Command] = queue.SimpleQueue()
        self._stopping = threading.Event()
        self._probe_interval_s = probe_interval_s
        # Everything below is touched only by the worker thread once run() started.
        self._module = module
        self._channels = tuple(channels)
        self._interval_s = interval_s
        self._live = live
        self._ctp: CTP10 | None = None
        self._poller: PowerPoller | None = None  # of (module, channels) on this session
        self._session = 0
        self._address = ""
        self._next_snapshot_at = 0.0
        self._next_probe_at = 0.0
        self._batcher = SnapshotBatcher(BATCH_MAX_AGE_S, BATCH_MAX_SAMPLES)
        self._latencies: list[float] = []
        self._last_errors: tuple[str, ...] = ()
        self._scan_register = 0  # non-zero while a scan this app did not start runs
        # A request that sent a command ran since the register was last read idle.
        self._own_scan_may_run = False
        self.thread_id: int | None = None  # the worker thread's ident, for checks and tests
        self.native_thread_id: int | None = None  # the OS id, for per-thread CPU figures

    # ---- commands: called from any thread --------------------------------------------------

    def put(self, command: _Command) -> None:
        """Queue a command for the loop."""
        self._queue.put(command)

    def stop(self) -> None:
        """Ask the loop to end after the current I/O (bounded by its timeout)."""
        self._stopping.set()
        self._queue.put(_Stop())

    def stopping(self) -> bool:
        """Return True once stop() was called."""
        return self._stopping.is_set()

    # ---- the loop: worker thread only ----------------------------------------------------

    def run(self) -> None:
        """Serve commands, snapshots and probes until stop(); close the session at the end."""
        self.thread_id = threading.get_ident()
        self.native_thread_id = threading.get_native_id()
        stopping = self._stopping.is_set
        try:
            while not stopping():
                try:
                    command = self._next_command()
                    if command is not None:
                        self._settle()
                        self._execute(command)
                    if not stopping():
                        self._periodic()
                except Exception:  # a bug must not kill the loop nor leave the GUI waiting
                    log.exception("unexpected error in the acquisition worker")
                    if self._ctp is not None:
                        self._lose(LinkError(self._address, LinkFailure.CLOSED,
                                             "(internal error in the acquisition worker)"))
        finally:
            self._settle()  # the snapshot in flight was asked for: keep it
            self._drop_session()

    def _next_command(self) -> _Command | None:
        """Return the next command, waiting at most until the next scheduled job is due."""
        if self._live and self._ctp is not None and self._next_snapshot_at <= self._clock():
            # The maximum rate: a snapshot is due before every turn. empty() is much cheaper
            # than raising and catching queue.Empty each time.
            return None if self._queue.empty() else self._queue.get_nowait()
        due = self._next_due()
        try:
            if due is None:
                return self._queue.get()
            timeout = due - self._clock()
            if timeout <= 0:
                return None if self._queue.empty() else self._queue.get_nowait()
            return self._queue.get(timeout=timeout)
        except queue.Empty:
            return None

    def _next_due(self) -> float | None:
        """Return the monotonic time of the next snapshot, probe or batch deadline."""
        due = None
        if self._ctp is not None:
            due = self._next_snapshot_at if self._live else self._next_probe_at
        deadline = self._batcher.deadline
        if deadline is not None and (due is None or deadline < due):
            due = deadline
        return due

    def _execute(self, command: _Command) -> None:
        match command:
            case _Open(session, address):
                self._open(session, address)
            case _Close():
                self._drop_session()
            case _Live(on):
                self._flush()
                if not on:
                    self._end_scan_elsewhere()
                self._live = on
                now = self._clock()
                self._next_snapshot_at = now
                self._next_probe_at = now + self._probe_interval_s
            case _Configure(module, channels, interval_s):
                self._module, self._channels = module, channels
                self._poller = None
                self._interval_s = interval_s
                # A longer interval starts from now; a shorter one takes effect at once.
                self._next_snapshot_at = min(self._next_snapshot_at,
                                             self._clock() + interval_s)
            case _Request(request_id, fn, busy):
                self._run_request(request_id, fn, busy)
            case _Stop():
                pass

    def _periodic(self) -> None:
        now = self._clock()
        if self._ctp is not None:
            if self._live and now >= self._next_snapshot_at:
                now = self._watch_scan() if self._scan_register else self._snapshot()
            elif not self._live and now >= self._next_probe_at:
                self._probe()
                now = self._clock()
        next_at = None
        if self._ctp is not None and self._live:
            # The next snapshot only lands after its round trip: if that is past the batch
            # deadline, send the batch now rather than late.
            next_at = self._next_snapshot_at + (self._latencies[-1] if self._latencies else 0.0)
        if self._batcher.due(now, next_at):
            self._flush()

    # ---- session ------------------------------------------------------------------------------

    def _open(self, session: int, address: str) -> None:
        self._drop_session()
        self._session = session
        self._address = address
        ctp: CTP10 | None = None
        try:
            ctp = self._factory(address)
            identity = ctp.connect()
            inventory = read_inventory(ctp)
        except Exception as exc:  # LinkError, or a bad address from the factory
            if ctp is not None:
                ctp.close()
            log.info("opening %s failed: %s", address, exc)
            self._events.open_failed.emit(session, exc)
            return
        now = self._clock()
        self._ctp = ctp
        # Probe only until the controller says live: it first checks the serial, and a
        # different instrument must not be polled as if nothing had happened.
        self._live = False
        self._last_errors = ()
        self._next_snapshot_at = now
        self._next_probe_at = now + self._probe_interval_s
        # First: the views check the user's module and channels against it before live starts.
        self._events.inventory_read.emit(session, inventory)
        self._events.opened.emit(session, identity, now)

    def _drop_session(self) -> None:
        """Send what is pending and close the session (never clear(): it hangs on a dead peer)."""
        self._flush()
        self._poller = None  # a reply sent ahead, if any, goes with the socket
        self._scan_register = 0
        self._own_scan_may_run = False
        ctp, self._ctp = self._ctp, None
        if ctp is not None:
            ctp.close()

    def _lose(self, error: LinkError) -> None:
        """Close the broken session and report it; the controller decides when to reopen."""
        t = self._clock()
        self._drop_session()
        self._events.link_lost.emit(self._session, error, t)

    # ---- jobs ---------------------------------------------------------------------------------

    def _snapshot(self, ahead: bool = True) -> float:
        """Take one snapshot into the pending batch; return the monotonic time (s) after it.

        With ahead, when the next snapshot is already due (the maximum rate) and no command
        waits, the poller sends its query as soon as this reply is in, before this reply is
        parsed and batched: the instrument answers it meanwhile. Its reply is read first
        thing next time, before any command can use the session (_settle).
        """
        ctp = self._ctp
        assert ctp is not None
        # The hot path at the maximum rate: plain values go straight into the batcher's lists
        # (no PowerSnapshot, no per-sample numpy arrays), a poller made once, no logging.
        module = self._module
        try:
            poller = self._poller
            if poller is None:
                poller = self._poller = ctp.power_poller(module, self._channels)
            # Deadline pacing: the next snapshot is one interval after the previous deadline,
            # so the rate does not drift; after a slow reply skip to now instead of catching up.
            next_at = self._next_snapshot_at + self._interval_s
            send_next = ahead and next_at <= self._clock() and self._queue.empty()
            row = poller.receive(send_next)
            now = self._clock()
            self._next_snapshot_at = next_at if next_at >= now else now
        except LinkError as exc:
            self._lose(exc)
            return self._clock()
        except MissingHardwareError as exc:
            # The link is fine (the driver reopened it); polling again would only repeat this.
            self._flush()
            self._poller = None
            self._live = False
            self._next_probe_at = self._clock()
            self._events.live_refused.emit(self._session, str(exc))
            return self._clock()
        except Exception as exc:  # a driver fault mid-exchange: the stream is not trusted
            log.exception("snapshot of module %d failed", module)
            self._lose(LinkError(self._address, LinkFailure.GARBLED, f"({exc})"))
            return self._clock()
        flushed = self._batcher.add_row(module, poller.channels, row.t_mono, row.t_wall,
                                        row.values_dbm, row.status)
        if flushed is not None:  # module or channels changed: the old layout goes on its own
            self._emit(flushed, self._latencies)
            self._latencies = []
        self._latencies.append(row.latency_s)
        if row.errors != self._last_errors:
            self._last_errors = row.errors
            self._events.channel_errors.emit(self._session, row.errors)
        for kind, text in row.events:
            self._events.link_notice.emit(self._session, kind, text)
        condition = row.condition
        if condition is not None:
            if not condition & SCAN_BITS:
                self._own_scan_may_run = False
            elif not self._scan_register:
                self._begin_scan_elsewhere(condition, now)
        return now

    # ---- a scan this app did not start ----------------------------------------------------

    def _begin_scan_elsewhere(self, register: int, now: float) -> None:
        """Pause live polling while a scan runs; read the condition register instead."""
        self._flush()
        self._scan_register = register
        self._next_snapshot_at = now + SCAN_POLL_S
        self._events.scan_elsewhere.emit(self._session, register, self._own_scan_may_run, now)

    def _watch_scan(self) -> float:
        """Read the condition register; resume live polling once the scan is over."""
        self._settle()
        ctp = self._ctp
        if ctp is None or not self._scan_register:
            return self._clock()  # the session was lost, or the reply in flight ended it
        try:
            register = ctp.condition()
        except LinkError as exc:
            self._lose(exc)
            return self._clock()
        now = self._clock()
        if register & SCAN_BITS:
            self._scan_register = register
            self._next_snapshot_at = now + SCAN_POLL_S
            self._events.probe_ok.emit(self._session, now)
        else:
            self._end_scan_elsewhere()
        return now

    def _end_scan_elsewhere(self) -> None:
        """Resume live polling now and read the watched settings with the next snapshots."""
        if not self._scan_register:
            return
        self._scan_register = 0
        self._own_scan_may_run = False
        now = self._clock()
        self._next_snapshot_at = now
        if self._poller is not None:
            self._poller.watch_now()
        self._events.scan_elsewhere.emit(self._session, 0, False, now)

    def _settle(self) -> None:
        """Read the reply of a snapshot query sent ahead, if any, so the session is free."""
        if self._poller is not None and self._poller.pending and self._ctp is not None:
            self._snapshot(ahead=False)

    def _flush(self) -> None:
        batch = self._batcher.take()
        if batch is not None:
            self._emit(batch, self._latencies)
        self._latencies = []

    def _emit(self, batch: SnapshotBatch, latencies: list[float]) -> None:
        lat = np.asarray(latencies, dtype=np.float64)
        packet = WorkerBatch(self._session, batch, lat, float(batch.t_mono[-1]))
        self._events.batch_ready.emit(packet)

    def _probe(self) -> None:
        assert self._ctp is not None
        try:
            self._ctp.probe()
        except LinkError as exc:
            self._lose(exc)
            return
        now = self._clock()
        self._next_probe_at = now + self._probe_interval_s
        self._events.probe_ok.emit(self._session, now)

    def _note_own_commands(self, settings_sent_before: int) -> None:
        """After a request that sent commands: what it changed, or a scan it started, is ours."""
        ctp = self._ctp
        if ctp is None or ctp.transport.settings_sent == settings_sent_before:
            return  # queries only: nothing changed here
        self._own_scan_may_run = True
        if self._poller is not None:
            self._poller.forget_watched()

    def _run_request(self, request_id: int, fn: Callable[[CTP10], Any], busy: bool) -> None:
        session = self._session
        if self._ctp is None:
            error = LinkError(self._address or "the instrument", LinkFailure.NOT_OPEN,
                              "(not connected: the request was not sent)")
            self._events.request_failed.emit(session, request_id, error, self._clock())
            return
        self._flush()  # data taken before the request reaches the GUI before its result
        if busy:
            self._events.request_started.emit(session, request_id, self._clock())
        settings_sent = self._ctp.transport.settings_sent
        try:
            result = fn(self._ctp)
        except LinkError as exc:
            # Link first: the controller leaves BUSY for RECONNECTING, then hears the request.
            self._lose(exc)
            self._events.request_failed.emit(session, request_id, exc, self._clock())
            return
        except Exception as exc:  # reported to the caller's on_error in the GUI thread
            log.info("request %d failed: %s", request_id, exc)
            self._events.request_failed.emit(session, request_id, exc, self._clock())
        else:
            self._events.request_done.emit(session, request_id, result, self._clock())
        self._note_own_commands(settings_sent)
        if self._scan_register:
            # The scan elsewhere still runs: the end of a busy request does not end it.
            self._events.scan_elsewhere.emit(session, self._scan_register, False, self._clock())
