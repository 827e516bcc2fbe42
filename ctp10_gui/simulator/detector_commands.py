"""Detector commands of the simulated CTP10: live power (hot path), units, wavelength, trigger."""

from __future__ import annotations

import numpy as np

from ctp10_gui.simulator.dispatch import Dispatcher, Unit
from ctp10_gui.simulator.facts import (
    DETECTOR_FLOOR_DBM,
    DETECTOR_MAX_DBM,
    DETECTOR_MAX_NM,
    DETECTOR_MIN_NM,
    TRIGGER_INPUTS,
)
from ctp10_gui.simulator.parser import (
    ScpiError,
    check_range,
    no_params,
    one_param,
    parse_int,
    parse_wavelength_nm,
    sci,
)
from ctp10_gui.simulator.state import Detector, InstrumentState

GARBLED_VALUE = "x#@!"  # what a failed channel answers instead of a number


class DetectorCommands:
    """:CTP:SENSe<m>:CHANnel<c>: POWer?, UNIT:Y, UNIT:X, WAVelength, FUNCtion:TRIGger."""

    def __init__(self, state: InstrumentState) -> None:
        self._state = state
        self._options = state.options  # frozen: read once, not per reply
        self._rng = np.random.default_rng([state.options.seed, 1])
        self._normals: list[float] = []
        self._power_seq = 0

    def register(self, dispatcher: Dispatcher) -> None:
        """Declare these commands on dispatcher, and the one-pass compound power answer."""
        add = dispatcher.add
        add("CTP:SENSe#:CHANnel#:POWer", query=self._q_power)
        add("CTP:SENSe#:CHANnel#:UNIT:Y", self._q_unit_y, self._s_unit_y)
        add("CTP:SENSe#:CHANnel#:UNIT:X", self._q_unit_x, self._s_unit_x)
        add("CTP:SENSe#:CHANnel#:WAVelength", self._q_wavelength, self._s_wavelength)
        # The logging function's trigger (PyMeasure PR #1366 DetectorChannel.trigger, which
        # spells it FUNCtion:TRIGGer: the same header in any case).
        add("CTP:SENSe#:CHANnel#:FUNCtion:TRIGger", self._q_trigger, self._s_trigger)
        dispatcher.add_batcher(self._batch_powers)

    def _batch_powers(self, units: list[Unit]) -> Unit | None:
        """Return one unit answering a compound of power and power-unit queries, or None.

        A detector module reads its channels together and knows their units; so does the
        simulator: one clock and coupling reading and one dispatch for the whole message, the
        units read at the same moment as the powers. Anything else (another command, a
        parameter, a missing detector, whose error must be queued in order) is answered unit
        by unit.
        """
        parts: list[tuple[bool, Detector]] = []
        for handler, suffixes, params in units:
            is_unit = handler == self._q_unit_y
            if params or not (is_unit or handler == self._q_power):
                return None
            try:
                parts.append((is_unit, self._state.detector(*suffixes)))
            except ScpiError:
                return None
        batch = tuple(parts)
        return (lambda _suffixes, _params: self._power_replies(batch)), (), []

    def _power_replies(self, parts: tuple[tuple[bool, Detector], ...]) -> str:
        """Answer the power (False) and unit (True) queries of these detectors, ';'-joined."""
        state = self._state
        loss_db = state.coupling.loss_db(state.clock())
        text = state.options.unit_reply == "text"
        return ";".join([
            unit_y_reply(det.unit_mw, text) if is_unit else self._power_reply(det, loss_db)
            for is_unit, det in parts
        ])

    def _q_power(self, s: list[int], p: list[str]) -> str:
        if p:
            no_params(p)
        state = self._state
        det = state.detector(s[0], s[1])
        return self._power_reply(det, state.coupling.loss_db(state.clock()) if det.coupled else 0.0)

    def _power_reply(self, det: Detector, coupling_loss_db: float) -> str:
        """Format one detector's power reply; coupling_loss_db applies if it is coupled."""
        # The hot path of live polling: no lock, no lookup, no numpy call.
        if det.failed:
            return GARBLED_VALUE
        dbm = det.level_dbm
        if det.coupled:
            dbm += coupling_loss_db
        noise_db = self._state.noise_db
        if noise_db > 0:
            dbm += noise_db * self._standard_normal()
        options = self._options
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
        no_params(p)
        return unit_y_reply(self._state.detector(s[0], s[1]).unit_mw,
                            self._state.options.unit_reply == "text")

    def _s_unit_y(self, s: list[int], p: list[str]) -> None:
        det = self._state.detector(s[0], s[1])
        word = one_param(p).upper()
        if word not in ("DBM", "MW", "0", "1"):
            raise ScpiError(-224, f"unit {word}")
        det.unit_mw = word in ("MW", "1")

    def _q_unit_x(self, s: list[int], p: list[str]) -> str:
        no_params(p)
        freq = self._state.detector(s[0], s[1]).unit_freq
        if self._state.options.unit_reply == "text":
            return "FREQ" if freq else "WAV"
        return "1" if freq else "0"

    def _s_unit_x(self, s: list[int], p: list[str]) -> None:
        det = self._state.detector(s[0], s[1])
        word = one_param(p).upper()
        if word not in ("WAV", "WAVELENGTH", "FREQ", "FREQUENCY", "0", "1"):
            raise ScpiError(-224, f"unit {word}")
        det.unit_freq = word in ("FREQ", "FREQUENCY", "1")

    def _q_wavelength(self, s: list[int], p: list[str]) -> str:
        no_params(p)
        return sci(self._state.detector(s[0], s[1]).wavelength_nm * 1e-9)

    def _s_wavelength(self, s: list[int], p: list[str]) -> None:
        det = self._state.detector(s[0], s[1])
        value = parse_wavelength_nm(one_param(p))
        det.wavelength_nm = check_range(value, DETECTOR_MIN_NM, DETECTOR_MAX_NM, "wavelength")

    def _q_trigger(self, s: list[int], p: list[str]) -> str:
        no_params(p)
        return str(self._state.detector(s[0], s[1]).logging_trigger)

    def _s_trigger(self, s: list[int], p: list[str]) -> None:
        det = self._state.detector(s[0], s[1])
        value = parse_int(one_param(p))
        det.logging_trigger = int(check_range(value, *TRIGGER_INPUTS, "logging trigger"))


def unit_y_reply(mw: bool, text: bool) -> str:
    """Return a UNIT:Y? reply: "MW"/"DBM" as text, else the code "1"/"0"."""
    if text:
        return "MW" if mw else "DBM"
    return "1" if mw else "0"
