"""What a power reading is: per-channel status, one snapshot's row, and the reply parsers."""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from typing import Literal, NamedTuple

import numpy as np

from ctp10_gui.hardware.scpi import SCPI_SENTINEL_ABS, PowerUnit

# Kinds of the events a poll reports beside its values (recorded as event rows).
UNIT_CHANGED_EVENT = "unit_changed"  # a detector's unit was changed by someone else
RESYNC_EVENT = "resync"  # a reply did not fit its query: the session was reopened

# The unit a person reads and settings store; the instrument's own spelling is PowerUnit.
PowerUnitText = Literal["dBm", "mW"]

__all__ = [
    "OVER_RANGE_SENTINEL",
    "UNDER_RANGE_DBM",
    "ChannelStatus",
    "PowerRow",
    "PowerSnapshot",
    "decode_power_unit",
    "parse_power",
]

# Replies at or below this (dBm) are under-range sentinels: Keysight sends -200, other EXFO
# meters -9.9E37 or -INF. Real detector readings stop near -80 dBm.
UNDER_RANGE_DBM = -190.0
# Replies at or above this are over-range sentinels (+9.9E37, INF).
OVER_RANGE_SENTINEL = SCPI_SENTINEL_ABS

# UNIT:Y? reply forms (number code or word, case and quotes free) -> unit.
_UNIT_REPLIES = {
    "0": PowerUnit.DBM, "+0": PowerUnit.DBM, "DBM": PowerUnit.DBM,
    "1": PowerUnit.MW, "+1": PowerUnit.MW, "MW": PowerUnit.MW,
}  # fmt: skip


class ChannelStatus(enum.IntEnum):
    """Say whether a channel's value is usable."""

    OK = 0
    UNDER = 1
    OVER = 2
    ERROR = 3


class PowerRow(NamedTuple):
    """Hold one snapshot as plain Python values (what the acquisition loop batches)."""

    t_mono: float  # s, monotonic time of the reply
    t_wall: float  # s since the epoch
    latency_s: float  # s, round trip
    values_dbm: list[float]  # per channel, NaN where status != OK
    status: tuple[int, ...]  # per channel ChannelStatus value
    errors: tuple[str, ...]  # per channel, "" when fine
    units: tuple[PowerUnit | None, ...]  # per channel, the unit the reply came in (None: unknown)
    events: tuple[tuple[str, str], ...]  # (kind, sentence): "unit_changed", "resync"
    condition: int | None = None  # operation condition register read with it; None: not read


@dataclass(frozen=True, eq=False)
class PowerSnapshot:
    """Hold the powers of several channels of one module read in one go."""

    t_mono: float
    t_wall: float
    module: int
    channels: tuple[int, ...]
    values_dbm: np.ndarray  # float64 (C,), NaN where status != OK
    status: np.ndarray  # int8 (C,) ChannelStatus
    errors: tuple[str, ...]  # per channel, "" when fine
    latency_s: float
    units: tuple[PowerUnit | None, ...] = ()  # per channel, the unit the reply came in


def decode_power_unit(reply: str) -> PowerUnit | None:
    """Return the unit a UNIT:Y? reply names ("0"/"1", "DBM"/"MW"), None if it names none."""
    return _UNIT_REPLIES.get(reply.strip().strip('"').strip().upper())


def parse_power(reply: str, unit: PowerUnit) -> tuple[float, ChannelStatus, str]:
    """Return (dBm, status, error text) for one power reply: bare float or "value,UNIT"."""
    text = reply.strip()
    if not text:
        return math.nan, ChannelStatus.ERROR, "empty reply"
    value_text, comma, unit_text = text.partition(",")
    if comma:
        word = unit_text.strip().strip('"').upper()
        if word == "DBM":
            unit = PowerUnit.DBM
        elif word == "MW":
            unit = PowerUnit.MW
        else:
            return math.nan, ChannelStatus.ERROR, f"garbled reply {text!r} (unknown unit)"
    try:
        value = float(value_text.strip())
    except ValueError:
        return math.nan, ChannelStatus.ERROR, f"garbled reply {text!r}"
    if math.isnan(value):
        return math.nan, ChannelStatus.UNDER, ""
    if value >= OVER_RANGE_SENTINEL:
        return math.nan, ChannelStatus.OVER, ""
    if unit is PowerUnit.MW:
        if value <= 0:
            return math.nan, ChannelStatus.UNDER, ""
        value = 10.0 * math.log10(value)
    if value <= UNDER_RANGE_DBM:
        return math.nan, ChannelStatus.UNDER, ""
    return value, ChannelStatus.OK, ""
