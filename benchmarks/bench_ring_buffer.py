"""Measure the power history: append per batch, view, and min/max decimation with/without pyramid.

Scenario of the live view at its limit: 4 channels at 1 kHz, batches of 20 samples (20 ms),
1 h of history (3.6 M samples per channel), a 1200-pixel-wide plot. Run:

    python benchmarks/bench_ring_buffer.py [--hours 1.0]

Prints medians (ms or µs) and the pyramid speed-up per window. The claim it checks
(shared/performance-notes.md): a 1 h window decimates in a few ms with the pyramid, and an append
never costs what np.roll does (36 ms at 3.6 M samples).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np
import psutil

from ctp10_gui.models.ring_history import RingHistory
from ctp10_gui.models.samples import SnapshotBatch

RATE_HZ = 1000.0
CHANNELS = 4
BATCH = 20
COLUMNS = 1200
WINDOWS_S = (10.0, 60.0, 600.0, 3600.0)


def median_time(fn, repeats: int) -> float:
    """Return the median wall time (s) of repeats calls of fn."""
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def make_batches(n_samples: int, rng: np.random.Generator) -> list[SnapshotBatch]:
    """Return 1 kHz batches of 20 samples: noisy coupling, rare spikes, a few under-range runs."""
    t = np.arange(n_samples) / RATE_HZ + 1000.0
    y = -20.0 + np.cumsum(rng.normal(0, 0.01, (n_samples, CHANNELS)), axis=0)
    y[rng.random((n_samples, CHANNELS)) < 1e-4] = 5.0
    status = np.zeros((n_samples, CHANNELS), dtype=np.int8)
    status[rng.random((n_samples, CHANNELS)) < 1e-4] = 1
    y[status != 0] = np.nan
    chans = tuple(range(1, CHANNELS + 1))
    return [
        SnapshotBatch(
            4,
            chans,
            t[a : a + BATCH],
            t[a : a + BATCH] + 1.7e9,
            y[a : a + BATCH],
            status[a : a + BATCH],
        )
        for a in range(0, n_samples, BATCH)
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=float, default=1.0, help="history length (default 1 h)")
    args = parser.parse_args()
    n = int(args.hours * 3600 * RATE_HZ)
    rng = np.random.default_rng(0)
    proc = psutil.Process(os.getpid())

    batches = make_batches(n, rng)
    rss0 = proc.memory_info().rss
    h = RingHistory(n, CHANNELS)
    append_times = []
    tenth = len(batches) // 6  # 10 min of a 1 h buffer
    rss_10min = 0
    for i, b in enumerate(batches):
        t = time.perf_counter()
        h.append(b)
        append_times.append(time.perf_counter() - t)
        if i == tenth:
            rss_10min = proc.memory_info().rss
    rss_full = proc.memory_info().rss
    # Steady state: the buffer is full and wraps around; the pyramid keeps up.
    wrap = make_batches(20_000, rng)
    t_last = float(h.latest_t or 0.0)
    wrap_times = []
    for b in wrap:
        shifted = SnapshotBatch(
            b.module,
            b.channels,
            b.t_mono - b.t_mono[0] + t_last + 1e-3,
            b.t_wall,
            b.values_dbm,
            b.status,
        )
        t_last = float(shifted.t_mono[-1])
        t = time.perf_counter()
        h.append(shifted)
        wrap_times.append(time.perf_counter() - t)

    print(
        f"history: {len(h):,} samples × {CHANNELS} channels at {RATE_HZ:g} Hz, "
        f"pyramid blocks {h.block_sizes}"
    )
    print(
        f"append (batch of {BATCH}): median {statistics.median(append_times) * 1e6:.1f} µs, "
        f"p99 {np.percentile(append_times, 99) * 1e6:.1f} µs, "
        f"full+wrapping median {statistics.median(wrap_times) * 1e6:.1f} µs"
    )
    print(
        f"memory: +{(rss_10min - rss0) / 2**20:.0f} MB after 10 min, "
        f"+{(rss_full - rss0) / 2**20:.0f} MB when full"
    )
    view_s = median_time(lambda: h.view(), 1000)
    print(f"view() of {len(h):,} samples: {view_s * 1e6:.2f} µs (no copy)")

    big = np.zeros((n, 1))
    roll_s = median_time(lambda: np.roll(big, -BATCH, axis=0), 5)
    print(f"for comparison, np.roll of a {n:,}-sample history: {roll_s * 1e3:.1f} ms per append")

    print(f"\ndecimation to {COLUMNS} columns, 4 channels per frame (ms, median):")
    print("  cold = a new window or width (nothing kept); live = a scrolling window, after a")
    print("  batch of 20 samples per frame, finished columns kept between frames")
    print(
        f"{'window':>8} {'samples':>10} {'cold raw':>9} {'cold pyr':>9} {'speed-up':>9} {'live':>7}"
    )
    rows = []
    for w in WINDOWS_S:
        samples = int(min(w * RATE_HZ, len(h)))
        reps = 9 if w <= 60 else 5
        counter = iter(range(10**6))

        def frame(w: float = w, level: int | None = None, counter=counter) -> None:
            # A different column count each time defeats the kept columns: a cold frame.
            n_col = COLUMNS + next(counter) % 50
            t_end = float(h.latest_t or 0.0)
            for c in range(CHANNELS):
                h.decimated(c, t_end - w, t_end, n_col, level=level)

        raw = median_time(lambda f=frame: f(level=0), reps)
        cold = median_time(frame, reps)
        live_times = []
        for b in make_batches(BATCH * 60, rng):
            shifted = SnapshotBatch(
                b.module,
                b.channels,
                b.t_mono - b.t_mono[0] + t_last + 1e-3,
                b.t_wall,
                b.values_dbm,
                b.status,
            )
            t_last = float(shifted.t_mono[-1])
            h.append(shifted)
            now = t_last + 0.005  # the clock runs ahead of the newest sample
            t = time.perf_counter()
            for c in range(CHANNELS):
                h.decimated(c, now - w, now, COLUMNS)
            live_times.append(time.perf_counter() - t)
        live = statistics.median(live_times[1:])  # the first frame is a cold one
        rows.append((w, samples, raw, cold, live))
        print(
            f"{w:>7g}s {samples:>10,} {raw * 1e3:>9.2f} {cold * 1e3:>9.2f} "
            f"{raw / cold:>8.1f}× {live * 1e3:>7.2f}"
        )
    w, _, raw, cold, live = rows[-1]
    print(
        f"\n1 h window, 4 channels: raw {raw * 1e3:.1f} ms, pyramid {cold * 1e3:.1f} ms "
        f"({raw / cold:.1f}×), live frame {live * 1e3:.2f} ms ({raw / live:.0f}× less than raw)"
    )
    print(f"load average during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
