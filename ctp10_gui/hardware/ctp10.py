"""The CTP10 driver: identity, power snapshots, sweeps, referencing, traces and the error queue.

One CTP10 object owns one transport and must be used from one thread (the acquisition
worker). Everything that depends on the connection (compound-query support, detector units,
laser models) is cached per connection and forgotten on connect().
"""

from __future__ import annotations

import enum
import logging
import math
import time
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

import numpy as np

from ctp10_gui.hardware.errors import (
    InstrumentError,
    LinkError,
    LinkFailure,
    MissingHardwareError,
    OperationTimeoutError,
    OutOfRangeError,
)
from ctp10_gui.hardware.instrument_text import printable
from ctp10_gui.hardware.scpi import (
    DBM_PLANS_KEY,
    DETECTOR_CHANNELS,
    DETECTOR_MODULES,
    POWER_QUERY,
    Detector,
    PowerUnit,
    ReferenceLaser,
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
    "ChannelStatus",
    "Identity",
    "PowerReply",
    "PowerRow",
    "PowerSnapshot",
    "PowerUnit",
    "ReferenceResult",
    "Trace",
    "TraceType",
    "XUnit",
    "parse_power",
]

log = logging.getLogger(__name__)

DETECTOR_FLOOR_DBM = -80.0
DETECTOR_MAX_DBM = 10.0
STATUS_SCANNING = 4
STATUS_ABORTING = 16
STATUS_REFERENCING = 64
STATUS_LOADING = 4096
_BUSY = STATUS_SCANNING | STATUS_ABORTING | STATUS_REFERENCING | STATUS_LOADING

# Replies at or below this (dBm) are under-range sentinels: Keysight sends -200, other EXFO
# meters -9.9E37 or -INF. Real detector readings stop near -80 dBm.
UNDER_RANGE_DBM = -190.0
# Replies at or above this are over-range sentinels (+9.9E37, INF).
OVER_RANGE_SENTINEL = 9e37
# Stop draining SYST:ERR? after this many entries (a real queue holds a few dozen at most).
_MAX_ERRORS = 64


class ChannelStatus(enum.IntEnum):
    """Say whether a channel's value is usable."""

    OK = 0
    UNDER = 1
    OVER = 2
    ERROR = 3


class TraceType(enum.IntEnum):
    """Name the trace kinds a detector keeps (the TYPE{t} of :TRAC:…)."""

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


@dataclass(frozen=True, eq=False)
class PowerSnapshot:
    """Hold the powers of several channels of one module read in one go."""

    t_mono: float
    t_wall: float
    module: int
    channels: tuple[int, ...]
    values_dbm: np.ndarray  # float64 (C,), NaN where status != OK
    status: np.ndarray  # int8 (C,) ChannelStatus
    errors: tuple[str, ...]  # per channel, "" when fine
    latency_s: float


class PowerReply(NamedTuple):
    """Hold a power reply as read, before parsing, with the times it arrived."""

    text: str  # the values as the instrument sent them, ";"-separated
    t_mono: float  # s, monotonic time of the reply
    t_wall: float  # s since the epoch


class PowerRow(NamedTuple):
    """Hold one snapshot as plain Python values (what the acquisition loop batches)."""

    t_mono: float  # s, monotonic time of the reply
    t_wall: float  # s since the epoch
    latency_s: float  # s, round trip
    values_dbm: list[float]  # per channel, NaN where status != OK
    status: tuple[int, ...]  # per channel ChannelStatus value
    errors: tuple[str, ...]  # per channel, "" when fine


@dataclass(frozen=True, eq=False)
class PowerPlan:
    """Hold what a snapshot of one (module, channels) needs, built once and validated once."""

    module: int
    channels: tuple[int, ...]
    commands: tuple[str, ...]  # one power query per channel
    compound: str  # the same joined with ";"
    unit_keys: tuple[tuple[str, int, int], ...]  # keys of the cached power units
    no_errors: tuple[str, ...]  # ("",) * C, shared by every all-fine snapshot
    all_ok: tuple[int, ...]  # (ChannelStatus.OK,) * C as ints, shared likewise


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
    trace_type: TraceType
    wavelength_nm: np.ndarray
    values: np.ndarray
    start_nm: float
    step_pm: float
    unit: str


def parse_power(reply: str, unit: PowerUnit) -> tuple[float, ChannelStatus, str]:
    """Return (dBm, status, error text) for one power reply: bare float or "value,UNIT"."""
    text = reply.strip()
    if not text:
        return math.nan, ChannelStatus.ERROR, "empty reply"
    value_text, comma, unit_text = text.partition(",")
    if comma:
        word = unit_text.strip().strip('"').upper()
        if word == "DBM":
            unit = PowerUnit.DBM
        elif word == "MW":
            unit = PowerUnit.MW
        else:
            return math.nan, ChannelStatus.ERROR, f"garbled reply {text!r} (unknown unit)"
    try:
        value = float(value_text.strip())
    except ValueError:
        return math.nan, ChannelStatus.ERROR, f"garbled reply {text!r}"
    if math.isnan(value):
        return math.nan, ChannelStatus.UNDER, ""
    if value >= OVER_RANGE_SENTINEL:
        return math.nan, ChannelStatus.OVER, ""
    if unit is PowerUnit.MW:
        if value <= 0:
            return math.nan, ChannelStatus.UNDER, ""
        value = 10.0 * math.log10(value)
    if value <= UNDER_RANGE_DBM:
        return math.nan, ChannelStatus.UNDER, ""
    return value, ChannelStatus.OK, ""


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
        # None: not yet known on this connection; see snapshot() for how it is detected.
        self.compound_supported: bool | None = None
        # Per-connection knowledge: ("power_unit", m, c), ("tls_model", n), ("laser_model", r).
        self.cache: dict[Hashable, object] = {}
        # Snapshot plans depend on the arguments only (units are looked up in self.cache on
        # every snapshot), so they outlive reconnections. The last plan is kept together with
        # the caller's channel tuple: the acquisition loop passes the same tuple every time.
        self._plans: dict[tuple[int, tuple[int, ...]], PowerPlan] = {}
        self._last_plan: PowerPlan | None = None
        self._last_channels: tuple[int, ...] | None = None
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
        self.compound_supported = None
        self.cache.clear()
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
        self.compound_supported = None

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
        self.compound_supported = None
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
        self.cache.clear()

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

    def snapshot(self, module: int, channels: Sequence[int]) -> PowerSnapshot:
        """Read the power (dBm) of channels of one module, in one round trip when possible."""
        plan = self._plan(module, channels)
        row = self.read_power_row(plan)
        return PowerSnapshot(
            t_mono=row.t_mono,
            t_wall=row.t_wall,
            module=plan.module,
            channels=plan.channels,
            values_dbm=np.array(row.values_dbm, dtype=np.float64),
            status=np.array(row.status, dtype=np.int8),
            errors=row.errors,
            latency_s=row.latency_s,
        )

    def power_row(self, module: int, channels: Sequence[int]) -> PowerRow:
        """Read like snapshot() (module 1–20, channels 1–6) but return plain Python values."""
        return self.read_power_row(self._plan(module, channels))

    def power_plan(self, module: int, channels: Sequence[int]) -> PowerPlan:
        """Return the validated query plan of module (1–20) and channels (1–6) for read_power_row.

        Raise OutOfRangeError for an invalid module or channel. A plan holds no session state:
        it stays valid across reconnections.
        """
        return self._plan(module, channels)

    def read_power_row(self, plan: PowerPlan) -> PowerRow:
        """Query and parse the powers of a plan from power_plan(); units read once per session."""
        units = self._known_units(plan)
        if units is None:
            # Units are static settings: read once per connection, never per snapshot.
            units = self._note_units(plan, self._read_units(plan))
        t0 = self._clock()
        replies = self._read_powers(plan)
        return self._power_row(plan, units, replies, t0, self._clock(), self._wall_clock())

    def send_power_query(self, plan: PowerPlan) -> float | None:
        """Send plan's power query without reading the reply; return the send time (s).

        receive_power_reply() must follow before anything else uses the session: the caller
        works while the instrument answers. Return None, sending nothing, when a snapshot of
        this plan takes more than one plain exchange on this session (units not read yet,
        compound queries not yet detected, or not supported).
        """
        if len(plan.commands) > 1 and self.compound_supported is not True:
            return None
        if self._known_units(plan) is None:
            return None
        t0 = self._clock()
        self.transport.write(plan.compound)
        return t0

    def receive_power_reply(self, plan: PowerPlan) -> PowerReply:
        """Read the reply to send_power_query(plan); return it unparsed, with when it came."""
        text = self.transport.receive(plan.compound)
        return PowerReply(text, self._clock(), self._wall_clock())

    def parse_power_reply(self, plan: PowerPlan, reply: PowerReply, sent_at: float) -> PowerRow:
        """Parse a reply from receive_power_reply() to a query sent at sent_at (monotonic s).

        Raise a GARBLED LinkError (and close the session) if the value count is wrong.
        """
        text = reply.text
        replies = [text] if len(plan.commands) == 1 else self._split_powers(plan, text)
        units = self._known_units(plan)
        assert units is not None, "send_power_query() sends only with every unit known"
        return self._power_row(plan, units, replies, sent_at, reply.t_mono, reply.t_wall)

    def _known_units(self, plan: PowerPlan) -> list[PowerUnit] | tuple[()] | None:
        """Return plan's units from the cache, () if all are dBm, None if one is not known."""
        known = self.cache.get(DBM_PLANS_KEY)
        if known is not None and plan in known:  # type: ignore[operator]
            return ()  # the usual case, answered without looking up every channel
        units = list(map(self.cache.get, plan.unit_keys))
        return None if None in units else self._note_units(plan, units)  # type: ignore[arg-type]

    def _note_units(self, plan: PowerPlan, units: list[PowerUnit]) -> list[PowerUnit] | tuple[()]:
        """Return units, or () after noting the plan as all dBm.

        The note lets the next snapshots skip the per-channel lookups (1 µs, thousands of
        times a second); noting a power unit drops it (Detector._remember).
        """
        if units.count(PowerUnit.DBM) != len(units):
            return units
        self.cache.setdefault(DBM_PLANS_KEY, set()).add(plan)  # type: ignore[attr-defined]
        return ()

    def _power_row(self, plan: PowerPlan, units: list[PowerUnit] | tuple[()],
                   replies: list[str], t0: float, t1: float, t_wall: float) -> PowerRow:
        """Parse replies (one per channel; units () = all dBm) sent at t0, read at t1 (s)."""
        if not units:
            # The usual case in a few C-level calls (this runs thousands of times a second):
            # bare numbers, all in range. Anything else (unit suffix, sentinel, NaN, garbage)
            # takes the per-channel parser below.
            try:
                values = list(map(float, replies))
            except ValueError:
                pass
            else:
                # sum() is NaN if any value is NaN, which min() and max() may skip.
                in_range = min(values) > UNDER_RANGE_DBM and max(values) < OVER_RANGE_SENTINEL
                if in_range and not math.isnan(sum(values)):
                    return PowerRow(t1, t_wall, t1 - t0, values, plan.all_ok, plan.no_errors)
            units = [PowerUnit.DBM] * len(plan.commands)
        values = []
        status: list[int] = []
        errors = plan.no_errors
        for i, (reply, unit) in enumerate(zip(replies, units, strict=True)):
            value, state, error = parse_power(reply, unit)
            values.append(value)
            status.append(int(state))
            if error:  # a new tuple, so that the shared plan.no_errors stays all ""
                errors = (*errors[:i], error, *errors[i + 1 :])
        return PowerRow(t1, t_wall, t1 - t0, values, tuple(status), errors)

    def _plan(self, module: int, channels: Sequence[int]) -> PowerPlan:
        """Return the validated query plan for (module, channels); OutOfRangeError if invalid."""
        plan = self._last_plan
        if (
            plan is not None
            and channels is self._last_channels
            and module.__class__ is int  # not bool: True == 1 but is no module number
            and module == plan.module
        ):
            return plan
        check_index("module", module, DETECTOR_MODULES)
        chans = tuple(channels)
        if not chans:
            raise OutOfRangeError("channels", chans, "one or more of 1–6", "is empty")
        for channel in chans:
            check_index("channel", channel, DETECTOR_CHANNELS)
        key = (int(module), tuple(int(c) for c in chans))
        plan = self._plans.get(key)
        if plan is None:
            m, cs = key
            commands = tuple(POWER_QUERY.format(m=m, c=c) for c in cs)
            plan = PowerPlan(
                module=m,
                channels=cs,
                commands=commands,
                compound=";".join(commands),
                unit_keys=tuple(("power_unit", m, c) for c in cs),
                no_errors=("",) * len(cs),
                all_ok=(int(ChannelStatus.OK),) * len(cs),
            )
            self._plans[key] = plan
        self._last_plan = plan
        # Only a tuple can be recognised by identity: a list may change between calls.
        self._last_channels = channels if isinstance(channels, tuple) else None
        return plan

    def _read_powers(self, plan: PowerPlan) -> list[str]:
        commands = plan.commands
        if len(commands) == 1:
            return [self.query(commands[0])]
        if self.compound_supported is False:
            return [self.query(command) for command in commands]
        compound = plan.compound
        if self.compound_supported is None:
            return self._detect_compound(compound, list(commands))
        return self._split_powers(plan, self.query(compound))

    def _split_powers(self, plan: PowerPlan, reply: str) -> list[str]:
        """Split a compound power reply into one value per channel; GARBLED if it does not fit."""
        parts = reply.split(";")
        if len(parts) != len(plan.commands):
            # Detection succeeded on this connection, so a wrong count means a reply of some
            # other query was read here: the stream is out of step.
            why = f"{len(parts)} values for {len(plan.commands)} channels: reply stream out of step"
            raise self.garbled(plan.compound, reply, why)
        return parts

    def _detect_compound(self, compound: str, commands: list[str]) -> list[str]:
        """Try a compound query once per connection; on failure resync and query one by one.

        An instrument that rejects "A?;B?" may answer nothing (timeout), answer only the first
        part, or answer the parts on separate lines, and it queues -113. None of these can be
        told apart for sure from the first reply, so after a failed attempt the session is
        reopened (a new socket holds no stale reply) and SYST:ERR? is drained (so the -113 is
        not blamed on the next setting). Only then is compound_supported set to False. A link
        that is really down fails the reopen, and detection starts again on the next connection.
        """
        try:
            reply = self.query(compound)
        except LinkError as exc:
            if exc.kind is not LinkFailure.TIMEOUT:
                raise
            reason = "no reply"
        else:
            parts = reply.split(";")
            if len(parts) == len(commands):
                self.compound_supported = True
                log.info("%s answers compound queries: one round trip per snapshot", self.address)
                return parts
            reason = f"{len(parts)} value(s) for {len(commands)} queries: {reply!r}"
        log.info(
            "%s does not answer compound queries (%s); one query per channel on this connection",
            self.address,
            reason,
        )
        self._reopen_same_instrument()
        for code, text in self.error_queue():
            log.info("cleared after the compound-query test: %d %s", code, text)
        self.compound_supported = False
        return [self.query(command) for command in commands]

    def _reopen_same_instrument(self) -> None:
        """Reopen the session after an unanswered query: a new socket holds no stale reply."""
        identity = self._open_and_identify()
        if self.identity is not None and identity.serial != self.identity.serial:
            self.transport.close()
            raise LinkError(
                self.address,
                LinkFailure.WRONG_INSTRUMENT,
                f"(another instrument answered after reopening: {identity.raw!r})",
            )

    def _read_units(self, plan: PowerPlan) -> list[PowerUnit]:
        """Read the units of a plan's channels (once per connection); name a silent module.

        A SCPI instrument does not answer a query to hardware it lacks: it queues an error
        (-241 "Hardware missing") and stays silent, which looks like a dead link. Reopening
        and reading the error queue tells the two apart, so an empty slot chosen by mistake
        gives a sentence instead of an endless reconnect loop.
        """
        try:
            return [self.detector(plan.module, c).cached_power_unit() for c in plan.channels]
        except LinkError as exc:
            if exc.kind is not LinkFailure.TIMEOUT:
                raise
            silence = exc
        self._reopen_same_instrument()
        errors = self.error_queue()
        if not errors:
            raise silence
        code, text = errors[0]
        raise MissingHardwareError(plan.module, code, text)

    # -- sweeps and referencing -------------------------------------------------------------------

    def condition(self) -> int:
        """Return the operation condition register (0 idle; 4 scanning, 64 referencing…)."""
        command = ":STAT:OPER:COND?"
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
        timeout_s: float = 30.0,
    ) -> Trace:
        """Read a trace as binary blocks; X is rebuilt as start + i·step unless with_x."""
        detector = self.detector(module, channel)
        try:
            kind = TraceType(trace_type)
        except ValueError as exc:
            valid = "one of " + ", ".join(str(int(t)) for t in TraceType)
            raise OutOfRangeError("trace_type", trace_type, valid) from exc
        base = f":TRAC:SENS{detector.module}:CHAN{detector.channel}:TYPE{int(kind)}:DATA"
        length = self._number(f"{base}:LENG?")
        if not length.is_integer() or length < 0:
            raise self.garbled(f"{base}:LENG?", str(length), "expected a point count")
        count = int(length)
        start_nm = from_si(self._number(f"{base}:STAR?"), "nm")
        step_pm = from_si(self._number(f"{base}:SAMP?"), "pm")
        command = f"{base}? BIN,DB"
        y = self._block_array(command, ">f4", count, timeout_s)
        if with_x:
            x_command = f"{base}:X? BIN,M"
            x = self._block_array(x_command, ">f8", count, timeout_s) * 1e9
        else:
            x = start_nm + np.arange(count, dtype=np.float64) * (step_pm * 1e-3)
        unit = "dB" if kind is TraceType.TF_LIVE else "dBm"
        return Trace(detector.module, detector.channel, kind, x, y, start_nm, step_pm, unit)

    def _number(self, command: str) -> float:
        reply = self.query(command)
        try:
            return float(reply.strip())
        except ValueError as exc:
            raise self.garbled(command, reply, "expected a number") from exc

    def _block_array(self, command: str, dtype: str, count: int, timeout_s: float) -> np.ndarray:
        size = np.dtype(dtype).itemsize
        payload = self.transport.query_block(command, timeout_s, expected_bytes=count * size)
        if len(payload) != count * size:
            raise self.garbled(
                command,
                f"<block of {len(payload)} bytes>",
                f"expected {count} values of {size} bytes as LENGth? said",
            )
        return np.frombuffer(payload, dtype=dtype).astype(np.float64)
