"""Referencing and trace commands of the simulated CTP10: :REFerence and :TRACe per detector."""

from __future__ import annotations

from collections import OrderedDict, deque

import numpy as np

from ctp10_gui.simulator.dispatch import Dispatcher
from ctp10_gui.simulator.facts import (
    REFERENCE_TYPE_TF,
    SPEED_OF_LIGHT_M_S,
    TRACE_TYPES_OFFERED,
)
from ctp10_gui.simulator.parser import ScpiError, definite_block, no_params, sci
from ctp10_gui.simulator.physics import RingChip, reference_level_dbm, transfer_function_db
from ctp10_gui.simulator.state import InstrumentState

_TRACE_CACHE_ENTRIES = 12  # ≈ 45 MB at 940 001 points: a few channels × types of the last sweep
_Y_UNITS = ("DB", "DBM", "MW", "W", "Y")  # Y = linear (PyMeasure PR #1366 get_data_y)
_X_UNITS = ("M", "HZ")  # PyMeasure PR #1366 get_data_x: 'M' metres, 'HZ' hertz


class TraceCommands:
    """Take references and serve the traces of the last finished scan (types 1, 11, 12, 13)."""

    def __init__(self, state: InstrumentState) -> None:
        self._state = state
        self._cache: OrderedDict[tuple[int, int, int, int], np.ndarray] = OrderedDict()
        self._chips: dict[tuple[int, int], RingChip] = {}
        # (sweep id, module, channel, type) of the last traces saved to the instrument's memory
        self.saved: deque[tuple[int, int, int, int]] = deque(maxlen=100)

    def register(self, dispatcher: Dispatcher) -> None:
        """Declare these commands on dispatcher."""
        add = dispatcher.add
        add("REFerence:SENSe#:CHANnel#:INITiate", set_=self._s_ref_init)
        add("REFerence:SENSe#:CHANnel#:RESult", query=self._q_ref_result)
        add("TRACe:SENSe#:CHANnel#:TYPE#:DATA", query=self._q_y)
        add("TRACe:SENSe#:CHANnel#:TYPE#:DATA:X", query=self._q_x)
        add("TRACe:SENSe#:CHANnel#:TYPE#:DATA:LENGth", query=self._q_length)
        add("TRACe:SENSe#:CHANnel#:TYPE#:DATA:STARt", query=self._q_start)
        add("TRACe:SENSe#:CHANnel#:TYPE#:DATA:SAMPling", query=self._q_sampling)
        add("TRACe:SENSe#:CHANnel#:TYPE#:SAVE", set_=self._s_save)

    # ------------------------------------------------------------------ referencing

    def _s_ref_init(self, s: list[int], p: list[str]) -> None:
        no_params(p)
        self._state.detector(s[0], s[1])
        self._state.begin("reference", s[0], s[1])

    def _q_ref_result(self, s: list[int], p: list[str]) -> str:
        no_params(p)
        self._state.detector(s[0], s[1])
        taken = self._state.references.get((s[0], s[1]))
        if taken is None:
            return "0"
        # The simulated detectors take TF references (one sweep): type 0.
        return f"1,{REFERENCE_TYPE_TF},{taken:%Y%m%d},{taken:%H%M%S}"

    # ------------------------------------------------------------------ traces

    def _target(self, s: list[int]) -> tuple[int, int, int]:
        """Return (module, channel, type); -114 for a type the detector does not offer."""
        self._state.detector(s[0], s[1])
        if s[2] not in TRACE_TYPES_OFFERED:
            raise ScpiError(-114, f"TYPE{s[2]}")
        return s[0], s[1], s[2]

    def values(self, module: int, channel: int, trace_type: int) -> np.ndarray:
        """Return the trace of the last scan as big-endian float32 (cached per scan)."""
        state = self._state
        record = state.record
        if record is None:
            return np.zeros(0, dtype=">f4")
        key = (record.sweep_id, module, channel, trace_type)
        cached = self._cache.get(key)
        if cached is not None:
            self._cache.move_to_end(key)
            return cached
        if self._cache and next(iter(self._cache))[0] != record.sweep_id:
            self._cache.clear()  # a new scan: the old traces are gone on the instrument too
        seed = state.options.seed
        chip = self._chips.get((module, channel))
        if chip is None:
            chip = self._chips[(module, channel)] = RingChip.draw(seed, module, channel)
        wl = record.wavelength_nm
        det = state.detectors[(module, channel)]
        base = record.source_power_dbm - 10.0 - 0.3 * channel
        values: np.ndarray
        if trace_type == 1:
            rng = np.random.default_rng([seed, record.sweep_id, module, channel, 1])
            values = transfer_function_db(chip, det.port, wl, rng)
        elif trace_type == 11:
            tf = self.values(module, channel, 1).astype(np.float64)
            rng = np.random.default_rng([seed, record.sweep_id, module, channel, 11])
            values = tf + reference_level_dbm(wl, base, chip.ripple_phase, rng, 0.0)
        else:
            rng = np.random.default_rng([seed, record.sweep_id, module, channel, trace_type])
            offset = 0.02 if trace_type == 13 else 0.0
            values = reference_level_dbm(wl, base + offset, chip.ripple_phase, rng, 0.003)
        result = np.ascontiguousarray(values, dtype=">f4")
        self._cache[key] = result
        while len(self._cache) > _TRACE_CACHE_ENTRIES:
            self._cache.popitem(last=False)
        return result

    @staticmethod
    def _format_arg(p: list[str], allowed_units: tuple[str, ...]) -> tuple[bool, str]:
        """Return (binary, unit) of '[BIN|ASCii][,<unit>]'; -224 for anything else."""
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
            return definite_block(
                np.ascontiguousarray(values, dtype=dtype).tobytes(),
                self._state.options.block_trailer,
            )
        return ",".join(map("{:.6E}".format, values.tolist()))

    def _q_y(self, s: list[int], p: list[str]) -> str | bytes:
        module, channel, trace_type = self._target(s)
        binary, unit = self._format_arg(p, _Y_UNITS)
        values = self.values(module, channel, trace_type)
        if unit in ("MW", "W", "Y"):  # linear: mW for raw traces, a ratio for TF (×1e-3 for W)
            values = 10.0 ** (values.astype(np.float64) / 10.0) * (1e-3 if unit == "W" else 1.0)
        return self._encode(values, binary, ">f4")

    def _q_x(self, s: list[int], p: list[str]) -> str | bytes:
        self._target(s)
        binary, unit = self._format_arg(p, _X_UNITS)
        record = self._state.record
        wl_m = record.wavelength_nm * 1e-9 if record is not None else np.zeros(0)
        axis = SPEED_OF_LIGHT_M_S / wl_m if unit == "HZ" else wl_m  # same point order as Y
        return self._encode(axis, binary, ">f8")

    def _q_length(self, s: list[int], p: list[str]) -> str:
        no_params(p)
        self._target(s)
        record = self._state.record
        return str(record.points if record is not None else 0)

    def _q_start(self, s: list[int], p: list[str]) -> str:
        no_params(p)
        self._target(s)
        record = self._state.record
        start = record.start_nm if record is not None else self._state.settings.start_nm
        return sci(start * 1e-9)

    def _q_sampling(self, s: list[int], p: list[str]) -> str:
        no_params(p)
        self._target(s)
        record = self._state.record
        step = record.sampling_pm if record is not None else self._state.settings.sampling_pm
        return sci(step * 1e-12)

    def _s_save(self, s: list[int], p: list[str]) -> None:
        # Saves the trace as CSV in the instrument's memory (manual, PyMeasure PR #1366 save());
        # with no finished scan there is nothing to save: -200 "Execution error".
        no_params(p)
        module, channel, trace_type = self._target(s)
        record = self._state.record
        if record is None:
            raise ScpiError(-200, "no trace to save before the first scan")
        self.saved.append((record.sweep_id, module, channel, trace_type))
