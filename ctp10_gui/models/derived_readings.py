"""Live readings of the user's derived channels: latest value, status, peak and recent history.

Plain Python and numpy, no Qt. Each derived channel is computed from every batch that holds
both its inputs. Its level in dB (the difference itself, 10·log10 of a ratio, dBm of a sum)
drives the same averaged peak and Δ-to-peak as a measured channel; not-OK samples stay NaN.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ctp10_gui.models.alignment import DEFAULT_PEAK_AVERAGE_S, AveragedPeak
from ctp10_gui.models.derived import OK, DerivedChannel, DerivedKind
from ctp10_gui.models.samples import SnapshotBatch

HISTORY_S = 30.0  # the focus view's sparkline shows 20 s of it


def parse_definitions(text: str) -> list[DerivedChannel]:
    """Parse one "name = CH4 - CH3" per line (blank lines skipped); ValueError names the line."""
    out: list[DerivedChannel] = []
    for i, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        name, sep, expression = line.partition("=")
        if not sep:
            raise ValueError(f"line {i}: write name = expression, e.g. 'IL = CH4 - CH3'")
        try:
            channel = DerivedChannel.parse(name, expression.strip())
        except ValueError as exc:
            raise ValueError(f"line {i}: {exc}") from None
        if channel.name.upper().startswith("CH") and channel.name[2:].strip().isdigit():
            raise ValueError(f"line {i}: {channel.name!r} is the name of a measured channel")
        if any(c.name == channel.name for c in out):
            raise ValueError(f"line {i}: {channel.name!r} is defined twice")
        out.append(channel)
    return out


def level_db(kind: DerivedKind, values: np.ndarray) -> np.ndarray:
    """Return values as a level in dB: a difference as is, a ratio or a sum (mW) in dB(m)."""
    if kind is DerivedKind.DIFFERENCE_DB:
        return values
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(values > 0, 10.0 * np.log10(np.where(values > 0, values, 1.0)), np.nan)


@dataclass(frozen=True)
class DerivedReading:
    """One derived channel now: value (its unit), status, time (monotonic s) and dB peak."""

    channel: DerivedChannel
    value: float  # NaN unless status is OK
    status: int | None  # ChannelStatus value; None before any batch held both inputs
    t: float | None  # monotonic s of the latest sample
    peak_db: float  # level of the averaged peak, dB(m); NaN before any
    peak_t: float  # monotonic s of that peak

    def delta_to_peak_db(self) -> float | None:
        """Return level − peak level in dB, None unless both are known."""
        if self.status != OK or not math.isfinite(self.value) or not math.isfinite(self.peak_db):
            return None
        level = float(level_db(self.channel.kind, np.array([self.value]))[0])
        return level - self.peak_db if math.isfinite(level) else None


class DerivedReadings:
    """The derived channels' readings, fed batch by batch (GUI thread only)."""

    def __init__(self, channels: Sequence[DerivedChannel] = (), *,
                 peak_average_s: float = DEFAULT_PEAK_AVERAGE_S) -> None:
        self.peak_average_s = peak_average_s
        self.channels: list[DerivedChannel] = []
        self._last: dict[str, tuple[float, int | None, float | None]] = {}
        self._peaks: dict[str, AveragedPeak] = {}
        self._t: dict[str, np.ndarray] = {}
        self._y: dict[str, np.ndarray] = {}
        self.set_channels(channels)

    def set_channels(self, channels: Sequence[DerivedChannel]) -> None:
        """Use these definitions; a kept name with the same definition keeps its readings."""
        old = {c.name: c for c in self.channels}
        self.channels = list(channels)
        for c in self.channels:
            if old.get(c.name) != c:
                self._last[c.name] = (math.nan, None, None)
                self._peaks[c.name] = AveragedPeak(self.peak_average_s)
                self._t[c.name] = np.empty(0)
                self._y[c.name] = np.empty(0)

    def names(self) -> list[str]:
        """Return the derived channels' names in order."""
        return [c.name for c in self.channels]

    def apply(self, batch: SnapshotBatch) -> None:
        """Compute every derived channel whose two inputs the batch holds."""
        if len(batch) == 0:
            return
        for c in self.channels:
            if c.a not in batch.channels or c.b not in batch.channels:
                continue
            ja, jb = batch.channels.index(c.a), batch.channels.index(c.b)
            values, status = c.compute(batch.values_dbm[:, ja], batch.status[:, ja],
                                       batch.values_dbm[:, jb], batch.status[:, jb])
            self._last[c.name] = (float(values[-1]), int(status[-1]), float(batch.t_mono[-1]))
            level = level_db(c.kind, values)
            self._peaks[c.name].add(batch.t_mono, level, status == OK)
            t = np.concatenate([self._t[c.name], batch.t_mono])
            y = np.concatenate([self._y[c.name], values])
            keep = t >= t[-1] - HISTORY_S
            self._t[c.name], self._y[c.name] = t[keep], y[keep]

    def reading(self, name: str) -> DerivedReading:
        """Return the reading of derived channel name (KeyError if there is none)."""
        channel = next((c for c in self.channels if c.name == name), None)
        if channel is None:
            raise KeyError(f"no derived channel {name!r}")
        value, status, t = self._last[name]
        peak = self._peaks[name]
        return DerivedReading(channel, value, status, t, peak.peak_dbm, peak.peak_t)

    def history(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """Return the last HISTORY_S s of name as (t monotonic s, value; NaN where not OK)."""
        return self._t[name], self._y[name]

    def set_peak_average(self, seconds: float) -> None:
        """Take peaks of a seconds-long moving average (s ≥ 0) from now on; peaks restart."""
        AveragedPeak(seconds)  # refuses a bad value before anything changes
        self.peak_average_s = seconds
        self._peaks = {name: AveragedPeak(seconds) for name in self._peaks}

    def reset_peaks(self) -> None:
        """Forget every derived peak."""
        for peak in self._peaks.values():
            peak.reset()
