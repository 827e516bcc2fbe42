"""Stream server under load: the app acquiring as fast as it can, ten 10 Hz clients + one full-rate.

Runs the real app (``--simulate --serve``) as a subprocess with a 1 ms poll interval and real
``websockets`` clients in threads of this process, and prints per phase (no client, one 10 Hz
client, ten 10 Hz clients + one /ws/power/batch client):
- the app's GUI-thread CPU (% of one core) and the snapshot rate it reports in /metrics
  (one compound SCPI query per snapshot, so SCPI round trips per second);
- frames each client received against the frames meant for it (10 Hz: one per 0.1 s; full
  rate: every snapshot acquired in the window), and SCPI round trips per delivered snapshot;
- reply-to-client latency p50/p95: receive time minus the snapshot's wall-clock timestamp.

Run: QT_QPA_PLATFORM=offscreen python benchmarks/bench_stream.py [--seconds 10]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import numpy as np
import psutil
from websockets.sync.client import connect

SETTLE_S = 4.0  # the app starts, connects and goes Live


class Reader(threading.Thread):
    """A client that records (receive time, frame) for every frame."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.stop = threading.Event()
        self.frames: list[tuple[float, dict[str, object]]] = []

    def run(self) -> None:
        with connect(self.url, max_size=None) as ws:
            while not self.stop.is_set():
                try:
                    text = ws.recv(timeout=0.2)
                except TimeoutError:
                    continue
                self.frames.append((time.time(), json.loads(text)))


def snapshot_rate(http: str) -> float:
    """Return ctp10_snapshot_rate_hz from the app's /metrics."""
    with urllib.request.urlopen(http + "/metrics", timeout=5) as response:
        for line in response.read().decode().splitlines():
            if line.startswith("ctp10_snapshot_rate_hz "):
                return float(line.split()[1])
    return float("nan")


def gui_cpu_s(proc: psutil.Process) -> float:
    """Return the CPU seconds of the app's main (GUI) thread."""
    return next(t.user_time + t.system_time for t in proc.threads() if t.id == proc.pid)


def phase(name: str, proc: psutil.Process, ws: str, http: str, paths: list[str],
          seconds: float) -> None:
    readers = [Reader(ws + path) for path in paths]
    for r in readers:
        r.start()
    time.sleep(1.0)  # connected and past the first heartbeat
    t0, c0 = time.time(), gui_cpu_s(proc)
    time.sleep(seconds)
    t1, c1 = time.time(), gui_cpu_s(proc)
    rate = snapshot_rate(http)
    for r in readers:
        r.stop.set()
    for r in readers:
        r.join(5)
    window = t1 - t0
    print(f"{name}: GUI thread {100 * (c1 - c0) / window:.1f} % of a core, "
          f"{rate:.0f} snapshots/s acquired (= SCPI round trips/s)")
    delivered = 0
    for path, r in zip(paths, readers, strict=True):
        inside = [(t, f) for t, f in r.frames if t0 <= t < t1]
        if "batch" in path:
            stamps = [s for _, f in inside if f["type"] == "batch"
                      for s in f["timestamps"]]  # type: ignore[union-attr]
            lat = [t - f["timestamps"][-1] for t, f in inside  # type: ignore[index]
                   if f["type"] == "batch"]
            meant = rate * window
            got = len(stamps)
        else:
            data = [(t, f) for t, f in inside if f["type"] == "data"]
            lat = [t - float(f["timestamp"]) for t, f in data]  # type: ignore[arg-type]
            meant = window / 0.1
            got = len(data)
        delivered += got
        p50, p95 = (np.percentile(lat, [50, 95]) * 1000) if lat else (float("nan"),) * 2
        print(f"  {path}: {got} of {meant:.0f} frames meant ({100 * got / meant:.1f} %), "
              f"latency p50 {p50:.1f} ms, p95 {p95:.1f} ms")
    if delivered:
        print(f"  SCPI round trips per delivered snapshot: {rate * window / delivered:.2f}")


def main() -> None:
    """Run the three phases against one app process."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="measured s per phase")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-stream-"))
    (folder / "s.json").write_text(json.dumps({"poll_interval_s": 0.001}))
    env = {**os.environ, "QT_QPA_PLATFORM": os.environ.get("QT_QPA_PLATFORM", "offscreen"),
           "XDG_STATE_HOME": str(folder), "XDG_CONFIG_HOME": str(folder)}
    app = subprocess.Popen(
        [sys.executable, "-m", "ctp10_gui", "--simulate", "--serve", "127.0.0.1:0",
         "--settings", str(folder / "s.json")],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        assert app.stdout is not None
        line = app.stdout.readline().decode()
        host_port = line.split("ws://", 1)[1].split("/", 1)[0]
        ws, http = f"ws://{host_port}", f"http://{host_port}"
        time.sleep(SETTLE_S)
        proc = psutil.Process(app.pid)
        phase("no client", proc, ws, http, [], args.seconds)
        phase("one 10 Hz client", proc, ws, http, ["/ws/power?interval=0.1"], args.seconds)
        phase("ten 10 Hz clients + one full-rate", proc, ws, http,
              ["/ws/power?interval=0.1"] * 10 + ["/ws/power/batch"], args.seconds)
    finally:
        app.terminate()
        app.wait(10)


if __name__ == "__main__":
    main()
