"""Stream server under load: the app acquiring as fast as it can, ten 10 Hz clients + one full-rate.

Runs the real app (``--simulate --serve``, through ``stream_app.py`` so the strip chart's
frames can be counted) as a subprocess with a 1 ms poll interval and real ``websockets``
clients in threads of this process, and prints per phase (no client, one 10 Hz client, then
ten 10 Hz clients + one /ws/power/batch client twice, alternating with no client):
- the app's GUI-thread CPU (% of one core), and the part of it the stream server accounts for
  itself (building and writing frames, /metrics' ctp10_stream_cpu_seconds: unlike the
  difference between phases, it does not move with the machine's other load); the strip
  chart's frames per second on the Live tab; the snapshot rate (one compound SCPI query per
  snapshot, so SCPI round trips/s);
- frames each client received against the frames meant for it: a 10 Hz client is meant one
  frame per 0.1 s of acquisition time (a gap of k intervals between two frames is k - 1
  missed frames, if the acquisition had snapshots for them); the full-rate client every
  snapshot (its batches number their snapshots: a gap in that numbering is a lost snapshot);
- reply-to-client latency p50/p95: receive time minus the snapshot's wall-clock timestamp
  (for a batch, its newest snapshot's);
- SCPI round trips per delivered snapshot, and the round trips per second the clients added;
  a second app polling at 10 Hz shows the round trips per snapshot delivered to 1 and 10
  clients (the seed system makes 6 per snapshot per client).
Goals (issue 14): ≥ 99.9 % of the frames, p95 ≤ 20 ms, GUI thread + ≤ 5 % of a core, ≥ 30 FPS.

Run: QT_QPA_PLATFORM=offscreen python benchmarks/bench_stream.py [--seconds 20]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import psutil
from websockets.sync.client import connect

SETTLE_S = 6.0  # the app starts, connects and goes Live
HERE = Path(__file__).parent


class Reader(threading.Thread):
    """A client that records (receive time, frame) for every frame."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.stop = threading.Event()
        self.frames: list[tuple[float, dict[str, Any]]] = []

    def run(self) -> None:
        with connect(self.url, max_size=None) as ws:
            while not self.stop.is_set():
                try:
                    text = ws.recv(timeout=0.2)
                except TimeoutError:
                    continue
                self.frames.append((time.time(), json.loads(text)))


def metric(http: str, name: str) -> float:
    """Return one unlabelled value of the app's /metrics."""
    with urllib.request.urlopen(http + "/metrics", timeout=5) as response:
        for line in response.read().decode().splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
    return float("nan")


def gui_cpu_s(proc: psutil.Process) -> float:
    """Return the CPU seconds of the app's main (GUI) thread."""
    return next(t.user_time + t.system_time for t in proc.threads() if t.id == proc.pid)


def chart_frames(path: Path) -> tuple[float, int]:
    """Return (Unix s, frames drawn) the app last wrote."""
    stamp, frames = path.read_text().split()
    return float(stamp), int(frames)


@dataclass
class Delivery:
    """What one client got in the measured window."""

    got: int
    meant: int
    latencies_s: list[float]


def grid_delivery(frames: list[tuple[float, dict[str, Any]]], interval_s: float) -> Delivery:
    """Count a seed client's data frames against one per interval of acquisition time."""
    # A gap of k intervals between two frames is k - 1 missed frames, but only as many as
    # the server had snapshots for in between (their `seq` numbers): a stall of the
    # acquisition itself leaves nothing to send.
    data = [(t, f) for t, f in frames if f["type"] == "data"]
    stamps = [float(f["timestamp"]) for _, f in data]
    seqs = [int(f["seq"]) for _, f in data]
    missed = sum(max(0, min(round((b - a) / interval_s), sb - sa) - 1)
                 for (a, b), (sa, sb) in zip(itertools.pairwise(stamps),
                                             itertools.pairwise(seqs), strict=True))
    latencies = [t - s for (t, _), s in zip(data, stamps, strict=True)]
    return Delivery(len(data), len(data) + missed, latencies)


def batch_delivery(frames: list[tuple[float, dict[str, Any]]]) -> Delivery:
    """Count the full-rate client's snapshots against the numbering of the batches."""
    batches = [(t, f) for t, f in frames if f["type"] == "batch"]
    if not batches:
        return Delivery(0, 0, [])
    got = sum(len(f["timestamps"]) for _, f in batches)
    last = batches[-1][1]
    meant = int(last["seq"]) + len(last["timestamps"]) - int(batches[0][1]["seq"])
    return Delivery(got, meant, [t - float(f["timestamps"][-1])
                                 for t, f in batches])


@dataclass
class PhaseResult:
    """What one phase measured: snapshot rate (Hz), GUI thread and server CPU (% of a core)."""

    rate_hz: float
    gui_pct: float
    server_pct: float
    fps: float


def phase(name: str, proc: psutil.Process, ws: str, http: str, frames_file: Path,
          paths: list[str], seconds: float, base_rate: float | None) -> PhaseResult:
    """Measure one phase with clients on paths."""
    readers = [Reader(ws + path) for path in paths]
    for r in readers:
        r.start()
    time.sleep(1.5)  # warm-up: every client connected and receiving before the window measured
    s0 = metric(http, "ctp10_stream_cpu_seconds")
    t0, c0 = time.time(), gui_cpu_s(proc)
    f0 = chart_frames(frames_file)
    load = os.getloadavg()[0]
    time.sleep(seconds)
    t1, c1 = time.time(), gui_cpu_s(proc)
    f1 = chart_frames(frames_file)
    s1 = metric(http, "ctp10_stream_cpu_seconds")
    rate = metric(http, "ctp10_snapshot_rate_hz")
    for r in readers:
        r.stop.set()
    for r in readers:
        r.join(5)
    window = t1 - t0
    fps = (f1[1] - f0[1]) / (f1[0] - f0[0])
    added = "" if base_rate is None else f", {rate - base_rate:+.0f}/s against no client"
    print(f"{name} (load average {load:.2f}): GUI thread {100 * (c1 - c0) / window:.1f} % of "
          f"a core, of which the stream server {100 * (s1 - s0) / window:.2f} %; strip chart "
          f"{fps:.1f} FPS, {rate:.0f} snapshots/s acquired (= SCPI round trips/s{added})")
    delivered = 0
    for path, r in zip(paths, readers, strict=True):
        inside = [(t, f) for t, f in r.frames if t0 <= t < t1]
        d = batch_delivery(inside) if "batch" in path else grid_delivery(inside, 0.1)
        delivered += d.got
        p50, p95 = (np.percentile(d.latencies_s, [50, 95]) * 1000 if d.latencies_s
                    else (float("nan"),) * 2)
        share = 100 * d.got / d.meant if d.meant else float("nan")
        print(f"  {path}: {d.got} of {d.meant} frames meant ({share:.2f} %), "
              f"latency p50 {p50:.1f} ms, p95 {p95:.1f} ms")
    if delivered:
        print(f"  SCPI round trips per delivered snapshot: {rate * window / delivered:.3f}")
    return PhaseResult(rate, 100 * (c1 - c0) / window, 100 * (s1 - s0) / window, fps)


def run_app(poll_s: float, seconds: float,
            phases: list[tuple[str, list[str]]]) -> None:
    """Start the app polling every poll_s s and measure the phases (the first: no client)."""
    folder = Path(tempfile.mkdtemp(prefix="bench-stream-"))
    (folder / "s.json").write_text(json.dumps({"poll_interval_s": poll_s}))
    frames_file = folder / "frames.txt"
    env = {**os.environ, "QT_QPA_PLATFORM": os.environ.get("QT_QPA_PLATFORM", "offscreen"),
           "XDG_STATE_HOME": str(folder), "XDG_CONFIG_HOME": str(folder)}
    app = subprocess.Popen(
        [sys.executable, str(HERE / "stream_app.py"), str(frames_file), "--simulate",
         "--serve", "127.0.0.1:0", "--settings", str(folder / "s.json")],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        assert app.stdout is not None
        line = app.stdout.readline().decode()
        host_port = line.split("ws://", 1)[1].split("/", 1)[0]
        ws, http = f"ws://{host_port}", f"http://{host_port}"
        time.sleep(SETTLE_S)
        proc = psutil.Process(app.pid)
        base: float | None = None
        results: dict[str, list[PhaseResult]] = {}
        for name, paths in phases:
            result = phase(name, proc, ws, http, frames_file, paths, seconds, base)
            base = result.rate_hz if base is None else base
            results.setdefault(name, []).append(result)
        # The GUI thread's own work follows the snapshot rate, which other load on the machine
        # moves: phases with and without clients alternate, and their means are compared.
        quiet = results[phases[0][0]]
        for name, runs in results.items():
            if runs is quiet:
                continue
            added = (np.mean([r.gui_pct for r in runs]) - np.mean([r.gui_pct for r in quiet]))
            server = np.mean([r.server_pct for r in runs]) - np.mean([r.server_pct for r in quiet])
            print(f"-> {name} ({len(runs)} phases against {len(quiet)} without clients): GUI "
                  f"thread {added:+.1f} % of a core (the stream server's own count "
                  f"{server:+.2f} %), strip chart ≥ {min(r.fps for r in runs):.1f} FPS")
    finally:
        app.terminate()
        app.wait(10)


def main() -> None:
    """Run the phases at 1 kHz polling, then SCPI use per client at 10 Hz polling."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="measured s per phase")
    args = parser.parse_args()
    ten_hz = "/ws/power?interval=0.1"
    none: tuple[str, list[str]] = ("no client", [])
    eleven = ("ten 10 Hz clients + one full-rate", [ten_hz] * 10 + ["/ws/power/batch"])
    print("== the app polls as fast as it can (poll interval 1 ms)")
    run_app(0.001, args.seconds, [none, ("one 10 Hz client", [ten_hz]), eleven, none, eleven,
                                  none])
    print("== the app polls at 10 Hz: SCPI round trips per snapshot delivered to 1 or 10 clients")
    run_app(0.1, args.seconds / 2, [none, ("one 10 Hz client", [ten_hz]),
                                    ("ten 10 Hz clients", [ten_hz] * 10)])


if __name__ == "__main__":
    main()
