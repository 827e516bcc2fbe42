"""SocketReader on a real socket pair: exact counts across pieces, line limits, deadlines."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest

from ctp10_gui.hardware.socket_reader import (
    PIECE_SIZE,
    DeadlineExceeded,
    PeerClosed,
    ReplyTooLong,
    SocketReader,
)


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    ours, theirs = socket.socketpair()
    yield ours, theirs
    ours.close()
    theirs.close()


def send_later(sock: socket.socket, data: bytes) -> threading.Thread:
    thread = threading.Thread(target=sock.sendall, args=(data,), daemon=True)
    thread.start()
    return thread


def test_exact_spans_several_pieces_and_keeps_what_follows(pair) -> None:
    ours, theirs = pair
    payload = bytes(range(256)) * ((PIECE_SIZE + PIECE_SIZE // 2) // 256 + 1)
    sender = send_later(theirs, payload + b"\r\nnext\n")
    reader = SocketReader(ours)
    assert reader.exact(len(payload), time.monotonic() + 30.0) == payload
    assert reader.line(time.monotonic() + 1.0, 100) == b"\r\n"
    assert reader.line(time.monotonic() + 1.0, 100) == b"next\n"
    sender.join(5.0)


def test_exact_reports_what_arrived_when_the_deadline_passes(pair) -> None:
    ours, theirs = pair
    theirs.sendall(b"x" * 1000)
    with pytest.raises(DeadlineExceeded) as caught:
        SocketReader(ours).exact(5000, time.monotonic() + 0.1)
    assert caught.value.received == 1000


def test_a_line_over_the_limit_is_refused_before_its_end(pair) -> None:
    ours, theirs = pair
    theirs.sendall(b"y" * 5000)  # no LF, and no more bytes: refused, not waited for
    with pytest.raises(ReplyTooLong) as caught:
        SocketReader(ours).line(time.monotonic() + 5.0, 4096)
    assert caught.value.limit == 4096


def test_a_line_exactly_at_the_limit_is_accepted(pair) -> None:
    ours, theirs = pair
    theirs.sendall(b"z" * 99 + b"\n")
    assert SocketReader(ours).line(time.monotonic() + 1.0, 100) == b"z" * 99 + b"\n"


def test_end_of_stream_mid_line_is_peer_closed(pair) -> None:
    ours, theirs = pair
    theirs.sendall(b"half")
    theirs.shutdown(socket.SHUT_WR)
    with pytest.raises(PeerClosed):
        SocketReader(ours).line(time.monotonic() + 1.0, 100)


def test_peek_byte_waits_at_most_its_time_and_consumes_nothing(pair) -> None:
    ours, theirs = pair
    reader = SocketReader(ours)
    start = time.monotonic()
    assert reader.peek_byte(0.05) == b""
    assert time.monotonic() - start < 0.5
    theirs.sendall(b"\n")
    assert reader.peek_byte(1.0) == b"\n" and reader.buffered == 1
