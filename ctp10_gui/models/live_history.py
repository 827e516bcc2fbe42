"""The app's live power history: one hour of the polled channels, their outages, the stale rule.

The app owns one LiveHistory; the strip chart draws it and the readouts take its stale
threshold. Batches come from the link controller, link states say whether a silence is an
outage (shaded) or the user's choice (a plain cut), and a silence longer than the stale rule
that no state announced still cuts the record. The user's derived channels whose inputs are
polled follow the measured ones in the ring, as their level in dB (a difference as is, a ratio
in dB, a sum in dBm) with their own statuses. Plain Python, no Qt; not thread-safe: feed and
read it from the GUI thread only.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from ctp10_gui.models.connection import LinkState, stale_after_s
from ctp10_gui.models.derived import DerivedChannel, computable, compute_columns
from ctp10_gui.models.derived_readings import level_db
from ctp10_gui.models.ring_history import RingHistory
from ctp10_gui.models.samples import SnapshotBatch

log = logging.getLogger(__name__)

HISTORY_S = 3600.0  # longest chart window: the ring holds one hour at the current poll rate
MAX_CAPACITY = 4_000_000  # 1 h at 1 kHz plus margin; beyond that the ring would be > 1 GB
OUTAGE_STATES = frozenset({LinkState.STALE, LinkState.RECONNECTING, LinkState.OFFLINE})
# No data by the user's choice (disconnect, live off) or during a sweep: a cut, not an outage.
CHOSEN_PAUSE_STATES = frozenset({
    LinkState.DISCONNECTED, LinkState.CONNECTING, LinkState.CONNECTED, LinkState.BUSY,
})


def capacity_for(poll_interval_s: float, history_s: float = HISTORY_S) -> int:
    """Return ring capacity (samples) for history_s at poll_interval_s (s, > 0), capped."""
    interval = max(poll_interval_s, 1e-3)  # "as fast as possible" still polls ≤ ~1 kHz
    return int(min(MAX_CAPACITY, math.ceil(history_s / interval * 1.05) + 1024))


@dataclass(frozen=True)
class HistoryChange:
    """What changed: new samples from oldest_new_t (s) on, and/or anything else (full)."""

    oldest_new_t: float | None  # monotonic s of the oldest sample appended; None: none appended
    full: bool  # outages, gaps, channels or capacity changed: everything must be redrawn
    layout: bool = False  # the module or channel set changed (a new, empty ring)


HistoryListener = Callable[[HistoryChange], None]


class LiveHistory:
    """Ring + pyramid history of the live module's channels with outage bookkeeping."""

    def __init__(self, poll_interval_s: float = 0.05, *, stale_override_s: float | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        """Hold 1 h at poll_interval_s (s ≥ 0); stale after stale_override_s (s) if given."""
        self._clock = clock
        self._poll_interval_s = float(poll_interval_s)
        self._stale_override_s = stale_override_s
        self.module = 0
        self.channels: tuple[int, ...] = ()
        self._derived_asked: tuple[DerivedChannel, ...] = ()
        self.derived: tuple[DerivedChannel, ...] = ()  # ring columns len(channels) + k
        self.ring = RingHistory(capacity_for(poll_interval_s), 1)
        self._gap_marked = False  # the user paused: the next data starts a new line
        self._listeners: list[HistoryListener] = []

    # ---- the stale rule -------------------------------------------------------------------
    @property
    def poll_interval_s(self) -> float:
        """Return the poll interval (s) the ring is sized for."""
        return self._poll_interval_s

    @property
    def stale_after_s(self) -> float:
        """Return the silence (s) after which data is stale and the record is cut."""
        return stale_after_s(self._poll_interval_s, self._stale_override_s)

    def set_stale_override(self, seconds: float | None) -> None:
        """Use seconds (s > 0) as the stale threshold, or the rule max(3 T, 1 s) for None."""
        self._stale_override_s = seconds

    # ---- reading ----------------------------------------------------------------------------
    def __len__(self) -> int:
        """Return the number of samples held, gap markers included."""
        return len(self.ring)

    @property
    def latest_t(self) -> float | None:
        """Return the monotonic time (s) of the newest sample, None if empty."""
        return self.ring.latest_t

    def outages(self) -> list[tuple[float, float | None]]:
        """Return outage intervals (monotonic s; end None while open) still in the history."""
        return self.ring.outages()

    def outage_open(self) -> bool:
        """Return True while an outage is open (the link failed and has not delivered since)."""
        outages = self.ring.outages()
        return bool(outages) and outages[-1][1] is None

    def subscribe(self, listener: HistoryListener) -> None:
        """Call listener(change) after every change, in the thread that made it."""
        self._listeners.append(listener)

    # ---- writing ----------------------------------------------------------------------------
    def set_layout(self, module: int, channels: Sequence[int]) -> None:
        """Hold module's channels; the history restarts when the set changes."""
        channels = tuple(channels)
        if module == self.module and channels == self.channels:
            return
        self.module, self.channels = module, channels
        self.derived = computable(self._derived_asked, channels)
        self.ring = RingHistory(self.ring.capacity, max(1, len(channels) + len(self.derived)))
        self._gap_marked = False
        self._notify(HistoryChange(None, True, layout=True))

    def set_derived(self, channels: Sequence[DerivedChannel]) -> None:
        """Keep these derived channels beside the measured ones, computed over the history held."""
        self._derived_asked = tuple(channels)
        derived = computable(self._derived_asked, self.channels)
        if derived == self.derived:
            return
        self.derived = derived
        c = len(self.channels)
        _t, y, status = self.ring.view()
        values, codes = self._with_derived(y[:, :c], status[:, :c])
        self.ring = self.ring.with_columns(values, codes)
        self._notify(HistoryChange(None, True, layout=True))

    def _with_derived(self, y: np.ndarray, status: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Return measured (N, C) values and statuses with the derived levels' columns after."""
        if not self.derived:
            return y, status
        dv, ds = compute_columns(self.derived, self.channels, y.astype(np.float64), status)
        for k, c in enumerate(self.derived):
            dv[:, k] = level_db(c.kind, dv[:, k])
        return np.hstack([y, dv]), np.hstack([status, ds])

    def derived_column(self, name: str) -> int | None:
        """Return the ring column of the derived channel name, None if it is not charted."""
        for k, c in enumerate(self.derived):
            if c.name == name:
                return len(self.channels) + k
        return None

    def set_poll_interval(self, seconds: float) -> None:
        """Size the ring for one hour at seconds (s ≥ 0), keeping every sample that fits."""
        self._poll_interval_s = float(seconds)
        capacity = capacity_for(seconds)
        if capacity > self.ring.capacity:
            # A faster rate needs a longer ring: the samples so far move into it (never lost).
            self.ring = self.ring.resized(capacity)
            self._notify(HistoryChange(None, True))

    def append(self, batch: SnapshotBatch) -> None:
        """Add a batch of the live module; a silence longer than the stale rule cuts the record."""
        if len(batch) == 0:
            return
        if batch.module != self.module or tuple(batch.channels) != self.channels:
            self.set_layout(batch.module, batch.channels)
        first = float(batch.t_mono[0])
        last = self.ring.latest_t
        full = False
        if self.outage_open():
            self.ring.end_outage(first)
            full = True  # the band stops following now
        elif last is not None and not self._gap_marked and first - last > self.stale_after_s:
            # Silence the controller did not (yet) report: still a hole in the record.
            self.ring.begin_outage(last)
            self.ring.end_outage(first)
            full = True
        self._gap_marked = False
        values, status = self._with_derived(batch.values_dbm, batch.status)
        self.ring.append_rows(batch.t_mono, values, status)
        self._notify(HistoryChange(first, full))

    def set_link_state(self, state: LinkState) -> None:
        """Open an outage when the link fails; cut the record when the user stops the data."""
        last = self.ring.latest_t
        if last is None:
            return  # nothing recorded yet: nothing to cut or shade
        if state in OUTAGE_STATES:
            if not self.outage_open():
                self.ring.begin_outage(last)
                self._notify(HistoryChange(None, True))
        elif state in CHOSEN_PAUSE_STATES:
            if self.outage_open():
                # Disconnected during an outage: the band ends where the watching ended.
                self.ring.end_outage(self._clock())
            elif not self._gap_marked:
                self.ring.mark_gap(last)
            self._gap_marked = True
            self._notify(HistoryChange(None, True))

    def _notify(self, change: HistoryChange) -> None:
        for listener in self._listeners:
            listener(change)
