"""Which acquisition rows a seed client gets: one per interval, whatever the batches."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from ctp10_gui.share.client import StreamClient
from ctp10_gui.share.frames import StreamQuery

BATCH_S = 0.02  # the acquisition hands over a batch once its oldest row is 20 ms old


def sent_times(t_mono: np.ndarray, interval_s: float) -> np.ndarray:
    """Feed t_mono to one client in 20 ms batches; return the times of the rows it is sent."""
    client = StreamClient("127.0.0.1:1", "/ws/power", "stream", StreamQuery(4, interval_s), 0.0)
    sent: list[float] = []
    edges = np.arange(t_mono[0], t_mono[-1] + BATCH_S, BATCH_S)
    for start, end in itertools.pairwise(edges):
        rows = t_mono[(t_mono >= start) & (t_mono < end)]
        if len(rows):
            sent += [float(rows[i]) for i in client.due_rows(rows)]
    return np.array(sent)


@pytest.mark.parametrize(("name", "period_s", "jitter_s", "interval_s"), [
    ("1 kHz to a 10 Hz client", 0.0011, 0.0002, 0.1),
    ("1 kHz to a 100 Hz client", 0.0011, 0.0002, 0.01),
    ("10 Hz to a 10 Hz client", 0.1, 0.015, 0.1),
    ("100 Hz to a 100 Hz client", 0.01, 0.002, 0.01),
    ("20 Hz to a 10 Hz client", 0.05, 0.005, 0.1),
])
def test_one_row_per_interval(name: str, period_s: float, jitter_s: float,
                              interval_s: float) -> None:
    rng = np.random.default_rng(7)
    n = int(20.0 / period_s)
    t = 100.0 + np.arange(n) * period_s + rng.uniform(-jitter_s, jitter_s, n)
    sent = sent_times(t, interval_s)
    span = t[-1] - t[0]
    # Every interval of the 20 s gets its frame (the last one may still be due) ...
    assert len(sent) >= int(span / max(interval_s, period_s)), name
    gaps = np.diff(sent)
    # ... at the client's own mean period, never two frames for one row.
    assert np.mean(gaps) == pytest.approx(max(interval_s, period_s), rel=0.01), name
    assert np.all(gaps > 0), name
    if interval_s >= 5 * BATCH_S:  # (faster clients get the newest row of each batch)
        assert np.min(gaps) >= 0.7 * max(interval_s, period_s), name


def test_after_an_outage_the_first_row_is_sent_at_once() -> None:
    client = StreamClient("127.0.0.1:1", "/ws/power", "stream", StreamQuery(4, 0.1), 0.0)
    assert client.due_rows(np.array([10.0, 10.001, 10.002])) == [2]
    assert client.due_rows(np.array([10.05])) == []
    assert client.due_rows(np.array([60.0, 60.001])) == [1]  # 50 s later: a new grid
