"""The stream server: the link's batches to many WebSocket clients, read-only, on the Qt loop.

It runs on the asyncio loop that qasync drives in the GUI thread, so the link's signals arrive
in the same thread as the clients' tasks: no locks. It never touches the driver: every frame
comes from the batches the acquisition already produced, so clients cause no SCPI traffic.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import re
import time
from collections.abc import Callable, Sequence
from typing import Any

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.typing import Origin

from ctp10_gui.link.port import LinkPort
from ctp10_gui.models.connection import LinkState, LinkStatus
from ctp10_gui.models.derived import DerivedChannel
from ctp10_gui.models.samples import SnapshotBatch
from ctp10_gui.share.address import is_loopback
from ctp10_gui.share.client import DROPS_BEFORE_CLOSE, StreamClient, encode
from ctp10_gui.share.frames import (
    BATCH_PATH,
    EVENTS_PATH,
    HEALTH_PATH,
    HEALTH_WS_PATH,
    METRICS_PATH,
    SNAPSHOT_PATH,
    STREAM_PATHS,
    Snapshot,
    StreamQuery,
    batch_frame,
    data_frame,
    error_frame,
    event_frame,
    health_body,
    heartbeat_frame,
    iso_now,
    parse_query,
    path_of,
    snapshot_rows,
)
from ctp10_gui.share.metrics import ShareMetrics

log = logging.getLogger(__name__)

MAX_CLIENTS = 32
STREAM_HEARTBEAT_S = 30.0
HEALTH_HEARTBEAT_S = 10.0
# A client that stops reading stops answering pings too: closed after PING_S + PING_S.
PING_S = 10.0
ERROR_EVERY_S = 1.0  # error frames while the link is not Live, at most this often
TICK_S = 0.25
# Browsers send Origin; a foreign web page must not read the lab's stream. Scripts send none.
LOCAL_ORIGINS: list[Origin | re.Pattern[str] | None] = [
    None, Origin("null"), Origin("file://"),
    re.compile(r"https?://(localhost|127\.0\.0\.1|\[::1\])(:\d+)?"),
]


class StreamServer:
    """WebSocket paths of the seed system plus GET /health, /detector/snapshot and /metrics."""

    def __init__(self, link: LinkPort, host: str, port: int, *,
                 max_clients: int = MAX_CLIENTS,
                 extra_origins: list[str] | None = None,
                 clock: Callable[[], float] = time.time,
                 on_clients_changed: Callable[[int], None] | None = None,
                 on_demand_changed: Callable[[float | None], None] | None = None,
                 derived: Callable[[], Sequence[DerivedChannel]] = tuple) -> None:
        self.link = link
        self.derived = derived  # the user's derived channels now, added to data frames
        self.host = host
        self.requested_port = port
        self.max_clients = max_clients
        self.origins = [*LOCAL_ORIGINS, *(Origin(o) for o in extra_origins or [])]
        self._clock = clock
        self._on_clients_changed = on_clients_changed
        self._on_demand_changed = on_demand_changed
        self.clients: list[StreamClient] = []
        self.latest: dict[int, Snapshot] = {}
        self.wavelengths_nm: dict[int, dict[int, float]] = {}  # module -> channel -> nm
        self.snapshots_seen = 0  # snapshots the link delivered since the server started
        self.dropped_by_departed = 0  # frames dropped for clients that have left
        self.demand_s: float | None = None  # fastest interval a stream client asks for
        self.cpu_s = 0.0  # CPU s this (the GUI) thread spent building and writing frames
        self.metrics = ShareMetrics()
        self._server: Server | None = None
        self._ticker: asyncio.Task[None] | None = None
        self._closing: set[asyncio.Task[None]] = set()

    # ---- lifetime ------------------------------------------------------------------------
    @property
    def port(self) -> int | None:
        """Return the bound TCP port while serving, else None."""
        if self._server is None:
            return None
        for sock in self._server.sockets:
            return int(sock.getsockname()[1])
        return None

    @property
    def serving(self) -> bool:
        """Return True between start() and stop()."""
        return self._server is not None

    @property
    def loopback(self) -> bool:
        """Return True when only this PC can connect."""
        return is_loopback(self.host)

    async def start(self) -> None:
        """Bind and serve (OSError if the port is taken); follow the link's signals."""
        # No permessage-deflate: compressing each frame once per client would cost the GUI
        # thread more than the bytes saved on a lab network.
        self._server = await serve(
            self._handle, self.host, self.requested_port, origins=self.origins,
            process_request=self._process_request, max_queue=4, close_timeout=2.0,
            ping_interval=PING_S, ping_timeout=PING_S, compression=None,
            server_header="ctp10-gui")
        self.link.batch_received.connect(self._on_batch)
        self.link.state_changed.connect(self._on_state)
        self.link.link_event.connect(self._on_link_event)
        self._ticker = asyncio.get_running_loop().create_task(self._tick())
        if not self.loopback:
            log.warning("stream server on %s:%s is reachable from other computers",
                        self.host, self.port)
        log.info("serving the live stream on %s:%s", self.host, self.port)

    async def stop(self) -> None:
        """Close every client and stop listening (bounded, about 1 s at most)."""
        if self._server is None:
            return
        with contextlib.suppress(RuntimeError, TypeError):
            self.link.batch_received.disconnect(self._on_batch)
            self.link.state_changed.disconnect(self._on_state)
            self.link.link_event.disconnect(self._on_link_event)
        if self._ticker is not None:
            self._ticker.cancel()
        self._server.close(close_connections=True)
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._server.wait_closed(), 1.0)
        self._server = None
        self._demand_changed()
        log.info("stream server stopped")

    # ---- what the app tells the server -------------------------------------------------------
    def set_wavelengths(self, module: int, waves_nm: dict[int, float]) -> None:
        """Remember the detector wavelengths (nm by channel) the app read for module (1–20)."""
        self.wavelengths_nm[int(module)] = {int(c): float(v) for c, v in waves_nm.items()
                                            if math.isfinite(v)}

    def wavelength_of(self, module: int, channels: tuple[int, ...]) -> float | None:
        """Return the detector wavelength (nm) of module's lowest channel with one, else None."""
        waves = self.wavelengths_nm.get(module, {})
        for channel in sorted(channels):
            if channel in waves:
                return waves[channel]
        return None

    def publish_event(self, kind: str, text: str, **extra: Any) -> None:
        """Send an event frame (sweep, reference, recording...) to every /ws/events client."""
        data = encode(event_frame(kind, text, self._clock(), **extra))
        for client in self.clients:
            if client.kind == "events":
                client.offer_bytes(data)

    # ---- the link's signals (GUI thread = this loop's thread) -----------------------------
    @property
    def _state(self) -> LinkState:
        return self.link.status.state

    def _on_state(self, status: LinkStatus) -> None:
        self.publish_event("link_state", status.state.label, state=status.state.label,
                           reason=status.reason, attempt=status.attempt,
                           max_attempts=status.max_attempts)
        self.tick()  # a link that just left Live is reported at once

    def _on_link_event(self, kind: str, text: str) -> None:
        self.publish_event(kind, text)

    def _on_batch(self, batch: SnapshotBatch) -> None:
        started = time.thread_time()
        try:
            self._serve_batch(batch)
        finally:
            self.cpu_s += time.thread_time() - started

    def _serve_batch(self, batch: SnapshotBatch) -> None:
        n = len(batch)
        if n == 0:
            return
        first_seq = self.snapshots_seen
        self.snapshots_seen += n
        module = batch.module
        last = n - 1
        self.latest[module] = snapshot_rows(module, batch.channels, batch.t_wall[last],
                                            batch.values_dbm[last], batch.status[last])
        link = self._state.label
        wavelength = self.wavelength_of(module, batch.channels)
        derived = self.derived()
        t_mono = batch.t_mono
        encoded: dict[int, bytes] = {}  # row -> data frame, one encoding for every client
        full_rate: bytes | None = None
        for client in self.clients:
            query = client.query
            if query.module != module:
                continue
            if client.kind == "batch":
                if full_rate is None:
                    full_rate = encode(batch_frame(
                        module, batch.channels, batch.t_wall, batch.values_dbm, batch.status,
                        link=link, seq=first_seq, wavelength_nm=wavelength))
                client.offer_bytes(full_rate)
            elif client.kind == "stream":
                for i in client.due_rows(t_mono):
                    data = encoded.get(i)
                    if data is None:
                        row = snapshot_rows(module, batch.channels, batch.t_wall[i],
                                            batch.values_dbm[i], batch.status[i])
                        data = encoded[i] = encode(data_frame(
                            row, link=link, wavelength_nm=wavelength, seq=first_seq + i,
                            derived=derived))
                    client.offer_bytes(data)

    # ---- periodic frames ------------------------------------------------------------------
    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(TICK_S)
            self.tick()

    def tick(self) -> None:
        """Send due heartbeats and, while the link is not Live, error frames; retry backlogs."""
        started = time.thread_time()
        try:
            self._tick_clients()
        finally:
            self.cpu_s += time.thread_time() - started

    def _tick_clients(self) -> None:
        now = self._clock()
        self._demand_changed()  # the app's module may have changed
        streams = sum(1 for c in self.clients if c.is_stream)
        for client in list(self.clients):
            if client.dropped_in_a_row > DROPS_BEFORE_CLOSE and not client.closing:
                self._give_up(client)
                continue
            client.flush()
            period = STREAM_HEARTBEAT_S if client.is_stream else HEALTH_HEARTBEAT_S
            if now - client.last_heartbeat_at >= period:
                client.offer(heartbeat_frame(now, streams))
                client.last_heartbeat_at = now
            problem = self._stream_problem(client)
            if problem is not None and now - client.last_error_at >= ERROR_EVERY_S:
                client.error_count += 1
                client.offer(error_frame(problem, now, client.error_count))
                client.last_error_at = now

    def _give_up(self, client: StreamClient) -> None:
        log.warning("stream client %s does not read: closed after %d dropped frames",
                    client.address, client.dropped)
        client.closing = True
        if client.connection is not None:
            task = asyncio.get_running_loop().create_task(
                client.connection.close(1008, "the client does not read; frames dropped"))
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)

    def acquired_module(self) -> int:
        """Return the detector module (1–20) the app acquires."""
        return int(self.link.settings.module)

    def _stream_problem(self, client: StreamClient) -> str | None:
        if not client.is_stream:
            return None
        if self._state is not LinkState.LIVE:
            reason = self.link.status.reason
            return (f"the link to the CTP10 is {self._state.label}"
                    + (f": {reason}" if reason else "") + "; data resumes when it is Live")
        acquired = self.acquired_module()
        if client.query.module != acquired:
            return (f"module {client.query.module} is not being acquired (the app acquires "
                    f"module {acquired}; choose it in the app's Acquisition panel)")
        return None

    def _demand_changed(self) -> None:
        """Tell the app the fastest interval a stream client of the acquired module asks for."""
        acquired = self.acquired_module()
        wanted = [c.query.interval_s for c in self.clients
                  if c.is_stream and c.query.module == acquired and self.serving]
        demand = min(wanted) if wanted else None
        if demand != self.demand_s:
            self.demand_s = demand
            if self._on_demand_changed is not None:
                self._on_demand_changed(demand)

    # ---- HTTP and handshakes --------------------------------------------------------------
    def _json(self, connection: ServerConnection, status: int, body: dict[str, Any]) -> Response:
        response = connection.respond(status, json.dumps(body, allow_nan=False) + "\n")
        del response.headers["Content-Type"]
        response.headers["Content-Type"] = "application/json"
        return response

    def _process_request(self, connection: ServerConnection,
                         request: Request) -> Response | None:
        path = path_of(request.path)
        if path == HEALTH_PATH:
            state = self._state
            return self._json(connection, 200, health_body(
                connected=state in (LinkState.LIVE, LinkState.CONNECTED, LinkState.BUSY),
                link=state.label, now_s=self._clock(), clients=len(self.clients)))
        if path == METRICS_PATH:
            return self._metrics(connection)
        if path == SNAPSHOT_PATH:
            try:
                query = parse_query(request.path)
            except ValueError as exc:
                return self._json(connection, 400, {"detail": str(exc)})
            snap = self.latest.get(query.module)
            if snap is None:
                return self._json(connection, 404, {
                    "detail": f"no snapshot of module {query.module} yet"})
            return self._json(connection, 200, data_frame(
                snap, link=self._state.label,
                wavelength_nm=self.wavelength_of(snap.module, snap.channels),
                derived=self.derived()))
        if path in (*STREAM_PATHS, BATCH_PATH):
            try:
                parse_query(request.path)
            except ValueError as exc:
                return connection.respond(400, f"{exc}\n")
        elif path not in (HEALTH_WS_PATH, EVENTS_PATH):
            return connection.respond(404, f"no such path {path!r}\n")
        if len(self.clients) >= self.max_clients:
            return connection.respond(503, f"at most {self.max_clients} clients\n")
        return None

    async def _handle(self, connection: ServerConnection) -> None:
        request = connection.request
        if request is None:
            return
        path = path_of(request.path)
        kind = {BATCH_PATH: "batch", EVENTS_PATH: "events", HEALTH_WS_PATH: "health"}.get(
            path, "stream")
        query = parse_query(request.path) if kind in ("stream", "batch") else StreamQuery()
        peer = connection.remote_address
        client = StreamClient(f"{peer[0]}:{peer[1]}" if peer else "?", path, kind, query,
                              self._clock(), connection=connection)
        if client.is_stream:
            # The seed's first heartbeat comes after 30 s: its scripts format the first frames
            # as data without looking at their type.
            client.last_heartbeat_at = client.since
        self.clients.append(client)
        self._clients_changed()
        log.info("stream client %s connected to %s", client.address, request.path)
        self.tick()  # the first heartbeat (and error, if any) at once
        try:
            async for message in connection:
                if message == "ping":
                    client.offer({"type": "pong", "timestamp": iso_now(self._clock())})
        except ConnectionClosed:
            pass
        finally:
            self.clients.remove(client)
            self.dropped_by_departed += client.dropped
            self._clients_changed()
            log.info("stream client %s left: %d frames sent, %d dropped",
                     client.address, client.sent, client.dropped)

    def _metrics(self, connection: ServerConnection) -> Response:
        by_path: dict[str, int] = {}
        for client in self.clients:
            by_path[client.path] = by_path.get(client.path, 0) + 1
        text = self.metrics.render(
            self._state, self.link.health(), by_path, sum(c.sent for c in self.clients),
            self.dropped_by_departed + sum(c.dropped for c in self.clients), self.cpu_s)
        response = connection.respond(200, text.decode("utf-8"))
        del response.headers["Content-Type"]
        response.headers["Content-Type"] = "text/plain; version=0.0.4; charset=utf-8"
        return response

    def _clients_changed(self) -> None:
        self._demand_changed()
        if self._on_clients_changed is not None:
            self._on_clients_changed(len(self.clients))
