"""One stream client: its request, the rows due to it, its bounded backlog and its counters.

Frames are written to the client's socket at once, in the caller's turn of the loop, through
websockets' sans-I/O protocol: no task wakes per frame (each wake costs a Qt timer under
qasync). Only when the socket's write buffer is full do frames wait here, oldest dropped first.
"""

from __future__ import annotations

import json
import math
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from websockets.asyncio.server import ServerConnection
from websockets.protocol import State

from ctp10_gui.share.frames import StreamQuery

QUEUE_FRAMES = 256  # per client; the oldest frame is dropped when a client lags behind
DROPS_BEFORE_CLOSE = 4 * QUEUE_FRAMES  # dropped in a row: the client no longer reads
WRITE_BUFFER_BYTES = 256 * 1024  # bytes the socket may hold unsent before frames wait here


def encode(frame: dict[str, Any]) -> bytes:
    """Return a frame as UTF-8 JSON text (NaN refused: JSON has none)."""
    return json.dumps(frame, allow_nan=False, separators=(",", ":")).encode()


@dataclass
class StreamClient:
    """One connected client: what it asked for, its bounded backlog and its counters."""

    address: str
    path: str
    kind: str  # "stream" (seed frames), "batch" (every snapshot), "events" or "health"
    query: StreamQuery
    since: float  # Unix s
    backlog: deque[bytes] = field(default_factory=deque)
    sent: int = 0
    dropped: int = 0
    dropped_in_a_row: int = 0
    next_due_mono: float = -math.inf  # acquisition time (s) at which the next frame is due
    last_row_mono: float = -math.inf  # acquisition time (s) of the last row seen
    last_error_at: float = -math.inf
    last_heartbeat_at: float = -math.inf
    error_count: int = 0
    closing: bool = False  # set once the server gave up on the client
    connection: ServerConnection | None = None

    @property
    def is_stream(self) -> bool:
        """Return True for a power stream (seed frames or full-rate batches)."""
        return self.kind in ("stream", "batch")

    def offer(self, frame: dict[str, Any]) -> None:
        """Encode a frame and send or queue it."""
        self.offer_bytes(encode(frame))

    def offer_bytes(self, data: bytes) -> None:
        """Send an encoded frame, or queue it while the socket is full (oldest dropped)."""
        if len(self.backlog) >= QUEUE_FRAMES:
            self.backlog.popleft()
            self.dropped += 1
            self.dropped_in_a_row += 1
        self.backlog.append(data)
        self.flush()

    def flush(self) -> None:
        """Write queued frames until the socket's write buffer is full or none are left."""
        connection = self.connection
        if connection is None or not self.backlog:
            return
        protocol = connection.protocol
        if protocol.state is not State.OPEN:
            return
        transport = connection.transport
        wrote = False
        while self.backlog and transport.get_write_buffer_size() < WRITE_BUFFER_BYTES:
            protocol.send_text(self.backlog.popleft())
            self.sent += 1
            wrote = True
            connection.send_data()
        if wrote:
            self.dropped_in_a_row = 0

    def due_rows(self, t_mono: np.ndarray) -> list[int]:
        """Return the rows of a batch (times in s) due to this client, one per interval."""
        # The grid starts at the client's first row and advances by whole intervals, so the
        # client's period is its interval whatever the batches. A row counts for a grid point
        # from half a row spacing before it (a tenth to half an interval): the window then
        # opens between two rows, never on one, so rows that jitter by milliseconds neither
        # skip a frame nor bunch two, also when the acquisition runs at the client's own rate.
        # The last due row is the newest of the batch: the freshest value a monitor can show,
        # and the same row (one encoding) for every client served from this batch.
        interval = self.query.interval_s
        n = len(t_mono)
        if n > 1:
            spacing = float(t_mono[-1] - t_mono[0]) / (n - 1)
        else:
            spacing = float(t_mono[0]) - self.last_row_mono
        self.last_row_mono = float(t_mono[-1])
        early = min(max(0.5 * spacing, 0.1 * interval), 0.5 * interval)
        due_at = self.next_due_mono
        if due_at < t_mono[0] - interval:  # first batch, or after an outage
            due_at = float(t_mono[0])
        due: list[int] = []
        while due_at - early <= t_mono[-1]:
            i = int(np.searchsorted(t_mono, due_at - early))
            if not due or due[-1] != i:
                due.append(i)
            due_at += interval
        self.next_due_mono = due_at
        if due:
            due[-1] = n - 1
        return due
