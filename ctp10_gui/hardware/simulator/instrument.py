"""The simulated CTP10: state, lab physics and the SCPI command handler (no sockets)."""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

import numpy as np

from ctp10_gui.hardware.simulator.options import SimulatorOptions
from ctp10_gui.hardware.simulator.parser import (
    Node,
    ScpiError,
    compile_pattern,
    definite_block,
    match_nodes,
    parse_bool,
    parse_int,
    parse_plain,
    parse_power_dbm,
    parse_sampling_pm,
    parse_scaled,
    parse_string,
    parse_time_s,
    parse_wavelength_nm,
    sci,
    short_number,
    split_command,
    split_outside_quotes,
    tokenize_header,
)
from ctp10_gui.hardware.simulator.physics import (
    DEFAULT_LASERS,
    DETECTOR_FLOOR_DBM,
    DETECTOR_MAX_DBM,
    FiberCoupling,
    LaserModel,
    RingChip,
    reference_level_dbm,
    transfer_function_db,
)

log = logging.getLogger(__name__)

STATUS_SCANNING = 4
STATUS_ABORTING = 16
STATUS_REFERENCING = 64
DETECTOR_MIN_NM = 1240.0
DETECTOR_MAX_NM = 1680.0
HIGH_RES_SAMPLING_PM = (0.5, 0.2, 0.1, 0.05, 0.02)
TRACE_TYPES = (1, 11, 12, 13)
GARBLED_VALUE = "x#@!"  # what a failed channel answers instead of a number
ERROR_QUEUE_SIZE = 30
_TRACE_CACHE_ENTRIES = 12  # ≈ 45 MB at 940 001 points: a few channels × types of the last sweep

Handler = Callable[[list[int], list[str]], "str | bytes | None"]


class LinkFaults(Protocol):
    """Faults that need the TCP server; the SIM:FAULt commands call these."""

    late_reply_s: float

    def pause(self, seconds: float | None = None) -> None: ...
    def garbage_next(self, n: int = 1) -> None: ...
    def truncate_next(self, n: int = 1, *, close: bool = False) -> None: ...
    def drop_connections(self) -> int: ...
    def reset_connections(self) -> int: ...
    def refuse(self, seconds: float | None = None) -> None: ...
    def clear(self) -> None: ...


@dataclass
class _Tls:
    identifier: int = 0
    start_nm: float = 0.0
    stop_nm: float = 0.0
    speed_nm_s: int = 20
    power_dbm: float = 0.0
    trigger_in: int = 0


@dataclass
class _RefLaser:
    power_dbm: float = 6.0
    wavelength_nm: float = 1550.0
    on: bool = False
    on_at: float = 0.0


@dataclass
class _Detector:
    level_dbm: float
    coupled: bool
    port: str
    unit_mw: bool = False
    unit_freq: bool = False
    wavelength_nm: float = 1550.0
    failed: bool = False


@dataclass(frozen=True)
class SweepRecord:
    """A finished scan whose traces can be read: grid start (nm), step (pm), point count."""

    sweep_id: int
    start_nm: float
    sampling_pm: float
    points: int
    source_power_dbm: float

    @property
    def wavelength_nm(self) -> np.ndarray:
        """Return the wavelength grid in nm (float64)."""
        return self.start_nm + np.arange(self.points, dtype=np.float64) * (self.sampling_pm * 1e-3)


@dataclass
class _Operation:
    kind: str  # "sweep" or "reference"
    bit_at: float
    end_at: float
    end_wall: float
    record: SweepRecord
    module: int = 0
    channel: int = 0


@dataclass(frozen=True)
class _Command:
    nodes: tuple[Node, ...]
    query: Handler | None
    set: Handler | None


# One resolved message unit: (handler, header suffixes, parameter strings).
_Unit = tuple[Handler, tuple[int, ...], list[str]]


def _raising(error: ScpiError) -> Handler:
    """Return a handler that raises error (a header that did not resolve)."""

    def handler(_suffixes: list[int], _params: list[str]) -> str | None:
        raise error

    return handler


def _common_handler(common: Callable[[list[str]], str | None]) -> Handler:
    """Adapt a common command (*IDN? …, parameters only) to the handler signature."""
    return lambda _suffixes, params: common(params)


@dataclass
class _State:
    """Everything *RST puts back to defaults."""

    start_nm: float = 1530.0
    stop_nm: float = 1570.0
    sampling_pm: float = 1.0
    stab_output: bool = False
    stab_s: float = 0.0
    tls: dict[int, _Tls] = field(default_factory=dict)
    rlasers: dict[int, _RefLaser] = field(default_factory=dict)


def _no_params(params: list[str]) -> None:
    if params:
        raise ScpiError(-108, f"unexpected {params!r}")


def _one_param(params: list[str]) -> str:
    if not params:
        raise ScpiError(-109)
    if len(params) > 1:
        raise ScpiError(-108, f"unexpected {params[1:]!r}")
    return params[0]


def _n_params(params: list[str], n: int) -> list[str]:
    if len(params) < n:
        raise ScpiError(-109)
    if len(params) > n:
        raise ScpiError(-108, f"unexpected {params[n:]!r}")
    return params


def _check_range(value: float, low: float, high: float, what: str) -> float:
    if not (low - 1e-9 <= value <= high + 1e-9) or math.isnan(value):
        raise ScpiError(-222, f"{what} {value} outside {low}–{high}")
    return value


def _valid_sampling_pm(value: float) -> float:
    for hr in HIGH_RES_SAMPLING_PM:
        if math.isclose(value, hr, rel_tol=1e-6):
            return hr
    rounded = round(value)
    if abs(value - rounded) < 1e-6 and 1 <= rounded <= 250:
        return float(rounded)
    raise ScpiError(-222, f"sampling {value} pm")


class SimulatedCTP10:
    """A CTP10 in memory: handle(line) answers one SCPI message like the instrument would.

    Replies are str without terminator, bytes for binary blocks (complete, trailer included
    when the option says so) or None when the message has no reply. Every duration follows
    the injected clock (monotonic s) divided by options.speedup; reference dates follow
    wall_clock (epoch s). Thread-safe: one lock around each message.
    """

    def __init__(
        self,
        options: SimulatorOptions | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        lasers: tuple[LaserModel, ...] = DEFAULT_LASERS,
    ) -> None:
        self.options = options or SimulatorOptions()
        self.clock = clock
        self.wall_clock = wall_clock
        self.lasers = lasers
        self.link_faults: LinkFaults | None = None
        self.serial = self.options.serial
        self.speedup = self.options.speedup
        self.noise_db = self.options.noise_db
        self._lock = threading.RLock()
        self._rng = np.random.default_rng([self.options.seed, 1])
        self.coupling = FiberCoupling(
            np.random.default_rng([self.options.seed, 2]),
            offset_um=self.options.offset_um,
            mode_radius_um=self.options.mode_radius_um,
            drift=self.options.drift,
            drift_rms_um=self.options.drift_rms_um,
            drift_tau_s=self.options.drift_tau_s,
            now=clock(),
        )
        self._errors: deque[tuple[int, str]] = deque()
        self._detectors: dict[tuple[int, int], _Detector] = {}
        modules = self.options.modules
        for index, module in enumerate(modules):
            # the last module (slot 4 by default, the app's default) has the nominal levels;
            # each earlier one sits 1 dB lower so modules are told apart at a glance
            module_offset_db = -1.0 * (len(modules) - 1 - index)
            for channel in range(1, self.options.channels_per_module + 1):
                port = {1: "through", 2: "drop"}.get(channel, "flat")
                self._detectors[(module, channel)] = _Detector(
                    level_dbm=self.options.channel_levels_dbm[channel - 1] + module_offset_db,
                    coupled=channel in (1, 2),
                    port=port,
                )
        self._state = self._default_state()
        self._op: _Operation | None = None
        self._abort_until = -math.inf
        self._sweep_count = 0
        self._record: SweepRecord | None = None
        self._references: dict[tuple[int, int], datetime] = {}
        self._trace_cache: OrderedDict[tuple[int, int, int, int], np.ndarray] = OrderedDict()
        self._chips: dict[tuple[int, int], RingChip] = {}
        self._power_seq = 0
        self._commands: dict[str, list[_Command]] = {}
        self._resolve_cache: dict[tuple[tuple[tuple[str, int | None], ...], str], tuple] = {}
        self._message_cache: dict[str, tuple[_Unit, ...]] = {}
        self._normals: list[float] = []
        self._common: dict[str, Callable[[list[str]], str | None]] = {
            "*IDN?": self._q_idn,
            "*OPC?": self._q_one,  # does not wait for a scan (the reference leaves it unsure)
            "*OPC": _no_params,
            "*WAI": _no_params,
            "*CLS": self._cls,
            "*RST": self._rst,
            "*ESR?": self._q_zero,
        }
        self._build_commands()

    # ------------------------------------------------------------------ public model API

    def handle(self, line: str) -> str | bytes | None:
        """Answer one message (one line, maybe 'A;B?;C?'): reply text, block bytes or None."""
        with self._lock:
            self._advance()
            units = self._message_cache.get(line)
            if units is None:
                parts = [p for p in split_outside_quotes(line.strip(), ";") if p.strip()]
                if not parts:
                    return None
                if len(parts) > 1 and not self.options.compound:
                    self._push_error(ScpiError(-113, "compound message not supported"))
                    return None
                units, resolved = self._compile(parts)
                if resolved:  # a message with a header error is not worth keeping
                    if len(self._message_cache) > 4096:
                        self._message_cache.clear()
                    self._message_cache[line] = units
            replies: list[str | bytes] = []
            binary = False
            for handler, suffixes, params in units:
                try:
                    reply = handler(list(suffixes), params)
                except ScpiError as exc:
                    self._push_error(exc)
                    if exc.is_command_error:
                        break  # IEEE 488.2: a command error discards the rest of the message
                    continue
                if reply is not None:
                    replies.append(reply)
                    binary = binary or reply.__class__ is bytes
            if replies and not binary:
                return ";".join(replies)  # type: ignore[arg-type]  # all str here
            return self._join(replies)

    def _compile(self, parts: list[str]) -> tuple[tuple[_Unit, ...], bool]:
        """Resolve every unit of a message once; return the units and whether all resolved.

        Live polling sends the same message thousands of times a second; a real instrument
        answers the extra units of a compound query for next to nothing, so resolving each
        message once keeps the simulator from charging a Python parse per unit. A header
        that does not resolve becomes a unit raising its error in turn when run.
        """
        units: list[_Unit] = []
        path: list[tuple[str, int | None]] = []
        resolved = True
        for part in parts:
            try:
                handler, suffixes, params, path = self._resolve_unit(part, path)
            except ScpiError as exc:
                units.append((_raising(exc), (), []))
                resolved = False
                if exc.is_command_error:
                    break  # the rest of the message is discarded anyway
                continue
            units.append((handler, suffixes, params))
        return (self._batch_powers(units) if resolved else None) or tuple(units), resolved

    def _batch_powers(self, units: list[_Unit]) -> tuple[_Unit, ...] | None:
        """Return one unit answering a compound of power and power-unit queries, or None.

        A detector module reads its channels together and knows their units; so does the
        simulator: one clock and coupling reading and one dispatch for the whole message, the
        units read at the same moment as the powers. Anything else (another command, a
        parameter, a missing detector, whose error must be queued in order) is answered unit
        by unit.
        """
        if len(units) < 2:
            return None
        parts: list[tuple[bool, _Detector]] = []
        for handler, suffixes, params in units:
            is_unit = handler == self._q_unit_y
            if params or not (is_unit or handler == self._q_power):
                return None
            try:
                parts.append((is_unit, self._detector(*suffixes)))
            except ScpiError:
                return None
        batch = tuple(parts)
        return ((lambda _suffixes, _params: self._power_replies(batch)), (), []),

    def _power_replies(self, parts: tuple[tuple[bool, _Detector], ...]) -> str:
        """Answer the power (False) and unit (True) queries of these detectors, ';'-joined."""
        loss_db = self.coupling.loss_db(self.clock())
        text = self.options.unit_reply == "text"
        return ";".join([
            _unit_y_reply(det.unit_mw, text) if is_unit else self._power_reply(det, loss_db)
            for is_unit, det in parts
        ])

    def condition(self) -> int:
        """Return the operation condition register (4 scanning, 16 aborting, 64 referencing)."""
        with self._lock:
            self._advance()
            now = self.clock()
            bits = 0
            if self._op is not None and now >= self._op.bit_at:
                bits |= STATUS_SCANNING
                if self._op.kind == "reference":
                    bits |= STATUS_REFERENCING
            if now < self._abort_until:
                bits |= STATUS_ABORTING
            return bits

    @property
    def errors(self) -> list[tuple[int, str]]:
        """Return a copy of the error queue, oldest first."""
        with self._lock:
            return list(self._errors)

    @property
    def last_sweep(self) -> SweepRecord | None:
        """Return the last finished scan, or None before the first one."""
        with self._lock:
            self._advance()
            return self._record

    def set_offset_um(self, x_um: float, y_um: float) -> None:
        """Move the fiber to (x, y) µm from the waveguide axis (drift continues around it)."""
        with self._lock:
            self.coupling.set_offset(x_um, y_um, self.clock())

    @property
    def offset_um(self) -> tuple[float, float]:
        """Return the current fiber offset (x, y) in µm, drift included."""
        with self._lock:
            self.coupling.advance(self.clock())
            return self.coupling.offset_um

    def set_drift(self, on: bool) -> None:
        """Switch the slow fiber drift on or off."""
        with self._lock:
            self.coupling.advance(self.clock())
            self.coupling.drift = on

    def set_level_dbm(self, module: int, channel: int, level_dbm: float) -> None:
        """Set the peak (perfectly aligned) power of one detector, dBm."""
        with self._lock:
            self._detector(module, channel).level_dbm = float(level_dbm)

    def fail_channel(self, module: int, channel: int, failed: bool = True) -> None:
        """Make one detector answer a garbled value ('x#@!') while the others stay fine."""
        with self._lock:
            self._detector(module, channel).failed = failed

    def live_power_dbm(self, module: int, channel: int) -> float:
        """Return the current true power of a detector in dBm (no floor, no reply format)."""
        with self._lock:
            det = self._detector(module, channel)
            level = det.level_dbm
            if det.coupled:
                level += self.coupling.loss_db(self.clock())
            return level

    # ------------------------------------------------------------------ dispatch

    def _join(self, replies: list[str | bytes]) -> str | bytes | None:
        if not replies:
            return None
        if all(isinstance(r, str) for r in replies):
            return ";".join(r for r in replies if isinstance(r, str))
        chunks: list[bytes] = []
        for i, reply in enumerate(replies):
            last = i == len(replies) - 1
            if isinstance(reply, bytes):
                if not last and self.options.block_trailer:
                    reply = reply[:-2]  # the trailer only ends the whole message
                chunks.append(reply)
            else:
                chunks.append(reply.encode("latin-1") + (b"\r\n" if last else b""))
        return b";".join(chunks)

    def _resolve_unit(
        self, part: str, path: list[tuple[str, int | None]]
    ) -> tuple[Handler, tuple[int, ...], list[str], list[tuple[str, int | None]]]:
        """Return (handler, header suffixes, parameters, path after the unit) of one unit."""
        header, is_query, params = split_command(part)
        if header.startswith("*"):
            common = self._common.get(header.upper() + ("?" if is_query else ""))
            if common is None:
                raise ScpiError(-113, header)
            return _common_handler(common), (), params, path
        absolute = header.startswith(":")
        key = (tuple(path) if not absolute else (), header.upper())
        resolved = self._resolve_cache.get(key)
        if resolved is None:
            resolved = self._resolve(header, absolute, path)
            if len(self._resolve_cache) > 4096:
                self._resolve_cache.clear()
            self._resolve_cache[key] = resolved
        command, suffixes, new_path = resolved
        handler = command.query if is_query else command.set
        if handler is None:
            raise ScpiError(-113, f"{header} has no {'query' if is_query else 'set'} form")
        return handler, suffixes, params, list(new_path)

    def _resolve(
        self, header: str, absolute: bool, path: list[tuple[str, int | None]]
    ) -> tuple[_Command, tuple[int, ...], tuple[tuple[str, int | None], ...]]:
        tokens = tokenize_header(header)
        candidates = [tokens] if absolute or not path else [path + tokens, tokens]
        for candidate in candidates:
            for command in self._commands.get(candidate[0][0], []):
                suffixes = match_nodes(command.nodes, candidate)
                if suffixes is not None:
                    return command, tuple(suffixes), tuple(candidate[:-1])
        raise ScpiError(-113, header)

    def _add(self, pattern: str, query: Handler | None = None, set_: Handler | None = None) -> None:
        nodes = compile_pattern(pattern)
        command = _Command(nodes, query, set_)
        for name in {nodes[0].long, nodes[0].short}:
            self._commands.setdefault(name, []).append(command)

    def _build_commands(self) -> None:
        add = self._add
        add("SYSTem:ERRor[:NEXT]", query=self._q_error)
        add("STATus:OPERation:CONDition", query=self._q_condition)
        add("ABORt", set_=self._s_abort)
        add("INITiate[:IMMediate]", set_=self._s_init)
        add("INITiate:WAVelength:SAMPling", self._q_sampling, self._s_sampling)
        add("INITiate:WAVelength:STARt", self._q_sweep_start, self._s_sweep_start)
        add("INITiate:WAVelength:STOP", self._q_sweep_stop, self._s_sweep_stop)
        add("INITiate:STABilization", self._q_stab, self._s_stab)
        add("INITiate:TLS#:IDentifier", self._q_tls_id, self._s_tls_id)
        add("INITiate:TLS#:WAVelength:STARt", self._q_tls_start, self._s_tls_start)
        add("INITiate:TLS#:WAVelength:STOP", self._q_tls_stop, self._s_tls_stop)
        add("INITiate:TLS#:SPEed", self._q_tls_speed, self._s_tls_speed)
        add("INITiate:TLS#:POWer", self._q_tls_power, self._s_tls_power)
        add("INITiate:TLS#:TRIGin", self._q_tls_trig, self._s_tls_trig)
        add("CTP:RLASer#:IDN", query=self._q_rl_idn)
        add("CTP:RLASer#:POWer", self._q_rl_power, self._s_rl_power)
        add("CTP:RLASer#:POWer:STATe", self._q_rl_state, self._s_rl_state)
        add("CTP:RLASer#:WAVelength", self._q_rl_wav, self._s_rl_wav)
        add("CTP:SENSe#:CHANnel#:POWer", query=self._q_power)
        add("CTP:SENSe#:CHANnel#:UNIT:Y", self._q_unit_y, self._s_unit_y)
        add("CTP:SENSe#:CHANnel#:UNIT:X", self._q_unit_x, self._s_unit_x)
        add("CTP:SENSe#:CHANnel#:WAVelength", self._q_det_wav, self._s_det_wav)
        add("REFerence:SENSe#:CHANnel#:INITiate", set_=self._s_ref_init)
        add("REFerence:SENSe#:CHANnel#:RESult", query=self._q_ref_result)
        add("TRACe:SENSe#:CHANnel#:TYPE#:DATA", query=self._q_trace_y)
        add("TRACe:SENSe#:CHANnel#:TYPE#:DATA:X", query=self._q_trace_x)
        add("TRACe:SENSe#:CHANnel#:TYPE#:DATA:LENGth", query=self._q_trace_length)
        add("TRACe:SENSe#:CHANnel#:TYPE#:DATA:STARt", query=self._q_trace_start)
        add("TRACe:SENSe#:CHANnel#:TYPE#:DATA:SAMPling", query=self._q_trace_sampling)
        # simulator control extensions (see the package docstring)
        add("SIMulate:FAULt:PAUSe", set_=self._s_sim_pause)
        add("SIMulate:FAULt:GARBage", set_=self._s_sim_garbage)
        add("SIMulate:FAULt:TRUNcate", set_=self._s_sim_truncate)
        add("SIMulate:FAULt:LATE", self._q_sim_late, self._s_sim_late)
        add("SIMulate:FAULt:DROP", set_=self._s_sim_drop)
        add("SIMulate:FAULt:RST", set_=self._s_sim_reset)
        add("SIMulate:FAULt:RESet", set_=self._s_sim_reset)
        add("SIMulate:FAULt:REFuse", set_=self._s_sim_refuse)
        add("SIMulate:FAULt:CHANnel", set_=self._s_sim_fail_channel)
        add("SIMulate:FAULt:CLEar", set_=self._s_sim_clear)
        add("SIMulate:COUPling:OFFSet", self._q_sim_offset, self._s_sim_offset)
        add("SIMulate:DRIFt", self._q_sim_drift, self._s_sim_drift)
        add("SIMulate:SERial", self._q_sim_serial, self._s_sim_serial)
        add("SIMulate:LEVel", self._q_sim_level, self._s_sim_level)
        add("SIMulate:NOISe", self._q_sim_noise, self._s_sim_noise)
        add("SIMulate:SPEedup", self._q_sim_speedup, self._s_sim_speedup)

    # ------------------------------------------------------------------ state helpers

    def _default_state(self) -> _State:
        state = _State()
        for n in range(1, 5):
            state.tls[n] = _Tls()
            if n <= len(self.lasers):
                self._assign_laser(state.tls[n], n)
        for r in range(1, 11):
            laser = self._laser(r)
            center = round(laser.center_nm) if laser is not None else 1550.0
            state.rlasers[r] = _RefLaser(wavelength_nm=float(1550 if center > 1450 else 1310))
        return state

    def _laser(self, position: int) -> LaserModel | None:
        return self.lasers[position - 1] if 1 <= position <= len(self.lasers) else None

    def _assign_laser(self, tls: _Tls, position: int) -> None:
        laser = self._laser(position)
        tls.identifier = position
        if laser is None:
            return
        tls.start_nm, tls.stop_nm = laser.start_nm, laser.stop_nm
        tls.speed_nm_s = laser.default_speed_nm_s
        tls.power_dbm = laser.default_power_dbm

    def _push_error(self, exc: ScpiError) -> None:
        log.debug("simulated CTP10 error %s %s", exc.code, exc.detail)
        if len(self._errors) >= ERROR_QUEUE_SIZE:
            self._errors[-1] = (-350, "Queue overflow")
            return
        self._errors.append((exc.code, exc.text))

    def _tls(self, n: int) -> _Tls:
        if not 1 <= n <= 4:
            raise ScpiError(-114, f"TLS{n}")
        return self._state.tls[n]

    def _tls_laser(self, n: int) -> tuple[_Tls, LaserModel]:
        tls = self._tls(n)
        laser = self._laser(tls.identifier)
        if laser is None:
            raise ScpiError(-221, f"TLS{n} has no laser (identifier {tls.identifier})")
        return tls, laser

    def _rlaser(self, r: int) -> tuple[_RefLaser, LaserModel | None]:
        if not 1 <= r <= 10:
            raise ScpiError(-114, f"RLASer{r}")
        return self._state.rlasers[r], self._laser(r)

    def _detector(self, module: int, channel: int) -> _Detector:
        if not (1 <= module <= 20 and 1 <= channel <= 6):
            raise ScpiError(-114, f"SENSe{module}:CHANnel{channel}")
        det = self._detectors.get((module, channel))
        if det is None:
            raise ScpiError(-241, f"no detector at module {module} channel {channel}")
        return det

    def _advance(self) -> None:
        op = self._op
        if op is None or self.clock() < op.end_at:
            return
        self._op = None
        self._record = op.record
        self._trace_cache.clear()
        if op.kind == "reference":
            self._references[(op.module, op.channel)] = datetime.fromtimestamp(op.end_wall)

    def _scan_duration_s(self) -> float:
        """Return the scan time before speedup: Σ overlap/speed over the active lasers (s)."""
        start, stop = self._state.start_nm, self._state.stop_nm
        total = 0.0
        speeds = []
        for tls in self._state.tls.values():
            if self._laser(tls.identifier) is None:
                continue
            speeds.append(tls.speed_nm_s)
            overlap = min(stop, tls.stop_nm) - max(start, tls.start_nm)
            if overlap > 0:
                total += overlap / tls.speed_nm_s
        if total == 0.0:
            total = (stop - start) / (speeds[0] if speeds else 20)
        return total + self._state.stab_s

    def _source_power_dbm(self) -> float:
        for tls in self._state.tls.values():
            if self._laser(tls.identifier) is not None and (
                tls.start_nm <= self._state.start_nm <= tls.stop_nm
            ):
                return tls.power_dbm
        return 8.0

    def _begin(self, kind: str, module: int = 0, channel: int = 0) -> None:
        self._advance()
        if self._op is not None:
            raise ScpiError(-213, "scan already running")
        now = self.clock()
        duration = self._scan_duration_s() / self.speedup
        bit_at = now + self.options.scan_bit_delay_s
        span_pm = (self._state.stop_nm - self._state.start_nm) * 1e3
        points = math.floor(span_pm / self._state.sampling_pm + 1e-6) + 1
        self._sweep_count += 1
        record = SweepRecord(
            self._sweep_count,
            self._state.start_nm,
            self._state.sampling_pm,
            points,
            self._source_power_dbm(),
        )
        end_wall = self.wall_clock() + (bit_at - now) + duration
        self._op = _Operation(kind, bit_at, bit_at + duration, end_wall, record, module, channel)

    # ------------------------------------------------------------------ common commands

    def _q_idn(self, params: list[str]) -> str:
        _no_params(params)
        return f"EXFO,CTP10,{self.serial},{self.options.firmware}"

    @staticmethod
    def _q_one(params: list[str]) -> str:
        _no_params(params)
        return "1"

    @staticmethod
    def _q_zero(params: list[str]) -> str:
        _no_params(params)
        return "0"

    def _q_condition(self, s: list[int], p: list[str]) -> str:
        _no_params(p)
        return str(self.condition())

    def _cls(self, params: list[str]) -> None:
        _no_params(params)
        self._errors.clear()

    def _rst(self, params: list[str]) -> None:
        _no_params(params)
        self._op = None
        self._state = self._default_state()
        for det in self._detectors.values():
            det.unit_mw = det.unit_freq = False
            det.wavelength_nm = 1550.0

    def _q_error(self, s: list[int], p: list[str]) -> str:
        _no_params(p)
        if not self._errors:
            return "0,No error"
        code, text = self._errors.popleft()
        return f'{code},"{text}"'

    # ------------------------------------------------------------------ sweep

    def _s_abort(self, s: list[int], p: list[str]) -> None:
        _no_params(p)
        if self._op is not None:
            self._op = None
            self._abort_until = self.clock() + self.options.abort_s / self.speedup

    def _s_init(self, s: list[int], p: list[str]) -> None:
        _no_params(p)
        self._begin("sweep")

    def _q_sampling(self, s: list[int], p: list[str]) -> str:
        _no_params(p)
        return sci(self._state.sampling_pm * 1e-12)

    def _s_sampling(self, s: list[int], p: list[str]) -> None:
        self._state.sampling_pm = _valid_sampling_pm(parse_sampling_pm(_one_param(p)))

    def _q_sweep_start(self, s: list[int], p: list[str]) -> str:
        _no_params(p)
        return sci(self._state.start_nm * 1e-9)

    def _q_sweep_stop(self, s: list[int], p: list[str]) -> str:
        _no_params(p)
        return sci(self._state.stop_nm * 1e-9)

    def _s_sweep_start(self, s: list[int], p: list[str]) -> None:
        value = parse_wavelength_nm(_one_param(p))
        st = self._state
        if value >= DETECTOR_MAX_NM:
            raise ScpiError(-222, f"start {value}")
        _check_range(value, DETECTOR_MIN_NM, DETECTOR_MAX_NM, "start")
        if value >= st.stop_nm:  # keep the span: the stop follows
            st.stop_nm = min(DETECTOR_MAX_NM, value + (st.stop_nm - st.start_nm))
        st.start_nm = value

    def _s_sweep_stop(self, s: list[int], p: list[str]) -> None:
        value = parse_wavelength_nm(_one_param(p))
        st = self._state
        if value <= DETECTOR_MIN_NM:
            raise ScpiError(-222, f"stop {value}")
        _check_range(value, DETECTOR_MIN_NM, DETECTOR_MAX_NM, "stop")
        if value <= st.start_nm:
            st.start_nm = max(DETECTOR_MIN_NM, value - (st.stop_nm - st.start_nm))
        st.stop_nm = value

    def _q_stab(self, s: list[int], p: list[str]) -> str:
        _no_params(p)
        return f"{int(self._state.stab_output)},{short_number(self._state.stab_s)}"

    def _s_stab(self, s: list[int], p: list[str]) -> None:
        output_text, seconds_text = _n_params(p, 2)
        output = parse_bool(output_text)
        seconds = _check_range(parse_time_s(seconds_text), 0.0, 60.0, "stabilization")
        self._state.stab_output, self._state.stab_s = output, seconds

    # ------------------------------------------------------------------ tunable lasers

    def _q_tls_id(self, s: list[int], p: list[str]) -> str:
        _no_params(p)
        return str(self._tls(s[0]).identifier)

    def _s_tls_id(self, s: list[int], p: list[str]) -> None:
        tls = self._tls(s[0])
        position = parse_int(_one_param(p))
        _check_range(position, 0, 10, "identifier")
        if position == tls.identifier:
            return
        if position != 0 and self._laser(position) is None:
            raise ScpiError(-241, f"no laser at position {position}")
        self._assign_laser(tls, position)

    def _q_tls_start(self, s: list[int], p: list[str]) -> str:
        _no_params(p)
        return sci(self._tls(s[0]).start_nm * 1e-9)

    def _q_tls_stop(self, s: list[int], p: list[str]) -> str:
        _no_params(p)
        return sci(self._tls(s[0]).stop_nm * 1e-9)

    def _s_tls_start(self, s: list[int], p: list[str]) -> None:
        tls, laser = self._tls_laser(s[0])
        value = _check_range(
            parse_wavelength_nm(_one_param(p)), laser.start_nm, laser.stop_nm, "TLS start"
        )
        if value >= laser.stop_nm:
            raise ScpiError(-222, f"TLS start {value} at the end of the range")
        if value >= tls.stop_nm:
            tls.stop_nm = laser.stop_nm
        tls.start_nm = value

    def _s_tls_stop(self, s: list[int], p: list[str]) -> None:
        tls, laser = self._tls_laser(s[0])
        value = _check_range(
            parse_wavelength_nm(_one_param(p)), laser.start_nm, laser.stop_nm, "TLS stop"
        )
        if value <= laser.start_nm:
            raise ScpiError(-222, f"TLS stop {value} at the start of the range")
        if value <= tls.start_nm:
            tls.start_nm = laser.start_nm
        tls.stop_nm = value

    def _q_tls_speed(self, s: list[int], p: list[str]) -> str:
        _no_params(p)
        return str(self._tls(s[0]).speed_nm_s)

    def _s_tls_speed(self, s: list[int], p: list[str]) -> None:
        tls, laser = self._tls_laser(s[0])
        value = parse_plain(_one_param(p))
        if value not in laser.speeds_nm_s:
            raise ScpiError(-222, f"speed {value} not allowed for {laser.name}")
        tls.speed_nm_s = int(value)

    def _q_tls_power(self, s: list[int], p: list[str]) -> str:
        _no_params(p)
        return sci(self._tls(s[0]).power_dbm)

    def _s_tls_power(self, s: list[int], p: list[str]) -> None:
        tls, laser = self._tls_laser(s[0])
        value = parse_power_dbm(_one_param(p))
        tls.power_dbm = _check_range(value, laser.min_power_dbm, laser.max_power_dbm, "power")

    def _q_tls_trig(self, s: list[int], p: list[str]) -> str:
        _no_params(p)
        return str(self._tls(s[0]).trigger_in)

    def _s_tls_trig(self, s: list[int], p: list[str]) -> None:
        tls = self._tls(s[0])
        value = parse_int(_one_param(p))
        tls.trigger_in = int(_check_range(value, 0, 8, "trigger input"))

    # ------------------------------------------------------------------ reference lasers

    def _q_rl_idn(self, s: list[int], p: list[str]) -> str:
        _no_params(p)
        _, laser = self._rlaser(s[0])
        return "NONE" if laser is None else f"EXFO,{laser.name},0,{laser.firmware}"

    def _q_rl_power(self, s: list[int], p: list[str]) -> str:
        _no_params(p)
        return sci(self._rlaser(s[0])[0].power_dbm)

    def _s_rl_power(self, s: list[int], p: list[str]) -> None:
        rl, laser = self._rlaser(s[0])
        if laser is None:
            raise ScpiError(-241, f"no laser at position {s[0]}")
        value = parse_power_dbm(_one_param(p))
        rl.power_dbm = _check_range(value, laser.min_power_dbm, laser.max_power_dbm, "power")

    def _q_rl_state(self, s: list[int], p: list[str]) -> str:
        _no_params(p)
        rl, _ = self._rlaser(s[0])
        return "1" if rl.on and self.clock() >= rl.on_at else "0"

    def _s_rl_state(self, s: list[int], p: list[str]) -> None:
        rl, laser = self._rlaser(s[0])
        on = parse_bool(_one_param(p))
        if laser is None and on:
            raise ScpiError(-241, f"no laser at position {s[0]}")
        if on and not rl.on:
            rl.on_at = self.clock() + self.options.rlaser_switch_s / self.speedup
        rl.on = on

    def _q_rl_wav(self, s: list[int], p: list[str]) -> str:
        _no_params(p)
        return sci(self._rlaser(s[0])[0].wavelength_nm * 1e-9)

    def _s_rl_wav(self, s: list[int], p: list[str]) -> None:
        rl, laser = self._rlaser(s[0])
        if laser is None:
            raise ScpiError(-241, f"no laser at position {s[0]}")
        value = parse_wavelength_nm(_one_param(p))
        rl.wavelength_nm = _check_range(value, laser.start_nm, laser.stop_nm, "wavelength")

    # ------------------------------------------------------------------ detectors

    def _q_power(self, s: list[int], p: list[str]) -> str:
        if p:
            _no_params(p)
        det = self._detector(s[0], s[1])
        return self._power_reply(det, self.coupling.loss_db(self.clock()) if det.coupled else 0.0)

    def _power_reply(self, det: _Detector, coupling_loss_db: float) -> str:
        """Format one detector's power reply; coupling_loss_db applies if it is coupled."""
        # The hot path of live polling: no lock, no lookup, no numpy call.
        if det.failed:
            return GARBLED_VALUE
        dbm = det.level_dbm
        if det.coupled:
            dbm += coupling_loss_db
        if self.noise_db > 0:
            dbm += self.noise_db * self._standard_normal()
        options = self.options
        if options.unique_power:
            self._power_seq = (self._power_seq + 1) % 1000
            dbm += self._power_seq * 1e-6
        if dbm < DETECTOR_FLOOR_DBM:
            under = options.under_range
            if under == "keysight":
                text = sci(-200.0) if not det.unit_mw else sci(1e-20)
            else:
                text = "-INF" if under == "inf" else "-9.91E37"
        elif dbm > DETECTOR_MAX_DBM:
            text = "INF" if options.under_range == "inf" else "+9.91E37"
        else:
            text = sci(10.0 ** (dbm / 10.0)) if det.unit_mw else sci(dbm)
        if options.power_reply == "with_unit":
            return f"{text},{'MW' if det.unit_mw else 'DBM'}"
        return text

    def _standard_normal(self) -> float:
        """Return the next standard normal draw of the noise generator (same sequence)."""
        if not self._normals:
            # One numpy call per 1024 draws instead of one per reply; reversed so that pop()
            # hands them out in the generator's order.
            self._normals = self._rng.standard_normal(1024).tolist()[::-1]
        return self._normals.pop()

    def _q_unit_y(self, s: list[int], p: list[str]) -> str:
        _no_params(p)
        return _unit_y_reply(self._detector(s[0], s[1]).unit_mw, self.options.unit_reply == "text")

    def _s_unit_y(self, s: list[int], p: list[str]) -> None:
        det = self._detector(s[0], s[1])
        word = _one_param(p).upper()
        if word not in ("DBM", "MW", "0", "1"):
            raise ScpiError(-224, f"unit {word}")
        det.unit_mw = word in ("MW", "1")

    def _q_unit_x(self, s: list[int], p: list[str]) -> str:
        _no_params(p)
        freq = self._detector(s[0], s[1]).unit_freq
        if self.options.unit_reply == "text":
            return "FREQ" if freq else "WAV"
        return "1" if freq else "0"

    def _s_unit_x(self, s: list[int], p: list[str]) -> None:
        det = self._detector(s[0], s[1])
        word = _one_param(p).upper()
        if word not in ("WAV", "WAVELENGTH", "FREQ", "FREQUENCY", "0", "1"):
            raise ScpiError(-224, f"unit {word}")
        det.unit_freq = word in ("FREQ", "FREQUENCY", "1")

    def _q_det_wav(self, s: list[int], p: list[str]) -> str:
        _no_params(p)
        return sci(self._detector(s[0], s[1]).wavelength_nm * 1e-9)

    def _s_det_wav(self, s: list[int], p: list[str]) -> None:
        det = self._detector(s[0], s[1])
        value = parse_wavelength_nm(_one_param(p))
        det.wavelength_nm = _check_range(value, DETECTOR_MIN_NM, DETECTOR_MAX_NM, "wavelength")

    # ------------------------------------------------------------------ referencing, traces

    def _s_ref_init(self, s: list[int], p: list[str]) -> None:
        _no_params(p)
        self._detector(s[0], s[1])
        self._begin("reference", s[0], s[1])

    def _q_ref_result(self, s: list[int], p: list[str]) -> str:
        _no_params(p)
        self._detector(s[0], s[1])
        taken = self._references.get((s[0], s[1]))
        return "0" if taken is None else f"1,1,{taken:%Y%m%d},{taken:%H%M%S}"

    def _trace_target(self, s: list[int]) -> tuple[int, int, int]:
        self._detector(s[0], s[1])
        if s[2] not in TRACE_TYPES:
            raise ScpiError(-114, f"TYPE{s[2]}")
        return s[0], s[1], s[2]

    def _trace_values(self, module: int, channel: int, trace_type: int) -> np.ndarray:
        """Return the trace of the last scan as big-endian float32 (cached per scan)."""
        record = self._record
        if record is None:
            return np.zeros(0, dtype=">f4")
        key = (record.sweep_id, module, channel, trace_type)
        cached = self._trace_cache.get(key)
        if cached is not None:
            self._trace_cache.move_to_end(key)
            return cached
        seed = self.options.seed
        chip = self._chips.get((module, channel))
        if chip is None:
            chip = self._chips[(module, channel)] = RingChip.draw(seed, module, channel)
        wl = record.wavelength_nm
        det = self._detectors[(module, channel)]
        base = record.source_power_dbm - 10.0 - 0.3 * channel
        if trace_type == 1:
            rng = np.random.default_rng([seed, record.sweep_id, module, channel, 1])
            values = transfer_function_db(chip, det.port, wl, rng)
        elif trace_type == 11:
            tf = self._trace_values(module, channel, 1).astype(np.float64)
            rng = np.random.default_rng([seed, record.sweep_id, module, channel, 11])
            values = tf + reference_level_dbm(wl, base, chip.ripple_phase, rng, 0.0)
        else:
            rng = np.random.default_rng([seed, record.sweep_id, module, channel, trace_type])
            offset = 0.02 if trace_type == 13 else 0.0
            values = reference_level_dbm(wl, base + offset, chip.ripple_phase, rng, 0.003)
        result = np.ascontiguousarray(values, dtype=">f4")
        self._trace_cache[key] = result
        while len(self._trace_cache) > _TRACE_CACHE_ENTRIES:
            self._trace_cache.popitem(last=False)
        return result

    @staticmethod
    def _format_arg(p: list[str], allowed_units: tuple[str, ...]) -> tuple[bool, str]:
        if len(p) > 2:
            raise ScpiError(-108, f"unexpected {p[2:]!r}")
        fmt = p[0].upper() if p else "BIN"
        unit = p[1].upper() if len(p) > 1 else allowed_units[0]
        if fmt not in ("BIN", "BINARY", "ASC", "ASCII"):
            raise ScpiError(-224, f"format {fmt}")
        if unit not in allowed_units:
            raise ScpiError(-224, f"unit {unit}")
        return fmt.startswith("BIN"), unit

    def _encode(self, values: np.ndarray, binary: bool, dtype: str) -> str | bytes:
        if binary:
            return definite_block(np.ascontiguousarray(values, dtype=dtype).tobytes(),
                                  self.options.block_trailer)
        return ",".join(map("{:.6E}".format, values.tolist()))

    def _q_trace_y(self, s: list[int], p: list[str]) -> str | bytes:
        module, channel, trace_type = self._trace_target(s)
        binary, unit = self._format_arg(p, ("DB", "DBM", "MW", "W"))
        values: np.ndarray = self._trace_values(module, channel, trace_type)
        if unit in ("MW", "W"):  # linear: mW for raw traces, a ratio for TF (×1e-3 for W)
            values = 10.0 ** (values.astype(np.float64) / 10.0) * (1e-3 if unit == "W" else 1.0)
        return self._encode(values, binary, ">f4")

    def _q_trace_x(self, s: list[int], p: list[str]) -> str | bytes:
        self._trace_target(s)
        binary, _ = self._format_arg(p, ("M",))
        record = self._record
        wl_m = record.wavelength_nm * 1e-9 if record is not None else np.zeros(0)
        return self._encode(wl_m, binary, ">f8")

    def _q_trace_length(self, s: list[int], p: list[str]) -> str:
        _no_params(p)
        self._trace_target(s)
        return str(self._record.points if self._record is not None else 0)

    def _q_trace_start(self, s: list[int], p: list[str]) -> str:
        _no_params(p)
        self._trace_target(s)
        start = self._record.start_nm if self._record is not None else self._state.start_nm
        return sci(start * 1e-9)

    def _q_trace_sampling(self, s: list[int], p: list[str]) -> str:
        _no_params(p)
        self._trace_target(s)
        step = self._record.sampling_pm if self._record is not None else self._state.sampling_pm
        return sci(step * 1e-12)

    # ------------------------------------------------------------------ SIMulate extensions

    def _faults(self) -> LinkFaults:
        if self.link_faults is None:
            raise ScpiError(-200, "link faults need a running SimulatorServer")
        return self.link_faults

    def _s_sim_pause(self, s: list[int], p: list[str]) -> None:
        seconds = _check_range(parse_time_s(_one_param(p)), 0.0, 3600.0, "pause")
        self._faults().pause(seconds)

    def _s_sim_garbage(self, s: list[int], p: list[str]) -> None:
        n = int(_check_range(parse_int(_one_param(p) if p else "1"), 0, 1_000_000, "count"))
        self._faults().garbage_next(n)

    def _s_sim_truncate(self, s: list[int], p: list[str]) -> None:
        if len(p) > 2:
            raise ScpiError(-108)
        n = int(_check_range(parse_int(p[0]) if p else 1, 0, 1_000_000, "count"))
        close = parse_bool(p[1]) if len(p) > 1 else False
        self._faults().truncate_next(n, close=close)

    def _q_sim_late(self, s: list[int], p: list[str]) -> str:
        _no_params(p)
        return short_number(self._faults().late_reply_s)

    def _s_sim_late(self, s: list[int], p: list[str]) -> None:
        seconds = _check_range(parse_time_s(_one_param(p)), 0.0, 3600.0, "late reply")
        self._faults().late_reply_s = seconds

    def _s_sim_drop(self, s: list[int], p: list[str]) -> None:
        _no_params(p)
        self._faults().drop_connections()

    def _s_sim_reset(self, s: list[int], p: list[str]) -> None:
        _no_params(p)
        self._faults().reset_connections()

    def _s_sim_refuse(self, s: list[int], p: list[str]) -> None:
        seconds = _check_range(parse_time_s(_one_param(p)), 0.0, 3600.0, "refuse")
        self._faults().refuse(seconds)

    def _s_sim_fail_channel(self, s: list[int], p: list[str]) -> None:
        module_text, channel_text, on_text = _n_params(p, 3)
        self._detector(parse_int(module_text), parse_int(channel_text)).failed = parse_bool(
            on_text
        )

    def _s_sim_clear(self, s: list[int], p: list[str]) -> None:
        _no_params(p)
        for det in self._detectors.values():
            det.failed = False
        if self.link_faults is not None:
            self.link_faults.clear()

    def _q_sim_offset(self, s: list[int], p: list[str]) -> str:
        _no_params(p)
        self.coupling.advance(self.clock())
        x, y = self.coupling.offset_um
        return f"{x:.4f},{y:.4f}"

    def _s_sim_offset(self, s: list[int], p: list[str]) -> None:
        units = {"": 1.0, "UM": 1.0, "NM": 1e-3}
        x_text, y_text = _n_params(p, 2)
        x, y = parse_scaled(x_text, units), parse_scaled(y_text, units)
        _check_range(x, -100.0, 100.0, "x offset")
        _check_range(y, -100.0, 100.0, "y offset")
        self.coupling.set_offset(x, y, self.clock())

    def _q_sim_drift(self, s: list[int], p: list[str]) -> str:
        _no_params(p)
        return "1" if self.coupling.drift else "0"

    def _s_sim_drift(self, s: list[int], p: list[str]) -> None:
        self.set_drift(parse_bool(_one_param(p)))

    def _q_sim_serial(self, s: list[int], p: list[str]) -> str:
        _no_params(p)
        return self.serial

    def _s_sim_serial(self, s: list[int], p: list[str]) -> None:
        serial = parse_string(_one_param(p))
        if not serial or "," in serial or ";" in serial:
            raise ScpiError(-224, f"serial {serial!r}")
        self.serial = serial

    def _q_sim_level(self, s: list[int], p: list[str]) -> str:
        module_text, channel_text = _n_params(p, 2)
        return sci(self._detector(parse_int(module_text), parse_int(channel_text)).level_dbm)

    def _s_sim_level(self, s: list[int], p: list[str]) -> None:
        module_text, channel_text, level_text = _n_params(p, 3)
        det = self._detector(parse_int(module_text), parse_int(channel_text))
        det.level_dbm = _check_range(parse_power_dbm(level_text), -150.0, 50.0, "level")

    def _q_sim_noise(self, s: list[int], p: list[str]) -> str:
        _no_params(p)
        return short_number(self.noise_db)

    def _s_sim_noise(self, s: list[int], p: list[str]) -> None:
        self.noise_db = _check_range(parse_plain(_one_param(p)), 0.0, 1.0, "noise")

    def _q_sim_speedup(self, s: list[int], p: list[str]) -> str:
        _no_params(p)
        return short_number(self.speedup)

    def _s_sim_speedup(self, s: list[int], p: list[str]) -> None:
        self.speedup = _check_range(parse_plain(_one_param(p)), 1e-3, 1e6, "speedup")


def _unit_y_reply(mw: bool, text: bool) -> str:
    """Return a UNIT:Y? reply: "MW"/"DBM" as text, else the code "1"/"0"."""
    if text:
        return "MW" if mw else "DBM"
    return "1" if mw else "0"
