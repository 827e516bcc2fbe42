"""State of the simulated CTP10: scan settings, lasers, detectors, the scan in progress, errors."""

from __future__ import annotations

import logging
import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

from ctp10_gui.simulator.facts import (
    CHANNELS_PER_MODULE,
    LASER_POSITIONS,
    MODULE_SLOTS,
    STATUS_ABORTING,
    STATUS_REFERENCING,
    STATUS_SCANNING,
    TLS_SLOTS,
    LaserModel,
)
from ctp10_gui.simulator.options import SimulatorOptions
from ctp10_gui.simulator.parser import ScpiError
from ctp10_gui.simulator.physics import FiberCoupling

log = logging.getLogger(__name__)

ERROR_QUEUE_SIZE = 30


@dataclass
class TlsSlot:
    """One of TLS 1–4: the laser position serving it (0 = none) and its sweep settings."""

    identifier: int = 0
    start_nm: float = 0.0
    stop_nm: float = 0.0
    speed_nm_s: int = 20
    power_dbm: float = 0.0
    trigger_in: int = 0


@dataclass
class ReferenceLaser:
    """Static settings of one laser position 1–10; on_at is when the output is really on (s)."""

    power_dbm: float = 6.0
    wavelength_nm: float = 1550.0
    on: bool = False
    on_at: float = 0.0


@dataclass
class Detector:
    """One detector: aligned level (dBm), port kind, units, calibration wavelength, faults."""

    level_dbm: float
    coupled: bool
    port: str
    unit_mw: bool = False
    unit_freq: bool = False
    wavelength_nm: float = 1550.0
    logging_trigger: int = 0
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
class Operation:
    """A scan in progress: 'sweep' or 'reference' (of module, channel), times in clock s."""

    kind: str
    bit_at: float
    end_at: float
    end_wall: float
    record: SweepRecord
    module: int = 0
    channel: int = 0


@dataclass
class ScanSettings:
    """Everything *RST puts back to defaults: global scan range, TLS slots, laser positions."""

    start_nm: float = 1530.0
    stop_nm: float = 1570.0
    sampling_pm: float = 1.0
    stab_output: bool = False
    stab_s: float = 0.0
    tls: dict[int, TlsSlot] = field(default_factory=dict)
    rlasers: dict[int, ReferenceLaser] = field(default_factory=dict)


class InstrumentState:
    """The instrument's memory and clocks, shared by every command group (no locking here).

    Durations follow clock (monotonic s) divided by speedup; reference dates follow wall_clock
    (epoch s). The caller (SimulatedCTP10) holds its lock around every use.
    """

    def __init__(
        self,
        options: SimulatorOptions,
        clock: Callable[[], float],
        wall_clock: Callable[[], float],
        lasers: tuple[LaserModel, ...],
    ) -> None:
        self.options = options
        self.clock = clock
        self.wall_clock = wall_clock
        self.lasers = lasers
        self.serial = options.serial
        self.speedup = options.speedup
        self.noise_db = options.noise_db
        self.coupling = FiberCoupling(
            np.random.default_rng([options.seed, 2]),
            offset_um=options.offset_um,
            mode_radius_um=options.mode_radius_um,
            drift=options.drift,
            drift_rms_um=options.drift_rms_um,
            drift_tau_s=options.drift_tau_s,
            now=clock(),
        )
        self.error_queue: deque[tuple[int, str]] = deque()
        self.detectors: dict[tuple[int, int], Detector] = {}
        modules = options.modules
        for index, module in enumerate(modules):
            # the last module (slot 4 by default, the app's default) has the nominal levels;
            # each earlier one sits 1 dB lower so modules are told apart at a glance
            module_offset_db = -1.0 * (len(modules) - 1 - index)
            for channel in range(1, options.channels_per_module + 1):
                self.detectors[(module, channel)] = Detector(
                    level_dbm=options.channel_levels_dbm[channel - 1] + module_offset_db,
                    coupled=channel in (1, 2),
                    port={1: "through", 2: "drop"}.get(channel, "flat"),
                )
        self.settings = self.default_settings()
        self.op: Operation | None = None
        self.abort_until = -math.inf
        self.sweep_count = 0
        self.record: SweepRecord | None = None
        self.references: dict[tuple[int, int], datetime] = {}

    # ------------------------------------------------------------------ settings

    def default_settings(self) -> ScanSettings:
        """Return the power-on settings: laser n on TLS n while lasers last, 1550/1310 nm."""
        settings = ScanSettings()
        for n in range(TLS_SLOTS[0], TLS_SLOTS[1] + 1):
            settings.tls[n] = TlsSlot()
            if n <= len(self.lasers):
                self.assign_laser(settings.tls[n], n)
        for r in range(LASER_POSITIONS[0], LASER_POSITIONS[1] + 1):
            laser = self.laser(r)
            center = round(laser.center_nm) if laser is not None else 1550.0
            wavelength_nm = 1550.0 if center > 1450 else 1310.0
            settings.rlasers[r] = ReferenceLaser(wavelength_nm=wavelength_nm)
        return settings

    def reset(self) -> None:
        """*RST: stop the scan, default settings, detector units and wavelengths."""
        self.op = None
        self.settings = self.default_settings()
        for det in self.detectors.values():
            det.unit_mw = det.unit_freq = False
            det.wavelength_nm = 1550.0
            det.logging_trigger = 0

    def laser(self, position: int) -> LaserModel | None:
        """Return the laser installed at position 1–10, or None for an empty position."""
        return self.lasers[position - 1] if 1 <= position <= len(self.lasers) else None

    def assign_laser(self, tls: TlsSlot, position: int) -> None:
        """Serve tls with the laser at position (0 = none): its full range, defaults."""
        laser = self.laser(position)
        tls.identifier = position
        if laser is None:
            return
        tls.start_nm, tls.stop_nm = laser.start_nm, laser.stop_nm
        tls.speed_nm_s = laser.default_speed_nm_s
        tls.power_dbm = laser.default_power_dbm

    # ------------------------------------------------------------------ lookups (SCPI errors)

    def tls(self, n: int) -> TlsSlot:
        """Return TLS n (1–4), else -114."""
        if not TLS_SLOTS[0] <= n <= TLS_SLOTS[1]:
            raise ScpiError(-114, f"TLS{n}")
        return self.settings.tls[n]

    def tls_laser(self, n: int) -> tuple[TlsSlot, LaserModel]:
        """Return TLS n and its laser; -221 when no laser serves it."""
        tls = self.tls(n)
        laser = self.laser(tls.identifier)
        if laser is None:
            raise ScpiError(-221, f"TLS{n} has no laser (identifier {tls.identifier})")
        return tls, laser

    def rlaser(self, r: int) -> tuple[ReferenceLaser, LaserModel | None]:
        """Return laser position r (1–10) and its model (None if empty), else -114."""
        if not LASER_POSITIONS[0] <= r <= LASER_POSITIONS[1]:
            raise ScpiError(-114, f"RLASer{r}")
        return self.settings.rlasers[r], self.laser(r)

    def detector(self, module: int, channel: int) -> Detector:
        """Return detector (module 1–20, channel 1–6): -114 out of range, -241 if absent."""
        if not (
            MODULE_SLOTS[0] <= module <= MODULE_SLOTS[1]
            and CHANNELS_PER_MODULE[0] <= channel <= CHANNELS_PER_MODULE[1]
        ):
            raise ScpiError(-114, f"SENSe{module}:CHANnel{channel}")
        det = self.detectors.get((module, channel))
        if det is None:
            raise ScpiError(-241, f"no detector at module {module} channel {channel}")
        return det

    def push_error(self, exc: ScpiError) -> None:
        """Queue a SCPI error; a full queue (30) turns its last entry into -350."""
        log.debug("simulated CTP10 error %s %s", exc.code, exc.detail)
        if len(self.error_queue) >= ERROR_QUEUE_SIZE:
            self.error_queue[-1] = (-350, "Queue overflow")
            return
        self.error_queue.append((exc.code, exc.text))

    # ------------------------------------------------------------------ scans

    def advance(self) -> None:
        """Finish the scan in progress if its time is up (record it, date its reference)."""
        op = self.op
        if op is None or self.clock() < op.end_at:
            return
        self.op = None
        self.record = op.record
        if op.kind == "reference":
            self.references[(op.module, op.channel)] = datetime.fromtimestamp(op.end_wall)

    def condition(self) -> int:
        """Return the operation condition register (4 scanning, 16 aborting, 64 referencing)."""
        self.advance()
        now = self.clock()
        bits = 0
        if self.op is not None and now >= self.op.bit_at:
            bits |= STATUS_SCANNING
            if self.op.kind == "reference":
                bits |= STATUS_REFERENCING
        if now < self.abort_until:
            bits |= STATUS_ABORTING
        return bits

    def scan_duration_s(self) -> float:
        """Return the scan time before speedup: Σ overlap/speed over the active lasers (s)."""
        start, stop = self.settings.start_nm, self.settings.stop_nm
        total = 0.0
        speeds = []
        for tls in self.settings.tls.values():
            if self.laser(tls.identifier) is None:
                continue
            speeds.append(tls.speed_nm_s)
            overlap = min(stop, tls.stop_nm) - max(start, tls.start_nm)
            if overlap > 0:
                total += overlap / tls.speed_nm_s
        if total == 0.0:
            total = (stop - start) / (speeds[0] if speeds else 20)
        return total + self.settings.stab_s

    def source_power_dbm(self) -> float:
        """Return the power of the TLS covering the scan start, dBm (8 if none)."""
        for tls in self.settings.tls.values():
            if self.laser(tls.identifier) is not None and (
                tls.start_nm <= self.settings.start_nm <= tls.stop_nm
            ):
                return tls.power_dbm
        return 8.0

    def begin(self, kind: str, module: int = 0, channel: int = 0) -> None:
        """Start a 'sweep' or a 'reference' scan; -213 while one runs."""
        self.advance()
        if self.op is not None:
            raise ScpiError(-213, "scan already running")
        now = self.clock()
        duration = self.scan_duration_s() / self.speedup
        bit_at = now + self.options.scan_bit_delay_s
        settings = self.settings
        span_pm = (settings.stop_nm - settings.start_nm) * 1e3
        points = math.floor(span_pm / settings.sampling_pm + 1e-6) + 1
        self.sweep_count += 1
        record = SweepRecord(
            self.sweep_count,
            settings.start_nm,
            settings.sampling_pm,
            points,
            self.source_power_dbm(),
        )
        end_wall = self.wall_clock() + (bit_at - now) + duration
        self.op = Operation(kind, bit_at, bit_at + duration, end_wall, record, module, channel)

    def abort(self) -> None:
        """Stop the scan in progress; the aborting bit stays for abort_s (after speedup)."""
        if self.op is not None:
            self.op = None
            self.abort_until = self.clock() + self.options.abort_s / self.speedup
