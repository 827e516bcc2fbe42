"""Recording at 1 kHz × 4 channels: writer-thread CPU, bytes per hour, flight-recorder memory.

Run: python benchmarks/bench_recording.py [--paced-s 10] [--burst-s 120]
Prints one line per measured claim. CPU % is of one core.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from ctp10_gui.models.recording.flight_recorder import FlightRecorder
from ctp10_gui.models.recording.format import RecordingMetadata
from ctp10_gui.models.recording.live_recorder import LiveRecorder
from ctp10_gui.models.samples import SnapshotBatch

RATE_HZ = 1000
BATCH = 20  # snapshots per batch: the worker emits one batch per 20 ms
CHANNELS = (1, 2, 3, 4)


def make_batch(k0: int, n: int, t0: float, rng: np.random.Generator) -> SnapshotBatch:
    """Return n snapshots starting at sample k0 (t0 + k ms), realistic dBm noise, a few NaN."""
    idx = k0 + np.arange(n)
    t = t0 + idx / RATE_HZ
    values = -20.0 + rng.normal(0.0, 3.0, (n, len(CHANNELS)))
    status = np.zeros((n, len(CHANNELS)), np.int8)
    status[rng.random((n, len(CHANNELS))) < 0.01] = 1
    values[status != 0] = np.nan
    return SnapshotBatch(4, CHANNELS, t - t0, t, values, status)


def bench_paced(seconds: float, folder: Path) -> None:
    """Feed batches in real time (50 per second) as the acquisition worker would."""
    rng = np.random.default_rng(0)
    rec = LiveRecorder()
    rec.start(folder, RecordingMetadata(module=4, channels=CHANNELS))
    t0 = time.time()
    batches = [make_batch(k, BATCH, t0, rng) for k in range(0, int(seconds * RATE_HZ), BATCH)]
    caller: list[float] = []
    start = time.monotonic()
    for i, b in enumerate(batches):
        c0 = time.perf_counter()
        rec.write_batch(b)
        caller.append(time.perf_counter() - c0)
        delay = start + (i + 1) * BATCH / RATE_HZ - time.monotonic()
        if delay > 0:
            time.sleep(delay)
    status = rec.stop()
    data_s = len(batches) * BATCH / RATE_HZ
    print(
        f"paced {data_s:.0f} s at 1 kHz × 4 ch: writer CPU {rec.thread_cpu_s * 1000 / data_s:.1f}"
        f" ms per s of data ({rec.thread_cpu_s / data_s * 100:.2f} % of a core); write_batch in "
        f"the caller median {np.median(caller) * 1e6:.1f} µs, p99 "
        f"{np.percentile(caller, 99) * 1e6:.0f} µs; {status.rows} rows, "
        f"{status.bytes_written / data_s * 3600 / 1e6:.0f} MB per hour "
        f"({status.bytes_written / status.rows:.1f} B per row)"
    )


def bench_burst(seconds: float, folder: Path) -> None:
    """Feed as fast as possible: the writer's throughput ceiling."""
    rng = np.random.default_rng(1)
    rec = LiveRecorder()
    rec.start(folder, RecordingMetadata(module=4, channels=CHANNELS))
    t0 = time.time()
    batches = [make_batch(k, BATCH, t0, rng) for k in range(0, int(seconds * RATE_HZ), BATCH)]
    wall0 = time.perf_counter()
    for b in batches:
        rec.write_batch(b)
    submit_us = (time.perf_counter() - wall0) / len(batches) * 1e6
    status = rec.stop(timeout_s=600)
    wall = time.perf_counter() - wall0
    data_s = len(batches) * BATCH / RATE_HZ
    print(
        f"burst {data_s:.0f} s of data: written in {wall:.2f} s wall ({data_s / wall:.0f}× real "
        f"time), writer CPU {rec.thread_cpu_s * 1000 / data_s:.1f} ms per s of data; "
        f"dropped {status.dropped_batches}; write_batch in a hot loop {submit_us:.1f} µs"
    )


def bench_flight(folder: Path) -> None:
    """Fill 60 min at 1 kHz, measure memory, append cost, and a 10-minute save."""
    rng = np.random.default_rng(2)
    fr = FlightRecorder(minutes=60, wall_clock=lambda: t0 + 3640.0)
    t0 = time.time() - 3600.0
    big = 10_000
    chunk = make_batch(0, big, t0, rng)
    for k in range(0, 3600 * RATE_HZ, big):
        # Same values, shifted times: filling 3.6 M rows quickly.
        t = chunk.t_wall + k / RATE_HZ
        fr.append(SnapshotBatch(4, CHANNELS, t - t0, t, chunk.values_dbm, chunk.status))
    n = 2000
    small = [make_batch(3600 * RATE_HZ + i * BATCH, BATCH, t0, rng) for i in range(n)]
    a0 = time.perf_counter()
    for b in small:
        fr.append(b)
    append_us = (time.perf_counter() - a0) / n * 1e6
    print(
        f"flight recorder 60 min at 1 kHz × 4 ch: {len(fr)} rows, {fr.nbytes / 1e6:.1f} MB "
        f"({fr.bytes_per_row(4)} B per row), capacity {fr.capacity} rows; append of a "
        f"20-row batch {append_us:.1f} µs ({append_us / BATCH:.2f} µs per snapshot)"
    )
    s0 = time.perf_counter()
    result = fr.save_last(10, folder, RecordingMetadata(module=4, channels=CHANNELS))
    save_s = time.perf_counter() - s0
    print(
        f"save_last(10 min) = {result.rows} rows, {result.bytes_written / 1e6:.1f} MB in "
        f"{save_s:.2f} s ({result.rows / save_s / 1e3:.0f} k rows/s)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--paced-s", type=float, default=10.0)
    parser.add_argument("--burst-s", type=float, default=120.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        bench_paced(args.paced_s, Path(tmp) / "paced")
        bench_burst(args.burst_s, Path(tmp) / "burst")
        bench_flight(Path(tmp) / "flight")


if __name__ == "__main__":
    main()
