"""Alignment aids on a stream of (time, dBm) samples: a settled light and a noise-proof peak.

Plain Python and numpy, no Qt. Both take samples as arrays (monotonic s, dBm, valid mask) so
the views feed them straight from a SnapshotBatch column; the clock is the samples' own time.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

import numpy as np

DEFAULT_SETTLE_WINDOW_S = 2.0
DEFAULT_SETTLE_THRESHOLD_DB = 0.02
DEFAULT_PEAK_AVERAGE_S = 0.05


@dataclass(frozen=True)
class SettledState:
    """Whether a channel has settled: spread (dB) over the window and the mean level (dBm)."""

    settled: bool
    spread_db: float  # max − min over the window; NaN until the window is full
    level_dbm: float  # mean over the window; NaN until the window is full


class SettledDetector:
    """Settled when every sample of the last window_s s is valid and their spread < threshold."""

    def __init__(self, window_s: float = DEFAULT_SETTLE_WINDOW_S,
                 threshold_db: float = DEFAULT_SETTLE_THRESHOLD_DB) -> None:
        if not window_s > 0 or not threshold_db > 0:
            raise ValueError(f"settled window and threshold must be > 0, got {window_s} s, "
                             f"{threshold_db} dB")
        self.window_s = float(window_s)
        self.threshold_db = float(threshold_db)
        self._t: deque[float] = deque()
        self._v: deque[float] = deque()
        self._valid_since: float | None = None  # start of the current run of valid samples

    def reset(self) -> None:
        """Forget every sample (a new channel, instrument or module)."""
        self._t.clear()
        self._v.clear()
        self._valid_since = None

    def add(self, t: np.ndarray, dbm: np.ndarray, valid: np.ndarray) -> None:
        """Append samples: monotonic times (s), values (dBm) and which of them are valid."""
        for ti, vi, ok in zip(t.tolist(), dbm.tolist(), valid.tolist(), strict=True):
            if not ok or not math.isfinite(vi):
                # An invalid sample breaks the run: settling starts over after it.
                self._t.clear()
                self._v.clear()
                self._valid_since = None
                continue
            if self._valid_since is None:
                self._valid_since = ti
            self._t.append(ti)
            self._v.append(vi)
        if self._t:
            horizon = self._t[-1] - self.window_s
            while len(self._t) > 1 and self._t[1] <= horizon:
                self._t.popleft()
                self._v.popleft()

    def state(self, now: float | None = None) -> SettledState:
        """Return the settled state; with now (monotonic s), samples older than the window count
        as missing, so a stalled stream is never shown as settled."""
        if not self._t or self._valid_since is None:
            return SettledState(False, math.nan, math.nan)
        newest = self._t[-1]
        full = newest - self._valid_since >= self.window_s - 1e-9
        fresh = now is None or now - newest <= max(0.25 * self.window_s, 0.5)
        if not full:
            return SettledState(False, math.nan, math.nan)
        values = np.fromiter(self._v, dtype=np.float64, count=len(self._v))
        spread = float(values.max() - values.min())
        level = float(values.mean())
        return SettledState(fresh and spread < self.threshold_db, spread, level)


@dataclass(frozen=True)
class PeakState:
    """The averaged peak (dBm) that Δ-to-peak uses, and the raw maximum (dBm) for a tooltip."""

    peak_dbm: float
    raw_max_dbm: float
    average_s: float
    peak_t: float = math.nan  # sample time (s, the caller's clock) at which the peak was reached


class AveragedPeak:
    """Peak hold of a moving average over average_s s, so single noise spikes cannot raise it."""

    def __init__(self, average_s: float = DEFAULT_PEAK_AVERAGE_S) -> None:
        if not average_s >= 0:
            raise ValueError(f"peak averaging must be ≥ 0 s, got {average_s} s")
        self.average_s = float(average_s)
        self._t: deque[float] = deque()
        self._mw: deque[float] = deque()
        self._sum_mw = 0.0
        self._run_start: float | None = None  # first sample of the current run of valid ones
        self.peak_dbm = math.nan
        self.peak_t = math.nan
        self.raw_max_dbm = math.nan

    def reset(self) -> None:
        """Forget the peak and the averaging window."""
        self._t.clear()
        self._mw.clear()
        self._sum_mw = 0.0
        self._run_start = None
        self.peak_dbm = math.nan
        self.peak_t = math.nan
        self.raw_max_dbm = math.nan

    def add(self, t: np.ndarray, dbm: np.ndarray, valid: np.ndarray) -> None:
        """Append samples (monotonic s, dBm, valid mask); invalid ones restart the average."""
        for ti, vi, ok in zip(t.tolist(), dbm.tolist(), valid.tolist(), strict=True):
            if not ok or not math.isfinite(vi):
                self._t.clear()
                self._mw.clear()
                self._sum_mw = 0.0
                self._run_start = None
                continue
            gap = math.inf if self._run_start is None else ti - self._t[-1]
            if self._run_start is None:
                self._run_start = ti
            if not vi <= self.raw_max_dbm:  # NaN-safe: the first value always counts
                self.raw_max_dbm = vi
            mw = 10.0 ** (vi / 10.0)  # average power, not dB: a dip must not pull the mean down
            self._t.append(ti)
            self._mw.append(mw)
            self._sum_mw += mw
            while self._t and self._t[0] < ti - self.average_s:
                self._t.popleft()
                self._sum_mw -= self._mw.popleft()
            # The average counts only once valid data covers the whole window (a lone spike is
            # not a peak); polled about as slowly as the window lasts (a gap ≥ half of it), the
            # window cannot hold more than a sample or two, and from the second on it counts.
            if ti - self._run_start >= self.average_s * 0.999 or (
                    math.isfinite(gap) and gap >= 0.5 * self.average_s):
                mean_mw = self._sum_mw / len(self._mw)
                if len(self._mw) == 1:
                    level = vi  # exact: a dB → mW → dB round trip would make ties look higher
                else:
                    level = 10.0 * math.log10(mean_mw) if mean_mw > 0 else -math.inf
                # An equal level (within rounding) keeps the first time it was reached.
                if not level <= self.peak_dbm + 1e-9:
                    self.peak_dbm = level
                    self.peak_t = ti

    def state(self) -> PeakState:
        """Return the averaged peak and the raw maximum, both dBm (NaN before any)."""
        return PeakState(self.peak_dbm, self.raw_max_dbm, self.average_s, self.peak_t)


DELTA_SPANS_DB = (0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0)


class DeltaSpan:
    """The ± span (dB, 0.1 … 10) of a Δ-to-peak needle: grows at once, shrinks after hold_s."""

    def __init__(self, hold_s: float = 2.0) -> None:
        self.hold_s = hold_s
        self.span_db = DELTA_SPANS_DB[0]
        self._small_since: float | None = None  # when |Δ| first fitted a smaller span

    def update(self, delta_db: float | None, now: float) -> float:
        """Fit the span to delta_db (dB; None/NaN: keep) at time now (s); return it."""
        if delta_db is None or not math.isfinite(delta_db):
            self._small_since = None
            return self.span_db
        need = next((s for s in DELTA_SPANS_DB if abs(delta_db) <= 0.9 * s), DELTA_SPANS_DB[-1])
        if need >= self.span_db:
            self.span_db = need
            self._small_since = None
        elif self._small_since is None:
            self._small_since = now
        elif now - self._small_since >= self.hold_s:
            # A zoom that followed every wiggle would make the needle unreadable.
            self.span_db = need
            self._small_since = None
        return self.span_db
