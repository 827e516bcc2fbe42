"""Facts of the tunable laser models a CTP10 drives: tuning range, power range, sweep speeds.

The driver's own copy, spelled once here (the simulator keeps its independent copy in
`ctp10_gui/simulator/facts.py`; a test checks that both agree). Sources per fact are named
next to it. A model is found by its *IDN? model field ("EXFO,T100S-HP,0,6.06" -> "T100S-HP").
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

__all__ = [
    "EMPTY_LASER_IDENTITY",
    "LASER_MODELS",
    "LaserModel",
    "find_laser_model",
    "laser_installed",
    "laser_model",
    "list_text",
    "speed_refusal",
]


@dataclass(frozen=True)
class LaserModel:
    """One laser model: tuning range (nm, None if unknown), power (dBm), sweep speeds (nm/s)."""

    name: str
    speeds_nm_s: tuple[int, ...]
    min_nm: float | None = None
    max_nm: float | None = None
    min_power_dbm: float | None = None
    max_power_dbm: float | None = None

    @property
    def speeds_text(self) -> str:
        """Return the allowed speeds in words: "5–15, 17, 18, … 100 nm/s"."""
        return f"{list_text(self.speeds_nm_s)} nm/s"

    def covers(self, start_nm: float, stop_nm: float) -> bool:
        """Return True if the tuning range holds start_nm–stop_nm (nm); True when unknown."""
        if self.min_nm is None or self.max_nm is None:
            return True
        return self.min_nm - 1e-6 <= start_nm and stop_nm <= self.max_nm + 1e-6


# Sweep speeds (nm/s): the CTP10 manual as quoted in the reference /work/shared/ctp10-scpi.md
# (":INIT:TLS{n}:SPEed") and in PyMeasure PR #1366's TLSChannel.sweep_speed_nmps docstring
# (a driver that ran on real CTP10s).
# The T200S/T500S lists are "model dependent" there; the VIAVI mSWS-AISLS takes 5 to 100.
_T100S_HP_SPEEDS = (*range(5, 16), 17, 18, 20, 22, 25, 29, 33, 40, 50, 67, 100)
_T200S_SPEEDS = (10, 20, 50, 100, 200)
_MSWS_SPEEDS = tuple(range(5, 101))

# Tuning ranges: the reference's typical lab lasers (C band T100S-HP 1502–1627 nm, O band T200S
# 1262.5–1355 nm); the band of a T500S or mSWS-AISLS is not in any source we have, so the
# CTP10's own 1240–1680 nm applies to them. Power: −10 dBm up to +13 dBm, the simulator's
# assumption; PyMeasure PR #1366 calls −10…+10 dBm "common", and the reference's T200S runs at
# +10 dBm, so the top lies above +10 dBm.
LASER_MODELS: tuple[LaserModel, ...] = (
    LaserModel("T100S-HP", _T100S_HP_SPEEDS, 1502.0, 1627.0, -10.0, 13.0),
    LaserModel("T200S", _T200S_SPEEDS, 1262.5, 1355.0, -10.0, 13.0),
    LaserModel("T500S", _T200S_SPEEDS),
    LaserModel("mSWS-AISLS", _MSWS_SPEEDS),
)


# What :CTP:RLASer<r>:IDN? answers for a laser position with no laser installed.
EMPTY_LASER_IDENTITY = "NONE"


def laser_installed(idn: str) -> bool:
    """Return False for the identity of an empty laser position ("NONE"), True otherwise."""
    return idn.strip().strip('"').strip().upper() != EMPTY_LASER_IDENTITY


def laser_model(idn: str) -> str | None:
    """Return the model field of a laser *IDN? reply ("EXFO,T100S-HP,0,6.06" -> "T100S-HP")."""
    fields = [f.strip() for f in idn.split(",")]
    return fields[1] if len(fields) > 1 and fields[1] else None


def find_laser_model(model: str | None) -> LaserModel | None:
    """Return the facts of a model named in a laser's *IDN? ("T100S-HP", "EXFO T200S"), or None."""
    upper = (model or "").upper()
    if not upper:
        return None
    for facts in LASER_MODELS:
        if facts.name.upper() in upper:
            return facts
    return None


def list_text(values: Iterable[float]) -> str:
    """Return sorted numbers with runs of 3+ consecutive integers joined: "5–15, 17, 18, 20"."""
    numbers_sorted = sorted(set(values))
    parts: list[str] = []
    i = 0
    while i < len(numbers_sorted):
        j = i
        while (j + 1 < len(numbers_sorted) and float(numbers_sorted[j]).is_integer()
               and numbers_sorted[j + 1] == numbers_sorted[j] + 1):
            j += 1
        if j - i >= 2:
            parts.append(f"{_short(numbers_sorted[i])}–{_short(numbers_sorted[j])}")
            i = j + 1
        else:
            parts.append(_short(numbers_sorted[i]))
            i += 1
    return ", ".join(parts)


def _short(value: float) -> str:
    text = f"{float(value):.6f}".rstrip("0").rstrip(".")
    return text or "0"


def speed_refusal(model: str | None, speed_nm_s: float) -> str:
    """Return why a TLS laser model refuses a sweep speed (nm/s), "" when it takes it."""
    facts = find_laser_model(model)
    if facts is None:
        return ""  # an unknown model: the instrument decides
    if any(speed_nm_s == allowed for allowed in facts.speeds_nm_s):
        return ""
    return (f"a {facts.name} sweeps at {facts.speeds_text} only, "
            f"not {_short(speed_nm_s)} nm/s")
