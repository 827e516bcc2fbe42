"""Test data for the power-history tests: snapshots, random batches, a brute-force decimator."""

from __future__ import annotations

import numpy as np

from ctp10_gui.hardware.power import ChannelStatus, PowerSnapshot
from ctp10_gui.models.decimation import column_edges
from ctp10_gui.models.samples import SnapshotBatch

OK, UNDER, OVER, ERROR = (int(s) for s in ChannelStatus)


def snap(
    t: float,
    values: list[float],
    status: list[int] | None = None,
    module: int = 4,
    channels: tuple[int, ...] = (1, 2),
) -> PowerSnapshot:
    status = status or [OK] * len(values)
    vals = np.array([v if s == OK else np.nan for v, s in zip(values, status, strict=True)])
    return PowerSnapshot(
        t_mono=t,
        t_wall=1.7e9 + t,
        module=module,
        channels=channels,
        values_dbm=vals,
        status=np.array(status, dtype=np.int8),
        errors=("",) * len(values),
        latency_s=1e-4,
    )


def random_batches(
    rng: np.random.Generator, n_total: int, n_channels: int, max_batch: int = 300
) -> list[SnapshotBatch]:
    """Return batches with rising times, rounded values (ties), spikes and non-OK runs."""
    batches, t, done = [], 100.0, 0
    while done < n_total:
        n = min(int(rng.integers(1, max_batch)), n_total - done)
        times = t + np.cumsum(rng.uniform(0.0005, 0.0015, n))
        t = float(times[-1])
        y = np.round(rng.normal(-20.0, 2.0, (n, n_channels)), 1)  # rounding makes equal extremes
        spikes = rng.random((n, n_channels)) < 0.002
        y[spikes] = rng.choice([-75.0, 5.0], size=int(spikes.sum()))
        status = np.zeros((n, n_channels), dtype=np.int8)
        status[rng.random((n, n_channels)) < 0.01] = rng.choice([UNDER, OVER, ERROR])
        if rng.random() < 0.1:  # an outage-like run of non-OK samples
            a = int(rng.integers(0, n))
            status[a : a + int(rng.integers(1, 50)), :] = ERROR
        y[status != OK] = np.nan
        batches.append(
            SnapshotBatch(4, tuple(range(1, n_channels + 1)), times, times + 1.7e9, y, status)
        )
        done += n
    return batches


def brute_minmax(
    t: np.ndarray, y: np.ndarray, t0: float, t1: float, n_columns: int
) -> tuple[np.ndarray, np.ndarray]:
    """Decimate one column at a time with boolean masks: the slow, obvious reference."""
    edges = column_edges(t0, t1, n_columns)
    out_t: list[float] = []
    out_y: list[float] = []
    n = len(edges) - 1  # n_columns, or one more when t0 is off the column grid
    for k in range(n):
        last = k == n - 1
        m = (t >= edges[k]) & ((t <= edges[k + 1]) if last else (t < edges[k + 1]))
        ts, ys = t[m], y[m].astype(np.float64)
        pts: list[tuple[float, float]] = []
        if np.isfinite(ys).any():
            i = int(np.flatnonzero(ys == np.nanmin(ys))[0])
            j = int(np.flatnonzero(ys == np.nanmax(ys))[0])
            pts.append((ts[i], ys[i]))
            if j != i:
                pts.append((ts[j], ys[j]))
        nans = np.flatnonzero(np.isnan(ys))
        if len(nans):
            pts.append((ts[nans[0]], np.nan))
        pts.sort(key=lambda p: p[0])
        out_t += [p[0] for p in pts]
        out_y += [p[1] for p in pts]
    return np.array(out_t), np.array(out_y)


def assert_same(a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray]) -> None:
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])  # NaN == NaN here
