"""Scan commands of the simulated CTP10: :INIT, :ABORt, the global range and TLS 1–4."""

from __future__ import annotations

import math

from ctp10_gui.simulator.dispatch import Dispatcher
from ctp10_gui.simulator.facts import (
    DETECTOR_MAX_NM,
    DETECTOR_MIN_NM,
    HIGH_RES_SAMPLING_PM,
    LASER_POSITIONS,
    SAMPLING_PM,
    STABILIZATION_S,
    TRIGGER_INPUTS,
)
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
    parse_sampling_pm,
    parse_time_s,
    parse_wavelength_nm,
    sci,
    short_number,
)
from ctp10_gui.simulator.state import InstrumentState


def valid_sampling_pm(value: float) -> float:
    """Return the sampling step (pm) the instrument accepts for value, else -222."""
    for hr in HIGH_RES_SAMPLING_PM:
        if math.isclose(value, hr, rel_tol=1e-6):
            return hr
    rounded = round(value)
    if abs(value - rounded) < 1e-6 and SAMPLING_PM[0] <= rounded <= SAMPLING_PM[1]:
        return float(rounded)
    raise ScpiError(-222, f"sampling {value} pm")


class SweepCommands:
    """Global scan settings, start/abort, and the tunable-laser slots TLS 1–4."""

    def __init__(self, state: InstrumentState) -> None:
        self._state = state

    def register(self, dispatcher: Dispatcher) -> None:
        """Declare these commands on dispatcher."""
        add = dispatcher.add
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

    # ------------------------------------------------------------------ global scan

    def _s_abort(self, s: list[int], p: list[str]) -> None:
        no_params(p)
        self._state.abort()

    def _s_init(self, s: list[int], p: list[str]) -> None:
        no_params(p)
        self._state.begin("sweep")

    def _q_sampling(self, s: list[int], p: list[str]) -> str:
        no_params(p)
        return sci(self._state.settings.sampling_pm * 1e-12)

    def _s_sampling(self, s: list[int], p: list[str]) -> None:
        self._state.settings.sampling_pm = valid_sampling_pm(parse_sampling_pm(one_param(p)))

    def _q_sweep_start(self, s: list[int], p: list[str]) -> str:
        no_params(p)
        return sci(self._state.settings.start_nm * 1e-9)

    def _q_sweep_stop(self, s: list[int], p: list[str]) -> str:
        no_params(p)
        return sci(self._state.settings.stop_nm * 1e-9)

    def _s_sweep_start(self, s: list[int], p: list[str]) -> None:
        value = parse_wavelength_nm(one_param(p))
        st = self._state.settings
        if value >= DETECTOR_MAX_NM:
            raise ScpiError(-222, f"start {value}")
        check_range(value, DETECTOR_MIN_NM, DETECTOR_MAX_NM, "start")
        if value >= st.stop_nm:  # keep the span: the stop follows
            st.stop_nm = min(DETECTOR_MAX_NM, value + (st.stop_nm - st.start_nm))
        st.start_nm = value

    def _s_sweep_stop(self, s: list[int], p: list[str]) -> None:
        value = parse_wavelength_nm(one_param(p))
        st = self._state.settings
        if value <= DETECTOR_MIN_NM:
            raise ScpiError(-222, f"stop {value}")
        check_range(value, DETECTOR_MIN_NM, DETECTOR_MAX_NM, "stop")
        if value <= st.start_nm:
            st.start_nm = max(DETECTOR_MIN_NM, value - (st.stop_nm - st.start_nm))
        st.stop_nm = value

    def _q_stab(self, s: list[int], p: list[str]) -> str:
        no_params(p)
        st = self._state.settings
        return f"{int(st.stab_output)},{short_number(st.stab_s)}"

    def _s_stab(self, s: list[int], p: list[str]) -> None:
        output_text, seconds_text = n_params(p, 2)
        output = parse_bool(output_text)
        seconds = check_range(parse_time_s(seconds_text), *STABILIZATION_S, "stabilization")
        self._state.settings.stab_output, self._state.settings.stab_s = output, seconds

    # ------------------------------------------------------------------ tunable lasers

    def _q_tls_id(self, s: list[int], p: list[str]) -> str:
        no_params(p)
        return str(self._state.tls(s[0]).identifier)

    def _s_tls_id(self, s: list[int], p: list[str]) -> None:
        state = self._state
        tls = state.tls(s[0])
        position = parse_int(one_param(p))
        check_range(position, 0, LASER_POSITIONS[1], "identifier")
        if position == tls.identifier:
            return
        if position != 0 and state.laser(position) is None:
            raise ScpiError(-241, f"no laser at position {position}")
        # One laser cannot sweep for two slots at once. No public evidence shows what the CTP10
        # answers; -221 "Settings conflict" is the SCPI standard error for a setting that
        # contradicts another one, so the simulator refuses with it.
        for n, other in state.settings.tls.items():
            if position != 0 and n != s[0] and other.identifier == position:
                raise ScpiError(-221, f"laser {position} already serves TLS{n}")
        state.assign_laser(tls, position)

    def _q_tls_start(self, s: list[int], p: list[str]) -> str:
        no_params(p)
        return sci(self._state.tls(s[0]).start_nm * 1e-9)

    def _q_tls_stop(self, s: list[int], p: list[str]) -> str:
        no_params(p)
        return sci(self._state.tls(s[0]).stop_nm * 1e-9)

    def _s_tls_start(self, s: list[int], p: list[str]) -> None:
        tls, laser = self._state.tls_laser(s[0])
        value = check_range(
            parse_wavelength_nm(one_param(p)), laser.start_nm, laser.stop_nm, "TLS start"
        )
        if value >= laser.stop_nm:
            raise ScpiError(-222, f"TLS start {value} at the end of the range")
        if value >= tls.stop_nm:
            tls.stop_nm = laser.stop_nm
        tls.start_nm = value

    def _s_tls_stop(self, s: list[int], p: list[str]) -> None:
        tls, laser = self._state.tls_laser(s[0])
        value = check_range(
            parse_wavelength_nm(one_param(p)), laser.start_nm, laser.stop_nm, "TLS stop"
        )
        if value <= laser.start_nm:
            raise ScpiError(-222, f"TLS stop {value} at the start of the range")
        if value <= tls.start_nm:
            tls.start_nm = laser.start_nm
        tls.stop_nm = value

    def _q_tls_speed(self, s: list[int], p: list[str]) -> str:
        no_params(p)
        return str(self._state.tls(s[0]).speed_nm_s)

    def _s_tls_speed(self, s: list[int], p: list[str]) -> None:
        tls, laser = self._state.tls_laser(s[0])
        value = parse_plain(one_param(p))
        if value not in laser.speeds_nm_s:
            raise ScpiError(-222, f"speed {value} not allowed for {laser.name}")
        tls.speed_nm_s = int(value)

    def _q_tls_power(self, s: list[int], p: list[str]) -> str:
        no_params(p)
        return sci(self._state.tls(s[0]).power_dbm)

    def _s_tls_power(self, s: list[int], p: list[str]) -> None:
        tls, laser = self._state.tls_laser(s[0])
        value = parse_power_dbm(one_param(p))
        tls.power_dbm = check_range(value, laser.min_power_dbm, laser.max_power_dbm, "power")

    def _q_tls_trig(self, s: list[int], p: list[str]) -> str:
        no_params(p)
        return str(self._state.tls(s[0]).trigger_in)

    def _s_tls_trig(self, s: list[int], p: list[str]) -> None:
        tls = self._state.tls(s[0])
        value = parse_int(one_param(p))
        tls.trigger_in = int(check_range(value, *TRIGGER_INPUTS, "trigger input"))
