"""Snapshot batches and the worker-side batcher (no Qt)."""

from __future__ import annotations

import numpy as np
import pytest
from history_helpers import OK, UNDER, snap

from ctp10_gui.models.samples import SnapshotBatch, SnapshotBatcher


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
