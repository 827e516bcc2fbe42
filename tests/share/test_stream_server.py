"""The stream server of the real app (offscreen, subprocess) with real `websockets` clients."""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import selectors
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import ClientConnection, connect
from websockets.typing import Origin

from ctp10_gui.share.client import QUEUE_FRAMES, StreamClient
from ctp10_gui.share.frames import StreamQuery
from ctp10_gui.share.server import PING_S
from tests.conftest import SimProcess

APP_START_TIMEOUT_S = 30.0
SEED_FIELDS = {"type", "timestamp", "module", "wavelength_nm", "unit", "ch1_power",
               "ch2_power", "ch3_power", "ch4_power"}


class AppProcess:
    """`python -m ctp10_gui ... --serve 127.0.0.1:0` offscreen; base URL from its stdout line."""

    def __init__(self, tmp_path: Path, *args: str) -> None:
        env = {**os.environ, "QT_QPA_PLATFORM": "offscreen",
               "XDG_CONFIG_HOME": str(tmp_path / "cfg"), "XDG_STATE_HOME": str(tmp_path / "st")}
        self.log_path = tmp_path / "app-stderr.log"
        with self.log_path.open("ab") as log_file:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "ctp10_gui", *args, "--serve", "127.0.0.1:0",
                 "--settings", str(tmp_path / "s.json")],
                cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=log_file)
        line = self._read_line(APP_START_TIMEOUT_S)
        if "serving ws://" not in line:
            self.close()
            raise RuntimeError(f"app did not serve (got {line!r}):\n"
                               + self.log_path.read_text(errors="replace")[-3000:])
        self.host_port = line.split("ws://", 1)[1].split("/", 1)[0]
        self.ws = f"ws://{self.host_port}"
        self.http = f"http://{self.host_port}"

    def _read_line(self, timeout_s: float) -> str:
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout_s
        data = b""
        with selectors.DefaultSelector() as selector:
            selector.register(self.proc.stdout, selectors.EVENT_READ)
            while b"\n" not in data:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not selector.select(remaining):
                    break
                chunk = os.read(self.proc.stdout.fileno(), 4096)
                if not chunk:
                    break
                data += chunk
        return data.decode(errors="replace").strip()

    def get(self, path: str) -> tuple[int, dict[str, Any]]:
        try:
            with urllib.request.urlopen(self.http + path, timeout=5) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read())

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if self.proc.stdout is not None:
            self.proc.stdout.close()


@pytest.fixture
def app_factory(tmp_path: Path) -> Iterator[Callable[..., AppProcess]]:
    made: list[AppProcess] = []

    def make(*args: str) -> AppProcess:
        app = AppProcess(tmp_path, *args)
        made.append(app)
        return app

    yield make
    for app in made:
        app.close()


def frames_until(ws: ClientConnection, done: Callable[[list[dict[str, Any]]], bool],
                 timeout_s: float = 10.0) -> list[dict[str, Any]]:
    """Read frames until done(frames) or the deadline; return them all."""
    deadline = time.monotonic() + timeout_s
    frames: list[dict[str, Any]] = []
    while not done(frames):
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"timed out; got {[f['type'] for f in frames][-20:]}"
        frames.append(json.loads(ws.recv(timeout=remaining)))
    return frames


def data_count(n: int) -> Callable[[list[dict[str, Any]]], bool]:
    return lambda frames: sum(f["type"] == "data" for f in frames) >= n


def test_ten_clients_get_seed_frames_and_http_answers(
        app_factory: Callable[..., AppProcess]) -> None:
    app = app_factory("--simulate")
    paths = ["/ws/power", "/ws/v2/power", "/api/v1/ws/power", "/api/v1/ws/v2/power"]
    with contextlib.ExitStack() as stack:
        clients = [stack.enter_context(connect(f"{app.ws}{paths[i % 4]}?module=4&interval=0.1"))
                   for i in range(10)]
        for ws in clients:
            frames = frames_until(ws, data_count(8))
            data = [f for f in frames if f["type"] == "data"]
            assert all(set(f) >= SEED_FIELDS and f["module"] == 4 and f["unit"] == "dBm"
                       for f in data)
            assert all(isinstance(f["ch1_power"], float) for f in data)
            assert all(f["type"] != "heartbeat" for f in frames)  # the seed's first: after 30 s
            gaps = [b["timestamp"] - a["timestamp"] for a, b in itertools.pairwise(data)]
            # One frame per interval on average, not per batch; a frame may come a tenth of an
            # interval early and carries the newest row of its ≤ 20 ms batch.
            assert min(gaps) >= 0.1 - 0.01 - 0.02 - 0.005
            assert 0.09 <= sum(gaps) / len(gaps) <= 0.11
        status, health = app.get("/health")
        assert status == 200 and health["clients"] == 10
        assert health["connected"] is True and health["status"] == "ok"
        status, snap = app.get("/detector/snapshot?module=4")
        assert status == 200 and set(snap) >= SEED_FIELDS and snap["type"] == "data"
        status, missing = app.get("/detector/snapshot?module=7")
        assert status == 404 and "module 7" in missing["detail"]


def test_the_first_frames_are_what_the_seed_clients_read(
        app_factory: Callable[..., AppProcess]) -> None:
    # The seed's HTML monitor (examples/websocket_power_monitor.html) treats every message as
    # a data frame: timestamp * 1000 as a date, module, wavelength_nm.toFixed(4), unit and
    # chN_power.toFixed(3) for N = 1..4. Its debug script (examples/debug_websocket.py) reads
    # 20 messages of /ws/power?module=4&interval=0.1 and formats chN_power with ":.3f".
    app = app_factory("--simulate")
    with connect(f"{app.ws}/ws/power") as ws:
        frames_until(ws, data_count(1), timeout_s=20.0)  # the link is Live
    with connect(f"{app.ws}/ws/v2/power?module=4&interval=0.1") as ws:
        frames = frames_until(ws, lambda fs: len(fs) >= 20)
    for frame in frames:
        assert frame["type"] == "data"
        assert abs(frame["timestamp"] - time.time()) < 10  # Unix seconds
        assert frame["module"] == 4 and frame["unit"] == "dBm"
        assert isinstance(frame["wavelength_nm"], float)
        assert 1240 <= frame["wavelength_nm"] <= 1680
        for n in (1, 2, 3, 4):
            assert isinstance(frame[f"ch{n}_power"], float)


def test_bad_parameters_foreign_origins_and_loopback(
        app_factory: Callable[..., AppProcess]) -> None:
    app = app_factory("--simulate")
    for query in ("module=0", "module=21", "module=x", "interval=0.001", "interval=11",
                  "interval=nan", "modul=4"):
        with pytest.raises(InvalidStatus) as refused:
            connect(f"{app.ws}/ws/power?{query}")
        assert refused.value.response.status_code == 400, query
    status, body = app.get("/detector/snapshot?module=99")
    assert status == 400 and "module must be 1–20" in body["detail"]
    with pytest.raises(InvalidStatus) as foreign:
        connect(f"{app.ws}/ws/power", origin=Origin("https://example.com"))
    assert foreign.value.response.status_code == 403
    for origin in ("http://localhost:3000", "http://127.0.0.1:8080", "null"):
        with connect(f"{app.ws}/ws/power", origin=Origin(origin)) as ws:
            assert json.loads(ws.recv(timeout=5))["type"] in ("data", "error")
    listening = [c.laddr for c in psutil.Process(app.proc.pid).net_connections("inet")
                 if c.status == psutil.CONN_LISTEN and str(c.laddr.port) in app.host_port]
    assert listening and all(addr.ip == "127.0.0.1" for addr in listening)


def test_health_socket_answers_ping_and_other_modules_get_an_error(
        app_factory: Callable[..., AppProcess]) -> None:
    app = app_factory("--simulate")
    with connect(f"{app.ws}/ws/health") as ws:
        assert json.loads(ws.recv(timeout=5))["type"] == "heartbeat"
        ws.send("ping")
        assert json.loads(ws.recv(timeout=5))["type"] == "pong"
    with connect(f"{app.ws}/ws/power?module=1") as ws:
        frames = frames_until(ws, lambda fs: any(f["type"] == "error" for f in fs))
        error = next(f for f in frames if f["type"] == "error")
        assert "module 1 is not being acquired" in error["message"]
        assert error["recoverable"] is True and error["error_count"] >= 1


def test_full_rate_batches_and_prometheus_metrics(
        app_factory: Callable[..., AppProcess]) -> None:
    app = app_factory("--simulate")
    with connect(f"{app.ws}/ws/power/batch?module=4") as ws:
        frames = frames_until(ws, lambda fs: sum(f["type"] == "batch" for f in fs) >= 10)
        batches = [f for f in frames if f["type"] == "batch"]
        times = [t for b in batches for t in b["timestamps"]]
        assert times == sorted(times) and len(set(times)) == len(times)  # every snapshot once
        for b in batches:
            assert b["channels"] == [1, 2, 3, 4] and b["unit"] == "dBm"
            assert len(b["power_dbm"]) == len(b["timestamps"]) == len(b["status"])
            assert all(len(row) == 4 for row in b["power_dbm"])
        with urllib.request.urlopen(app.http + "/metrics", timeout=5) as response:
            assert response.headers["Content-Type"].startswith("text/plain")
            text = response.read().decode()
    lines = {line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
             for line in text.splitlines() if line and not line.startswith("#")}
    assert lines['ctp10_link_state{ctp10_link_state="Live"}'] == 1.0
    assert lines["ctp10_snapshot_rate_hz"] > 5
    assert lines['ctp10_stream_clients{path="/ws/power/batch"}'] == 1.0
    assert lines["ctp10_stream_frames_sent"] >= 10
    assert lines["ctp10_stream_cpu_seconds"] > 0  # the GUI thread's work on frames, counted
    assert 'ctp10_reply_latency_seconds{quantile="0.95"}' in lines


def test_a_lagging_client_loses_its_oldest_frames_with_a_count() -> None:
    # No connection: nothing can be written, as when the client's socket is full.
    client = StreamClient("127.0.0.1:1", "/ws/power", "stream", StreamQuery(), 0.0)
    for i in range(QUEUE_FRAMES + 5):
        client.offer({"n": i})
    assert client.dropped == client.dropped_in_a_row == 5
    assert json.loads(client.backlog.popleft()) == {"n": 5}  # 0-4 were dropped
    assert len(client.backlog) == QUEUE_FRAMES - 1


def test_a_client_that_never_reads_does_not_slow_the_others(
        app_factory: Callable[..., AppProcess]) -> None:
    app = app_factory("--simulate")
    # The first client never reads: its frames pile up in its own bounded queue on the server.
    with (connect(f"{app.ws}/ws/power?interval=0.01", max_size=None, max_queue=1),
          connect(f"{app.ws}/ws/power?interval=0.1") as reader):
        started = time.monotonic()
        frames = frames_until(reader, data_count(20), timeout_s=6.0)
        assert time.monotonic() - started < 4.0
        assert frames[-1]["type"] == "data"


@pytest.mark.slow
def test_a_client_that_stops_reading_is_closed_by_the_keepalive(
        app_factory: Callable[..., AppProcess]) -> None:
    app = app_factory("--simulate")
    host, port = app.host_port.rsplit(":", 1)
    sock = socket.create_connection((host, int(port)))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    # max_queue=1: the client's reader stops at the first unread frame, pongs included.
    with (connect(f"{app.ws}/ws/power/batch", sock=sock, max_queue=1),
          connect(f"{app.ws}/ws/power?interval=0.5") as reader):
        started = time.monotonic()

        def gone(frames: list[dict[str, Any]]) -> bool:
            _, health = app.get("/health")
            return health["clients"] == 1

        frames_until(reader, gone, timeout_s=2 * PING_S + 10)
        assert time.monotonic() - started <= 2 * PING_S + 10
        frames = frames_until(reader, data_count(2))  # the reader is still served
        assert frames[-1]["type"] == "data"


@pytest.mark.slow
def test_a_stalled_instrument_gives_error_frames_then_data_on_the_same_socket(
        app_factory: Callable[..., AppProcess], sim_process: SimProcess) -> None:
    address = sim_process.address  # one SCPI client only: the app's (max-clients 1)
    app = app_factory("--address", address)
    with (connect(f"{app.ws}/ws/power?interval=0.05") as ws,
          connect(f"{app.ws}/ws/events") as events):
        frames_until(ws, data_count(3))
        sim_process.pause()
        try:
            frames = frames_until(ws, lambda fs: any(f["type"] == "error" for f in fs))
        finally:
            sim_process.resume()
        error = next(f for f in frames if f["type"] == "error")
        assert "Stale" in error["message"] or "Reconnecting" in error["message"]
        assert error["recoverable"] is True
        frames = frames_until(ws, lambda fs: bool(fs) and fs[-1]["type"] == "data"
                              and fs[-1]["link"] == "Live", timeout_s=20.0)
        assert frames[-1]["ch1_power"] is not None
        seen = frames_until(events, lambda fs: [f.get("state") for f in fs][-1:] == ["Live"])
        states = [f["state"] for f in seen if f.get("kind") == "link_state"]
        assert "Stale" in states and states[-1] == "Live"


def test_data_frames_stream_the_derived_channels_of_the_settings(
        app_factory: Callable[..., AppProcess], tmp_path: Path) -> None:
    (tmp_path / "s.json").write_text(json.dumps(
        {"derived_channels": [{"name": "IL", "expression": "CH2 - CH1"}]}))
    app = app_factory("--simulate")
    with connect(f"{app.ws}/ws/power?module=4&interval=0.1") as ws:
        frames = frames_until(ws, data_count(3))
    data = [f for f in frames if f["type"] == "data"]
    for f in data:
        assert set(f["derived"]) == {"IL"}
        expected = f["ch2_power"] - f["ch1_power"]
        assert f["derived"]["IL"] == pytest.approx(expected, abs=1e-9)
        assert f["derived_status"] == {"IL": "ok"}

