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
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.typing import Origin

from ctp10_gui.link.port import LinkPort
from ctp10_gui.models.connection import LinkState, LinkStatus
from ctp10_gui.models.derived import DerivedChannel
from ctp10_gui.models.samples import SnapshotBatch
from ctp10_gui.share.address import is_loopback
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
QUEUE_FRAMES = 256  # per client; the oldest frame is dropped when a client lags behind
DROPS_BEFORE_CLOSE = 4 * QUEUE_FRAMES  # dropped in a row: the client no longer reads
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


@dataclass
class StreamClient:
    """One connected client: what it asked for, its bounded queue and its counters."""

    address: str
    path: str
    kind: str  # "stream" (seed frames), "batch" (every snapshot), "events" or "health"
    query: StreamQuery
    since: float  # Unix s
    queue: asyncio.Queue[str] = field(default_factory=lambda: asyncio.Queue(QUEUE_FRAMES))
    sent: int = 0
    dropped: int = 0
    dropped_in_a_row: int = 0
    next_due_mono: float = -math.inf  # acquisition time (s) at which the next frame is due
    last_error_at: float = -math.inf
    last_heartbeat_at: float = -math.inf
    error_count: int = 0
    closing: asyncio.Task[None] | None = None  # set once the server gave up on the client
    connection: ServerConnection | None = None

    @property
    def is_stream(self) -> bool:
        """Return True for a power stream (seed frames or full-rate batches)."""
        return self.kind in ("stream", "batch")

    def offer(self, frame: dict[str, Any]) -> None:
        """Queue a frame, dropping the oldest when the client lags behind."""
        self.offer_text(json.dumps(frame, allow_nan=False))

    def offer_text(self, text: str) -> None:
        """Queue an encoded frame, dropping the oldest when the client lags behind."""
        if self.queue.full():
            self.queue.get_nowait()
            self.dropped += 1
            self.dropped_in_a_row += 1
        self.queue.put_nowait(text)


class StreamServer:
    """WebSocket paths of the seed system plus GET /health and /detector/snapshot."""

    def __init__(self, link: LinkPort, host: str, port: int, *,
                 max_clients: int = MAX_CLIENTS,
                 extra_origins: list[str] | None = None,
                 clock: Callable[[], float] = time.time,
                 on_clients_changed: Callable[[int], None] | None = None,
                 derived: Callable[[], Sequence[DerivedChannel]] = tuple) -> None:
        self.link = link
        self.derived = derived  # the user's derived channels now, added to data frames
        self.host = host
        self.requested_port = port
        self.max_clients = max_clients
        self.origins = [*LOCAL_ORIGINS, *(Origin(o) for o in extra_origins or [])]
        self._clock = clock
        self._on_clients_changed = on_clients_changed
        self.clients: list[StreamClient] = []
        self.latest: dict[int, Snapshot] = {}
        self.acquired_module: int | None = None
        self.dropped_by_departed = 0  # frames dropped for clients that have left
        self.metrics = ShareMetrics()
        self._server: Server | None = None
        self._ticker: asyncio.Task[None] | None = None

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
    def loopback(self) -> bool:
        """Return True when only this PC can connect."""
        return is_loopback(self.host)

    async def start(self) -> None:
        """Bind and serve (OSError if the port is taken); follow the link's signals."""
        self._server = await serve(
            self._handle, self.host, self.requested_port, origins=self.origins,
            process_request=self._process_request, max_queue=4, close_timeout=2.0,
            ping_interval=PING_S, ping_timeout=PING_S,
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
        log.info("stream server stopped")

    # ---- the link's signals (GUI thread = this loop's thread) -----------------------------
    @property
    def _state(self) -> LinkState:
        return self.link.status.state

    def _on_state(self, status: LinkStatus) -> None:
        frame = event_frame("link_state", status.state.label, self._clock(),
                            state=status.state.label, reason=status.reason,
                            attempt=status.attempt, max_attempts=status.max_attempts)
        for client in self.clients:
            if client.kind == "events":
                client.offer(frame)
        self.tick()  # a link that just left Live is reported at once

    def _on_link_event(self, kind: str, text: str) -> None:
        frame = event_frame(kind, text, self._clock())
        for client in self.clients:
            if client.kind == "events":
                client.offer(frame)

    def _on_batch(self, batch: SnapshotBatch) -> None:
        if len(batch) == 0:
            return
        self.acquired_module = batch.module
        last = len(batch) - 1
        self.latest[batch.module] = snapshot_rows(
            batch.module, batch.channels, batch.t_wall[last], batch.values_dbm[last],
            batch.status[last])
        link = self._state.label
        t_mono = batch.t_mono
        encoded: dict[int, str] = {}  # row -> data frame text, shared by the clients
        full_rate: str | None = None
        for client in self.clients:
            query = client.query
            if query.module != batch.module:
                continue
            if client.kind == "batch":
                if full_rate is None:
                    full_rate = json.dumps(batch_frame(
                        batch.module, batch.channels, batch.t_wall, batch.values_dbm,
                        batch.status, link=link), allow_nan=False)
                client.offer_text(full_rate)
            elif client.kind == "stream":
                # One frame per point of the client's own time grid (interval apart), so the
                # 20 ms batches do not stretch its period; the last frame of a batch carries
                # the newest row, the freshest value a monitor can show.
                due_at = client.next_due_mono
                if due_at < t_mono[0] - query.interval_s:  # first batch, or after an outage
                    due_at = float(t_mono[0])
                # A row up to a tenth of an interval early still counts: rows paced at the
                # same nominal rate jitter around the grid and must not skip a whole period.
                early = 0.1 * query.interval_s
                due: list[int] = []
                while due_at - early <= t_mono[-1]:
                    i = int(np.searchsorted(t_mono, due_at - early))
                    if not due or due[-1] != i:
                        due.append(i)
                    due_at += query.interval_s
                if not due:
                    continue
                due[-1] = len(batch) - 1
                client.next_due_mono = due_at
                for i in due:
                    if i not in encoded:
                        row = snapshot_rows(batch.module, batch.channels, batch.t_wall[i],
                                            batch.values_dbm[i], batch.status[i])
                        encoded[i] = json.dumps(data_frame(row, link=link,
                                                           derived=self.derived()),
                                                allow_nan=False)
                    client.offer_text(encoded[i])

    # ---- periodic frames ------------------------------------------------------------------
    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(TICK_S)
            self.tick()

    def tick(self) -> None:
        """Send due heartbeats and, while the link is not Live, error frames."""
        now = self._clock()
        streams = sum(1 for c in self.clients if c.is_stream)
        for client in list(self.clients):
            if (client.dropped_in_a_row > DROPS_BEFORE_CLOSE and client.closing is None
                    and client.connection is not None):
                log.warning("stream client %s does not read: closed after %d dropped frames",
                            client.address, client.dropped)
                client.closing = asyncio.get_running_loop().create_task(
                    client.connection.close(1008, "the client does not read; frames dropped"))
                continue
            period = STREAM_HEARTBEAT_S if client.is_stream else HEALTH_HEARTBEAT_S
            if now - client.last_heartbeat_at >= period:
                client.offer(heartbeat_frame(now, streams))
                client.last_heartbeat_at = now
            problem = self._stream_problem(client)
            if problem is not None and now - client.last_error_at >= ERROR_EVERY_S:
                client.error_count += 1
                client.offer(error_frame(problem, now, client.error_count))
                client.last_error_at = now

    def _stream_problem(self, client: StreamClient) -> str | None:
        if not client.is_stream:
            return None
        if self._state is not LinkState.LIVE:
            reason = self.link.status.reason
            return (f"the link to the CTP10 is {self._state.label}"
                    + (f": {reason}" if reason else "") + "; data resumes when it is Live")
        if self.acquired_module is not None and client.query.module != self.acquired_module:
            return (f"module {client.query.module} is not being acquired (the app acquires "
                    f"module {self.acquired_module})")
        return None

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
            return self._json(connection, 200, data_frame(snap, link=self._state.label,
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
        self.clients.append(client)
        self._clients_changed()
        log.info("stream client %s connected to %s", client.address, request.path)
        self.tick()  # the first heartbeat (and error, if any) at once
        sender = asyncio.get_running_loop().create_task(self._send(connection, client))
        try:
            async for message in connection:
                if message == "ping":
                    client.offer({"type": "pong", "timestamp": iso_now(self._clock())})
        except ConnectionClosed:
            pass
        finally:
            sender.cancel()
            self.clients.remove(client)
            self.dropped_by_departed += client.dropped
            self._clients_changed()
            log.info("stream client %s left: %d frames sent, %d dropped",
                     client.address, client.sent, client.dropped)

    async def _send(self, connection: ServerConnection, client: StreamClient) -> None:
        try:
            while True:
                text = await client.queue.get()
                await connection.send(text)
                client.sent += 1
                client.dropped_in_a_row = 0
        except ConnectionClosed:
            return

    def _metrics(self, connection: ServerConnection) -> Response:
        by_path: dict[str, int] = {}
        for client in self.clients:
            by_path[client.path] = by_path.get(client.path, 0) + 1
        text = self.metrics.render(
            self._state, self.link.health(), by_path, sum(c.sent for c in self.clients),
            self.dropped_by_departed + sum(c.dropped for c in self.clients))
        response = connection.respond(200, text.decode("utf-8"))
        del response.headers["Content-Type"]
        response.headers["Content-Type"] = "text/plain; version=0.0.4; charset=utf-8"
        return response

    def _clients_changed(self) -> None:
        if self._on_clients_changed is not None:
            self._on_clients_changed(len(self.clients))
