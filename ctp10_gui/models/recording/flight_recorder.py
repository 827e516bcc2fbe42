"""The flight recorder: an in-memory ring of the last minutes, saved on demand as a session."""

from __future__ import annotations

import dataclasses
import itertools
import math
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ctp10_gui.hardware.power import ChannelStatus
from ctp10_gui.models.recording.format import BatchLike, RecordingMetadata
from ctp10_gui.models.recording.session_writer import SaveResult, SessionWriter

# Flight recorder storage per snapshot row: t_wall float64 (8 B) + layout id uint16 (2 B)
# + per channel column value float32 (4 B) + status int8 (1 B) -> 10 + 5·C bytes
# (30 B for 4 channels: 60 min at 1 kHz = 3.6 M rows = 108 MB; at the default 20 Hz, 2.2 MB).
FLIGHT_ROW_FIXED_BYTES = 10
FLIGHT_BYTES_PER_CHANNEL = 5
FLIGHT_DEFAULT_MAX_BYTES = 256 * 1024 * 1024


@dataclass(frozen=True)
class FlightExtract:
    """A copied slice of the flight recorder (rows oldest first; events (t_wall, kind, text))."""

    t_wall: np.ndarray
    values_dbm: np.ndarray  # (N, W) float64, columns beyond a row's layout are NaN
    status: np.ndarray  # (N, W) int8
    layout_ids: np.ndarray  # (N,) uint16 into layouts
    layouts: tuple[tuple[int, tuple[int, ...]], ...]
    events: tuple[tuple[float, str, str], ...]


@dataclass(frozen=True)
class _Chunk:
    module: int
    channels: tuple[int, ...]
    t_wall: np.ndarray
    values_dbm: np.ndarray
    status: np.ndarray


class FlightRecorder:
    """Always-on in-memory ring of the last `minutes` of snapshots and link events.

    Memory: 10 + 5·C bytes per snapshot row (C = widest channel set seen), grown by doubling
    only while the ring holds less than `minutes` of data, never past max_bytes.
    """

    def __init__(
        self,
        minutes: float = 60.0,
        *,
        max_bytes: int = FLIGHT_DEFAULT_MAX_BYTES,
        initial_rows: int = 4096,
        max_events: int = 10_000,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.minutes = max(0.0, float(minutes))
        self.max_bytes = int(max_bytes)
        self._wall_clock = wall_clock
        self._width = 1
        self._cap = 0
        self._initial_rows = max(16, int(initial_rows))
        self._t = np.empty(0, np.float64)
        self._v = np.empty((0, 1), np.float32)
        self._s = np.empty((0, 1), np.int8)
        self._lay = np.empty(0, np.uint16)
        self._head = 0  # next write index
        self._count = 0
        self._layouts: list[tuple[int, tuple[int, ...]]] = []
        self._layout_ids: dict[tuple[int, tuple[int, ...]], int] = {}
        self._events: deque[tuple[float, str, str]] = deque(maxlen=max_events)
        self._lock = threading.Lock()  # save_last may run off the GUI thread

    @staticmethod
    def bytes_per_row(n_channels: int) -> int:
        """Return the memory per snapshot row in bytes for n_channels columns."""
        return FLIGHT_ROW_FIXED_BYTES + FLIGHT_BYTES_PER_CHANNEL * n_channels

    @property
    def capacity(self) -> int:
        """Return rows the ring holds now."""
        return self._cap

    @property
    def max_rows(self) -> int:
        """Return the most rows max_bytes allows at the current width."""
        return max(1, self.max_bytes // self.bytes_per_row(self._width))

    @property
    def nbytes(self) -> int:
        """Return the bytes held by the ring arrays."""
        return self._t.nbytes + self._v.nbytes + self._s.nbytes + self._lay.nbytes

    def __len__(self) -> int:
        return self._count

    @property
    def window_s(self) -> float:
        """Return the time span to keep, s."""
        return self.minutes * 60.0

    @property
    def enabled(self) -> bool:
        """Return True unless minutes is 0 (flight recorder off)."""
        return self.minutes > 0

    def set_minutes(self, minutes: float) -> None:
        """Change the time span kept (0 = off, frees the memory); capped by max_bytes."""
        self.minutes = max(0.0, float(minutes))
        if not self.enabled:
            with self._lock:
                self._cap = self._head = self._count = 0
                self._t = np.empty(0, np.float64)
                self._v = np.empty((0, self._width), np.float32)
                self._s = np.empty((0, self._width), np.int8)
                self._lay = np.empty(0, np.uint16)

    def clear(self) -> None:
        """Forget all rows and events (memory is kept)."""
        with self._lock:
            self._head = self._count = 0
            self._events.clear()

    def _ordered(self, arr: np.ndarray) -> np.ndarray:
        start = (self._head - self._count) % self._cap if self._cap else 0
        if start + self._count <= self._cap:
            return arr[start : start + self._count]
        return np.concatenate([arr[start:], arr[: self._head]])

    def _reallocate(self, cap: int, width: int) -> None:
        keep = min(self._count, cap)
        t = np.empty(cap, np.float64)
        v = np.full((cap, width), np.nan, np.float32)
        s = np.full((cap, width), 3, np.int8)
        lay = np.zeros(cap, np.uint16)
        if keep:
            t[:keep] = self._ordered(self._t)[-keep:]
            v[:keep, : self._width] = self._ordered(self._v)[-keep:]
            s[:keep, : self._width] = self._ordered(self._s)[-keep:]
            lay[:keep] = self._ordered(self._lay)[-keep:]
        self._t, self._v, self._s, self._lay = t, v, s, lay
        self._cap, self._width = cap, width
        self._count = keep
        self._head = keep % cap

    def _layout_id(self, module: int, channels: tuple[int, ...]) -> int:
        key = (module, channels)
        lid = self._layout_ids.get(key)
        if lid is None:
            lid = len(self._layouts)
            if lid > np.iinfo(np.uint16).max:
                raise ValueError("more than 65535 channel layouts in one flight recorder")
            self._layouts.append(key)
            self._layout_ids[key] = lid
        return lid

    def _grown_capacity(self, n_new: int, newest_t: float) -> int:
        """Return the capacity needed to keep the window, judged from the rate seen so far."""
        needed = self._count + n_new
        if needed <= self._cap or self._cap >= self.max_rows:
            return self._cap
        oldest_t = float(self._t[(self._head - self._count) % self._cap])
        if oldest_t < newest_t - self.window_s:
            return self._cap  # the ring already spans the window: overwrite the oldest
        span = newest_t - oldest_t
        if span >= 1.0:
            # Size by minutes × observed rate (+10 %) rather than doubling: doubling a 3.6 M-row
            # ring would hold 2× the memory the window needs.
            estimate = math.ceil(needed / span * self.window_s * 1.1)
            target = max(needed, estimate, self._cap + self._cap // 4)
        else:
            target = max(needed, 2 * self._cap)
        return min(self.max_rows, target)

    def append(self, batch: BatchLike) -> None:
        """Add a SnapshotBatch (N rows); the oldest rows are overwritten when full."""
        n = len(batch.t_wall)
        if n == 0 or not self.enabled:
            return
        channels = tuple(int(c) for c in batch.channels)
        t = np.asarray(batch.t_wall, np.float64)
        with self._lock:
            width = max(self._width, len(channels))
            if width != self._width or self._cap == 0:
                max_rows = max(1, self.max_bytes // self.bytes_per_row(width))
                cap = max(self._cap, self._initial_rows, n)
                self._reallocate(min(cap, max_rows), width)
            else:
                cap = self._grown_capacity(n, float(t[-1]))
                if cap != self._cap:
                    self._reallocate(cap, width)
            lid = self._layout_id(int(batch.module), channels)
            v = np.asarray(batch.values_dbm).reshape(n, -1)
            st = np.asarray(batch.status).reshape(n, -1)
            if n > self._cap:
                t, v, st = t[-self._cap :], v[-self._cap :], st[-self._cap :]
                n = self._cap
            c = len(channels)
            # At most two contiguous slices (before and after the wrap): no fancy indexing.
            done = 0
            while done < n:
                start = self._head
                k = min(n - done, self._cap - start)
                rows = slice(start, start + k)
                src = slice(done, done + k)
                self._t[rows] = t[src]
                self._v[rows, :c] = v[src]
                self._s[rows, :c] = st[src]
                if c < self._width:
                    self._v[rows, c:] = np.nan
                    self._s[rows, c:] = int(ChannelStatus.ERROR)
                self._lay[rows] = lid
                self._head = (start + k) % self._cap
                done += k
            self._count = min(self._cap, self._count + n)

    def add_event(self, kind: str, text: str = "", t_wall: float | None = None) -> None:
        """Remember a link event (kind e.g. 'disconnect', text the reason, t_wall in s)."""
        if not self.enabled:
            return
        t = self._wall_clock() if t_wall is None else float(t_wall)
        with self._lock:
            self._events.append((t, kind, text))

    def extract(self, minutes: float | None = None) -> FlightExtract:
        """Return a copy of the rows and events from the last `minutes` (default: all kept)."""
        with self._lock:
            t = self._ordered(self._t).copy() if self._count else np.empty(0)
            now = self._wall_clock()
            t0 = -math.inf if minutes is None else now - float(minutes) * 60.0
            first = int(np.searchsorted(t, t0, side="left")) if len(t) else 0
            sel = slice(first, None)
            if self._count:
                v = self._ordered(self._v)[sel].astype(np.float64)
                s = self._ordered(self._s)[sel].copy()
                lay = self._ordered(self._lay)[sel].copy()
            else:
                v = np.empty((0, self._width))
                s = np.empty((0, self._width), np.int8)
                lay = np.empty(0, np.uint16)
            events = tuple(e for e in self._events if e[0] >= t0)
            return FlightExtract(t[sel], v, s, lay, tuple(self._layouts), events)

    def save_last(
        self,
        minutes: float,
        folder: str | os.PathLike[str],
        metadata: RecordingMetadata,
    ) -> SaveResult:
        """Write the last `minutes` as a complete session (CSV + JSON). Raises OSError."""
        return write_extract(
            self.extract(minutes),
            folder,
            metadata,
            source="flight_recorder",
            wall_clock=self._wall_clock,
        )


def _chunks(ex: FlightExtract) -> Iterable[_Chunk]:
    n = len(ex.t_wall)
    if n == 0:
        return
    change = np.flatnonzero(np.diff(ex.layout_ids.astype(np.int64))) + 1
    bounds = [0, *change.tolist(), n]
    for a, b in itertools.pairwise(bounds):
        module, channels = ex.layouts[int(ex.layout_ids[a])]
        c = len(channels)
        yield _Chunk(module, channels, ex.t_wall[a:b], ex.values_dbm[a:b, :c], ex.status[a:b, :c])


def write_extract(
    ex: FlightExtract,
    folder: str | os.PathLike[str],
    metadata: RecordingMetadata,
    *,
    source: str = "flight_recorder",
    wall_clock: Callable[[], float] = time.time,
    block_rows: int = 20_000,
) -> SaveResult:
    """Write an extract as a complete session in the recording format. Raises OSError."""
    first = next(iter(_chunks(ex)), None)
    if first is not None:
        metadata = dataclasses.replace(metadata, module=first.module, channels=first.channels)
    start = float(ex.t_wall[0]) if len(ex.t_wall) else wall_clock()
    if ex.events:
        start = min(start, ex.events[0][0])
    w = SessionWriter(Path(folder), metadata, start_wall=start, source=source)
    try:
        w.open()
        events = list(ex.events)
        ei = 0
        for chunk in _chunks(ex):
            n = len(chunk.t_wall)
            a = 0
            while a < n:
                # Interleave events by time so a gap is explained where it happens.
                limit = events[ei][0] if ei < len(events) else math.inf
                b = min(n, a + block_rows, int(np.searchsorted(chunk.t_wall, limit, "right")))
                if b > a:
                    w.write_batch(
                        _Chunk(
                            chunk.module,
                            chunk.channels,
                            chunk.t_wall[a:b],
                            chunk.values_dbm[a:b],
                            chunk.status[a:b],
                        )
                    )
                    w.flush()
                    a = b
                else:
                    w.write_event(*events[ei])
                    ei += 1
        for ev in events[ei:]:
            w.write_event(*ev)
        w.close(complete=True)
    except OSError as e:
        w.stop_after_error(f"Saving stopped: {e.strerror or e}", wall_clock())
        raise
    except BaseException:
        w.abandon()  # files closed; the sidecar stays open, so recovery closes the session
        raise
    return SaveResult(w.sidecar, tuple(w.paths), w.rows + w.events, w.events, w.bytes_written)
