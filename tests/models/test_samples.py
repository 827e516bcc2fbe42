"""Snapshot batches, the batcher, the ring-buffer history and min/max decimation (no Qt)."""

from __future__ import annotations

import numpy as np
import pytest

from ctp10_gui.hardware.power import ChannelStatus, PowerSnapshot
from ctp10_gui.models.samples import (
    GAP_STATUS,
    RingHistory,
    SnapshotBatch,
    SnapshotBatcher,
    column_edges,
    decimate_minmax,
)

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


# --------------------------------------------------------------------------- batches


def test_batch_from_snapshots_stacks_times_values_and_status() -> None:
    b = SnapshotBatch.from_snapshots(
        [snap(1.0, [-10.0, -20.0]), snap(2.0, [-11.0, 0.0], [OK, UNDER])]
    )
    assert (b.module, b.channels, len(b)) == (4, (1, 2), 2)
    np.testing.assert_array_equal(b.t_mono, [1.0, 2.0])
    np.testing.assert_array_equal(b.t_wall, [1.7e9 + 1.0, 1.7e9 + 2.0])
    np.testing.assert_array_equal(b.values_dbm, [[-10.0, -20.0], [-11.0, np.nan]])
    np.testing.assert_array_equal(b.status, [[OK, OK], [OK, UNDER]])
    assert b.values_dbm.dtype == np.float64 and b.status.dtype == np.int8


def test_batch_rejects_mixed_layouts_and_bad_shapes() -> None:
    with pytest.raises(ValueError, match="mix"):
        SnapshotBatch.from_snapshots([snap(1.0, [1.0, 2.0]), snap(2.0, [1.0, 2.0], module=5)])
    with pytest.raises(ValueError, match="zero"):
        SnapshotBatch.from_snapshots([])
    with pytest.raises(ValueError, match="shape"):
        SnapshotBatch(
            4, (1, 2), np.zeros(3), np.zeros(3), np.zeros((3, 3)), np.zeros((3, 3), np.int8)
        )


def test_batch_concat_keeps_order_and_rejects_other_channels() -> None:
    a = SnapshotBatch.from_snapshots([snap(1.0, [1.0, 2.0])])
    b = SnapshotBatch.from_snapshots([snap(2.0, [3.0, 4.0]), snap(3.0, [5.0, 6.0])])
    c = SnapshotBatch.concat([a, SnapshotBatch.empty(4, (1, 2)), b])
    np.testing.assert_array_equal(c.t_mono, [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(c.values_dbm[:, 1], [2.0, 4.0, 6.0])
    other = SnapshotBatch.from_snapshots([snap(4.0, [1.0], channels=(3,))])
    with pytest.raises(ValueError, match="mix"):
        SnapshotBatch.concat([a, other])


def test_batcher_releases_after_max_age_or_before_a_late_next_sample() -> None:
    batcher = SnapshotBatcher(max_age_s=0.02, max_samples=100)
    assert not batcher.due(0.0) and batcher.take() is None
    assert batcher.add(snap(10.000, [1.0, 2.0])) is None
    assert batcher.deadline == pytest.approx(10.02)
    assert not batcher.due(10.001, next_sample_at=10.002)  # 1 kHz: keep collecting
    assert batcher.due(10.001, next_sample_at=10.1)  # 10 Hz: waiting would overshoot 20 ms
    batcher.add(snap(10.010, [1.0, 2.0]))
    assert not batcher.due(10.019)
    assert batcher.due(10.020)
    batch = batcher.take()
    assert batch is not None and len(batch) == 2 and len(batcher) == 0


def test_batcher_releases_at_max_samples_and_on_layout_change() -> None:
    batcher = SnapshotBatcher(max_age_s=1.0, max_samples=3)
    for i in range(3):
        batcher.add(snap(i * 1e-3, [1.0, 2.0]))
    assert batcher.due(0.003)
    batcher.take()
    batcher.add(snap(1.0, [1.0, 2.0]))
    flushed = batcher.add(snap(1.001, [1.0], channels=(3,)))
    assert flushed is not None and flushed.channels == (1, 2) and len(flushed) == 1
    rest = batcher.take()
    assert rest is not None and rest.channels == (3,)


# --------------------------------------------------------------------------- ring buffer


@pytest.mark.parametrize("capacity", [1, 7, 64, 1000, 5000])
def test_ring_view_matches_the_newest_samples_across_wraparounds(capacity: int) -> None:
    rng = np.random.default_rng(capacity)
    batches = random_batches(rng, 3 * capacity + 17, 3, max_batch=max(2, capacity // 3 + 5))
    h = RingHistory(capacity, 3)
    for i, b in enumerate(batches):
        h.append(b)
        every = SnapshotBatch.concat(batches[: i + 1])
        n = min(len(every), capacity)
        t, y, status = h.view()
        assert len(h) == len(t) == n
        np.testing.assert_array_equal(t, every.t_mono[-n:])
        np.testing.assert_array_equal(y, every.values_dbm[-n:].astype(np.float32))
        np.testing.assert_array_equal(status, every.status[-n:])
        k = max(1, n // 3)
        np.testing.assert_array_equal(h.view(k)[0], every.t_mono[-k:])
    assert h.total_appended == 3 * capacity + 17


def test_ring_view_is_a_contiguous_view_not_a_copy() -> None:
    rng = np.random.default_rng(5)
    h = RingHistory(1000, 4)
    for b in random_batches(rng, 2500, 4):  # wrapped around twice
        h.append(b)
    t, y, status = h.view()
    t2, y2, _ = h.view(10)
    assert np.shares_memory(t, t2) and np.shares_memory(y, y2)
    assert t.flags.c_contiguous and y[:, 2].flags.c_contiguous and status[:, 0].flags.c_contiguous
    assert y.dtype == np.float32 and t.dtype == np.float64
    before = float(y2[-1, 0])
    y2[-1, 0] = 123.0  # proof of no copy: a write through one view shows in the other
    assert h.view()[1][-1, 0] == 123.0
    y2[-1, 0] = before


def test_ring_stores_non_ok_and_infinite_values_as_nan() -> None:
    h = RingHistory(10, 2)
    h.append(
        SnapshotBatch(
            1,
            (1, 2),
            [1.0, 2.0],
            [0.0, 0.0],
            [[-5.0, np.inf], [-6.0, -7.0]],
            np.array([[OK, OK], [OK, OVER]], np.int8),
        )
    )
    np.testing.assert_array_equal(h.view()[1], [[-5.0, np.nan], [-6.0, np.nan]])


def test_ring_rejects_time_going_backwards_and_wrong_channel_count() -> None:
    h = RingHistory(10, 2)
    h.append(SnapshotBatch.from_snapshots([snap(5.0, [1.0, 2.0])]))
    with pytest.raises(ValueError, match="decrease"):
        h.append(SnapshotBatch.from_snapshots([snap(4.0, [1.0, 2.0])]))
    with pytest.raises(ValueError, match="channels"):
        h.append(SnapshotBatch.from_snapshots([snap(6.0, [1.0], channels=(1,))]))


def test_a_batch_larger_than_the_capacity_keeps_the_newest_samples() -> None:
    rng = np.random.default_rng(9)
    (big,) = random_batches(rng, 1000, 1, max_batch=5000)
    h = RingHistory(300, 1, block_sizes=(4, 16))
    h.append(big)
    np.testing.assert_array_equal(h.view()[0], big.t_mono[-300:])
    t, y, _ = h.view()
    assert_same(h.decimated(0, t[0], t[-1], 37, level=2), brute_minmax(t, y[:, 0], t[0], t[-1], 37))


def test_gap_marker_breaks_the_curve_and_outages_are_recorded() -> None:
    h = RingHistory(100, 1, max_outages=2)
    h.append(SnapshotBatch.from_snapshots([snap(t, [-10.0], channels=(1,)) for t in (1, 2, 3)]))
    h.begin_outage(3.5)
    h.begin_outage(3.7)  # still the same outage
    h.end_outage(8.0)
    h.append(SnapshotBatch.from_snapshots([snap(t, [-12.0], channels=(1,)) for t in (8, 9)]))
    t, y, status = h.view()
    np.testing.assert_array_equal(t, [1, 2, 3, 3.5, 8, 9])
    assert status[3, 0] == GAP_STATUS and np.isnan(y[3, 0])
    assert h.outages() == [(3.5, 8.0)]
    # 10 columns over 0–10 s: the NaN point sits between the two runs, so the line breaks.
    tt, yy = h.decimated(0, 0.0, 10.0, 10)
    np.testing.assert_array_equal(tt, [1, 2, 3, 3.5, 8, 9])
    assert np.isnan(yy[3]) and np.isfinite(yy[[0, 1, 2, 4, 5]]).all()
    # One wide column: both extremes and the break survive.
    tt, yy = h.decimated(0, 0.0, 10.0, 1)
    np.testing.assert_array_equal(tt, [1, 3.5, 8])
    np.testing.assert_array_equal(yy, [-10.0, np.nan, -12.0])
    h.mark_gap(2.0)  # earlier than the newest sample: clamped, time never decreases
    assert h.view()[0][-1] == 9.0
    h.begin_outage(10.0)
    h.begin_outage(11.0)  # ignored: still open
    h.end_outage(12.0)
    h.begin_outage(13.0)
    assert h.outages() == [(10.0, 12.0), (13.0, None)]  # bounded to 2


def test_outages_older_than_the_history_are_dropped() -> None:
    h = RingHistory(3, 1)
    h.begin_outage(1.0)
    h.end_outage(2.0)
    h.append(SnapshotBatch.from_snapshots([snap(t, [-10.0], channels=(1,)) for t in (3, 4, 5)]))
    assert h.outages() == []
    h.clear()
    assert len(h) == 0 and h.latest_t is None and h.decimated(0, 0, 1, 5)[0].size == 0


# --------------------------------------------------------------------------- decimation


@pytest.mark.parametrize("seed", range(4))
def test_decimate_minmax_equals_brute_force(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 5000
    t = np.cumsum(rng.exponential(1e-3, n))
    y = np.round(rng.normal(0, 1, n), 1)
    y[rng.random(n) < 0.02] = np.nan  # isolated gaps
    y[1000:1100] = np.nan  # a long gap
    y[rng.integers(0, n, 5)] = 40.0  # spikes
    for t0, t1, ncol in [
        (t[0], t[-1], 1),
        (t[0], t[-1], 97),
        (t[0] - 1, t[-1] + 1, 300),
        (t[200], t[300], 1200),  # more columns than samples: empty columns
        (t[-1] + 1, t[-1] + 2, 10),  # nothing visible
    ]:
        assert_same(decimate_minmax(t, y, t0, t1, ncol), brute_minmax(t, y, t0, t1, ncol))


def test_a_single_sample_spike_survives_decimation_at_every_level() -> None:
    rng = np.random.default_rng(1)
    h = RingHistory(1 << 18, 1)
    t0 = 50.0
    (b,) = random_batches(rng, 200_000, 1, max_batch=10**6)
    spike_at = 123_457
    values = b.values_dbm.copy()
    status = b.status.copy()
    values[spike_at, 0], status[spike_at, 0] = 9.5, OK
    h.append(SnapshotBatch(4, (1,), b.t_mono, b.t_wall, values, status))
    t = h.view()[0]
    for level in (None, 0, 1, 2):
        tt, yy = h.decimated(0, t0, float(t[-1]), 1200, level=level)
        assert np.nanmax(yy) == 9.5
        assert tt[np.nanargmax(yy)] == t[spike_at]


@pytest.mark.parametrize("block_sizes", [(64, 4096), (4, 16), (3, 12, 48)])
def test_pyramid_levels_equal_brute_force_after_wraparound(block_sizes: tuple[int, ...]) -> None:
    rng = np.random.default_rng(sum(block_sizes))
    capacity = 20_000 if block_sizes[-1] == 4096 else 700
    h = RingHistory(capacity, 2, block_sizes=block_sizes)
    assert h.block_sizes == block_sizes
    for i, b in enumerate(random_batches(rng, int(2.7 * capacity), 2)):
        h.append(b)
        if i % 7 == 3:
            h.mark_gap(float(b.t_mono[-1]))
    t, y, _ = h.view()
    windows = [(t[0], t[-1], 1), (t[0], t[-1], 50), (t[0] - 0.1, t[-1] + 0.1, 333)]
    for _ in range(3):
        a, b2 = np.sort(rng.uniform(t[0], t[-1], 2))
        windows.append((a, b2, int(rng.integers(1, 200))))
    for t0, t1, ncol in windows:
        for c in (0, 1):
            ref = brute_minmax(t, y[:, c], t0, t1, ncol)
            for level in range(len(block_sizes) + 1):
                assert_same(h.decimated(c, t0, t1, ncol, level=level), ref)


def test_decimated_picks_a_pyramid_level_for_long_windows() -> None:
    rng = np.random.default_rng(2)
    h = RingHistory(100_000, 1)
    (b,) = random_batches(rng, 100_000, 1, max_batch=10**6)
    h.append(b)
    t = h.view()[0]
    auto = h.decimated(0, t[0], t[-1], 100)  # 1000 samples per column: level 1 (64) is cheaper
    assert_same(auto, h.decimated(0, t[0], t[-1], 100, level=0))
    assert len(auto[0]) <= 3 * (100 + 1)  # a window off the grid has one extra column
    with pytest.raises(ValueError, match="level"):
        h.decimated(0, t[0], t[-1], 100, level=3)
    with pytest.raises(ValueError, match="after"):
        h.decimated(0, 5.0, 5.0, 100)
    with pytest.raises(IndexError):
        h.decimated(1, t[0], t[-1], 100)


def test_column_edges_stay_on_a_grid_fixed_in_time() -> None:
    a = column_edges(1000.123, 1060.123, 60)
    b = column_edges(1001.623, 1061.623, 60)  # the same window 1.5 columns later
    assert a[0] == 1000.123 and a[-1] == 1060.123 and len(a) == 62  # 61 columns: t0 off grid
    assert np.all(np.diff(a) > 0)
    np.testing.assert_array_equal(a[1:-1], np.arange(1001.0, 1061.0))
    np.testing.assert_array_equal(a[2:-1], b[1:-2])  # shared inner edges: the same numbers
    np.testing.assert_array_equal(column_edges(0.0, 10.0, 10), np.arange(11.0))  # on the grid
    with pytest.raises(ValueError, match="n_columns"):
        column_edges(0.0, 1.0, 0)


def test_a_scrolling_window_reuses_columns_and_stays_exact() -> None:
    """Frame after frame: append, then decimate [now − window, now]; compare with a fresh run."""
    rng = np.random.default_rng(11)
    h = RingHistory(500, 2, block_sizes=(4, 16))
    # 15 ms columns. Channel 0: 0.3 s, inside the history; channel 1: 0.8 s at ~1 kHz, more
    # than the 500 samples held, so its left edge sees evictions.
    windows = {0: (0.3, 20), 1: (0.8, 53)}
    for i, b in enumerate(random_batches(rng, 800, 2, max_batch=8)):
        h.append(b)
        if i % 23 == 5:
            h.mark_gap(float(b.t_mono[-1]))
        if i == 40:
            h.clear()  # kept columns of the old history must not come back
            continue
        # The clock runs ahead of the newest sample, by up to a batch period and more.
        now = float(b.t_mono[-1]) + rng.uniform(0.0, 0.03)
        t, y, _ = h.view()
        for c, (window, n_col) in windows.items():
            got = h.decimated(c, now - window, now, n_col, level=None if i % 7 else 2)
            assert_same(got, decimate_minmax(t, y[:, c], now - window, now, n_col))


def test_the_same_window_after_an_append_shows_the_new_samples() -> None:
    h = RingHistory(100, 1)
    h.append(SnapshotBatch.from_snapshots([snap(t, [-10.0], channels=(1,)) for t in (1, 2)]))
    assert h.decimated(0, 0.0, 10.0, 5)[1].tolist() == [-10.0, -10.0]
    h.append(SnapshotBatch.from_snapshots([snap(t, [-3.0], channels=(1,)) for t in (3, 4)]))
    tt, yy = h.decimated(0, 0.0, 10.0, 5)  # same window, same columns: new data included
    assert tt.tolist() == [1.0, 2.0, 3.0, 4.0] and yy.tolist() == [-10.0, -10.0, -3.0, -3.0]


def test_decimated_many_equals_one_channel_at_a_time() -> None:
    """All channels of a frame at once, channels left out now and then (their kept columns lag)."""
    rng = np.random.default_rng(21)
    together = RingHistory(800, 3, block_sizes=(4, 16))
    alone = RingHistory(800, 3, block_sizes=(4, 16))
    for i, b in enumerate(random_batches(rng, 2000, 3, max_batch=40)):  # wraps around twice
        together.append(b)
        alone.append(b)
        now = float(b.t_mono[-1]) + rng.uniform(0.0, 0.02)
        channels = [0, 2] if i % 5 == 1 else [0, 1, 2]
        level = 2 if i % 11 == 4 else None  # the per-channel pyramid path as well
        got = together.decimated_many(channels, now - 0.3, now, 30, level=level)
        t, y, _ = alone.view()
        for c, pts in zip(channels, got, strict=True):
            assert_same(pts, alone.decimated(c, now - 0.3, now, 30, level=level))
            assert_same(pts, decimate_minmax(t, y[:, c], now - 0.3, now, 30))
