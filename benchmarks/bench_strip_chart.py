"""Strip chart under load: 4 channels at 1 kHz with 1 h of history (issue 4 benchmark).

Measures, per time window (10 s, 1 min, 10 min, 1 h): frames per second, CPU of the whole
process (% of one core), reply-to-pixel latency p50/p95 (a sample's t_mono to the end of the
first paint that shows it) and the redraw cost; and the process memory after 10 min of 1 kHz
history vs after the 1 h ring filled. Goals: ≥ 30 FPS at ≤ 40 % of one core; p95 ≤ 40 ms.

Data arrives as in the app: a feeder thread takes a sample every 1 ms and releases a batch once
its oldest sample is 20 ms old (the acquisition worker's rule), emitting it as a Qt signal that
is queued to the GUI thread, where a relay re-emits it as ``batch_received`` (what
LinkController does) into the ``LiveHistory`` the ``StripChart`` draws. The feeder thread's own
CPU is reported too.

Run: QT_QPA_PLATFORM=offscreen python benchmarks/bench_strip_chart.py [--seconds 10]
"""

from __future__ import annotations

import argparse
import os
import threading
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
import psutil
from PySide6.QtCore import QEventLoop, QObject, Qt, QTimer, Signal, Slot
from PySide6.QtWidgets import QApplication

from ctp10_gui.models.derived import DerivedChannel
from ctp10_gui.models.live_history import LiveHistory
from ctp10_gui.models.samples import SnapshotBatch
from ctp10_gui.views.strip_chart import DEFAULT_MAX_FPS, StripChart
from ctp10_gui.views.theme import DARK, apply_theme

RATE_HZ = 1000.0
BATCH_MAX_AGE_S = 0.02  # the worker's rule: a batch goes once its oldest sample is 20 ms old
CHANNELS = (1, 2, 3, 4)
WINDOWS_S = (10.0, 60.0, 600.0, 3600.0)
GOAL_FPS, GOAL_CPU, GOAL_P95_MS = 30.0, 40.0, 40.0


def _values(t: np.ndarray) -> np.ndarray:
    """Return plausible coupling curves (dBm) with noise for times t (s)."""
    base = np.array([-6.0, -9.0, -12.0, -15.0])
    slow = 1.5 * np.sin(t[:, None] * 0.05 + np.arange(4))
    noise = 0.05 * np.random.default_rng(int(t[0] * 1000) % 2**31).standard_normal((len(t), 4))
    return base + slow + noise


def _batch(t: np.ndarray) -> SnapshotBatch:
    return SnapshotBatch(4, CHANNELS, t, t + 1.7e9, _values(t), np.zeros((len(t), 4), np.int8))


def _rss_mb() -> float:
    return psutil.Process().memory_info().rss / 1e6


class Feeder(QObject):
    """Stand-in for the acquisition worker: 1 kHz samples, a batch every 20 ms, from a thread."""

    batch_ready = Signal(object)  # SnapshotBatch, emitted from the feeder thread (queued)

    def __init__(self, t_last: float) -> None:
        super().__init__()
        self.t_last = t_last  # monotonic s of the last sample sent
        self.sent: list[np.ndarray] = []  # sample times of every batch sent
        self.native_id: int | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="feeder", daemon=True)

    def start(self) -> None:
        """Start taking samples from now on (the gap since t_last is filled at once)."""
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread and wait for it (≤ 1 s)."""
        self._stop.set()
        self._thread.join(1.0)

    def _run(self) -> None:
        self.native_id = threading.get_native_id()
        while not self._stop.is_set():
            # The oldest pending sample is due 1 ms after the last one sent; the batch goes
            # when it is 20 ms old and carries every sample taken until then (ages 0–20 ms).
            deadline = self.t_last + 1.0 / RATE_HZ + BATCH_MAX_AGE_S
            wait = deadline - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            n = int((time.monotonic() - self.t_last) * RATE_HZ)
            if n <= 0:
                continue
            t = self.t_last + (1 + np.arange(n)) / RATE_HZ
            self.t_last = float(t[-1])
            self.sent.append(t)
            self.batch_ready.emit(_batch(t))


class Link(QObject):
    """Stand-in for LinkController: receives worker batches queued, re-emits batch_received."""

    batch_received = Signal(object)  # SnapshotBatch

    @Slot(object)
    def on_batch(self, batch: SnapshotBatch) -> None:
        """Forward one batch, as LinkController._on_batch does."""
        self.batch_received.emit(batch)


def prefill(chart: StripChart, seconds: float, start: float) -> float:
    """Append `seconds` of 1 kHz history from start; return the last sample time (s)."""
    chunk = 100_000
    n = int(seconds * RATE_HZ)
    t_last = start
    for a in range(0, n, chunk):
        t = start + (a + np.arange(min(chunk, n - a))) / RATE_HZ
        chart.history.append(_batch(t))
        t_last = float(t[-1])
    return t_last


def _thread_cpu_s(native_id: int | None) -> float:
    """Return the user + system CPU seconds of one thread of this process (0 if unknown)."""
    for th in psutil.Process().threads():
        if th.id == native_id:
            return th.user_time + th.system_time
    return 0.0


def run_live(app: QApplication, chart: StripChart, link: Link, seconds: float) -> dict[str, float]:
    """Feed 1 kHz through the link for `seconds`; return fps, cpu %, latency, redraw ms."""
    redraw_s: list[float] = []
    original = chart.redraw

    def timed_redraw(now: float | None = None, *, snap: bool = False) -> None:
        t0 = time.perf_counter()
        original(now, snap=snap)
        redraw_s.append(time.perf_counter() - t0)

    chart.redraw = timed_redraw  # type: ignore[method-assign]
    feeder = Feeder(chart.history.latest_t or time.monotonic())
    feeder.batch_ready.connect(link.on_batch, Qt.ConnectionType.QueuedConnection)
    feeder.start()
    _spin(app, 1.0)  # settle: catch up, first decimation of a new window
    chart.frame_log.clear()
    redraw_s.clear()
    feeder.sent.clear()
    frames0 = chart.frames
    proc = psutil.Process()
    cpu0 = sum(proc.cpu_times()[:2])
    feed0 = _thread_cpu_s(feeder.native_id)
    w0 = time.monotonic()
    _spin(app, seconds)
    wall = time.monotonic() - w0
    cpu = sum(proc.cpu_times()[:2]) - cpu0
    feed_cpu = _thread_cpu_s(feeder.native_id) - feed0
    frames = chart.frames - frames0
    sent = list(feeder.sent)
    feeder.stop()
    _spin(app, 0.1)  # deliver what is still queued before the next window
    feeder.batch_ready.disconnect(link.on_batch)
    chart.redraw = original  # type: ignore[method-assign]

    log = np.array(list(chart.frame_log))
    samples = np.concatenate(sent) if sent else np.empty(0)
    latency = _latencies(samples, log)
    return {
        "fps": frames / wall,
        "cpu": 100.0 * cpu / wall,
        "feed_cpu": 100.0 * feed_cpu / wall,
        "p50_ms": float(np.percentile(latency, 50)) * 1e3 if latency.size else float("nan"),
        "p95_ms": float(np.percentile(latency, 95)) * 1e3 if latency.size else float("nan"),
        "redraw_ms": float(np.median(redraw_s)) * 1e3 if redraw_s else float("nan"),
        "samples": float(samples.size),
        "shown": float(latency.size),
    }


def _latencies(samples: np.ndarray, log: np.ndarray) -> np.ndarray:
    """For each sample time, the end of the first paint whose newest drawn sample covers it."""
    if log.size == 0 or samples.size == 0:
        return np.empty(0)
    paint_end, newest = log[:, 0], log[:, 1]
    # A sample is shown by the first frame whose newest drawn sample is at or after it.
    covered = np.maximum.accumulate(newest)
    idx = np.searchsorted(covered, samples, side="left")
    ok = idx < len(log)
    return paint_end[idx[ok]] - samples[ok]


def _spin(app: QApplication, seconds: float) -> None:
    """Run the real Qt event loop for seconds (a polling loop would burn CPU itself)."""
    loop = QEventLoop()
    QTimer.singleShot(round(seconds * 1000), loop.quit)
    loop.exec()


def main() -> None:
    """Print the numbers and their ratio to the goals."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="live seconds per window")
    parser.add_argument("--max-fps", type=float, default=DEFAULT_MAX_FPS,
                        help="the chart's frame cap (default: the app's)")
    parser.add_argument("--windows", type=float, nargs="+", default=list(WINDOWS_S),
                        help="windows to measure (s)")
    parser.add_argument("--derived", action="store_true",
                        help="chart two derived channels too (IL = CH4 − CH3, ratio CH1 / CH2)")
    args = parser.parse_args()
    app = QApplication([])
    apply_theme(app, "dark")
    rss0 = _rss_mb()
    live = LiveHistory(1.0 / RATE_HZ)
    derived = ([DerivedChannel.parse("IL", "CH4 - CH3"), DerivedChannel.parse("ratio", "CH1 / CH2")]
               if args.derived else [])
    live.set_derived(derived)
    chart = StripChart(DARK, live, window_s=10.0, max_fps=args.max_fps)
    link = Link()
    link.batch_received.connect(live.append)  # as MainWindow wires the controller
    print(f"frame cap {args.max_fps:.0f} FPS; derived channels charted: "
          f"{', '.join(c.name for c in derived) or 'none'}; load average "
          f"{os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    chart.resize(1200, 700)
    chart.show()
    app.processEvents()
    live.set_layout(4, CHANNELS)
    now = time.monotonic()
    start = now - 3600.0
    t0 = time.perf_counter()
    prefill(chart, 600.0, start)
    rss_10min = _rss_mb()
    prefill(chart, 3000.0, start + 600.0)
    fill_s = time.perf_counter() - t0
    rss_full = _rss_mb()
    print(f"history: {len(chart.history):,} samples × {len(CHANNELS)} channels "
          f"(capacity {chart.history.ring.capacity:,}), filled in {fill_s:.1f} s")
    print(f"memory: start {rss0:.0f} MB, after 10 min at 1 kHz {rss_10min:.0f} MB, "
          f"after 1 h (ring full) {rss_full:.0f} MB; ring growth 10 min → 1 h "
          f"{(rss_full - rss0) / max(rss_10min - rss0, 1e-9):.1f}×")
    for window in args.windows:
        chart.set_window(window)
        r = run_live(app, chart, link, args.seconds)
        print(f"window {window:>6.0f} s: {r['fps']:5.1f} FPS (goal ≥ {GOAL_FPS:.0f}: "
              f"{r['fps'] / GOAL_FPS:.2f}×), CPU {r['cpu']:5.1f} % of one core (goal ≤ "
              f"{GOAL_CPU:.0f} %: {r['cpu'] / GOAL_CPU:.2f}×; feeder thread "
              f"{r['feed_cpu']:.1f} %), reply-to-pixel p50 {r['p50_ms']:.1f} ms p95 "
              f"{r['p95_ms']:.1f} ms (goal ≤ {GOAL_P95_MS:.0f} ms: "
              f"{r['p95_ms'] / GOAL_P95_MS:.2f}×), redraw median {r['redraw_ms']:.2f} ms, "
              f"{r['shown']:.0f}/{r['samples']:.0f} samples shown; load "
              f"{os.getloadavg()[0]:.2f}")
    rss_end = _rss_mb()
    print(f"memory after the live runs: {rss_end:.0f} MB ({rss_end - rss_full:+.0f} MB vs full)")


if __name__ == "__main__":
    main()
