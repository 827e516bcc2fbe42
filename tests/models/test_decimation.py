"""Min/max decimation kernels: exact against brute force, columns fixed in time."""

from __future__ import annotations

import numpy as np
import pytest
from history_helpers import assert_same, brute_minmax

from ctp10_gui.models.decimation import column_edges, decimate_minmax, decimate_visible


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


def test_decimation_keeps_extremes_of_visible_range() -> None:
    x = np.arange(1_000_000, dtype=np.float64)
    y = np.zeros_like(x)
    y[123_457] = 5.0  # one-sample spike
    y[600_001] = -7.0
    xd, yd = decimate_visible(x, y, 100_000.0, 700_000.0, 800, has_nan=False)
    assert yd.size <= 2 * 800 + 2
    assert yd.max() == 5.0 and yd.min() == -7.0
    assert xd[0] <= 100_000.0 and xd[-1] >= 699_999.0
    assert np.all(np.diff(xd) > 0)


def test_decimation_returns_small_slices_unchanged_and_keeps_nan_gaps() -> None:
    x = np.arange(100.0)
    y = np.arange(100.0)
    xd, yd = decimate_visible(x, y, 10.0, 20.0, 800)
    assert np.array_equal(xd, np.arange(9.0, 22.0))
    y_nan = np.ones(10_000)
    y_nan[5000:6000] = np.nan
    _, yd = decimate_visible(np.arange(10_000.0), y_nan, 0.0, 10_000.0, 100, has_nan=True)
    assert np.isnan(yd).any() and np.nanmax(yd) == 1.0
