"""Snapshot batches, the ring-buffer power history and min/max decimation for the strip chart.

The live view appends a batch every ≤ 20 ms and redraws at 30–60 Hz from a 1 h history of up
to 3.6 M samples per channel. Two facts shape this module (shared/performance-notes.md):
``np.roll`` of 3.6 M samples costs 36 ms per append, and drawing more than ~2 points per pixel
column is wasted work. So the history is a ring buffer that writes every sample twice (at i and
i + H), which makes "the last n samples" one contiguous slice, and keeps a small min/max pyramid
(blocks of 64 and 4096 samples) so that a 1 h window decimates several times faster than from
the raw samples. Pixel columns sit on a grid fixed in time, so a scrolling window keeps the
columns it already decimated and recomputes only its two edge columns per frame.

All times are monotonic seconds, all values dBm. Plain Python + numpy: no Qt.
"""

from __future__ import annotations

import logging
import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ctp10_gui.hardware.power import ChannelStatus

if TYPE_CHECKING:
    from ctp10_gui.hardware.power import PowerSnapshot

log = logging.getLogger(__name__)

#: Status stored in the history for a gap marker (an outage), next to the ChannelStatus values.
GAP_STATUS = -1
#: Samples per block of each min/max pyramid level (each a multiple of the previous).
DEFAULT_BLOCK_SIZES: tuple[int, ...] = (64, 4096)
#: One hour at 1 kHz, the longest window of the strip chart at the fastest poll rate.
DEFAULT_CAPACITY = 3_600_000

_OK = int(ChannelStatus.OK)


# --------------------------------------------------------------------------- batches


@dataclass(frozen=True, eq=False)  # eq=False: == on numpy arrays has no single truth value
class SnapshotBatch:
    """Several snapshots of one module's channels as numpy arrays (treat the arrays as read-only).

    t_mono, t_wall: (N,) float64 s; values_dbm: (N, C) float64 dBm, NaN where status != OK;
    status: (N, C) int8 ChannelStatus.
    """

    module: int
    channels: tuple[int, ...]
    t_mono: np.ndarray
    t_wall: np.ndarray
    values_dbm: np.ndarray
    status: np.ndarray

    def __post_init__(self) -> None:
        """Coerce dtypes and check that the shapes agree (ValueError otherwise)."""
        # Frozen dataclass: normalising the arrays needs object.__setattr__.
        object.__setattr__(self, "channels", tuple(int(c) for c in self.channels))
        object.__setattr__(self, "t_mono", np.asarray(self.t_mono, dtype=np.float64))
        object.__setattr__(self, "t_wall", np.asarray(self.t_wall, dtype=np.float64))
        object.__setattr__(self, "values_dbm", np.asarray(self.values_dbm, dtype=np.float64))
        object.__setattr__(self, "status", np.asarray(self.status, dtype=np.int8))
        n, c = len(self.t_mono), len(self.channels)
        if self.t_mono.shape != (n,) or self.t_wall.shape != (n,):
            raise ValueError(
                f"t_mono and t_wall must both have shape ({n},), got "
                f"{self.t_mono.shape} and {self.t_wall.shape}"
            )
        if self.values_dbm.shape != (n, c) or self.status.shape != (n, c):
            raise ValueError(
                f"values_dbm and status must have shape ({n}, {c}) for channels "
                f"{self.channels}, got {self.values_dbm.shape} and {self.status.shape}"
            )

    def __len__(self) -> int:
        """Return the number of snapshots N (≥ 0)."""
        return len(self.t_mono)

    @classmethod
    def empty(cls, module: int, channels: Sequence[int]) -> SnapshotBatch:
        """Return a batch of zero snapshots for the given module (1–20) and channels (1–6)."""
        c = len(channels)
        return cls(
            module,
            tuple(channels),
            np.empty(0),
            np.empty(0),
            np.empty((0, c)),
            np.empty((0, c), dtype=np.int8),
        )

    @classmethod
    def from_snapshots(cls, snaps: Sequence[PowerSnapshot]) -> SnapshotBatch:
        """Stack ≥ 1 snapshots of the same module and channels into one batch (ValueError else)."""
        if not snaps:
            raise ValueError("cannot build a batch from zero snapshots (module/channels unknown)")
        first = snaps[0]
        module, channels = first.module, tuple(first.channels)
        for s in snaps:
            if s.module != module or tuple(s.channels) != channels:
                raise ValueError(
                    f"snapshots mix module/channels: {module}/{channels} and "
                    f"{s.module}/{tuple(s.channels)}"
                )
        n = len(snaps)
        return cls(
            module,
            channels,
            np.fromiter((s.t_mono for s in snaps), dtype=np.float64, count=n),
            np.fromiter((s.t_wall for s in snaps), dtype=np.float64, count=n),
            np.stack([np.asarray(s.values_dbm, dtype=np.float64) for s in snaps]),
            np.stack([np.asarray(s.status, dtype=np.int8) for s in snaps]),
        )

    @classmethod
    def concat(cls, batches: Sequence[SnapshotBatch]) -> SnapshotBatch:
        """Join ≥ 1 batches of the same module and channels in the given order (ValueError else)."""
        if not batches:
            raise ValueError("cannot concatenate zero batches (module/channels unknown)")
        module, channels = batches[0].module, batches[0].channels
        for b in batches:
            if b.module != module or b.channels != channels:
                raise ValueError(
                    f"batches mix module/channels: {module}/{channels} and {b.module}/{b.channels}"
                )
        if len(batches) == 1:
            return batches[0]
        return cls(
            module,
            channels,
            np.concatenate([b.t_mono for b in batches]),
            np.concatenate([b.t_wall for b in batches]),
            np.concatenate([b.values_dbm for b in batches]),
            np.concatenate([b.status for b in batches]),
        )


class SnapshotBatcher:
    """Collect snapshots in the acquisition worker and release them as batches.

    One queued Qt signal per sample costs 11–20 µs of GUI CPU; one batch per 10–20 ms costs
    0.6 µs per sample. Rows are kept as plain Python lists and turned into numpy arrays once per
    batch: per-sample arrays would cost more than the whole batch conversion. Usage in the
    worker loop::

        flushed = batcher.add_row(m, chans, t_mono, t_wall, values, status)  # or add(snap)
        if flushed: emit(flushed)            # a batch of the previous layout, if it changed
        if batcher.due(clock(), next_snapshot_at): emit(batcher.take())
    """

    def __init__(self, max_age_s: float = 0.02, max_samples: int = 256) -> None:
        """Release a batch once its oldest snapshot is max_age_s (> 0 s) old or at max_samples."""
        if not max_age_s > 0:
            raise ValueError(f"max_age_s must be > 0 s, got {max_age_s}")
        if max_samples < 1:
            raise ValueError(f"max_samples must be ≥ 1, got {max_samples}")
        self.max_age_s = float(max_age_s)
        self.max_samples = int(max_samples)
        self._module = 0
        self._channels: tuple[int, ...] = ()
        self._t_mono: list[float] = []
        self._t_wall: list[float] = []
        # Row after row, flat: np.array() of a flat list is twice as fast as of nested lists.
        self._values: list[float] = []
        self._status: list[int] = []

    def __len__(self) -> int:
        """Return the number of snapshots waiting (≥ 0)."""
        return len(self._t_mono)

    @property
    def deadline(self) -> float | None:
        """Return the monotonic time (s) by which the pending batch must go, None if empty."""
        if not self._t_mono:
            return None
        return self._t_mono[0] + self.max_age_s

    def add(self, snap: PowerSnapshot) -> SnapshotBatch | None:
        """Queue one snapshot; return the pending batch first if module or channels changed."""
        return self.add_row(
            snap.module,
            tuple(snap.channels),
            snap.t_mono,
            snap.t_wall,
            np.asarray(snap.values_dbm, dtype=np.float64).tolist(),
            np.asarray(snap.status, dtype=np.int8).tolist(),
        )

    def add_row(
        self,
        module: int,
        channels: tuple[int, ...],
        t_mono: float,
        t_wall: float,
        values_dbm: Sequence[float],
        status: Sequence[int],
    ) -> SnapshotBatch | None:
        """Queue one snapshot as plain values (s, s, dBm, ChannelStatus); flush a changed layout."""
        if len(values_dbm) != len(channels) or len(status) != len(channels):
            # Checked here because the flat lists below would silently shift the columns.
            raise ValueError(
                f"{len(values_dbm)} values and {len(status)} statuses for channels {channels}"
            )
        flushed = None
        if self._t_mono and (
            module != self._module
            or (channels is not self._channels and channels != self._channels)
        ):
            # A batch holds one layout; the old samples must not be dropped on a switch.
            flushed = self.take()
        if not self._t_mono:
            self._module, self._channels = module, channels
        self._t_mono.append(t_mono)
        self._t_wall.append(t_wall)
        self._values.extend(values_dbm)
        self._status.extend(status)
        return flushed

    def due(self, now: float, next_sample_at: float | None = None) -> bool:
        """Return True if the batch must go now (monotonic s), or before next_sample_at (s)."""
        if not self._t_mono:
            return False
        deadline = self._t_mono[0] + self.max_age_s
        if len(self._t_mono) >= self.max_samples or now >= deadline:
            return True
        # At slow poll rates waiting for the next sample would overshoot the deadline: send now.
        return next_sample_at is not None and next_sample_at > deadline

    def take(self) -> SnapshotBatch | None:
        """Return and forget the pending snapshots as one batch, None if there are none."""
        if not self._t_mono:
            return None
        shape = (len(self._t_mono), len(self._channels))
        batch = SnapshotBatch(
            self._module,
            self._channels,
            np.array(self._t_mono, dtype=np.float64),
            np.array(self._t_wall, dtype=np.float64),
            np.array(self._values, dtype=np.float64).reshape(shape),
            np.array(self._status, dtype=np.int8).reshape(shape),
        )
        self._t_mono, self._t_wall, self._values, self._status = [], [], [], []
        return batch


# --------------------------------------------------------------------------- ring buffer


class _DoubledRing:
    """Preallocated arrays whose last axis is written at i and i + H: the newest n are one slice."""

    def __init__(self, capacity: int, layout: dict[str, tuple[tuple[int, ...], type]]) -> None:
        self.capacity = capacity
        # np.empty, not np.full: the OS commits pages only when written, so a 1 h buffer costs
        # memory in proportion to what has been recorded so far.
        self.arrays = {
            name: np.empty((*lead, 2 * capacity), dtype=dtype)
            for name, (lead, dtype) in layout.items()
        }
        self.count = 0  # items ever written since clear()

    def __len__(self) -> int:
        return min(self.count, self.capacity)

    def write(self, chunk: dict[str, np.ndarray], n: int) -> None:
        """Append n ≤ capacity items (each array (..., n)) to every named array."""
        h = self.capacity
        p = self.count % h
        first = min(n, h - p)
        rest = n - first
        for name, arr in self.arrays.items():
            data = chunk[name]
            arr[..., p : p + first] = data[..., :first]
            arr[..., p + h : p + h + first] = data[..., :first]
            if rest:
                arr[..., :rest] = data[..., first:]
                arr[..., h : h + rest] = data[..., first:]
        self.count += n

    def view(self, name: str, n: int | None = None) -> np.ndarray:
        """Return the newest n items (all retained if None) of one array, without copying."""
        size = len(self)
        n = size if n is None else max(0, min(int(n), size))
        end = self.count % self.capacity + self.capacity
        return self.arrays[name][..., end - n : end]

    def clear(self) -> None:
        self.count = 0


class _Level:
    """One min/max pyramid level: per block of `block` samples, min/max with times, first NaN."""

    def __init__(self, block: int, factor: int, capacity: int, n_channels: int) -> None:
        self.block = block  # samples per block
        self.factor = factor  # elements of the level below per block
        lead = (n_channels,)
        self.ring = _DoubledRing(
            capacity // block + 2,
            {
                "lo": (lead, np.float32),
                "tlo": (lead, np.float64),
                "hi": (lead, np.float32),
                "thi": (lead, np.float64),
                "tnan": (lead, np.float64),  # time of the first NaN in the block, +inf if none
            },
        )


def _reduce_blocks(
    lo: np.ndarray, tlo: np.ndarray, hi: np.ndarray, thi: np.ndarray, tnan: np.ndarray
) -> dict[str, np.ndarray]:
    """Reduce (C, nb, f) element arrays to per-block min/max (first occurrence) and first NaN."""
    shape = lo.shape
    i = np.where(np.isnan(lo), np.inf, lo).argmin(axis=-1)[..., None]
    j = np.where(np.isnan(hi), -np.inf, hi).argmax(axis=-1)[..., None]
    ymin = np.take_along_axis(lo, i, -1)[..., 0]
    ymax = np.take_along_axis(hi, j, -1)[..., 0]
    tmin = np.take_along_axis(np.broadcast_to(tlo, shape), i, -1)[..., 0]
    tmax = np.take_along_axis(np.broadcast_to(thi, shape), j, -1)[..., 0]
    # argmin of an all-NaN block points at a NaN: its value is NaN and its time means nothing.
    return {
        "lo": ymin,
        "tlo": np.where(np.isnan(ymin), np.nan, tmin),
        "hi": ymax,
        "thi": np.where(np.isnan(ymax), np.nan, tmax),
        "tnan": np.broadcast_to(tnan, shape).min(axis=-1),
    }


class RingHistory:
    """Preallocated power history of C channels with a contiguous view and a min/max pyramid.

    Storage: t float64 (a float32 monotonic time since boot would resolve only ~0.06 s);
    values float32, (C, 2H): 7 significant digits resolve 1e-6 dB, far below the 0.001 dB the
    detector reports, and save 58 MB per hour of 4 channels at 1 kHz (≈ 200 MB in all, the
    doubled writes included); status int8. Non-OK and non-finite values are stored as NaN so a
    curve breaks there. Times must not decrease. Not thread-safe: use from the GUI thread only.
    """

    def __init__(
        self,
        capacity: int,
        n_channels: int,
        *,
        block_sizes: Sequence[int] = DEFAULT_BLOCK_SIZES,
        max_outages: int = 256,
    ) -> None:
        """Hold the newest capacity (≥ 1) samples of n_channels (≥ 1) channels."""
        if capacity < 1 or n_channels < 1:
            raise ValueError(f"capacity and n_channels must be ≥ 1, got {capacity}, {n_channels}")
        self.capacity = int(capacity)
        self.n_channels = int(n_channels)
        self._raw = _DoubledRing(
            self.capacity,
            {
                "t": ((), np.float64),
                "y": ((n_channels,), np.float32),
                "status": ((n_channels,), np.int8),
            },
        )
        self._levels: list[_Level] = []
        below = 1
        for block in block_sizes:
            if block <= below or block % below:
                raise ValueError(f"block sizes must grow by integer factors, got {block_sizes}")
            # A level only pays off (and stays consistent, see _update_levels) for H ≥ 4 blocks.
            if self.capacity >= 4 * block:
                self._levels.append(_Level(block, block // below, self.capacity, n_channels))
            below = block
        self._last_t = -np.inf
        self._plans: dict[tuple[float, float, int, int | None, bytes], _Plan] = {}
        self._plans_count = -1
        self._columns: dict[int, _ColumnCache] = {}
        self._grid_memo: tuple[tuple[float, float, int, int], _Grid] | None = None
        self._outages: deque[list[float | None]] = deque(maxlen=max_outages)

    # ---------------------------------------------------------------- sizes

    def __len__(self) -> int:
        """Return the number of samples held (0 … capacity), gap markers included."""
        return len(self._raw)

    @property
    def total_appended(self) -> int:
        """Return the number of samples appended since construction or clear()."""
        return self._raw.count

    @property
    def block_sizes(self) -> tuple[int, ...]:
        """Return the samples per block of the pyramid levels in use (small buffers have none)."""
        return tuple(level.block for level in self._levels)

    @property
    def latest_t(self) -> float | None:
        """Return the monotonic time (s) of the newest sample, None if empty."""
        return None if self._raw.count == 0 else float(self._last_t)

    @property
    def oldest_t(self) -> float | None:
        """Return the monotonic time (s) of the oldest retained sample, None if empty."""
        t = self._raw.view("t")
        return float(t[0]) if len(t) else None

    # ---------------------------------------------------------------- writing

    def append(self, batch: SnapshotBatch) -> None:
        """Add a batch whose channel count matches; ValueError if its times go backwards."""
        if len(batch.channels) != self.n_channels:
            raise ValueError(
                f"batch has {len(batch.channels)} channels, history holds {self.n_channels}"
            )
        n = len(batch)
        if n == 0:
            return
        t = batch.t_mono
        if t[0] < self._last_t or (n > 1 and bool(np.any(np.diff(t) < 0))):
            raise ValueError(
                f"sample times must not decrease (newest held {self._last_t}, batch starts {t[0]})"
            )
        y = batch.values_dbm.T.astype(np.float32)  # (C, N), a fresh copy we may edit
        status = batch.status.T.astype(np.int8)
        y[(status != _OK) | ~np.isfinite(y)] = np.nan
        self._write(t, y, status)

    def mark_gap(self, t: float) -> None:
        """Insert a gap marker (NaN in every channel) at monotonic time t (s) to break curves."""
        t = max(float(t), self._last_t)  # a marker must not make time go backwards
        c = self.n_channels
        self._write(
            np.array([t]),
            np.full((c, 1), np.nan, dtype=np.float32),
            np.full((c, 1), GAP_STATUS, dtype=np.int8),
        )

    def begin_outage(self, t: float) -> None:
        """Open an outage at monotonic time t (s): mark a gap and start a shaded interval."""
        if self._outages and self._outages[-1][1] is None:
            return  # already in an outage; the first start time is the true one
        self.mark_gap(t)
        self._outages.append([float(t), None])

    def end_outage(self, t: float) -> None:
        """Close the open outage at monotonic time t (s); nothing happens if none is open."""
        if self._outages and self._outages[-1][1] is None:
            start = self._outages[-1][0]
            assert start is not None
            self._outages[-1][1] = max(float(t), start)
        else:
            log.debug("end_outage(%s) without an open outage", t)

    def outages(self) -> list[tuple[float, float | None]]:
        """Return outage intervals (start, end or None while open) still inside the history."""
        oldest = self.oldest_t
        out: list[tuple[float, float | None]] = []
        for start, end in self._outages:
            assert start is not None
            if end is None or oldest is None or end >= oldest:
                out.append((start, end))
        return out

    def clear(self) -> None:
        """Forget every sample and outage (e.g. after a change of module or channels)."""
        self._raw.clear()
        for level in self._levels:
            level.ring.clear()
        self._last_t = -np.inf
        self._plans.clear()
        self._columns.clear()  # kept columns of the old history must not come back
        self._grid_memo = None
        self._outages.clear()

    def _write(self, t: np.ndarray, y: np.ndarray, status: np.ndarray) -> None:
        # Chunks of ≤ H/2 keep every sample a new pyramid block needs inside the ring.
        n = len(t)
        step = max(1, self.capacity // 2)
        if n > self.capacity:
            # Older samples would be overwritten at once; only the newest H matter (and the
            # pyramid sees a consistent sample count because whole chunks are still written).
            log.debug("batch of %d samples exceeds the capacity %d", n, self.capacity)
        for a in range(0, n, step):
            b = min(n, a + step)
            self._raw.write({"t": t[a:b], "y": y[:, a:b], "status": status[:, a:b]}, b - a)
            self._update_levels()
        self._last_t = float(t[-1])

    def _update_levels(self) -> None:
        below_count = self._raw.count
        below: _DoubledRing | None = None  # None: the raw samples
        for level in self._levels:
            ring = level.ring
            k_old, k_new = ring.count, below_count // level.factor
            if k_new > k_old:
                f = level.factor
                m = below_count - k_old * f  # elements below since the first new block began
                used = (k_new - k_old) * f
                c = self.n_channels
                if below is None:
                    y = self._raw.view("y", m)[:, :used].reshape(c, -1, f)
                    t = self._raw.view("t", m)[:used].reshape(-1, f)
                    blocks = _reduce_blocks(y, t, y, t, np.where(np.isnan(y), t, np.inf))
                else:
                    parts = {
                        name: below.view(name, m)[:, :used].reshape(c, -1, f)
                        for name in ("lo", "tlo", "hi", "thi", "tnan")
                    }
                    blocks = _reduce_blocks(**parts)
                ring.write(blocks, k_new - k_old)
            below, below_count = ring, ring.count

    # ---------------------------------------------------------------- reading

    def view(self, n: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Return the newest n samples (all if None) as views: t (n,) s, y (n, C) dBm, status.

        y is float32 and NaN where status != OK; status holds GAP_STATUS (-1) at gap markers.
        No copy is made: do not write to the arrays, and do not keep them across appends.
        """
        return (
            self._raw.view("t", n),
            self._raw.view("y", n).T,
            self._raw.view("status", n).T,
        )

    def decimated(
        self, channel_index: int, t0: float, t1: float, n_columns: int, *, level: int | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Min/max-decimate one channel (0-based index) over [t0, t1] s into ~n_columns ≥ 1.

        Columns are those of column_edges (on a grid fixed in time, so a scrolling window keeps
        its columns). Returns (t, y) float64 with ≤ 3 points per column (min and max in order
        of occurrence, NaN where the column holds a gap): exactly decimate_minmax of the raw
        samples. level: 0 = raw samples, k = pyramid level k (1-based), None = the cheapest.
        Finished columns are kept between calls with the same column width, so a live window
        only recomputes its two edge columns per frame.
        """
        return self.decimated_many((channel_index,), t0, t1, n_columns, level=level)[0]

    def decimated_many(
        self, channel_indices: Sequence[int], t0: float, t1: float, n_columns: int, *,
        level: int | None = None,
    ) -> list[tuple[np.ndarray, np.ndarray]]:
        """Return decimated(c, t0, t1, n_columns, level=level) for each channel index c.

        One strip-chart frame at once: the channels share the column grid and the sample
        layout, and the fresh columns of all of them are reduced in one numpy pass.
        """
        for ci in channel_indices:
            if not 0 <= ci < self.n_channels:
                raise IndexError(f"channel index {ci} outside 0…{self.n_channels - 1}")
        if level is not None and not 0 <= level <= len(self._levels):
            raise ValueError(f"level must be 0…{len(self._levels)}, got {level}")
        edges, width, cells, done = self._grid(t0, t1, n_columns)
        key = (width, level)
        groups: dict[tuple[int, int], list[int]] = {}  # channels sharing a kept column run
        for j, ci in enumerate(channel_indices):
            groups.setdefault(self._kept_run(ci, key, cells, done), []).append(j)
        out: list[tuple[np.ndarray, np.ndarray]] = [(np.empty(0), np.empty(0))] * len(
            channel_indices
        )
        for (a, b), members in groups.items():
            todo = np.concatenate([np.arange(a), np.arange(b, len(cells))])
            cis = [channel_indices[j] for j in members]
            # Columns are disjoint in time, so each channel's points are its columns' in turn.
            t_new, y_new, counts = _assemble_columns(self._column_stats(cis, edges, todo, level))
            ends = np.cumsum(counts.sum(axis=1)).tolist()
            for j, ci, row, p0, p1 in zip(members, cis, counts, [0, *ends[:-1]], ends,
                                          strict=True):
                out[j] = self._merge(ci, key, cells, done, a, b, t_new[p0:p1], y_new[p0:p1], row)
        return out

    def _kept_run(
        self, ci: int, key: tuple[float, int | None], cells: np.ndarray, done: np.ndarray
    ) -> tuple[int, int]:
        """Return (a, b): columns a … b - 1 are finished and kept for channel ci (0, 0: none)."""
        cache = self._columns.get(ci)
        if cache is None or cache.key != key:
            return 0, 0
        pos = cells - cache.first_cell
        usable = done & (pos >= 0) & (pos < len(cache.offsets) - 1)
        if not usable.any():
            return 0, 0
        a = int(np.argmax(usable))
        return a, a + int(usable[a:].sum())  # a contiguous run: slices, not fancy indexing

    def _merge(
        self, ci: int, key: tuple[float, int | None], cells: np.ndarray, done: np.ndarray,
        a: int, b: int, t_new: np.ndarray, y_new: np.ndarray, counts: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Join the fresh columns' points (counts per column) with the kept columns a … b - 1."""
        cache = self._columns.get(ci)
        if b > a:
            assert cache is not None
            p = int(cells[a] - cache.first_cell)
            k0, k1 = int(cache.offsets[p]), int(cache.offsets[p + b - a])
            split = int(counts[:a].sum())  # points of the fresh columns left of the kept run
            t_out = np.concatenate([t_new[:split], cache.t[k0:k1], t_new[split:]])
            y_out = np.concatenate([y_new[:split], cache.y[k0:k1], y_new[split:]])
        else:
            t_out, y_out = t_new, y_new
        if done.any():
            d0 = int(np.argmax(done))
            d1 = d0 + int(done[d0:].sum())  # finished columns are contiguous
            if (d0, d1) != (a, b):  # else the kept run is still exactly right
                self._keep_columns(ci, key, cells, d0, d1, t_out, y_out, counts, a, b, cache)
        return t_out, y_out

    def _grid(self, t0: float, t1: float, n_columns: int) -> _Grid:
        """Return (edges, width s, cell and finished flag per column): one grid for all channels."""
        key = (float(t0), float(t1), int(n_columns), self._raw.count)
        if self._grid_memo is not None and self._grid_memo[0] == key:
            return self._grid_memo[1]
        edges, width, k_first = _column_grid(t0, t1, n_columns)
        cells = k_first - 1 + np.arange(len(edges) - 1)  # grid cell of each column
        grid = (edges, width, cells, self._finished(cells, width))
        self._grid_memo = (key, grid)
        return grid

    def _keep_columns(
        self, ci: int, key: tuple[float, int | None], cells: np.ndarray, d0: int, d1: int,
        t_out: np.ndarray, y_out: np.ndarray, counts: np.ndarray, a: int, b: int,
        cache: _ColumnCache | None,
    ) -> None:
        """Keep the points of finished columns d0 … d1 - 1 (t_out/y_out: this call's output)."""
        # Points per output column: fresh columns from counts, kept ones from the old offsets.
        per_column = np.empty(len(cells), dtype=np.intp)
        fresh = np.ones(len(cells), dtype=bool)
        fresh[a:b] = False
        per_column[fresh] = counts
        if b > a:
            assert cache is not None
            first = int(cells[a] - cache.first_cell)
            per_column[a:b] = np.diff(cache.offsets[first : first + b - a + 1])
        starts = np.concatenate([[0], np.cumsum(per_column)])
        k0, k1 = int(starts[d0]), int(starts[d1])
        self._columns[ci] = _ColumnCache(
            key, int(cells[d0]), t_out[k0:k1].copy(), y_out[k0:k1].copy(), starts[d0 : d1 + 1] - k0
        )

    def _finished(self, cells: np.ndarray, width: float) -> np.ndarray:
        """Return which columns are whole grid cells that no append or eviction can change."""
        finished = np.zeros(len(cells), dtype=bool)
        finished[1:-1] = True  # the first and last columns are cut by t0 and t1
        # No future sample can fall in a cell that ends at or before the newest sample time.
        finished &= (cells + 1) * width <= self._last_t
        if self._raw.count > self.capacity:
            # Samples were evicted: only cells starting after the oldest one are whole.
            finished &= cells * width > self.oldest_t  # type: ignore[operator]
        return finished

    def _column_stats(
        self, cis: Sequence[int], edges: np.ndarray, columns: np.ndarray, level: int | None
    ) -> np.ndarray:
        """Return (len(cis), 5, n) stats (ymin, tmin, ymax, tmax, tnan) of the given columns."""
        plan = self._plan_for(edges, columns, level)
        if plan.parts is not None and len(plan.parts) == 1 and plan.parts[0][0] == 0:
            # Scattered raw columns, a live frame's edges: every channel in one numpy pass,
            # their samples laid end to end (each column a segment, channel after channel).
            _lv, gather, lengths, _slots = plan.parts[0]
            k, n = len(cis), len(columns)
            y = self._raw.view("y")[np.asarray(cis, dtype=np.intp)[:, None], gather]
            t = self._raw.view("t")
            stats = _raw_stats(y.ravel(), t, np.tile(lengths, k), np.tile(gather, k))
            return np.array(stats).reshape(5, k, n).transpose(1, 0, 2)
        return np.stack([self._channel_stats(ci, plan) for ci in cis])

    def _channel_stats(self, ci: int, plan: _Plan) -> np.ndarray:
        """Return (5, n) stats of one channel for the columns of plan."""
        t = self._raw.view("t")
        y = self._raw.view("y")[ci]
        if plan.parts is None:  # consecutive columns straight from the raw samples
            return np.array(_raw_stats(y[plan.i0 : plan.i1], t[plan.i0 : plan.i1], plan.lengths))
        slots: list[tuple[np.ndarray, ...]] = []
        for lv, gather, lengths, n_slots in plan.parts:
            if lv == 0:
                stats = _raw_stats(y[gather], t, lengths, gather)
            else:
                ring = self._levels[lv - 1].ring
                arrays = {name: ring.view(name)[ci] for name in ring.arrays}
                stats = _block_stats(arrays, gather, lengths)
            n_col = len(lengths) // n_slots
            for j in range(n_slots):
                slots.append(tuple(s[j * n_col : (j + 1) * n_col] for s in stats))
        return np.array(slots[0] if len(slots) == 1 else _combine(slots))

    def _plan_for(self, edges: np.ndarray, columns: np.ndarray, level: int | None) -> _Plan:
        """Return the sample layout of these columns, shared by the channels until an append."""
        key = (float(edges[0]), float(edges[-1]), len(edges), level, columns.tobytes())
        if self._plans_count != self._raw.count:
            self._plans.clear()
            self._plans_count = self._raw.count
        plan = self._plans.get(key)
        if plan is not None:
            return plan
        t = self._raw.view("t")
        starts = np.searchsorted(t, edges[columns], side="left")
        ends = np.searchsorted(t, edges[columns + 1], side="left")
        if columns[-1] == len(edges) - 2:
            ends[-1] = np.searchsorted(t, edges[-1], side="right")  # the last column holds t1
        lengths = ends - starts
        if level is None:
            samples = int(lengths.sum())
            level = 0
            for k, lv in enumerate(self._levels, start=1):
                if (
                    samples >= PYRAMID_MIN_SAMPLES
                    and samples / len(columns) >= LEVEL_MIN_BLOCKS_PER_COLUMN * lv.block
                ):
                    level = k
        if level == 0 and columns[-1] - columns[0] == len(columns) - 1:
            plan = _Plan(int(starts[0]), int(ends[-1]), lengths, None)
        elif level == 0:
            plan = _Plan(0, 0, lengths, ((0, _range_indices(starts, lengths), lengths, 1),))
        else:
            parts: list[tuple[int, np.ndarray, np.ndarray, int]] = []
            g0 = self._raw.count - len(t)  # global sample number of view index 0
            pieces = _pieces(g0 + starts, g0 + ends, level, (1, *self.block_sizes))
            for lv in range(level + 1):
                mine = [(a, b) for (k, a, b) in pieces if k == lv]
                first = np.concatenate([a for a, _ in mine])
                sizes = np.concatenate([np.maximum(b - a, 0) for a, b in mine])
                ring = self._raw if lv == 0 else self._levels[lv - 1].ring
                base = ring.count - len(ring)  # global item number of view index 0
                parts.append((lv, _range_indices(first - base, sizes), sizes, len(mine)))
            plan = _Plan(0, 0, lengths, tuple(parts))
        if len(self._plans) > 8:  # a handful of column sets per frame; never grow unbounded
            self._plans.clear()
        self._plans[key] = plan
        return plan


# --------------------------------------------------------------------------- decimation

#: A pyramid level is used once a pixel column spans at least this many of its blocks; below,
#: the raw samples at the column edges cost more than the blocks save. Measured with
#: benchmarks/bench_ring_buffer.py: 64-sample blocks lose at 500 samples per column, win at 1000.
LEVEL_MIN_BLOCKS_PER_COLUMN = 12
#: Below this many samples the raw pass is so short that the pyramid's fixed cost dominates
#: (the one or two edge columns a live window recomputes per frame).
PYRAMID_MIN_SAMPLES = 100_000


@dataclass(frozen=True, eq=False)
class _Plan:
    """Sample layout of a set of columns: shared by all channels of a frame."""

    i0: int  # parts None: the columns are the raw view's slice i0:i1, cut into lengths
    i1: int
    lengths: np.ndarray
    # else per level used (level, gather indices into its view, piece lengths, pieces per
    # column); the pieces of a level are laid out slot after slot, one per column each.
    parts: tuple[tuple[int, np.ndarray, np.ndarray, int], ...] | None


#: Column edges (s), column width (s), grid cell of each column, finished flag of each column.
_Grid = tuple[np.ndarray, float, np.ndarray, np.ndarray]


@dataclass(frozen=True, eq=False)
class _ColumnCache:
    """Drawn points of finished columns of one channel, cells first_cell … first_cell + m - 1."""

    key: tuple[float, int | None]  # (column width s, level asked for)
    first_cell: int
    t: np.ndarray  # the points of the m columns, in time order
    y: np.ndarray
    offsets: np.ndarray  # (m + 1,): column i holds points offsets[i] … offsets[i + 1] - 1


def _column_grid(t0: float, t1: float, n_columns: int) -> tuple[np.ndarray, float, int]:
    """Return (edges, column width s, grid cell of the first inner edge) of [t0, t1]."""
    if n_columns < 1:
        raise ValueError(f"n_columns must be ≥ 1, got {n_columns}")
    t0, t1 = float(t0), float(t1)
    if not t1 > t0:
        raise ValueError(f"t1 must be after t0, got [{t0}, {t1}]")
    # now − (now − 60) wobbles in its last bits from frame to frame; rounding the span to 1 ns
    # keeps the width, hence the grid and the kept columns, identical between frames.
    width = (round(t1 - t0, 9) or (t1 - t0)) / int(n_columns)
    k_first = math.floor(t0 / width) + 1
    inner = np.arange(k_first, math.ceil(t1 / width) + 1) * width
    inner = inner[(inner > t0) & (inner < t1)]
    if len(inner):
        k_first = round(inner[0] / width)
    return np.concatenate([[t0], inner, [t1]]), width, k_first


def column_edges(t0: float, t1: float, n_columns: int) -> np.ndarray:
    """Return the column edges (s) of [t0, t1]: t0, k·w … for whole k inside, t1 (w = span/n).

    The inner edges sit on a grid fixed in time, so a scrolling window keeps its columns; the
    first and last columns are cut by t0 and t1 (n_columns or n_columns + 1 columns). Column i
    is [e_i, e_i+1), the last one closed.
    """
    return _column_grid(t0, t1, n_columns)[0]


def decimate_minmax(
    t: np.ndarray, y: np.ndarray, t0: float, t1: float, n_columns: int
) -> tuple[np.ndarray, np.ndarray]:
    """Reduce samples (t ascending s, y with NaN gaps) in [t0, t1] to ≤ 3 points per column.

    Per pixel column: the minimum and the maximum finite sample (first occurrence, in order of
    time, one point if they are the same sample) and, if the column holds a NaN, a NaN point at
    the first NaN's time so a connect='finite' curve breaks there. Empty columns give nothing,
    so sparse data stays connected. Returns (t, y) float64.
    """
    t = np.asarray(t, dtype=np.float64)
    y = np.asarray(y)
    if t.shape != y.shape or t.ndim != 1:
        raise ValueError(f"t and y must be 1-D of the same length, got {t.shape} and {y.shape}")
    idx = _column_index(t, column_edges(t0, t1, n_columns))
    return _assemble(*_raw_stats(y[idx[0] : idx[-1]], t[idx[0] : idx[-1]], np.diff(idx)))


def _column_index(t: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Return len(edges) sample indices: column k holds samples idx[k] … idx[k+1] - 1."""
    idx = np.searchsorted(t, edges, side="left")
    idx[-1] = np.searchsorted(t, edges[-1], side="right")  # the last column includes t1
    return idx


def _range_indices(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Return the concatenation of arange(s, s + n) for each (s, n) without a Python loop."""
    total = int(lengths.sum())
    if total == 0:
        return np.empty(0, dtype=np.intp)
    offsets = np.cumsum(lengths) - lengths
    return np.repeat(starts - offsets, lengths) + np.arange(total)


def _first_index(hits: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Return the first of the sorted positions hits inside each [start, end), -1 if none."""
    out = np.full(len(starts), -1, dtype=np.intp)
    if len(hits):
        first = hits[np.minimum(np.searchsorted(hits, starts), len(hits) - 1)]
        ok = (first >= starts) & (first < ends)
        out[ok] = first[ok]
    return out


def _segment_positions(
    lo: np.ndarray, hi: np.ndarray, nan_flags: np.ndarray, lengths: np.ndarray
) -> tuple[np.ndarray, ...]:
    """Reduce consecutive segments to (ymin, pos of min, ymax, pos of max, pos of first NaN).

    Positions index lo/hi (first occurrence), -1 where there is none; empty and all-NaN
    segments give NaN values.
    """
    n_seg = len(lengths)
    ymin, ymax = np.full(n_seg, np.nan), np.full(n_seg, np.nan)
    pmin, pmax, pnan = (np.full(n_seg, -1, dtype=np.intp) for _ in range(3))
    keep = lengths > 0
    if keep.any():
        lens = lengths[keep]
        ends = np.cumsum(lens)
        starts = ends - lens
        # The segments tile lo/hi exactly, so reduceat over the non-empty starts is exact.
        with np.errstate(invalid="ignore"):
            mn = np.fmin.reduceat(lo, starts)
            mx = np.fmax.reduceat(hi, starts)
        ymin[keep], ymax[keep] = mn, mx
        pmin[keep] = _first_index(np.flatnonzero(lo == np.repeat(mn, lens)), starts, ends)
        pmax[keep] = _first_index(np.flatnonzero(hi == np.repeat(mx, lens)), starts, ends)
        pnan[keep] = _first_index(np.flatnonzero(nan_flags), starts, ends)
    return ymin, pmin, ymax, pmax, pnan


def _at(values: np.ndarray, pos: np.ndarray, missing: float) -> np.ndarray:
    """Return values[pos] as float64, missing where pos is -1."""
    out = np.full(len(pos), missing)
    ok = pos >= 0
    out[ok] = values[pos[ok]]
    return out


def _raw_stats(
    y: np.ndarray, t: np.ndarray, lengths: np.ndarray, gather: np.ndarray | None = None
) -> tuple[np.ndarray, ...]:
    """Reduce segments of raw samples to (ymin, tmin, ymax, tmax, t_first_nan or +inf).

    y holds the samples (t[gather] are their times when gathered, else t itself).
    """
    ymin, pmin, ymax, pmax, pnan = _segment_positions(y, y, np.isnan(y), lengths)
    if gather is not None:
        # Only the winners' times are needed: look them up instead of gathering all of t.
        pmin, pmax, pnan = (_at_index(gather, p) for p in (pmin, pmax, pnan))
    return ymin, _at(t, pmin, np.nan), ymax, _at(t, pmax, np.nan), _at(t, pnan, np.inf)


def _block_stats(
    arrays: dict[str, np.ndarray], gather: np.ndarray, lengths: np.ndarray
) -> tuple[np.ndarray, ...]:
    """Reduce segments of pyramid blocks (gathered from one channel) to per-segment stats."""
    lo, hi, tnan = arrays["lo"][gather], arrays["hi"][gather], arrays["tnan"][gather]
    ymin, pmin, ymax, pmax, pnan = _segment_positions(lo, hi, tnan < np.inf, lengths)
    # Only the winning blocks' times are needed: look them up instead of gathering all.
    tmin = _at(arrays["tlo"], _at_index(gather, pmin), np.nan)
    tmax = _at(arrays["thi"], _at_index(gather, pmax), np.nan)
    return ymin, tmin, ymax, tmax, _at(tnan, pnan, np.inf)


def _at_index(gather: np.ndarray, pos: np.ndarray) -> np.ndarray:
    """Return gather[pos], keeping -1 (no position) as -1."""
    out = np.full(len(pos), -1, dtype=np.intp)
    ok = pos >= 0
    out[ok] = gather[pos[ok]]
    return out


def _pieces(
    a: np.ndarray, b: np.ndarray, level: int, sizes: Sequence[int]
) -> list[tuple[int, np.ndarray, np.ndarray]]:
    """Split sample ranges [a, b) into whole blocks of `level` and finer pieces at the edges.

    Returns (level, start, end) per piece, start/end counted in blocks of that level (samples
    for level 0). Exact: every sample of [a, b) is covered once.
    """
    if level == 0:
        return [(0, a, b)]
    size = sizes[level]
    ka = -(-a // size)
    kb = b // size
    whole = ka < kb
    left_end = np.where(whole, ka * size, b)
    right_start = np.where(whole, kb * size, b)
    middle = (level, np.where(whole, ka, 0), np.where(whole, kb, 0))
    return [
        *_pieces(a, left_end, level - 1, sizes),
        middle,
        *_pieces(right_start, b, level - 1, sizes),
    ]


def _combine(slots: Sequence[tuple[np.ndarray, ...]]) -> tuple[np.ndarray, ...]:
    """Merge per-piece stats (ymin, tmin, ymax, tmax, tnan) of each column into one per column."""
    ymin, tmin, ymax, tmax, tnan = (np.stack(x) for x in zip(*slots, strict=True))
    with np.errstate(invalid="ignore"):
        col_min = np.fmin.reduce(ymin, axis=0)
        col_max = np.fmax.reduce(ymax, axis=0)
    # Equal extremes in several pieces: the earliest is the first occurrence.
    t_min = np.where(ymin == col_min, tmin, np.inf).min(axis=0)
    t_max = np.where(ymax == col_max, tmax, np.inf).min(axis=0)
    t_min[np.isnan(col_min)] = np.nan
    t_max[np.isnan(col_max)] = np.nan
    return col_min, t_min, col_max, t_max, tnan.min(axis=0)


def _assemble(
    ymin: np.ndarray, tmin: np.ndarray, ymax: np.ndarray, tmax: np.ndarray, tnan: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Interleave per-column min, max and NaN break points in time order into (t, y) float64."""
    t, y, _counts = _assemble_columns(np.stack([ymin, tmin, ymax, tmax, tnan])[None])
    return t, y


def _assemble_columns(stats: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return _assemble's points of k channels' stats (k, 5, n), channel after channel.

    Also returns the number of points (0–3) of each column, (k, n).
    """
    ymin, tmin, ymax, tmax, tnan = (stats[:, i] for i in range(5))
    same = (tmax == tmin) & (ymax == ymin)  # one sample is both extremes: draw it once
    valid = np.stack([np.isfinite(ymin), np.isfinite(ymax) & ~same, np.isfinite(tnan)], axis=-1)
    tt = np.stack([tmin, tmax, tnan], axis=-1)
    yy = np.stack([ymin, ymax, np.full(ymin.shape, np.nan)], axis=-1)
    # Columns are disjoint time intervals: ordering the ≤ 3 points inside each column orders
    # them all (a stable sort keeps the min, max, NaN slot order for equal times).
    order = np.argsort(np.where(valid, tt, np.inf), axis=-1, kind="stable")
    valid = np.take_along_axis(valid, order, -1)
    tt = np.take_along_axis(tt, order, -1)[valid]
    yy = np.take_along_axis(yy, order, -1)[valid]
    return tt, yy.astype(np.float64), valid.sum(axis=-1)
