"""The strip chart's power history: a double-written ring buffer with a min/max pyramid.

The live view appends a batch every ≤ 20 ms and redraws at 30–60 Hz from a 1 h history of up
to 3.6 M samples per channel. ``np.roll`` of 3.6 M samples costs 36 ms per append
(shared/performance-notes.md), so the ring writes every sample twice (at i and i + H), which
makes "the last n samples" one contiguous slice, and keeps a small min/max pyramid (blocks of
64 and 4096 samples) so that a 1 h window decimates several times faster than from the raw
samples. Pixel columns sit on a grid fixed in time, so a scrolling window keeps the columns it
already decimated and recomputes only its two edge columns per frame.

All times are monotonic seconds, all values dBm. Plain Python + numpy: no Qt.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ctp10_gui.hardware.power import ChannelStatus
from ctp10_gui.models.decimation import (
    assemble_columns,
    block_stats,
    column_grid,
    combine_stats,
    range_indices,
    raw_stats,
    reduce_blocks,
    split_pieces,
)
from ctp10_gui.models.samples import SnapshotBatch

log = logging.getLogger(__name__)

#: Status stored in the history for a gap marker (an outage), next to the ChannelStatus values.
GAP_STATUS = -1
#: Samples per block of each min/max pyramid level (each a multiple of the previous).
DEFAULT_BLOCK_SIZES: tuple[int, ...] = (64, 4096)
#: One hour at 1 kHz, the longest window of the strip chart at the fastest poll rate.
DEFAULT_CAPACITY = 3_600_000

_OK = int(ChannelStatus.OK)

#: A pyramid level is used once a pixel column spans at least this many of its blocks; below,
#: the raw samples at the column edges cost more than the blocks save. Measured with
#: benchmarks/bench_ring_buffer.py: 64-sample blocks lose at 500 samples per column, win at 1000.
LEVEL_MIN_BLOCKS_PER_COLUMN = 12
#: Below this many samples the raw pass is so short that the pyramid's fixed cost dominates
#: (the one or two edge columns a live window recomputes per frame).
PYRAMID_MIN_SAMPLES = 100_000


class _DoubledRing:
    """Preallocated arrays whose last axis is written at i and i + H: the newest n are one slice."""

    def __init__(self, capacity: int, layout: dict[str, tuple[tuple[int, ...], type]]) -> None:
        self.capacity = capacity
        # np.empty, not np.full: the OS commits pages only when written, so a 1 h buffer costs
        # memory in proportion to what has been recorded so far.
        self.arrays: dict[str, np.ndarray] = {
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
        self._block_sizes_asked = tuple(block_sizes)

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
        self.append_rows(batch.t_mono, batch.values_dbm, batch.status)

    def append_rows(self, t: np.ndarray, values: np.ndarray, status: np.ndarray) -> None:
        """Add N samples: times t (N,) s, values (N, C) and statuses (N, C) of every column."""
        if values.shape[1] != self.n_channels:
            raise ValueError(
                f"batch has {values.shape[1]} channels, history holds {self.n_channels}"
            )
        n = len(t)
        if n == 0:
            return
        if t[0] < self._last_t or (n > 1 and bool(np.any(np.diff(t) < 0))):
            raise ValueError(
                f"sample times must not decrease (newest held {self._last_t}, batch starts {t[0]})"
            )
        y = values.T.astype(np.float32)  # (C, N), a fresh copy we may edit
        codes = status.T.astype(np.int8)
        y[(codes != _OK) | ~np.isfinite(y)] = np.nan
        self._write(t, y, codes)

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

    def resized(self, capacity: int) -> RingHistory:
        """Return a history of capacity (≥ 1) samples with the newest samples and the outages."""
        out = RingHistory(capacity, self.n_channels, block_sizes=self._block_sizes_asked,
                          max_outages=self._outages.maxlen or 256)
        keep = min(len(self), out.capacity)
        if keep:
            # Raw rows, gap markers included: append() would re-derive them from statuses.
            out._write(self._raw.view("t", keep), self._raw.view("y", keep),
                       self._raw.view("status", keep))
        out._outages.extend([start, end] for start, end in self._outages)
        return out

    def with_columns(self, values: np.ndarray, status: np.ndarray) -> RingHistory:
        """Return a history of the same times, gap markers and outages holding other columns.

        values and status are (n, C') for the n samples held, in time order (as view() gives).
        """
        out = RingHistory(self.capacity, values.shape[1], block_sizes=self._block_sizes_asked,
                          max_outages=self._outages.maxlen or 256)
        if len(self):
            y = values.T.astype(np.float32)
            codes = status.T.astype(np.int8)
            y[(codes != _OK) | ~np.isfinite(y)] = np.nan
            out._write(self._raw.view("t"), y, codes)
        out._outages.extend([start, end] for start, end in self._outages)
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
                    blocks = reduce_blocks(y, t, y, t, np.where(np.isnan(y), t, np.inf))
                else:
                    parts = {
                        name: below.view(name, m)[:, :used].reshape(c, -1, f)
                        for name in ("lo", "tlo", "hi", "thi", "tnan")
                    }
                    blocks = reduce_blocks(**parts)
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
            t_new, y_new, counts = assemble_columns(self._column_stats(cis, edges, todo, level))
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
        edges, width, k_first = column_grid(t0, t1, n_columns)
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
            stats = raw_stats(y.ravel(), t, np.tile(lengths, k), np.tile(gather, k))
            return np.array(stats).reshape(5, k, n).transpose(1, 0, 2)
        return np.stack([self._channel_stats(ci, plan) for ci in cis])

    def _channel_stats(self, ci: int, plan: _Plan) -> np.ndarray:
        """Return (5, n) stats of one channel for the columns of plan."""
        t = self._raw.view("t")
        y = self._raw.view("y")[ci]
        if plan.parts is None:  # consecutive columns straight from the raw samples
            return np.array(raw_stats(y[plan.i0 : plan.i1], t[plan.i0 : plan.i1], plan.lengths))
        slots: list[tuple[np.ndarray, ...]] = []
        for lv, gather, lengths, n_slots in plan.parts:
            if lv == 0:
                stats = raw_stats(y[gather], t, lengths, gather)
            else:
                ring = self._levels[lv - 1].ring
                arrays = {name: ring.view(name)[ci] for name in ring.arrays}
                stats = block_stats(arrays, gather, lengths)
            n_col = len(lengths) // n_slots
            for j in range(n_slots):
                slots.append(tuple(s[j * n_col : (j + 1) * n_col] for s in stats))
        return np.array(slots[0] if len(slots) == 1 else combine_stats(slots))

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
            for k, pyramid_level in enumerate(self._levels, start=1):
                if (
                    samples >= PYRAMID_MIN_SAMPLES
                    and samples / len(columns) >= LEVEL_MIN_BLOCKS_PER_COLUMN * pyramid_level.block
                ):
                    level = k
        if level == 0 and columns[-1] - columns[0] == len(columns) - 1:
            plan = _Plan(int(starts[0]), int(ends[-1]), lengths, None)
        elif level == 0:
            plan = _Plan(0, 0, lengths, ((0, range_indices(starts, lengths), lengths, 1),))
        else:
            parts: list[tuple[int, np.ndarray, np.ndarray, int]] = []
            g0 = self._raw.count - len(t)  # global sample number of view index 0
            pieces = split_pieces(g0 + starts, g0 + ends, level, (1, *self.block_sizes))
            for lv in range(level + 1):
                mine = [(a, b) for (k, a, b) in pieces if k == lv]
                first = np.concatenate([a for a, _ in mine])
                sizes = np.concatenate([np.maximum(b - a, 0) for a, b in mine])
                ring = self._raw if lv == 0 else self._levels[lv - 1].ring
                base = ring.count - len(ring)  # global item number of view index 0
                parts.append((lv, range_indices(first - base, sizes), sizes, len(mine)))
            plan = _Plan(0, 0, lengths, tuple(parts))
        if len(self._plans) > 8:  # a handful of column sets per frame; never grow unbounded
            self._plans.clear()
        self._plans[key] = plan
        return plan
