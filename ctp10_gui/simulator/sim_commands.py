"""The SIMulate:… commands: drive the simulator's faults and physics over SCPI (not the CTP10's)."""

from __future__ import annotations

from typing import Protocol

from ctp10_gui.simulator.dispatch import Dispatcher
from ctp10_gui.simulator.parser import (
    ScpiError,
    check_range,
    n_params,
    no_params,
    one_param,
    parse_bool,
    parse_int,
    parse_plain,
    parse_power_dbm,
    parse_scaled,
    parse_string,
    parse_time_s,
    sci,
    short_number,
)
from ctp10_gui.simulator.state import InstrumentState


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


class SimCommands:
    """SIMulate:FAULt:…, COUPling, DRIFt, SERial, LEVel, NOISe, SPEedup (see the package doc)."""

    def __init__(self, state: InstrumentState) -> None:
        self._state = state
        self.link_faults: LinkFaults | None = None

    def register(self, dispatcher: Dispatcher) -> None:
        """Declare these commands on dispatcher."""
        add = dispatcher.add
        add("SIMulate:FAULt:PAUSe", set_=self._s_pause)
        add("SIMulate:FAULt:GARBage", set_=self._s_garbage)
        add("SIMulate:FAULt:TRUNcate", set_=self._s_truncate)
        add("SIMulate:FAULt:LATE", self._q_late, self._s_late)
        add("SIMulate:FAULt:DROP", set_=self._s_drop)
        add("SIMulate:FAULt:RST", set_=self._s_reset)
        add("SIMulate:FAULt:RESet", set_=self._s_reset)
        add("SIMulate:FAULt:REFuse", set_=self._s_refuse)
        add("SIMulate:FAULt:CHANnel", set_=self._s_fail_channel)
        add("SIMulate:FAULt:CLEar", set_=self._s_clear)
        add("SIMulate:COUPling:OFFSet", self._q_offset, self._s_offset)
        add("SIMulate:DRIFt", self._q_drift, self._s_drift)
        add("SIMulate:SERial", self._q_serial, self._s_serial)
        add("SIMulate:LEVel", self._q_level, self._s_level)
        add("SIMulate:NOISe", self._q_noise, self._s_noise)
        add("SIMulate:SPEedup", self._q_speedup, self._s_speedup)

    def _faults(self) -> LinkFaults:
        if self.link_faults is None:
            raise ScpiError(-200, "link faults need a running SimulatorServer")
        return self.link_faults

    def _s_pause(self, s: list[int], p: list[str]) -> None:
        seconds = check_range(parse_time_s(one_param(p)), 0.0, 3600.0, "pause")
        self._faults().pause(seconds)

    def _s_garbage(self, s: list[int], p: list[str]) -> None:
        n = int(check_range(parse_int(one_param(p) if p else "1"), 0, 1_000_000, "count"))
        self._faults().garbage_next(n)

    def _s_truncate(self, s: list[int], p: list[str]) -> None:
        if len(p) > 2:
            raise ScpiError(-108)
        n = int(check_range(parse_int(p[0]) if p else 1, 0, 1_000_000, "count"))
        close = parse_bool(p[1]) if len(p) > 1 else False
        self._faults().truncate_next(n, close=close)

    def _q_late(self, s: list[int], p: list[str]) -> str:
        no_params(p)
        return short_number(self._faults().late_reply_s)

    def _s_late(self, s: list[int], p: list[str]) -> None:
        seconds = check_range(parse_time_s(one_param(p)), 0.0, 3600.0, "late reply")
        self._faults().late_reply_s = seconds

    def _s_drop(self, s: list[int], p: list[str]) -> None:
        no_params(p)
        self._faults().drop_connections()

    def _s_reset(self, s: list[int], p: list[str]) -> None:
        no_params(p)
        self._faults().reset_connections()

    def _s_refuse(self, s: list[int], p: list[str]) -> None:
        seconds = check_range(parse_time_s(one_param(p)), 0.0, 3600.0, "refuse")
        self._faults().refuse(seconds)

    def _s_fail_channel(self, s: list[int], p: list[str]) -> None:
        module_text, channel_text, on_text = n_params(p, 3)
        det = self._state.detector(parse_int(module_text), parse_int(channel_text))
        det.failed = parse_bool(on_text)

    def _s_clear(self, s: list[int], p: list[str]) -> None:
        no_params(p)
        for det in self._state.detectors.values():
            det.failed = False
        if self.link_faults is not None:
            self.link_faults.clear()

    def _q_offset(self, s: list[int], p: list[str]) -> str:
        no_params(p)
        coupling = self._state.coupling
        coupling.advance(self._state.clock())
        x, y = coupling.offset_um
        return f"{x:.4f},{y:.4f}"

    def _s_offset(self, s: list[int], p: list[str]) -> None:
        units = {"": 1.0, "UM": 1.0, "NM": 1e-3}
        x_text, y_text = n_params(p, 2)
        x, y = parse_scaled(x_text, units), parse_scaled(y_text, units)
        check_range(x, -100.0, 100.0, "x offset")
        check_range(y, -100.0, 100.0, "y offset")
        self._state.coupling.set_offset(x, y, self._state.clock())

    def _q_drift(self, s: list[int], p: list[str]) -> str:
        no_params(p)
        return "1" if self._state.coupling.drift else "0"

    def _s_drift(self, s: list[int], p: list[str]) -> None:
        on = parse_bool(one_param(p))
        coupling = self._state.coupling
        coupling.advance(self._state.clock())
        coupling.drift = on

    def _q_serial(self, s: list[int], p: list[str]) -> str:
        no_params(p)
        return self._state.serial

    def _s_serial(self, s: list[int], p: list[str]) -> None:
        serial = parse_string(one_param(p))
        if not serial or "," in serial or ";" in serial:
            raise ScpiError(-224, f"serial {serial!r}")
        self._state.serial = serial

    def _q_level(self, s: list[int], p: list[str]) -> str:
        module_text, channel_text = n_params(p, 2)
        det = self._state.detector(parse_int(module_text), parse_int(channel_text))
        return sci(det.level_dbm)

    def _s_level(self, s: list[int], p: list[str]) -> None:
        module_text, channel_text, level_text = n_params(p, 3)
        det = self._state.detector(parse_int(module_text), parse_int(channel_text))
        det.level_dbm = check_range(parse_power_dbm(level_text), -150.0, 50.0, "level")

    def _q_noise(self, s: list[int], p: list[str]) -> str:
        no_params(p)
        return short_number(self._state.noise_db)

    def _s_noise(self, s: list[int], p: list[str]) -> None:
        self._state.noise_db = check_range(parse_plain(one_param(p)), 0.0, 1.0, "noise")

    def _q_speedup(self, s: list[int], p: list[str]) -> str:
        no_params(p)
        return short_number(self._state.speedup)

    def _s_speedup(self, s: list[int], p: list[str]) -> None:
        self._state.speedup = check_range(parse_plain(one_param(p)), 1e-3, 1e6, "speedup")
