"""Live acquisition against the simulator subprocess on loopback: rates, CPU, fault timings.

Run: python benchmarks/bench_acquisition.py [--pairs 30] [--window 0.3] [--repetitions 20]
Prints one line per measured claim:
- raw single-query round trips per second vs 4-channel snapshots per second achieved through
  the LinkController at the maximum rate (goal: ratio ≥ 0.8 with compound queries). The speed
  of this shared 2-core VM drifts by ±20 % within seconds, so the two are measured in short
  alternating windows (a link window, then raw windows on a second session of the same
  simulator while the link is connected with live acquisition off) and the ratio is the
  median of the per-pair ratios. The raw windows also time 4-query compound messages sent
  bare through the transport: the ceiling the driver and worker overhead is measured against;
  and the same with the 4 unit queries the driver adds to every snapshot: the unit guard's
  cost per snapshot;
- GUI-thread and worker-thread CPU (% of one core) at 10 Hz and at the maximum rate;
- time from a fault (SIGSTOP, 0.4 s after Stale: shorter than the reply deadline, so the session
  is kept) to Stale and from the simulator answering again (SIGCONT) to Live, over N
  repetitions (median, max), the latter also net of any backoff wait left then.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable

import numpy as np
import psutil
from PySide6.QtCore import QCoreApplication, QEventLoop, QTimer

from ctp10_gui.hardware.ctp10 import CTP10
from ctp10_gui.hardware.instrument_watch import WATCH_INTERVAL_S, InstrumentWatch
from ctp10_gui.hardware.transport import VisaTransport
from ctp10_gui.link.controller import LinkController
from ctp10_gui.models.connection import AcquisitionSettings, BackoffPolicy, LinkState
from ctp10_gui.models.samples import SnapshotBatch

CHANNELS = (1, 2, 3, 4)
FAST_BACKOFF = BackoffPolicy(initial_s=0.1, factor=2.0, cap_s=0.4, jitter=0.2, max_attempts=50)


def start_simulator() -> tuple[subprocess.Popen[bytes], str]:
    """Start the simulator CLI as a child process; return it and its VISA address."""
    proc = subprocess.Popen(
        # Two clients: the raw windows use their own session while the link stays connected.
        [sys.executable, "-m", "ctp10_gui.simulator", "--port", "0", "--speedup", "50",
         "--max-clients", "2", "--log-level", "WARNING"],
        stdout=subprocess.PIPE)
    assert proc.stdout is not None
    address = proc.stdout.readline().decode().strip()
    if not address.startswith("TCPIP::"):
        proc.kill()
        raise RuntimeError(f"simulator did not start (printed {address!r})")
    return proc, address


def spin(app: QCoreApplication, until: Callable[[], bool], timeout_s: float) -> None:
    """Run the Qt event loop until `until()` holds; RuntimeError after timeout_s s.

    The loop sleeps between events (a 5 ms check timer), as the app's does: a busy
    processEvents() loop would keep the GIL and starve the worker thread.
    """
    deadline = time.monotonic() + timeout_s
    loop = QEventLoop()
    timer = QTimer()
    timer.setInterval(5)

    def check() -> None:
        if until() or time.monotonic() > deadline:
            loop.quit()

    timer.timeout.connect(check)
    timer.start()
    if not until():
        loop.exec()
    timer.stop()
    if not until():
        raise RuntimeError("timed out waiting for the link")


def _rate(fn: Callable[[], object], seconds: float) -> float:
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        fn()
        n += 1
    return n / (time.perf_counter() - t0)


POWERS = ";".join(f":CTP:SENS4:CHAN{c}:POW?" for c in CHANNELS)
# The unit guard: each channel's unit asked in the same message as the powers (see PowerPoller).
WITH_UNITS = POWERS + ";" + ";".join(f":CTP:SENS4:CHAN{c}:UNIT:Y?" for c in CHANNELS)
# The watch for changes made elsewhere (condition register, wavelengths, scan range), added to
# one message every WATCH_INTERVAL_S (see PowerPoller).
WITH_WATCH = (WITH_UNITS + ";" + ";".join(InstrumentWatch(4, CHANNELS).commands)
              + ";:CTP:SENS4:CHAN1:UNIT:Y?")


def raw_windows(ctp: CTP10, seconds: float) -> tuple[float, float, float, float, float]:
    """Return single queries/s, client CPU s per single, power, power+unit, watch messages/s."""
    cpu0 = time.thread_time()
    single = _rate(lambda: ctp.transport.query(":CTP:SENS4:CHAN1:POW?"), seconds)
    # Less sensitive to other processes than the rates: what one round trip costs here.
    cpu = (time.thread_time() - cpu0) / (single * seconds)
    powers = _rate(lambda: ctp.transport.query(POWERS), seconds / 2)
    with_units = _rate(lambda: ctp.transport.query(WITH_UNITS), seconds / 2)
    with_watch = _rate(lambda: ctp.transport.query(WITH_WATCH), seconds / 2)
    return single, cpu, powers, with_units, with_watch


def thread_cpu_s(native_id: int) -> float:
    """Return user + system CPU seconds of one thread of this process."""
    for t in psutil.Process().threads():
        if t.id == native_id:
            return t.user_time + t.system_time
    raise LookupError(f"thread {native_id} not found")


def live_run(app: QCoreApplication, address: str, interval_s: float,
             seconds: float) -> tuple[float, float, float]:
    """Return (snapshots/s delivered to the GUI, GUI-thread CPU %, worker CPU %)."""
    ctl = LinkController(AcquisitionSettings(interval_s=interval_s, backoff=FAST_BACKOFF))
    samples = [0]
    drawn: list[SnapshotBatch] = []

    def on_batch(batch: SnapshotBatch) -> None:
        samples[0] += len(batch)
        drawn.append(batch)  # what a view would keep; dropped below to stay small
        if len(drawn) > 100:
            drawn.clear()

    ctl.batch_received.connect(on_batch)
    ctl.connect_to(address)
    spin(app, lambda: ctl.status.state is LinkState.LIVE and samples[0] > 5, 10)
    gui_id = threading.get_native_id()
    worker_id = ctl.worker_native_id
    assert worker_id is not None
    n0, gui0, wrk0, t0 = samples[0], thread_cpu_s(gui_id), thread_cpu_s(worker_id), \
        time.monotonic()
    end = t0 + seconds
    spin(app, lambda: time.monotonic() >= end, seconds + 5)
    elapsed = time.monotonic() - t0
    rate = (samples[0] - n0) / elapsed
    gui = (thread_cpu_s(gui_id) - gui0) / elapsed * 100
    worker = (thread_cpu_s(worker_id) - wrk0) / elapsed * 100
    ctl.shutdown()
    return rate, gui, worker


class RatePairs:
    """Alternate link windows at the maximum rate with raw-query windows, pair by pair."""

    def __init__(self, app: QCoreApplication, address: str) -> None:
        self.app = app
        self.ctl = LinkController(AcquisitionSettings(interval_s=0.0, backoff=FAST_BACKOFF))
        self.batches: list[SnapshotBatch] = []
        self.ctl.batch_received.connect(self.batches.append)
        self.ctl.connect_to(address)
        spin(app, lambda: self.ctl.status.state is LinkState.LIVE and bool(self.batches), 10)
        self.raw = CTP10(VisaTransport(address))
        self.raw.connect()

    def link_window(self, seconds: float) -> tuple[float, float, float]:
        """Return link snapshots/s, worker and GUI-thread CPU s over one window."""
        ctl = self.ctl
        self.batches.clear()
        ctl.set_live(True)
        spin(self.app, lambda: bool(self.batches), 5)  # polling again
        worker_id = ctl.worker_native_id
        assert worker_id is not None
        gui_id = threading.get_native_id()
        t0, wrk0, gui0 = time.monotonic(), thread_cpu_s(worker_id), thread_cpu_s(gui_id)
        spin(self.app, lambda: time.monotonic() >= t0 + seconds, seconds + 5)
        t1, wrk1, gui1 = time.monotonic(), thread_cpu_s(worker_id), thread_cpu_s(gui_id)
        ctl.set_live(False)
        # Samples up to t1 arrive within the 20 ms batch age (the worker flushes on live off).
        spin(self.app, lambda: ctl.status.state is not LinkState.LIVE
             and float(self.batches[-1].t_mono[-1]) >= t1, 5)
        times = np.concatenate([b.t_mono for b in self.batches])
        n = int(np.count_nonzero((times >= t0) & (times < t1)))
        return n / (t1 - t0), wrk1 - wrk0, gui1 - gui0

    def close(self) -> None:
        self.raw.close()
        self.ctl.shutdown()


def rate_pairs(app: QCoreApplication, address: str, pairs: int,
               window_s: float) -> dict[str, list[float]]:
    """Return per pair: single/s, client CPU s per single, compound/s, link/s; CPU totals."""
    runs = RatePairs(app, address)
    out: dict[str, list[float]] = {k: [] for k in ("single", "single_cpu", "compound",
                                                   "with_units", "with_watch", "link", "cpu")}
    worker_s = gui_s = 0.0
    snapshots = 0.0
    try:
        for _ in range(pairs):
            link, worker, gui = runs.link_window(window_s)
            single, single_cpu, compound, with_units, with_watch = raw_windows(runs.raw,
                                                                               window_s)
            out["single"].append(single)
            out["single_cpu"].append(single_cpu)
            out["compound"].append(compound)
            out["with_units"].append(with_units)
            out["with_watch"].append(with_watch)
            out["link"].append(link)
            worker_s += worker
            gui_s += gui
            snapshots += link * window_s
    finally:
        runs.close()
    link_time = pairs * window_s
    out["cpu"] = [gui_s / link_time * 100, worker_s / link_time * 100, worker_s / snapshots]
    return out


def fault_timings(app: QCoreApplication, proc: subprocess.Popen[bytes], address: str,
                  repetitions: int) -> tuple[list[float], list[float], list[float]]:
    """Return per repetition: fault→Stale s, answering→Live s, and the latter minus backoff."""
    ctl = LinkController(AcquisitionSettings(backoff=FAST_BACKOFF))
    events: list[tuple[float, LinkState, float | None]] = []
    ctl.state_changed.connect(
        lambda s: events.append((time.monotonic(), s.state, s.next_attempt_at)))
    ctl.connect_to(address)
    spin(app, lambda: ctl.status.state is LinkState.LIVE, 10)
    to_stale: list[float] = []
    to_live: list[float] = []
    net: list[float] = []
    for _ in range(repetitions):
        t_end = time.monotonic() + 0.3  # let data flow a little
        spin(app, lambda t=t_end: time.monotonic() >= t, 2)
        t_fault = time.monotonic()
        os.kill(proc.pid, signal.SIGSTOP)
        # Within the reply deadline (5 s) the session is kept: Stale, then Live on resume.
        spin(app, lambda: ctl.status.state is LinkState.STALE, 5)
        t_stale = next(t for t, s, _ in events if t >= t_fault and s is LinkState.STALE)
        to_stale.append(t_stale - t_fault)
        t_end = time.monotonic() + 0.4
        spin(app, lambda t=t_end: time.monotonic() >= t, 2)
        t_resume = time.monotonic()
        os.kill(proc.pid, signal.SIGCONT)
        wait = 0.0
        for t, s, nxt in events:
            if t <= t_resume and s is LinkState.RECONNECTING:
                wait = max(0.0, nxt - t_resume) if nxt is not None else 0.0
        spin(app, lambda: ctl.status.state is LinkState.LIVE, 10)
        t_live = next(t for t, s, _ in events if t >= t_resume and s is LinkState.LIVE)
        to_live.append(t_live - t_resume)
        net.append(t_live - t_resume - wait)
    reconnects = ctl.health().reconnects
    ctl.shutdown()
    if reconnects:
        print(f"note: {reconnects} reconnect(s) during pauses shorter than the reply deadline")
    return to_stale, to_live, net


def spread(values: list[float], fmt: str) -> str:
    """Return "median (min–max)" of values, each formatted with fmt."""
    return (f"{statistics.median(values):{fmt}} ({min(values):{fmt}}–{max(values):{fmt}})")


def describe(values: list[float]) -> str:
    return f"median {statistics.median(values) * 1000:.0f} ms, max {max(values) * 1000:.0f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=30, help="link/raw window pairs")
    parser.add_argument("--window", type=float, default=0.3, help="length of each window, s")
    parser.add_argument("--seconds", type=float, default=3.0, help="length of the 10 Hz run")
    parser.add_argument("--repetitions", type=int, default=20, help="fault repetitions")
    args = parser.parse_args()
    # The fault runs make the link log a warning per outage; they are expected here.
    logging.basicConfig(level=logging.ERROR)
    app = QCoreApplication.instance() or QCoreApplication([])
    # Shared machine: the load says how much the rates below can be trusted.
    print("load average (1, 5, 15 min) at start: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    proc, address = start_simulator()
    try:
        r = rate_pairs(app, address, args.pairs, args.window)
        singles, links, compounds = r["single"], r["link"], r["compound"]
        print(f"interleaved over {args.pairs} pairs of {args.window:g} s windows, median "
              f"(min–max): raw single-query round trips {spread(singles, '.0f')}/s; "
              f"4-channel snapshots through the link at max rate {spread(links, '.0f')}/s")
        ratios = [link / raw for link, raw in zip(links, singles, strict=True)]
        print(f"ratio link / raw single queries, per pair: {spread(ratios, '.2f')} "
              f"(goal ≥ 0.8)")
        ceiling = [c / raw for c, raw in zip(compounds, singles, strict=True)]
        of_ceiling = [link / c for link, c in zip(links, compounds, strict=True)]
        print(f"per pair: bare compound messages / raw single queries {spread(ceiling, '.2f')} "
              f"(the ceiling); link / bare compound messages {spread(of_ceiling, '.2f')}")
        guard_us = [(1 / u - 1 / c) * 1e6 for c, u in zip(compounds, r["with_units"],
                                                            strict=True)]
        print(f"unit guard: bare power+unit messages / bare power messages "
              f"{spread([u / c for c, u in zip(compounds, r['with_units'], strict=True)], '.2f')};"
              f" its cost per snapshot {spread(guard_us, '.0f')} µs")
        watch_us = [(1 / w - 1 / u) * 1e6 for u, w in zip(r["with_units"], r["with_watch"],
                                                          strict=True)]
        per_snapshot_us = [us / (WATCH_INTERVAL_S * link) for us, link in zip(watch_us, links,
                                                                             strict=True)]
        watch_ratio = [w / u for u, w in zip(r["with_units"], r["with_watch"], strict=True)]
        print(f"change watch: bare messages with it / without {spread(watch_ratio, '.2f')}; "
              f"its cost per watched message {spread(watch_us, '.0f')} µs, one every "
              f"{WATCH_INTERVAL_S:g} s: {spread(per_snapshot_us, '.2f')} µs per snapshot at the "
              "max rate")
        gui_max, worker_max, per_snapshot = r["cpu"]
        print(f"CPU at max rate: GUI thread {gui_max:.1f} %, worker {worker_max:.1f} %")
        print(f"client CPU per raw single query {statistics.median(r['single_cpu']) * 1e6:.0f} "
              f"µs; worker CPU per link snapshot {per_snapshot * 1e6:.0f} µs")
        rate_10, gui_10, worker_10 = live_run(app, address, 0.1, args.seconds)
        print(f"10 Hz: achieved {rate_10:.2f}/s; CPU GUI thread {gui_10:.2f} %, "
              f"worker {worker_10:.2f} %")
        to_stale, to_live, net = fault_timings(app, proc, address, args.repetitions)
        print(f"fault (SIGSTOP) to Stale over {len(to_stale)}: {describe(to_stale)}")
        print(f"answering again (SIGCONT) to Live: {describe(to_live)}; net of the backoff "
              f"wait left then: {describe(net)}")
        print("load average (1, 5, 15 min) at end: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGCONT)
            proc.terminate()
            proc.wait(5)


if __name__ == "__main__":
    main()
