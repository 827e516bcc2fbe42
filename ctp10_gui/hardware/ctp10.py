"""The CTP10 driver: identity, power snapshots, sweeps, referencing, traces and the error queue.

One CTP10 object owns one transport and must be used from one thread (the acquisition
worker). Everything that depends on the connection (compound-query support, detector units,
laser models) is cached per connection and forgotten on connect().
"""

from __future__ import annotations

import enum
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from ctp10_gui.hardware.errors import (
    CTP10Error,
    InstrumentError,
    LinkError,
    LinkFailure,
    MissingHardwareError,
    OperationTimeoutError,
    TraceUnavailableError,
)
from ctp10_gui.hardware.instrument_text import printable
from ctp10_gui.hardware.instrument_watch import CONDITION_QUERY
from ctp10_gui.hardware.power import PowerSnapshot
from ctp10_gui.hardware.power_poller import PowerPoller
from ctp10_gui.hardware.scpi import (
    SPEED_OF_LIGHT_M_S,
    Detector,
    PowerUnit,
    ReferenceLaser,
    SessionCache,
    Sweep,
    TunableLaser,
    XUnit,
    check_index,
    from_si,
)
from ctp10_gui.hardware.transport import Transport

__all__ = [
    "CTP10",
    "DETECTOR_FLOOR_DBM",
    "DETECTOR_MAX_DBM",
    "STATUS_ABORTING",
    "STATUS_LOADING",
    "STATUS_REFERENCING",
    "STATUS_SCANNING",
    "TRACE_TYPES",
    "Identity",
    "PowerUnit",
    "ReferenceResult",
    "Trace",
    "TraceType",
    "XUnit",
    "trace_kind",
    "trace_unit",
]

log = logging.getLogger(__name__)

DETECTOR_FLOOR_DBM = -80.0
DETECTOR_MAX_DBM = 10.0
STATUS_SCANNING = 4
STATUS_ABORTING = 16
STATUS_REFERENCING = 64
STATUS_LOADING = 4096
_BUSY = STATUS_SCANNING | STATUS_ABORTING | STATUS_REFERENCING | STATUS_LOADING

# Stop draining SYST:ERR? after this many entries (a real queue holds a few dozen at most).
_MAX_ERRORS = 64


# Trace types a detector may keep (TYPE1–23); which ones depends on its module.
TRACE_TYPES = (1, 23)
# SCPI -114 "Header suffix out of range": the answer to a trace type a detector lacks.
HEADER_SUFFIX_OUT_OF_RANGE = -114


class TraceType(enum.IntEnum):
    """Name the documented trace kinds (the TYPE{t} of :TRAC:…); others are plain ints 1–23."""

    TF_LIVE = 1
    RAW_LIVE = 11
    RAW_REFERENCE = 12
    QUICK_REFERENCE = 13


@dataclass(frozen=True)
class Identity:
    """Hold what *IDN? said: manufacturer, model, serial number, firmware."""

    manufacturer: str
    model: str
    serial: str
    firmware: str
    raw: str

    @classmethod
    def from_idn(cls, text: str) -> Identity:
        """Parse "EXFO,CTP10,<serial>,<firmware>" (spacing free); raise ValueError if not IDN."""
        text = printable(text)  # shown in labels and logs: no control characters, no floods
        fields = [part.strip().strip('"').strip() for part in text.strip().split(",")]
        if len(fields) < 2 or not fields[0] or not fields[1]:
            raise ValueError(f"{text!r} is not an identification reply")
        serial = fields[2] if len(fields) > 2 else ""
        firmware = ",".join(fields[3:])
        return cls(fields[0], fields[1], serial, firmware, text.strip())

    @property
    def is_ctp10(self) -> bool:
        """Return True for an EXFO CTP10 (case-insensitive; "CTP10" anywhere in the model)."""
        return self.manufacturer.upper() == "EXFO" and "CTP10" in self.model.upper()

    def __str__(self) -> str:
        return f"{self.manufacturer} {self.model} #{self.serial} (firmware {self.firmware})"


@dataclass(frozen=True)
class ReferenceResult:
    """Hold a detector's reference state: state 0 means no reference taken."""

    state: int
    type: int
    taken: datetime | None
    raw: str


@dataclass(frozen=True, eq=False)
class Trace:
    """Hold one detector trace: wavelength axis in nm and values in dB (TF) or dBm (raw)."""

    module: int
    channel: int
    trace_type: TraceType | int  # 1–23; a TraceType when documented
    wavelength_nm: np.ndarray
    values: np.ndarray
    start_nm: float
    step_pm: float
    unit: str  # dB, dBm, or linear: ratio, mW
    frequency_hz: np.ndarray | None = None  # the X axis as the instrument sent it in Hz


def _parse_error(reply: str) -> tuple[int, str]:
    """Parse a SYST:ERR? reply ('0,No error', '-113,"Undefined header"'); ValueError if not."""
    code_text, _, text = reply.strip().partition(",")
    return int(code_text.strip()), printable(text.strip().strip('"'))


class CTP10:
    """Drive one EXFO CTP10 through a transport; see the module docstring for threading."""

    def __init__(
        self,
        transport: Transport,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.transport = transport
        self.identity: Identity | None = None
        self.session = SessionCache()
        self._poller: PowerPoller | None = None  # of the last snapshot()
        self._clock = clock
        self._wall_clock = wall_clock
        self._sleep = sleep
        self.sweep = Sweep(self)

    def __repr__(self) -> str:
        return f"CTP10({self.transport!r}, identity={self.identity})"

    # -- session ----------------------------------------------------------------------------------

    @property
    def address(self) -> str:
        """Return the transport's VISA address."""
        return self.transport.address

    def connect(self) -> Identity:
        """Open the session, probe *IDN? and return the identity; LinkError if not a CTP10."""
        self._forget_session()
        self.identity = None
        self.identity = self._open_and_identify()
        log.info("connected to %s at %s", self.identity, self.address)
        return self.identity

    def _open_and_identify(self) -> Identity:
        self.transport.open()
        try:
            idn = self.transport.query("*IDN?")
        except LinkError as exc:
            if exc.kind in (LinkFailure.CLOSED, LinkFailure.RESET, LinkFailure.REFUSED):
                # pyvisa-py "opens" a refused port; an instrument busy with another client may
                # also accept and drop us. Either way nothing answers at that address.
                raise LinkError(
                    self.address,
                    LinkFailure.REFUSED,
                    f"(dropped right after opening: {exc.detail or exc.kind.value}; "
                    "another client may be connected)",
                ) from exc
            raise
        try:
            identity = Identity.from_idn(idn)
        except ValueError as exc:
            self.transport.close()
            raise LinkError(
                self.address, LinkFailure.WRONG_INSTRUMENT, f"(*IDN? replied {printable(idn)!r})"
            ) from exc
        if not identity.is_ctp10:
            self.transport.close()
            raise LinkError(
                self.address,
                LinkFailure.WRONG_INSTRUMENT,
                f"(it is a {identity.manufacturer} {identity.model}: {identity.raw!r})",
            )
        return identity

    def close(self) -> None:
        """Close the session; idempotent."""
        self.transport.close()
        self._forget_session()

    def _forget_session(self) -> None:
        self.session = SessionCache()
        self._poller = None

    def reopen(self) -> None:
        """Reopen the session on the same instrument (a new socket holds no stale reply).

        Raise LinkError when nothing answers, or WRONG_INSTRUMENT when another serial does.
        """
        identity = self._open_and_identify()
        if self.identity is not None and identity.serial != self.identity.serial:
            self.transport.close()
            raise LinkError(
                self.address,
                LinkFailure.WRONG_INSTRUMENT,
                f"(another instrument answered after reopening: {identity.raw!r})",
            )

    def probe(self) -> None:
        """Check the link with a cheap *OPC? round trip; raise LinkError if it fails."""
        reply = self.query("*OPC?")
        if reply.strip() not in ("1", "+1"):
            raise self.garbled("*OPC?", reply, "expected 1")

    # -- Owner interface used by the channels -----------------------------------------------------

    def query(self, command: str) -> str:
        """Send a query and return the reply (through the transport, which logs it)."""
        return self.transport.query(command)

    def write(self, command: str) -> None:
        """Send a command that has no reply."""
        self.transport.write(command)

    def garbled(self, command: str, reply: str, why: str) -> LinkError:
        """Close the session and return a GARBLED LinkError for reply to command."""
        self.transport.close()
        self._forget_session()
        error = LinkError(self.address, LinkFailure.GARBLED,
                          f"to {command!r}: '{printable(reply)}' ({why})")
        log.warning("%s", error)
        return error

    def check_errors(self, command: str) -> None:
        """Raise InstrumentError with the first queued error after command (queue drained)."""
        errors = self.error_queue()
        if not errors:
            return
        for code, text in errors[1:]:
            log.warning("also queued after %r: %d %s", command, code, text)
        code, text = errors[0]
        raise InstrumentError(code, text, command)

    def diagnose_silence(self, part: str, silence: LinkError,
                         absence: Callable[[], str]) -> CTP10Error:
        """Return why part did not answer: MissingHardwareError, else silence (the link's error)."""
        # A SCPI instrument does not answer a query to hardware it lacks: it may queue an
        # execution error (-241 "Hardware missing") or nothing at all. Reopening tells a dead
        # link (LinkError) from a live one; then the error queue, or absence() ("" when the
        # part is there), names the missing part. The session is open again on return.
        self.reopen()
        errors = self.error_queue()
        for code, text in errors:
            log.info("queued after %s stayed silent: %d %s", part, code, text)
        missing = [(code, text) for code, text in errors if -300 < code <= -200]
        if missing:
            return MissingHardwareError(part, *missing[0])
        reason = absence()
        if reason:
            return MissingHardwareError(part, None, reason)
        return silence

    def error_queue(self) -> list[tuple[int, str]]:
        """Drain SYST:ERR? until "0,No error" and return the (code, text) entries read."""
        errors: list[tuple[int, str]] = []
        for _ in range(_MAX_ERRORS):
            reply = self.query("SYST:ERR?")
            try:
                code, text = _parse_error(reply)
            except ValueError as exc:
                raise self.garbled("SYST:ERR?", reply, "expected <code>,<text>") from exc
            if code == 0:
                return errors
            errors.append((code, text))
        log.warning("error queue of %s still not empty after %d reads", self.address, _MAX_ERRORS)
        return errors

    def clear_status(self) -> None:
        """Clear the status registers and error queue (*CLS)."""
        self.write("*CLS")

    def reset(self) -> None:
        """Reset the instrument to its defaults (*RST) and forget cached settings."""
        self.write("*RST")
        self.session.forget_settings()

    # -- channels ---------------------------------------------------------------------------------

    def tls(self, n: int) -> TunableLaser:
        """Return tunable laser n (1–4)."""
        return TunableLaser(self, n)

    def reference_laser(self, r: int) -> ReferenceLaser:
        """Return reference laser r (1–10)."""
        return ReferenceLaser(self, r)

    def detector(self, module: int, channel: int) -> Detector:
        """Return detector channel (1–6) of module (1–20)."""
        return Detector(self, module, channel)

    # -- power ------------------------------------------------------------------------------------

    def power_poller(self, module: int, channels: Sequence[int]) -> PowerPoller:
        """Return a poller of the powers of channels (1–6) of module (1–20) on this session."""
        return PowerPoller(self, module, channels, clock=self._clock,
                           wall_clock=self._wall_clock)

    def snapshot(self, module: int, channels: Sequence[int]) -> PowerSnapshot:
        """Read the power (dBm) of channels of one module, in one round trip when possible."""
        poller = self._poller
        if (poller is None or module.__class__ is not int  # bool: True == 1 is no module
                or (module, tuple(channels)) != (poller.module, poller.channels)):
            poller = self._poller = self.power_poller(module, channels)
        row = poller.receive()
        return PowerSnapshot(
            t_mono=row.t_mono,
            t_wall=row.t_wall,
            module=poller.module,
            channels=poller.channels,
            values_dbm=np.array(row.values_dbm, dtype=np.float64),
            status=np.array(row.status, dtype=np.int8),
            errors=row.errors,
            latency_s=row.latency_s,
            units=row.units,
        )

    # -- sweeps and referencing -------------------------------------------------------------------

    def condition(self) -> int:
        """Return the operation condition register (0 idle; 4 scanning, 64 referencing…)."""
        command = CONDITION_QUERY
        reply = self.query(command)
        try:
            number = float(reply.strip())
        except ValueError as exc:
            raise self.garbled(command, reply, "expected an integer") from exc
        if not number.is_integer() or number < 0:
            raise self.garbled(command, reply, "expected a non-negative integer")
        return int(number)

    def start_sweep(self) -> None:
        """Start a scan (:INIT) and raise InstrumentError if the instrument refuses it."""
        self.write(":INIT")
        self.check_errors(":INIT")

    def abort(self) -> None:
        """Abort a running scan or reference (:ABOR)."""
        self.write(":ABOR")

    def wait_until_idle(
        self,
        *,
        timeout_s: float,
        poll_s: float = 0.1,
        appear_s: float = 1.0,
        progress: Callable[[float], None] | None = None,
        cancelled: Callable[[], bool] | None = None,
    ) -> bool:
        """Poll the condition register until idle; False if cancelled (nothing is aborted).

        Right after :INIT the scanning bit may not be set yet, so "idle" only counts once a
        busy bit has been seen or appear_s seconds have passed. progress gets elapsed seconds.
        Raise OperationTimeoutError when still busy after timeout_s seconds.
        """
        start = self._clock()
        deadline = start + timeout_s
        seen_busy = False
        while True:
            if cancelled is not None and cancelled():
                return False
            register = self.condition()
            now = self._clock()
            elapsed = now - start
            if progress is not None:
                progress(elapsed)
            if register & _BUSY:
                seen_busy = True
            elif seen_busy or elapsed >= appear_s:
                return True
            if now >= deadline:
                raise OperationTimeoutError(
                    f"{self.address} still busy after {timeout_s:g} s (condition register "
                    f"{register})"
                )
            self._sleep(max(0.0, min(poll_s, deadline - now)))

    def start_reference(self, module: int, channel: int) -> None:
        """Take a reference on a detector (runs a scan; the referencing bit is set)."""
        detector = self.detector(module, channel)
        command = f":REF:SENS{detector.module}:CHAN{detector.channel}:INIT"
        self.write(command)
        self.check_errors(command)

    def reference_result(self, module: int, channel: int) -> ReferenceResult:
        """Return a detector's reference state: "state,type,YYYYMMDD,HHMMSS" or "0"."""
        detector = self.detector(module, channel)
        command = f":REF:SENS{detector.module}:CHAN{detector.channel}:RES?"
        reply = self.query(command)
        fields = [f.strip().strip('"') for f in reply.strip().split(",")]
        try:
            if len(fields) == 1:
                return ReferenceResult(int(fields[0]), 0, None, reply.strip())
            state, kind = int(fields[0]), int(fields[1])
            taken = None
            if len(fields) >= 4 and fields[2].strip("0") and fields[3]:
                taken = datetime.strptime(f"{fields[2]} {fields[3].zfill(6)}", "%Y%m%d %H%M%S")
            elif len(fields) not in (2, 4):
                raise ValueError("expected state,type,YYYYMMDD,HHMMSS")
        except ValueError as exc:
            raise self.garbled(command, reply, str(exc)) from exc
        return ReferenceResult(state, kind, taken, reply.strip())

    # -- traces -----------------------------------------------------------------------------------

    def fetch_trace(
        self,
        module: int,
        channel: int,
        trace_type: TraceType | int,
        *,
        with_x: bool = False,
        x_in_hz: bool = False,
        linear: bool = False,
        as_text: bool = False,
        timeout_s: float = 30.0,
    ) -> Trace:
        """Read a trace of type 1–23 (timeout_s s per block); X is start + i·step unless with_x."""
        # with_x reads the X block (metres, or Hz with x_in_hz, kept in Trace.frequency_hz);
        # linear asks Y as a ratio (TF) or mW (raw) instead of dB; as_text reads comma-separated
        # text instead of binary blocks (slow: a fallback). A type the detector lacks raises
        # TraceUnavailableError (the instrument's -114), never a link error.
        detector = self.detector(module, channel)
        kind = trace_kind(trace_type)
        base = f":TRAC:SENS{detector.module}:CHAN{detector.channel}:TYPE{int(kind)}:DATA"
        where = (detector.module, detector.channel, int(kind))
        length = self._trace_number(f"{base}:LENG?", where)
        if not length.is_integer() or length < 0:
            raise self.garbled(f"{base}:LENG?", str(length), "expected a point count")
        count = int(length)
        start_nm = from_si(self._trace_number(f"{base}:STAR?", where), "nm")
        step_pm = from_si(self._trace_number(f"{base}:SAMP?", where), "pm")
        encoding = "ASCII" if as_text else "BIN"
        # 'Y' asks linear values (PyMeasure PR #1366 get_data_y: "'DB' for dB or 'Y' for
        # linear"); 'HZ' the X axis in hertz (its get_data_x: "'M' … 'HZ' for Hertz").
        y = self._trace_values(f"{base}? {encoding},{'Y' if linear else 'DB'}", ">f4", count,
                               timeout_s, where)
        frequency_hz: np.ndarray | None = None
        if with_x:
            x = self._trace_values(f"{base}:X? {encoding},{'HZ' if x_in_hz else 'M'}", ">f8",
                                   count, timeout_s, where)
            if x_in_hz:
                frequency_hz = x
                with np.errstate(divide="ignore"):
                    x = SPEED_OF_LIGHT_M_S / frequency_hz * 1e9
            else:
                x = x * 1e9
        else:
            x = start_nm + np.arange(count, dtype=np.float64) * (step_pm * 1e-3)
        unit = trace_unit(kind, linear)
        return Trace(detector.module, detector.channel, kind, x, y, start_nm, step_pm, unit,
                     frequency_hz)

    def save_trace(self, module: int, channel: int, trace_type: TraceType | int) -> None:
        """Save a trace to the instrument's internal memory (CSV); InstrumentError if refused."""
        detector = self.detector(module, channel)
        kind = trace_kind(trace_type)
        # PyMeasure PR #1366 DetectorChannel.save: ":TRACe:SENSe…:CHANnel…:TYPE…:SAVE".
        command = f":TRAC:SENS{detector.module}:CHAN{detector.channel}:TYPE{int(kind)}:SAVE"
        self.write(command)
        errors = self.error_queue()
        if errors:
            code, text = errors[0]
            raise self._trace_error((detector.module, detector.channel, int(kind)), code, text,
                                    command)

    def _trace_number(self, command: str, where: tuple[int, int, int]) -> float:
        reply = self._trace_query(command, where)
        try:
            return float(reply.strip())
        except ValueError as exc:
            raise self.garbled(command, reply, "expected a number") from exc

    def _trace_query(self, command: str, where: tuple[int, int, int]) -> str:
        try:
            return self.query(command)
        except LinkError as exc:
            if exc.kind is not LinkFailure.TIMEOUT:
                raise
            raise self._trace_silence(command, exc, where) from exc

    def _trace_silence(self, command: str, silence: LinkError,
                       where: tuple[int, int, int]) -> CTP10Error:
        """Return why a trace query got no reply: the instrument's error, else silence."""
        # A refused query is answered by silence and a queued error: reopen, then read it.
        self.reopen()
        errors = self.error_queue()
        if not errors:
            return silence
        code, text = errors[0]
        return self._trace_error(where, code, text, command)

    @staticmethod
    def _trace_error(where: tuple[int, int, int], code: int, text: str,
                     command: str) -> InstrumentError:
        module, channel, trace_type = where
        if code == HEADER_SUFFIX_OUT_OF_RANGE:
            return TraceUnavailableError(module, channel, trace_type, code, text, command)
        return InstrumentError(code, text, command)

    def _trace_values(self, command: str, dtype: str, count: int, timeout_s: float,
                      where: tuple[int, int, int]) -> np.ndarray:
        size = np.dtype(dtype).itemsize
        try:
            if " ASCII," in command:
                # "-1.23456789E+001," per value: 24 bytes each is a generous bound.
                text = self.transport.query_text(command, timeout_s,
                                                 max_bytes=24 * count + 64)
                return self._ascii_values(command, text, count)
            payload = self.transport.query_block(command, timeout_s, expected_bytes=count * size)
        except LinkError as exc:
            if exc.kind is not LinkFailure.TIMEOUT:
                raise
            raise self._trace_silence(command, exc, where) from exc
        if len(payload) != count * size:
            raise self.garbled(
                command,
                f"<block of {len(payload)} bytes>",
                f"expected {count} values of {size} bytes as LENGth? said",
            )
        return np.frombuffer(payload, dtype=dtype).astype(np.float64)

    def _ascii_values(self, command: str, text: str, count: int) -> np.ndarray:
        stripped = text.strip()
        try:
            values = np.array([float(v) for v in stripped.split(",")] if stripped else [],
                              dtype=np.float64)
        except ValueError as exc:
            raise self.garbled(command, text[:60], "expected comma-separated numbers") from exc
        if len(values) != count:
            raise self.garbled(command, text[:60],
                               f"{len(values)} values where LENGth? said {count}")
        return values


def trace_kind(trace_type: TraceType | int) -> TraceType | int:
    """Return a trace type 1–23 (a TraceType when documented); OutOfRangeError otherwise."""
    number = check_index("trace_type", trace_type, TRACE_TYPES)
    try:
        return TraceType(number)
    except ValueError:
        return number


def trace_unit(trace_type: int, linear: bool) -> str:
    """Return the unit of a trace's values: raw traces dBm (mW linear), the others dB (ratio)."""
    raw = trace_type in (TraceType.RAW_LIVE, TraceType.RAW_REFERENCE, TraceType.QUICK_REFERENCE)
    if raw:
        return "mW" if linear else "dBm"
    return "ratio" if linear else "dB"
