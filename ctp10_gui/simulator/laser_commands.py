"""Reference-laser commands of the simulated CTP10: :CTP:RLASer1–10 identity, power, wavelength."""

from __future__ import annotations

from ctp10_gui.simulator.dispatch import Dispatcher
from ctp10_gui.simulator.facts import EMPTY_LASER_IDENTITY, LaserModel
from ctp10_gui.simulator.parser import (
    ScpiError,
    check_range,
    no_params,
    one_param,
    parse_bool,
    parse_power_dbm,
    parse_wavelength_nm,
    sci,
)
from ctp10_gui.simulator.state import InstrumentState, ReferenceLaser


class LaserCommands:
    """Static control of laser positions 1–10; empty positions answer per options.empty_laser.

    An empty position always answers IDN? with NONE (the reference) and refuses settings with
    -241. Its other queries are the unsure part: "values" answers the stored setpoints,
    "silent" sends no reply at all, "error" queues -241 and sends no reply.
    """

    def __init__(self, state: InstrumentState) -> None:
        self._state = state

    def register(self, dispatcher: Dispatcher) -> None:
        """Declare these commands on dispatcher."""
        add = dispatcher.add
        add("CTP:RLASer#:IDN", query=self._q_idn)
        add("CTP:RLASer#:POWer", self._q_power, self._s_power)
        add("CTP:RLASer#:POWer:STATe", self._q_state, self._s_state)
        add("CTP:RLASer#:WAVelength", self._q_wavelength, self._s_wavelength)

    def _queried(self, r: int) -> ReferenceLaser | None:
        """Return position r for a query, or None when an empty position stays silent."""
        laser, model = self._state.rlaser(r)
        if model is None:
            variant = self._state.options.empty_laser
            if variant == "error":
                raise ScpiError(-241, f"no laser at position {r}")
            if variant == "silent":
                return None
        return laser

    def _installed(self, r: int) -> tuple[ReferenceLaser, LaserModel]:
        """Return position r and its model for a setting; -241 when the position is empty."""
        laser, model = self._state.rlaser(r)
        if model is None:
            raise ScpiError(-241, f"no laser at position {r}")
        return laser, model

    def _q_idn(self, s: list[int], p: list[str]) -> str:
        no_params(p)
        _, model = self._state.rlaser(s[0])
        return EMPTY_LASER_IDENTITY if model is None else f"EXFO,{model.name},0,{model.firmware}"

    def _q_power(self, s: list[int], p: list[str]) -> str | None:
        no_params(p)
        laser = self._queried(s[0])
        return None if laser is None else sci(laser.power_dbm)

    def _s_power(self, s: list[int], p: list[str]) -> None:
        laser, model = self._installed(s[0])
        value = parse_power_dbm(one_param(p))
        laser.power_dbm = check_range(value, model.min_power_dbm, model.max_power_dbm, "power")

    def _q_state(self, s: list[int], p: list[str]) -> str | None:
        no_params(p)
        laser = self._queried(s[0])
        if laser is None:
            return None
        return "1" if laser.on and self._state.clock() >= laser.on_at else "0"

    def _s_state(self, s: list[int], p: list[str]) -> None:
        laser, model = self._state.rlaser(s[0])
        on = parse_bool(one_param(p))
        if model is None and on:
            raise ScpiError(-241, f"no laser at position {s[0]}")
        if on and not laser.on:
            state = self._state
            laser.on_at = state.clock() + state.options.rlaser_switch_s / state.speedup
        laser.on = on

    def _q_wavelength(self, s: list[int], p: list[str]) -> str | None:
        no_params(p)
        laser = self._queried(s[0])
        return None if laser is None else sci(laser.wavelength_nm * 1e-9)

    def _s_wavelength(self, s: list[int], p: list[str]) -> None:
        laser, model = self._installed(s[0])
        value = parse_wavelength_nm(one_param(p))
        laser.wavelength_nm = check_range(value, model.start_nm, model.stop_nm, "wavelength")
