"""Min/max decimation kernels: ≤ 3 points per pixel column, spikes and gaps kept.

Drawing more than ~2 points per pixel column is wasted work (shared/performance-notes.md).
These kernels reduce samples, or the blocks of a min/max pyramid, per column to their minimum
and maximum (first occurrence) and the first NaN, which a connect='finite' curve breaks at.
Column edges sit on a grid fixed in time so a scrolling window keeps its columns. Plain numpy.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np


def column_grid(t0: float, t1: float, n_columns: int) -> tuple[np.ndarray, float, int]:
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
    return column_grid(t0, t1, n_columns)[0]


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
    return _assemble(*raw_stats(y[idx[0] : idx[-1]], t[idx[0] : idx[-1]], np.diff(idx)))


def _column_index(t: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Return len(edges) sample indices: column k holds samples idx[k] … idx[k+1] - 1."""
    idx = np.searchsorted(t, edges, side="left")
    idx[-1] = np.searchsorted(t, edges[-1], side="right")  # the last column includes t1
    return idx


def range_indices(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
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


def raw_stats(
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


def block_stats(
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


def split_pieces(
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
        *split_pieces(a, left_end, level - 1, sizes),
        middle,
        *split_pieces(right_start, b, level - 1, sizes),
    ]


def combine_stats(slots: Sequence[tuple[np.ndarray, ...]]) -> tuple[np.ndarray, ...]:
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
    t, y, _counts = assemble_columns(np.stack([ymin, tmin, ymax, tmax, tnan])[None])
    return t, y


def assemble_columns(stats: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
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


def reduce_blocks(
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


def decimate_visible(
    x: np.ndarray,
    y: np.ndarray,
    x0: float,
    x1: float,
    n_columns: int,
    *,
    has_nan: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Return the slice of sorted `x` within [x0, x1] reduced to ≤ 2 points per pixel column.

    Each bin keeps its minimum and maximum in their original order, so spikes and dips survive
    at any zoom; one point beyond each edge is kept so the line reaches the view border.
    """
    n = x.size
    if n == 0:
        return x, y
    i0 = max(int(np.searchsorted(x, x0, side="left")) - 1, 0)
    i1 = min(int(np.searchsorted(x, x1, side="right")) + 1, n)
    count = i1 - i0
    n_columns = max(int(n_columns), 1)
    if count <= 2 * n_columns:
        return x[i0:i1], y[i0:i1]
    per_bin = math.ceil(count / n_columns)
    bins = math.ceil(count / per_bin)
    full = count // per_bin
    ys = y[i0 : i0 + full * per_bin].reshape(full, per_bin)
    amin = np.empty(bins, dtype=np.int64)
    amax = np.empty(bins, dtype=np.int64)
    _arg_extremes(ys, amin[:full], amax[:full], has_nan)
    if bins > full:  # the last, shorter bin
        tail = y[i0 + full * per_bin : i1].reshape(1, -1)
        _arg_extremes(tail, amin[full:], amax[full:], has_nan)
    base = i0 + np.arange(bins) * per_bin
    idx = np.empty(2 * bins + 2, dtype=np.int64)
    idx[0] = i0  # the slice's own ends, so the line always reaches both view borders
    idx[1:-1:2] = base + np.minimum(amin, amax)
    idx[2:-1:2] = base + np.maximum(amin, amax)
    idx[-1] = i1 - 1
    idx = idx[np.concatenate(([True], np.diff(idx) > 0))]  # flat bins give min == max
    # An all-NaN bin points at a NaN sample, which keeps the gap visible.
    return x[idx], y[idx]


def _arg_extremes(blocks: np.ndarray, amin: np.ndarray, amax: np.ndarray, has_nan: bool) -> None:
    """Write each row's argmin and argmax into amin/amax, NaN ignored when has_nan."""
    if has_nan:
        amin[:] = np.where(np.isnan(blocks), np.inf, blocks).argmin(axis=1)
        amax[:] = np.where(np.isnan(blocks), -np.inf, blocks).argmax(axis=1)
    else:
        amin[:] = blocks.argmin(axis=1)
        amax[:] = blocks.argmax(axis=1)
