"""Read replies from a connected socket against a total deadline and a size limit.

pyvisa-py bounds only the wait for the *first* byte of a reply and keeps reading as long as
bytes trickle in, into a buffer without limit. Here every read has one deadline from the first
byte to the last and refuses a line or block larger than allowed before buffering it whole, so
a dripping or flooding peer costs at most the deadline and a bounded amount of memory.
"""

from __future__ import annotations

import select
import socket
import time
from collections.abc import Callable

__all__ = ["DeadlineExceeded", "PeerClosed", "ReplyTooLong", "SocketReader"]

RECV_SIZE = 64 * 1024
BLOCK_CHUNK = 1024 * 1024
# A block is received into buffers of at most this size, allocated as the bytes arrive: a header
# announcing a gigabyte then stalling costs one piece, not a gigabyte.
PIECE_SIZE = 16 * 1024 * 1024


class DeadlineExceeded(Exception):
    """The deadline passed before the reply was complete; `received` bytes had arrived."""

    def __init__(self, received: int) -> None:
        super().__init__(received)
        self.received = received


class PeerClosed(Exception):
    """The connection ended (FIN, reset, or shut down from another thread) mid-reply."""


class ReplyTooLong(Exception):
    """The reply exceeds `limit` bytes; the rest of it was not read."""

    def __init__(self, limit: int) -> None:
        super().__init__(limit)
        self.limit = limit


class SocketReader:
    """Buffer bytes of one socket; read lines and exact counts before a monotonic deadline."""

    def __init__(self, sock: socket.socket, clock: Callable[[], float] = time.monotonic) -> None:
        self._sock = sock
        self._clock = clock
        self._buffer = bytearray()

    @property
    def buffered(self) -> int:
        """Return the number of bytes received but not yet consumed."""
        return len(self._buffer)

    def _fill(self, deadline: float, received: int) -> None:
        """Receive at least one more byte before deadline (monotonic s)."""
        remaining = deadline - self._clock()
        if remaining <= 0:
            raise DeadlineExceeded(received)
        try:
            readable, _, _ = select.select([self._sock], [], [], remaining)
            if not readable:
                raise DeadlineExceeded(received)
            chunk = self._sock.recv(RECV_SIZE)
        except (ConnectionResetError, ConnectionAbortedError):
            raise
        except (OSError, ValueError) as exc:  # a socket closed under us: fileno -1 or EBADF
            raise PeerClosed(str(exc)) from exc
        if not chunk:
            raise PeerClosed("end of stream")
        self._buffer += chunk

    def line(self, deadline: float, limit: int) -> bytes:
        """Return the next line with its LF; ReplyTooLong past `limit` bytes without one."""
        scanned = 0
        while True:
            end = self._buffer.find(b"\n", scanned)
            if end >= 0:
                if end + 1 > limit:
                    raise ReplyTooLong(limit)
                out = bytes(self._buffer[: end + 1])
                del self._buffer[: end + 1]
                return out
            scanned = len(self._buffer)
            if scanned > limit:
                raise ReplyTooLong(limit)
            self._fill(deadline, scanned)

    def exact(self, count: int, deadline: float) -> bytes:
        """Return exactly count bytes; memory grows with what arrives, not what is announced."""
        if len(self._buffer) >= count:
            out = bytes(self._buffer[:count])
            del self._buffer[:count]
            return out
        pieces: list[bytes] = []
        got = 0
        while got < count:
            piece = bytearray(min(count - got, PIECE_SIZE))
            filled = 0
            if not pieces:  # the bytes already buffered start the first piece
                filled = len(self._buffer)
                piece[:filled] = self._buffer
                self._buffer.clear()
            pieces.append(self._fill_piece(piece, filled, deadline, got))
            got += len(piece)
        return pieces[0] if len(pieces) == 1 else b"".join(pieces)

    def _fill_piece(self, piece: bytearray, filled: int, deadline: float, before: int) -> bytes:
        """Receive into piece from offset filled to its end (before: bytes of earlier pieces)."""
        size = len(piece)
        view = memoryview(piece)
        try:
            while filled < size:
                remaining = deadline - self._clock()
                if remaining <= 0:
                    raise DeadlineExceeded(before + filled)
                try:
                    readable, _, _ = select.select([self._sock], [], [], remaining)
                    if not readable:
                        raise DeadlineExceeded(before + filled)
                    n = self._sock.recv_into(view[filled:], min(size - filled, BLOCK_CHUNK))
                except (ConnectionResetError, ConnectionAbortedError):
                    raise
                except (OSError, ValueError) as exc:
                    raise PeerClosed(str(exc)) from exc
                if n == 0:
                    raise PeerClosed("end of stream")
                filled += n
        finally:
            view.release()
        return bytes(piece)

    def byte(self, deadline: float) -> bytes:
        """Return the next single byte."""
        if not self._buffer:
            self._fill(deadline, 0)
        out = bytes(self._buffer[:1])
        del self._buffer[:1]
        return out

    def peek_byte(self, wait_s: float) -> bytes:
        """Return the next byte without consuming it, waiting at most wait_s s (0: only what
        has arrived); b"" if none."""
        if not self._buffer:
            try:
                readable, _, _ = select.select([self._sock], [], [], max(wait_s, 0.0))
                chunk = self._sock.recv(RECV_SIZE) if readable else None
            except (ConnectionResetError, ConnectionAbortedError):
                raise
            except (OSError, ValueError) as exc:  # a socket closed under us
                raise PeerClosed(str(exc)) from exc
            if chunk is None:
                return b""
            if not chunk:
                raise PeerClosed("end of stream")
            self._buffer += chunk
        return bytes(self._buffer[:1])
