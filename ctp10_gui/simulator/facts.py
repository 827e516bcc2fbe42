"""Facts of the simulated CTP10 and its lasers, spelled once for every part of the simulator.

The simulator keeps its own copy of these facts instead of importing the driver's: it is the
oracle the driver is tested against, so a wrong fact in the driver must not leak into it.
Sources: the reference `ctp10-scpi.md` (EXFO manual excerpts) and the CTP10 driver of
PyMeasure pull request #1366, which ran on real instruments.
"""

from __future__ import annotations

from dataclasses import dataclass

SPEED_OF_LIGHT_M_S = 299_792_458.0

# Operation condition register bits (:STAT:OPER:COND?)
STATUS_SCANNING = 4
STATUS_ABORTING = 16
STATUS_REFERENCING = 64

# IEEE 488.2 status byte (*STB?): bit 2 summarises a non-empty error queue (SCPI-99 EAV)
STATUS_BYTE_ERROR_QUEUE = 4

MODULE_SLOTS = (1, 20)
CHANNELS_PER_MODULE = (1, 6)
TLS_SLOTS = (1, 4)
LASER_POSITIONS = (1, 10)
TRIGGER_INPUTS = (0, 8)  # 0 = software, 1–8 = TRIG IN port

DETECTOR_MIN_NM = 1240.0
DETECTOR_MAX_NM = 1680.0
DETECTOR_FLOOR_DBM = -80.0
DETECTOR_MAX_DBM = 10.0
DETECTOR_MODULE_NAME = "IL RL OPM2"  # the module the simulated slots hold (*OPT?)

HIGH_RES_SAMPLING_PM = (0.5, 0.2, 0.1, 0.05, 0.02)
SAMPLING_PM = (1, 250)  # integer steps in between
STABILIZATION_S = (0.0, 60.0)

TRACE_TYPES_DOCUMENTED = (1, 23)  # header suffix range of TYPE
TRACE_TYPES_OFFERED = (1, 11, 12, 13)  # TF live, raw live, raw reference, raw quick reference
REFERENCE_TYPE_TF = 0  # RESult? type of a TF reference (1 sweep); 1 is TF/PDL (4 sweeps)

# Allowed sweep speeds (nm/s) per laser model: the CTP10 manual as quoted in the reference and
# in PyMeasure PR #1366's TLSChannel.sweep_speed_nmps docstring. The T200S/T500S lists are
# "model dependent" there; the VIAVI mSWS-AISLS takes every integer 5–100.
SWEEP_SPEEDS_NM_S: dict[str, tuple[int, ...]] = {
    "T100S-HP": (*range(5, 16), 17, 18, 20, 22, 25, 29, 33, 40, 50, 67, 100),
    "T200S": (10, 20, 50, 100, 200),
    "T500S": (10, 20, 50, 100, 200),
    "mSWS-AISLS": tuple(range(5, 101)),
}

EMPTY_LASER_IDENTITY = "NONE"  # :CTP:RLASer<r>:IDN? of an empty laser position


@dataclass(frozen=True)
class LaserModel:
    """A tunable laser model: range in nm, allowed sweep speeds in nm/s, power range in dBm."""

    name: str
    start_nm: float
    stop_nm: float
    speeds_nm_s: tuple[int, ...]
    min_power_dbm: float
    max_power_dbm: float
    firmware: str
    default_power_dbm: float
    default_speed_nm_s: int = 20

    @property
    def center_nm(self) -> float:
        """Return the middle of the tuning range, nm."""
        return 0.5 * (self.start_nm + self.stop_nm)


# Typical lab lasers of the reference: C band T100S-HP 1502–1627 nm at 8 dBm, O band T200S
# 1262.5–1355 nm at 10 dBm, both 20 nm/s.
T100S_HP = LaserModel(
    "T100S-HP", 1502.0, 1627.0, SWEEP_SPEEDS_NM_S["T100S-HP"], -10.0, 13.0, "6.06", 8.0
)
T200S = LaserModel("T200S", 1262.5, 1355.0, SWEEP_SPEEDS_NM_S["T200S"], -10.0, 13.0, "6.06", 10.0)
DEFAULT_LASERS: tuple[LaserModel, ...] = (T100S_HP, T200S)  # laser positions 1, 2
