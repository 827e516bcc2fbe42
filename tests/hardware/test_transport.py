"""VisaTransport on real loopback sockets: every failure is one LinkError, within its timeout."""

from __future__ import annotations

import logging
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator

import numpy as np
import pytest

from ctp10_gui.hardware.ctp10 import CTP10
from ctp10_gui.hardware.errors import LinkError, LinkFailure
from ctp10_gui.hardware.transport import (
    VisaTransport,
    host_port,
    parse_address,
    resource_manager,
)

IO_S = 0.3
MARGIN_S = 1.0  # generous: the machine is shared

Handler = Callable[[socket.socket, "TinyServer"], None]


class TinyServer:
    """Accept one connection on 127.0.0.1 and run handler on it in a daemon thread."""

    def __init__(self, handler: Handler) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(5.0)
        self.port = self.sock.getsockname()[1]
        self.address = f"TCPIP::127.0.0.1::{self.port}::SOCKET"
        self.done = threading.Event()
        self.received: list[bytes] = []
        self._handler = handler
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            conn, _ = self.sock.accept()
        except OSError:
            return
        conn.settimeout(5.0)
        try:
            self._handler(conn, self)
        except OSError:
            pass  # the client hung up first: what several tests do on purpose
        finally:
            conn.close()

    def line(self, conn: socket.socket) -> bytes:
        """Return the next command line the client sent (without CR LF)."""
        data = b""
        while not data.endswith(b"\n"):
            chunk = conn.recv(1)
            if not chunk:
                break
            data += chunk
        self.received.append(data.rstrip(b"\r\n"))
        return self.received[-1]

    def stop(self) -> None:
        self.done.set()
        self.sock.close()
        self._thread.join(5.0)


@pytest.fixture
def serve() -> Iterator[Callable[[Handler], TinyServer]]:
    servers: list[TinyServer] = []

    def start(handler: Handler) -> TinyServer:
        servers.append(TinyServer(handler))
        return servers[-1]

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def transports() -> Iterator[list[VisaTransport]]:
    made: list[VisaTransport] = []
    yield made
    for transport in made:
        transport.close()


def connect(server: TinyServer, made: list[VisaTransport], io_s: float = IO_S) -> VisaTransport:
    transport = VisaTransport(server.address, io_timeout_s=io_s, open_timeout_s=1.0)
    made.append(transport)
    transport.open()
    return transport


def answer(*replies: bytes) -> Handler:
    """Return a handler that answers each command line with the next reply."""

    def handler(conn: socket.socket, server: TinyServer) -> None:
        for reply in replies:
            server.line(conn)
            conn.sendall(reply)
        server.done.wait(5.0)

    return handler


# -- addresses ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("10.0.0.5", "TCPIP::10.0.0.5::5025::SOCKET"),
        (" 10.0.0.5:5026 ", "TCPIP::10.0.0.5::5026::SOCKET"),
        ("lab-ctp10", "TCPIP::lab-ctp10::5025::SOCKET"),
        ("lab-ctp10.example.org:5025", "TCPIP::lab-ctp10.example.org::5025::SOCKET"),
        ("TCPIP::h::5025::SOCKET", "TCPIP::h::5025::SOCKET"),
        ("tcpip0::h::5025::socket", "TCPIP::h::5025::SOCKET"),
    ],
)
def test_parse_address_accepts_the_usual_forms(text: str, canonical: str) -> None:
    assert parse_address(text) == canonical


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "address is empty"),
        ("   ", "address is empty"),
        ("10.0.0.5:abc", "port must be a number from 1 to 65535"),
        ("10.0.0.5:0", "port must be a number from 1 to 65535"),
        ("10.0.0.5:70000", "port must be a number from 1 to 65535"),
        ("10.0.0.500", "not a valid IPv4 address"),
        ("10.0.5", "not a valid IPv4 address"),
        ("lab ctp10", "contains spaces"),
        ("lab_ctp10", "not a valid host name"),
        ("http://10.0.0.5", "not a URL"),
        ("fe80::1", "IPv6"),
        ("TCPIP::10.0.0.5::INSTR", "raw socket"),
        ("TCPIP::10.0.0.5::SOCKET", "port is missing"),
        ("TCPIP::10.0.0.5::5025::SOCKET::x", "raw socket"),
    ],
)
def test_parse_address_rejects_bad_input_with_a_sentence(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message) as caught:
        parse_address(text)
    assert "e.g. 10.0.0.5" in str(caught.value)


def test_host_port() -> None:
    assert host_port("10.0.0.5") == ("10.0.0.5", 5025)
    assert host_port("TCPIP0::lab::5026::SOCKET") == ("lab", 5026)


def test_bad_address_is_a_link_error_before_any_io() -> None:
    with pytest.raises(LinkError) as caught:
        VisaTransport("10.0.0.5:port")
    assert caught.value.kind is LinkFailure.BAD_ADDRESS
    assert "10.0.0.5:port" in str(caught.value) and "port must be a number" in str(caught.value)


def test_one_resource_manager_per_process() -> None:
    assert resource_manager() is resource_manager()


# -- connection failures --------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_refused_port_is_refused_at_open_naming_host_and_port(transports: list) -> None:
    port = free_port()
    transport = VisaTransport(f"127.0.0.1:{port}", io_timeout_s=IO_S, open_timeout_s=1.0)
    transports.append(transport)
    with pytest.raises(LinkError) as caught:
        transport.open()
    assert caught.value.kind is LinkFailure.REFUSED
    assert str(caught.value).startswith(f"connection refused by 127.0.0.1:{port}")
    assert not transport.is_open


@pytest.fixture
def silent_port() -> Iterator[int]:
    """Return a port whose accept queue is full, so new connection requests go unanswered."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = [socket.socket() for _ in range(3)]
    for filler in fillers:
        filler.setblocking(False)
        filler.connect_ex(("127.0.0.1", port))
    yield port
    for filler in fillers:
        filler.close()
    listener.close()


def test_silent_host_is_unreachable_within_the_open_timeout(
    transports: list, silent_port: int
) -> None:
    transport = VisaTransport(f"127.0.0.1:{silent_port}", io_timeout_s=IO_S, open_timeout_s=0.3)
    transports.append(transport)
    start = time.monotonic()
    with pytest.raises(LinkError) as caught:
        transport.open()
    assert time.monotonic() - start < 0.3 + MARGIN_S
    assert caught.value.kind is LinkFailure.UNREACHABLE
    assert str(caught.value) == (
        f"cannot reach 127.0.0.1:{silent_port} (no answer to the connection request within 0.3 s)"
    )
    assert not transport.is_open


def test_unknown_host_name_is_unreachable(transports: list) -> None:
    def resolver(host: str, port: int) -> str:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    transport = VisaTransport("no-such-host.invalid", io_timeout_s=IO_S, open_timeout_s=0.3,
                              resolver=resolver)
    transports.append(transport)
    with pytest.raises(LinkError) as caught:
        transport.open()
    assert caught.value.kind is LinkFailure.UNREACHABLE
    assert str(caught.value) == "cannot reach no-such-host.invalid:5025 (host name not found)"


# -- failures during I/O --------------------------------------------------------------------------


def close_after_command(conn: socket.socket, server: TinyServer) -> None:
    server.line(conn)


def close_mid_reply(conn: socket.socket, server: TinyServer) -> None:
    server.line(conn)
    conn.sendall(b"EXFO,CT")


@pytest.mark.parametrize(
    "handler", [close_after_command, close_mid_reply], ids=["fin", "fin-mid-reply"]
)
def test_peer_closing_mid_query_is_closed(
    serve: Callable, transports: list, handler: Handler
) -> None:
    server = serve(handler)
    transport = connect(server, transports, io_s=2.0)
    start = time.monotonic()
    with pytest.raises(LinkError) as caught:
        transport.query("*IDN?")
    elapsed = time.monotonic() - start
    if handler is close_after_command:
        # At once, not after pyvisa-py spun (GIL held) on the closed socket for the 2 s
        # timeout. Mid-reply, pyvisa-py still spins until the timeout (known, left alone).
        assert elapsed < 0.5
    else:
        assert elapsed < 2.0 + MARGIN_S
    assert caught.value.kind is LinkFailure.CLOSED
    assert str(caught.value) == (
        f"connection closed by 127.0.0.1:{server.port} while waiting for the reply to '*IDN?'"
    )
    assert not transport.is_open


def test_peer_closed_between_queries_fails_at_once_instead_of_spinning(
    serve: Callable, transports: list
) -> None:
    """pyvisa-py would spin for the whole I/O timeout on a closed socket; we must not."""
    closed = threading.Event()

    def answer_once_then_close(conn: socket.socket, server: TinyServer) -> None:
        server.line(conn)
        conn.sendall(b"1\r\n")
        conn.close()
        closed.set()

    server = serve(answer_once_then_close)
    transport = connect(server, transports, io_s=2.0)
    assert transport.query("*OPC?") == "1"
    assert closed.wait(2.0)
    start = time.monotonic()
    with pytest.raises(LinkError) as caught:
        transport.query(":CTP:SENS4:CHAN1:POW?")
    assert time.monotonic() - start < 0.2  # not the 2 s I/O timeout
    assert caught.value.kind is LinkFailure.CLOSED
    assert str(caught.value) == (
        f"connection closed by 127.0.0.1:{server.port} before sending ':CTP:SENS4:CHAN1:POW?'"
    )
    assert not transport.is_open


def reset_after_command(conn: socket.socket, server: TinyServer) -> None:
    server.line(conn)
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def test_reset_is_reset(serve: Callable, transports: list) -> None:
    server = serve(reset_after_command)
    transport = connect(server, transports)
    with pytest.raises(LinkError) as caught:
        transport.query("*IDN?")
    assert caught.value.kind is LinkFailure.RESET
    assert f"connection reset by 127.0.0.1:{server.port}" in str(caught.value)
    assert not transport.is_open


def stay_silent(conn: socket.socket, server: TinyServer) -> None:
    server.line(conn)
    server.done.wait(5.0)


def test_no_reply_is_a_timeout_within_the_io_timeout(serve: Callable, transports: list) -> None:
    server = serve(stay_silent)
    transport = connect(server, transports)
    start = time.monotonic()
    with pytest.raises(LinkError) as caught:
        transport.query(":CTP:SENS4:CHAN1:POW?")
    elapsed = time.monotonic() - start
    assert IO_S * 0.9 <= elapsed < IO_S + MARGIN_S
    assert caught.value.kind is LinkFailure.TIMEOUT
    assert str(caught.value) == (
        f"no reply from 127.0.0.1:{server.port} within 0.3 s to ':CTP:SENS4:CHAN1:POW?'"
    )
    assert not transport.is_open
    with pytest.raises(LinkError) as again:
        transport.write("*CLS")
    assert again.value.kind is LinkFailure.NOT_OPEN


def test_non_text_reply_is_garbled(serve: Callable, transports: list) -> None:
    server = serve(answer(b"\xff\xfe\x00\r\n"))
    transport = connect(server, transports)
    with pytest.raises(LinkError) as caught:
        transport.query("*IDN?")
    assert caught.value.kind is LinkFailure.GARBLED
    assert not transport.is_open


def test_query_strips_cr_lf_and_logs_traffic_on_the_scpi_logger(
    serve: Callable, transports: list, caplog: pytest.LogCaptureFixture
) -> None:
    server = serve(answer(b"EXFO,CTP10,1,2\r\n"))
    transport = connect(server, transports)
    with caplog.at_level(logging.DEBUG, logger="ctp10_gui.scpi"):
        assert transport.query("*IDN?") == "EXFO,CTP10,1,2"
        transport.write("*CLS")
    scpi = [r.getMessage() for r in caplog.records if r.name == "ctp10_gui.scpi"]
    assert scpi == ["-> *IDN?", "<- EXFO,CTP10,1,2", "-> *CLS"]


def test_reopen_after_a_failure_gets_a_fresh_session(serve: Callable, transports: list) -> None:
    first = serve(stay_silent)
    transport = connect(first, transports)
    with pytest.raises(LinkError):
        transport.query("*OPC?")
    second = serve(answer(b"1\r\n"))
    transport.address = second.address
    transport.open()
    assert transport.query("*OPC?") == "1"


# -- binary blocks --------------------------------------------------------------------------------

# Float32 values whose bytes include 0x0A and 0x0D, which must not end the block early.
_AWKWARD = np.frombuffer(b"\x0a\x0a\x0a\x0a\x0d\x0a\x0d\x0a", ">f4")
VALUES = np.tile(np.concatenate([[-3.5], _AWKWARD, [-80.0]]).astype(">f4"), 250)
PAYLOAD = VALUES.tobytes()
assert b"\n" in PAYLOAD and b"\r" in PAYLOAD


def block(payload: bytes, trailer: bytes) -> bytes:
    length = str(len(payload)).encode()
    return b"#" + str(len(length)).encode() + length + payload + trailer


@pytest.mark.parametrize("trailer", [b"\r\n", b"\n", b""], ids=["crlf", "lf", "none"])
def test_block_with_or_without_trailer_leaves_the_stream_in_step(
    serve: Callable, transports: list, trailer: bytes
) -> None:
    server = serve(answer(block(PAYLOAD, trailer), b"1\r\n"))
    transport = connect(server, transports)
    payload = transport.query_block(":TRAC:SENS4:CHAN1:TYPE1:DATA? BIN,DB", timeout_s=2.0)
    assert payload == PAYLOAD
    np.testing.assert_array_equal(np.frombuffer(payload, ">f4"), VALUES)
    # Termination and I/O timeout are back: a plain query works and still times out fast.
    assert transport.query("*OPC?") == "1"
    start = time.monotonic()
    with pytest.raises(LinkError):
        transport.query("*OPC?")
    assert time.monotonic() - start < IO_S + MARGIN_S


def trailer_after_next_command(conn: socket.socket, server: TinyServer) -> None:
    server.line(conn)
    conn.sendall(block(b"\x0a\x0a\x0a\x0a", b""))
    server.line(conn)
    # The block's CR LF shows up only after the next command: it must not be taken as its reply.
    conn.sendall(b"\r\n")
    conn.sendall(b"1\r\n")
    server.done.wait(5.0)


def test_late_block_trailer_is_not_read_as_the_next_reply(
    serve: Callable, transports: list
) -> None:
    server = serve(trailer_after_next_command)
    transport = connect(server, transports)
    assert transport.query_block("X? BIN,M", timeout_s=1.0) == b"\n\n\n\n"
    assert transport.query("*OPC?") == "1"


def stall_mid_block(conn: socket.socket, server: TinyServer) -> None:
    server.line(conn)
    conn.sendall(b"#3100" + b"\x00" * 10)
    server.done.wait(5.0)


def test_block_transfer_times_out_with_its_own_timeout(serve: Callable, transports: list) -> None:
    server = serve(stall_mid_block)
    transport = connect(server, transports, io_s=2.0)
    start = time.monotonic()
    with pytest.raises(LinkError) as caught:
        transport.query_block("DATA? BIN,DB", timeout_s=0.3)
    assert time.monotonic() - start < 0.3 + MARGIN_S
    assert caught.value.kind is LinkFailure.TIMEOUT
    assert "within 0.3 s to 'DATA? BIN,DB'" in str(caught.value)
    assert not transport.is_open


@pytest.mark.parametrize("reply", [b"1.5\r\n", b"#X12\r\n", b"#2ab\r\n"])
def test_non_block_reply_to_a_block_query_is_garbled(
    serve: Callable, transports: list, reply: bytes
) -> None:
    server = serve(answer(reply))
    transport = connect(server, transports)
    with pytest.raises(LinkError) as caught:
        transport.query_block("DATA? BIN,DB", timeout_s=0.5)
    assert caught.value.kind is LinkFailure.GARBLED
    assert not transport.is_open


def test_indefinite_block_is_read_to_the_final_newline(serve: Callable, transports: list) -> None:
    server = serve(answer(b"#0abc\r\n"))
    transport = connect(server, transports)
    assert transport.query_block("DATA? BIN,DB", timeout_s=0.5) == b"abc"


# -- CTP10.connect over a real socket -------------------------------------------------------------


def test_connect_identifies_the_instrument_over_a_socket(serve: Callable, transports: list) -> None:
    server = serve(answer(b"EXFO,CTP10,SN1,1.0\r\n"))
    transport = VisaTransport(server.address, io_timeout_s=IO_S, open_timeout_s=1.0)
    transports.append(transport)
    identity = CTP10(transport).connect()
    assert (identity.serial, server.received) == ("SN1", [b"*IDN?"])


def test_connect_to_a_refused_port_is_refused(transports: list) -> None:
    port = free_port()
    transport = VisaTransport(f"127.0.0.1:{port}", io_timeout_s=IO_S, open_timeout_s=1.0)
    transports.append(transport)
    with pytest.raises(LinkError) as caught:
        CTP10(transport).connect()
    assert caught.value.kind is LinkFailure.REFUSED
    assert f"127.0.0.1:{port}" in str(caught.value)


def test_peer_that_hangs_up_at_once_is_refused(serve: Callable, transports: list) -> None:
    # What a single-client instrument may do to a second client.
    server = serve(lambda conn, server: conn.shutdown(socket.SHUT_RDWR))
    transport = VisaTransport(server.address, io_timeout_s=IO_S, open_timeout_s=1.0)
    transports.append(transport)
    start = time.monotonic()
    with pytest.raises(LinkError) as caught:
        CTP10(transport).connect()
    assert time.monotonic() - start < IO_S + MARGIN_S
    assert caught.value.kind is LinkFailure.REFUSED
    assert not transport.is_open
