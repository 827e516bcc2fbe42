"""The simulated CTP10: its state, its command groups and one lock around each message."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from ctp10_gui.simulator.common_commands import CommonCommands
from ctp10_gui.simulator.detector_commands import DetectorCommands
from ctp10_gui.simulator.dispatch import Dispatcher, Reply
from ctp10_gui.simulator.facts import DEFAULT_LASERS, LaserModel
from ctp10_gui.simulator.laser_commands import LaserCommands
from ctp10_gui.simulator.options import SimulatorOptions
from ctp10_gui.simulator.sim_commands import LinkFaults, SimCommands
from ctp10_gui.simulator.state import InstrumentState, SweepRecord
from ctp10_gui.simulator.sweep_commands import SweepCommands
from ctp10_gui.simulator.trace_commands import TraceCommands


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
        self._lock = threading.RLock()
        self._state = InstrumentState(self.options, clock, wall_clock, lasers)
        self._dispatcher = Dispatcher(
            self._state.push_error,
            compound=self.options.compound,
            block_trailer=self.options.block_trailer,
        )
        self._sim = SimCommands(self._state)
        self._traces = TraceCommands(self._state)
        for group in (
            CommonCommands(self._state),
            SweepCommands(self._state),
            LaserCommands(self._state),
            DetectorCommands(self._state),
            self._traces,
            self._sim,
        ):
            group.register(self._dispatcher)
        # bound once: handle() is the hot path of live polling
        self._advance = self._state.advance
        self._dispatch = self._dispatcher.handle

    def handle(self, line: str) -> Reply:
        """Answer one message (one line, maybe 'A;B?;C?'): reply text, block bytes or None."""
        with self._lock:
            self._advance()
            return self._dispatch(line)

    # ------------------------------------------------------------------ model API for tests

    @property
    def link_faults(self) -> LinkFaults | None:
        """Return the server's link faults that the SIM:FAULt commands drive (None in-process)."""
        return self._sim.link_faults

    @link_faults.setter
    def link_faults(self, faults: LinkFaults | None) -> None:
        self._sim.link_faults = faults

    @property
    def serial(self) -> str:
        """Return the serial number *IDN? answers."""
        return self._state.serial

    @serial.setter
    def serial(self, serial: str) -> None:
        # no lock: a plain assignment, and the server calls this while clients may hold it
        self._state.serial = serial

    @property
    def speedup(self) -> float:
        """Return the factor dividing every instrument duration (≥ 1e-3)."""
        return self._state.speedup

    @speedup.setter
    def speedup(self, speedup: float) -> None:
        self._state.speedup = speedup

    @property
    def noise_db(self) -> float:
        """Return the live power noise, dB rms (0–1)."""
        return self._state.noise_db

    def condition(self) -> int:
        """Return the operation condition register (4 scanning, 16 aborting, 64 referencing)."""
        with self._lock:
            return self._state.condition()

    @property
    def errors(self) -> list[tuple[int, str]]:
        """Return a copy of the error queue, oldest first."""
        with self._lock:
            return list(self._state.error_queue)

    @property
    def last_sweep(self) -> SweepRecord | None:
        """Return the last finished scan, or None before the first one."""
        with self._lock:
            self._state.advance()
            return self._state.record

    @property
    def saved_traces(self) -> list[tuple[int, int, int, int]]:
        """Return the traces saved by …:SAVE as (sweep id, module, channel, type), oldest first."""
        with self._lock:
            return list(self._traces.saved)

    def set_offset_um(self, x_um: float, y_um: float) -> None:
        """Move the fiber to (x, y) µm from the waveguide axis (drift continues around it)."""
        with self._lock:
            self._state.coupling.set_offset(x_um, y_um, self.clock())

    @property
    def offset_um(self) -> tuple[float, float]:
        """Return the current fiber offset (x, y) in µm, drift included."""
        with self._lock:
            self._state.coupling.advance(self.clock())
            return self._state.coupling.offset_um

    def set_drift(self, on: bool) -> None:
        """Switch the slow fiber drift on or off."""
        with self._lock:
            self._state.coupling.advance(self.clock())
            self._state.coupling.drift = on

    def set_level_dbm(self, module: int, channel: int, level_dbm: float) -> None:
        """Set the peak (perfectly aligned) power of one detector, dBm."""
        with self._lock:
            self._state.detector(module, channel).level_dbm = float(level_dbm)

    def fail_channel(self, module: int, channel: int, failed: bool = True) -> None:
        """Make one detector answer a garbled value ('x#@!') while the others stay fine."""
        with self._lock:
            self._state.detector(module, channel).failed = failed

    def live_power_dbm(self, module: int, channel: int) -> float:
        """Return the current true power of a detector in dBm (no floor, no reply format)."""
        with self._lock:
            det = self._state.detector(module, channel)
            level = det.level_dbm
            if det.coupled:
                level += self._state.coupling.loss_db(self.clock())
            return level
